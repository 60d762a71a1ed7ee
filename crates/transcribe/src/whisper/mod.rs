//! The Whisper engine: loads a CTranslate2 model directory (`model.bin` float16 or float32,
//! `config.json`, `tokenizer.json`) into candle's Whisper, plans windows with the voice
//! activity detector, encodes windows in batches and decodes them greedily with timestamp
//! tokens (OpenAI's timestamp rules), applying the guards of [`crate::guards`].

mod bench;
mod decode;
pub mod weights;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as whisper_model, audio, model::Whisper};
use tokenizers::Tokenizer;

use crate::{Pcm16k, TranscribeError, TranscribeOptions, Transcriber, Transcript, mel, vad};

pub use bench::{BenchModel, BenchOptions, BenchResult, bench, bench_with_options};
pub use weights::WhisperShape;

/// Largest `model.bin` read (large-v3 in float32 is about 3.1 GB).
const MAX_MODEL_BYTES: u64 = 4 << 30;
/// Largest `tokenizer.json` / `config.json` read.
const MAX_SIDE_FILE_BYTES: u64 = 64 << 20;
/// Samples in one 30 s window.
pub const WINDOW_SAMPLES: usize = whisper_model::N_SAMPLES;

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhisperDevice {
    #[default]
    Cpu,
    /// A CUDA GPU by ordinal (needs the `cuda` feature).
    Cuda(usize),
}

impl WhisperDevice {
    pub(crate) fn candle(self) -> Result<Device, TranscribeError> {
        match self {
            WhisperDevice::Cpu => Ok(Device::Cpu),
            #[cfg(feature = "cuda")]
            WhisperDevice::Cuda(ordinal) => Device::new_cuda(ordinal)
                .map_err(|error| TranscribeError::Device(error.to_string())),
            #[cfg(not(feature = "cuda"))]
            WhisperDevice::Cuda(_) => Err(TranscribeError::Device(
                "this build has no CUDA support (cargo feature `cuda`)".to_owned(),
            )),
        }
    }

    /// Float16 on a GPU, float32 on the CPU (candle's CPU matmul is fastest in f32).
    pub(crate) fn dtype(self) -> DType {
        match self {
            WhisperDevice::Cpu => DType::F32,
            WhisperDevice::Cuda(_) => DType::F16,
        }
    }
}

/// Token ids with a fixed meaning.
#[derive(Debug, Clone)]
pub(crate) struct SpecialTokens {
    pub eot: u32,
    pub timestamp_begin: u32,
    pub no_speech: Option<u32>,
    /// The prompt every window starts with (`<|startoftranscript|>`, and for multilingual
    /// models the language and `<|transcribe|>`).
    pub prompt: Vec<u32>,
    /// Suppressed at every step (`config.json` `suppress_ids`).
    pub suppress: Vec<u32>,
    /// Suppressed at the first step (`suppress_ids_begin`: a bare space, end of text).
    pub suppress_begin: Vec<u32>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ModelConfigFile {
    #[serde(default)]
    suppress_ids: Vec<u32>,
    #[serde(default)]
    suppress_ids_begin: Vec<u32>,
}

/// The Whisper engine.
pub struct WhisperEngine {
    model: Whisper,
    tokenizer: Tokenizer,
    tokens: SpecialTokens,
    filters: Vec<f32>,
    device: Device,
    dtype: DType,
    shape: WhisperShape,
    multilingual: bool,
}

impl std::fmt::Debug for WhisperEngine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WhisperEngine")
            .field("shape", &self.shape)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, TranscribeError> {
    let error = |reason: String| TranscribeError::Model {
        path: path.display().to_string(),
        reason,
    };
    let length = std::fs::metadata(path)
        .map_err(|e| error(e.to_string()))?
        .len();
    if length > limit {
        return Err(error(format!(
            "{length} bytes is over the limit of {limit}"
        )));
    }
    std::fs::read(path).map_err(|e| error(e.to_string()))
}

impl WhisperEngine {
    /// Loads a model directory: `model.bin` (CTranslate2 v6, float16/float32),
    /// `config.json` (suppressed tokens) and `tokenizer.json`.
    pub fn load(directory: &Path, device: WhisperDevice) -> Result<WhisperEngine, TranscribeError> {
        let bytes = read_bounded(&directory.join("model.bin"), MAX_MODEL_BYTES)?;
        let ct2 = crate::ct2::Ct2Model::parse(&bytes)?;
        drop(bytes);
        let shape = weights::shape_of(&ct2)?;
        let candle_device = device.candle()?;
        let dtype = device.dtype();
        let tensors = weights::candle_tensors(&ct2, &shape, dtype, &candle_device)?;
        drop(ct2);
        let config_bytes = read_bounded(&directory.join("config.json"), MAX_SIDE_FILE_BYTES)?;
        let config_file: ModelConfigFile =
            serde_json::from_slice(&config_bytes).map_err(|e| TranscribeError::Model {
                path: directory.join("config.json").display().to_string(),
                reason: e.to_string(),
            })?;
        let tokenizer_bytes = read_bounded(&directory.join("tokenizer.json"), MAX_SIDE_FILE_BYTES)?;
        let tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| TranscribeError::Tokenizer(e.to_string()))?;
        WhisperEngine::assemble(tensors, shape, tokenizer, config_file, candle_device, dtype)
    }

    fn assemble(
        tensors: std::collections::HashMap<String, Tensor>,
        shape: WhisperShape,
        tokenizer: Tokenizer,
        config_file: ModelConfigFile,
        device: Device,
        dtype: DType,
    ) -> Result<WhisperEngine, TranscribeError> {
        let builder = VarBuilder::from_tensors(tensors, dtype, &device);
        let model = Whisper::load(&builder, shape.config())
            .map_err(|e| TranscribeError::Inference(e.to_string()))?;
        let token = |text: &str| {
            tokenizer
                .token_to_id(text)
                .ok_or_else(|| TranscribeError::Tokenizer(format!("no token {text}")))
        };
        let eot = token(whisper_model::EOT_TOKEN)?;
        let no_timestamps = token(whisper_model::NO_TIMESTAMPS_TOKEN)?;
        let multilingual = shape.vocab_size >= 51_865;
        let mut prompt = vec![token(whisper_model::SOT_TOKEN)?];
        if multilingual {
            prompt.push(token("<|en|>")?);
            prompt.push(token(whisper_model::TRANSCRIBE_TOKEN)?);
        }
        let no_speech = whisper_model::NO_SPEECH_TOKENS
            .iter()
            .find_map(|text| tokenizer.token_to_id(text));
        let tokens = SpecialTokens {
            eot,
            timestamp_begin: no_timestamps + 1,
            no_speech,
            prompt,
            suppress: config_file.suppress_ids,
            suppress_begin: config_file.suppress_ids_begin,
        };
        Ok(WhisperEngine {
            model,
            tokenizer,
            tokens,
            filters: mel::mel_filters(mel::SAMPLE_RATE, mel::N_FFT, shape.num_mel_bins),
            device,
            dtype,
            shape,
            multilingual,
        })
    }

    pub fn shape(&self) -> WhisperShape {
        self.shape
    }

    /// Log-mel features of windows of audio (each padded to 30 s) as one batch tensor
    /// `[windows, mel bins, 3000]`.
    pub(crate) fn mel_batch(&self, windows: &[&[f32]]) -> Result<Tensor, TranscribeError> {
        mel_batch(
            &self.shape,
            &self.filters,
            windows,
            self.dtype,
            &self.device,
        )
    }

    fn set_language(&mut self, language: &str) -> Result<(), TranscribeError> {
        if !self.multilingual {
            return Ok(());
        }
        let code = format!("<|{language}|>");
        let id = self
            .tokenizer
            .token_to_id(&code)
            .ok_or_else(|| TranscribeError::Tokenizer(format!("unknown language {language:?}")))?;
        if let Some(slot) = self.tokens.prompt.get_mut(1) {
            *slot = id;
        }
        Ok(())
    }
}

pub(crate) fn mel_batch(
    shape: &WhisperShape,
    filters: &[f32],
    windows: &[&[f32]],
    dtype: DType,
    device: &Device,
) -> Result<Tensor, TranscribeError> {
    let config = shape.config();
    let frames = whisper_model::N_FRAMES;
    let mut all = Vec::with_capacity(windows.len() * shape.num_mel_bins * frames);
    for window in windows {
        let mut padded = window.to_vec();
        padded.resize(WINDOW_SAMPLES, 0.0);
        let mel = audio::pcm_to_mel(&config, &padded, filters);
        let length = mel.len() / shape.num_mel_bins;
        for row in mel.chunks_exact(length) {
            all.extend_from_slice(&row[..frames.min(length)]);
            all.extend(std::iter::repeat_n(0.0, frames.saturating_sub(length)));
        }
    }
    Tensor::from_vec(all, (windows.len(), shape.num_mel_bins, frames), device)
        .and_then(|t| t.to_dtype(dtype))
        .map_err(|e| TranscribeError::Inference(e.to_string()))
}

impl Transcriber for WhisperEngine {
    fn transcribe(
        &mut self,
        audio: &Pcm16k,
        options: &TranscribeOptions,
    ) -> Result<Transcript, TranscribeError> {
        self.set_language(&options.language)?;
        let samples = audio.samples();
        let activity = vad::detect(samples, &options.vad);
        let max_samples = (options.max_window_ms.min(30_000) * 16) as usize;
        let windows = vad::plan_windows(&activity, max_samples);
        let mut transcript = Transcript::default();
        for batch in windows.chunks(options.batch_size.max(1)) {
            let audio_windows: Vec<&[f32]> = batch
                .iter()
                .map(|window| &samples[window.start..window.end])
                .collect();
            let mel = self.mel_batch(&audio_windows)?;
            let features = self
                .model
                .encoder
                .forward(&mel, true)
                .map_err(|e| TranscribeError::Inference(e.to_string()))?;
            let decoded = decode::decode_batch(
                &mut self.model,
                &self.tokens,
                &features,
                options.max_tokens_per_window,
                decode::Mode::Transcribe,
            )?;
            for (window, result) in batch.iter().zip(decoded) {
                transcript.segments.extend(decode::segments(
                    &self.tokenizer,
                    &self.tokens,
                    window,
                    &result,
                    options,
                )?);
            }
        }
        Ok(transcript)
    }
}
