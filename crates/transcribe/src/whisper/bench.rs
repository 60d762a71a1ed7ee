//! Throughput of the Whisper pipeline (mel → batched encoder → batched greedy decoder) on
//! synthetic audio, for `onrecord bench transcribe`. The decoder is forced to a fixed
//! number of tokens per 30 s window (no early end), so the work equals a transcription of
//! speech at that token rate whatever the weights say; this also makes a shape-exact
//! random-weight model a fair stand-in for a real one.

use std::path::PathBuf;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::model::Whisper;
use model::clock::Clock;

use super::decode::{self, Mode};
use super::weights::WhisperShape;
use super::{SpecialTokens, WINDOW_SAMPLES, WhisperDevice, WhisperEngine, mel_batch};
use crate::{TranscribeError, mel};

/// Longest audio a benchmark synthesises: 10 hours.
const MAX_BENCH_SECONDS: f64 = 36_000.0;

/// What to benchmark.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchModel {
    /// A model directory as [`WhisperEngine::load`] reads it.
    Directory(PathBuf),
    /// Random weights of this shape (e.g. [`WhisperShape::LARGE_V3_TURBO`]); no file needed.
    Shape(WhisperShape),
}

/// Knobs of a benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// 30 s windows per encoder/decoder batch.
    pub batch_size: usize,
    /// Tokens decoded per 30 s window (conversational speech is about 2.5 to 3 tokens/s).
    pub tokens_per_window: usize,
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions {
            batch_size: 8,
            tokens_per_window: 80,
        }
    }
}

/// Timings of one run. `realtime_factor` is processing time over audio time (lower is
/// faster; 0.1 means ten times faster than real time); `times_realtime` is its inverse.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub model: String,
    pub device: String,
    pub audio_seconds: f64,
    pub windows: usize,
    pub batch_size: usize,
    pub tokens_per_window: usize,
    pub load_seconds: f64,
    pub mel_seconds: f64,
    pub encode_seconds: f64,
    pub decode_seconds: f64,
    /// Mel + encode + decode (loading excluded).
    pub process_seconds: f64,
    pub realtime_factor: f64,
    pub times_realtime: f64,
}

fn inference(error: candle_core::Error) -> TranscribeError {
    TranscribeError::Inference(error.to_string())
}

/// Token ids laid out as in every Whisper vocabulary: 1,501 timestamps at the end, end of
/// text at 50,256 (English-only) or 50,257 (multilingual), start of transcript after it.
fn synthetic_tokens(shape: &WhisperShape) -> SpecialTokens {
    let eot = if shape.vocab_size >= 51_865 {
        50_257
    } else {
        50_256
    };
    let start = eot + 1;
    SpecialTokens {
        eot,
        timestamp_begin: shape.vocab_size.saturating_sub(1_501) as u32,
        no_speech: None,
        prompt: vec![start, start + 1, start + 2],
        suppress: Vec::new(),
        suppress_begin: Vec::new(),
    }
}

/// Deterministic speech-like test signal: a gliding voiced tone with harmonics, modulated
/// at a syllable rate, plus a little noise.
fn synthetic_audio(samples: usize) -> Vec<f32> {
    let mut noise_state: u32 = 0x1234_5678;
    (0..samples)
        .map(|index| {
            let time = index as f32 / 16_000.0;
            let pitch = 150.0 + 40.0 * (time * 0.7).sin();
            let phase = std::f32::consts::TAU * pitch * time;
            let voiced = phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin();
            let envelope = 0.5 + 0.5 * (std::f32::consts::TAU * 4.0 * time).sin();
            noise_state = noise_state
                .wrapping_mul(1_664_525)
                .wrapping_add(1_013_904_223);
            let noise = (noise_state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            0.2 * envelope * voiced + 0.01 * noise
        })
        .collect()
}

struct Loaded {
    model: Whisper,
    tokens: SpecialTokens,
    shape: WhisperShape,
    name: String,
}

fn load(
    which: &BenchModel,
    device: WhisperDevice,
    candle_device: &Device,
    dtype: DType,
) -> Result<Loaded, TranscribeError> {
    match which {
        BenchModel::Directory(path) => {
            let engine = WhisperEngine::load(path, device)?;
            Ok(Loaded {
                shape: engine.shape,
                model: engine.model,
                tokens: engine.tokens,
                name: path.display().to_string(),
            })
        }
        BenchModel::Shape(shape) => {
            let tensors = shape.random_tensors(dtype, candle_device)?;
            let builder = VarBuilder::from_tensors(tensors, dtype, candle_device);
            let model = Whisper::load(&builder, shape.config()).map_err(inference)?;
            Ok(Loaded {
                model,
                tokens: synthetic_tokens(shape),
                shape: *shape,
                name: format!("random weights {shape:?}"),
            })
        }
    }
}

/// Runs the pipeline over `audio_seconds` of synthetic audio with default options.
pub fn bench(
    which: &BenchModel,
    device: WhisperDevice,
    audio_seconds: f64,
    clock: &dyn Clock,
) -> Result<BenchResult, TranscribeError> {
    bench_with_options(
        which,
        device,
        audio_seconds,
        &BenchOptions::default(),
        clock,
    )
}

/// Runs the pipeline over `audio_seconds` (at most 10 hours) of synthetic audio.
pub fn bench_with_options(
    which: &BenchModel,
    device: WhisperDevice,
    audio_seconds: f64,
    options: &BenchOptions,
    clock: &dyn Clock,
) -> Result<BenchResult, TranscribeError> {
    let audio_seconds = audio_seconds.clamp(1.0, MAX_BENCH_SECONDS);
    let candle_device = device.candle()?;
    let dtype = device.dtype();
    let started = clock.monotonic();
    let mut loaded = load(which, device, &candle_device, dtype)?;
    candle_device.synchronize().map_err(inference)?;
    let load_seconds = clock.monotonic().duration_since(started).as_secs_f64();

    let audio = synthetic_audio((audio_seconds * 16_000.0) as usize);
    let filters = mel::mel_filters(mel::SAMPLE_RATE, mel::N_FFT, loaded.shape.num_mel_bins);
    let windows: Vec<&[f32]> = audio.chunks(WINDOW_SAMPLES).collect();
    let batch_size = options.batch_size.max(1);
    let (mut mel_seconds, mut encode_seconds, mut decode_seconds) = (0.0, 0.0, 0.0);
    for batch in windows.chunks(batch_size) {
        let step = clock.monotonic();
        let mel = mel_batch(&loaded.shape, &filters, batch, dtype, &candle_device)?;
        candle_device.synchronize().map_err(inference)?;
        let encoded = clock.monotonic();
        let features = loaded
            .model
            .encoder
            .forward(&mel, true)
            .map_err(inference)?;
        candle_device.synchronize().map_err(inference)?;
        let decoding = clock.monotonic();
        decode::decode_batch(
            &mut loaded.model,
            &loaded.tokens,
            &features,
            options.tokens_per_window,
            Mode::Forced,
        )?;
        candle_device.synchronize().map_err(inference)?;
        let done = clock.monotonic();
        mel_seconds += encoded.duration_since(step).as_secs_f64();
        encode_seconds += decoding.duration_since(encoded).as_secs_f64();
        decode_seconds += done.duration_since(decoding).as_secs_f64();
    }
    let process_seconds = mel_seconds + encode_seconds + decode_seconds;
    Ok(BenchResult {
        model: loaded.name,
        device: format!("{device:?}"),
        audio_seconds,
        windows: windows.len(),
        batch_size,
        tokens_per_window: options.tokens_per_window,
        load_seconds,
        mel_seconds,
        encode_seconds,
        decode_seconds,
        process_seconds,
        realtime_factor: process_seconds / audio_seconds,
        times_realtime: audio_seconds / process_seconds.max(1e-9),
    })
}
