//! Offline speech-to-text for onrecord.
//!
//! Owns: the [`Transcriber`] trait and its transcript types, the audio preparation every
//! engine shares (resampling telephone audio to 16 kHz, voice activity detection and the
//! plan of decoding windows, guards against Whisper's failure modes), the CTranslate2
//! weight reader, the Slaney mel filterbank, and (feature `whisper`, on by default) a
//! Whisper engine on candle with a throughput benchmark.
//!
//! Never does: downloads (weights come from a directory that packaging filled, see
//! `scripts/fetch-models.sh`), speaker diarisation or voice biometrics (each SIPREC stream
//! belongs to a known participant; a transcript is attributed by that association, never
//! by voice), I/O other than reading a model directory.

pub mod ct2;
pub mod guards;
pub mod mel;
pub mod resample;
pub mod vad;
#[cfg(feature = "whisper")]
pub mod whisper;

use serde::{Deserialize, Serialize};

/// Longest audio accepted in one call: 4 hours at 16 kHz.
pub const MAX_SAMPLES: usize = 4 * 3_600 * 16_000;

/// Why transcription failed.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("cannot resample from {from_rate} Hz to {to_rate} Hz")]
    SampleRate { from_rate: u32, to_rate: u32 },
    #[error("audio of {0} samples is longer than the 4 hours accepted")]
    TooLong(usize),
    #[error("model directory {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("model file: {0}")]
    Ct2(#[from] ct2::Ct2Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("inference: {0}")]
    Inference(String),
    #[error("device: {0}")]
    Device(String),
}

/// Mono audio at 16 kHz, samples in [-1, 1].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pcm16k {
    samples: Vec<f32>,
}

impl Pcm16k {
    /// Audio already at 16 kHz.
    pub fn new(samples: Vec<f32>) -> Result<Pcm16k, TranscribeError> {
        if samples.len() > MAX_SAMPLES {
            return Err(TranscribeError::TooLong(samples.len()));
        }
        Ok(Pcm16k { samples })
    }

    /// 16-bit linear PCM at any rate (8 kHz for G.711, 16 kHz for G.722), resampled to
    /// 16 kHz by the windowed-sinc resampler.
    pub fn from_i16(samples: &[i16], sample_rate: u32) -> Result<Pcm16k, TranscribeError> {
        let floats: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32_768.0).collect();
        Pcm16k::from_f32(&floats, sample_rate)
    }

    /// Float PCM at any rate, resampled to 16 kHz.
    pub fn from_f32(samples: &[f32], sample_rate: u32) -> Result<Pcm16k, TranscribeError> {
        let expected = (samples.len() as u64 * 16_000).div_ceil(u64::from(sample_rate.max(1)));
        if expected > MAX_SAMPLES as u64 {
            return Err(TranscribeError::TooLong(expected as usize));
        }
        Pcm16k::new(resample::resample(samples, sample_rate, 16_000)?)
    }

    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 / 16
    }
}

/// Options of one transcription.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    /// Language code for multilingual models (`"en"`); ignored by English-only models.
    pub language: String,
    /// Longest decoding window in milliseconds (Whisper's limit is 30,000).
    pub max_window_ms: u64,
    /// Most tokens decoded per window before decoding stops.
    pub max_tokens_per_window: usize,
    /// A window whose no-speech probability is above this and whose mean log-probability is
    /// below [`TranscribeOptions::logprob_threshold`] is treated as silence.
    pub no_speech_threshold: f32,
    pub logprob_threshold: f32,
    /// Windows encoded together (one batch through the encoder).
    pub batch_size: usize,
    pub vad: vad::VadConfig,
}

impl Default for TranscribeOptions {
    fn default() -> TranscribeOptions {
        TranscribeOptions {
            language: "en".to_owned(),
            max_window_ms: 30_000,
            max_tokens_per_window: 224,
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
            batch_size: 4,
            vad: vad::VadConfig::default(),
        }
    }
}

/// A transcript of one stream (one participant).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Transcript {
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// All segment texts joined by spaces.
    pub fn text(&self) -> String {
        let parts: Vec<&str> = self.segments.iter().map(|s| s.text.trim()).collect();
        parts.join(" ")
    }
}

/// One stretch of speech, times in milliseconds from the start of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// Word times interpolated within the segment in proportion to word length (the segment
    /// bounds come from Whisper's timestamp tokens; words are not aligned individually).
    pub words: Vec<Word>,
    /// Mean log-probability of the segment's tokens.
    pub avg_logprob: f32,
    /// Probability of "no speech" of the window the segment was decoded in.
    pub no_speech_prob: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// Splits a segment's text into words and spreads the segment's time over them in
/// proportion to their length in characters (plus one for the gap after each word).
pub fn interpolate_words(start_ms: u64, end_ms: u64, text: &str) -> Vec<Word> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let weights: Vec<u64> = words.iter().map(|w| w.chars().count() as u64 + 1).collect();
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return Vec::new();
    }
    let span = end_ms.saturating_sub(start_ms);
    let mut before = 0u64;
    words
        .iter()
        .zip(&weights)
        .map(|(word, &weight)| {
            let word_start = start_ms + span * before / total;
            before += weight;
            let word_end = start_ms + span * (before - 1).max(1) / total;
            Word {
                start_ms: word_start,
                end_ms: word_end.max(word_start),
                text: (*word).to_owned(),
            }
        })
        .collect()
}

/// A speech-to-text engine.
pub trait Transcriber: Send {
    /// Transcribes one participant's stream. Silence yields no segments.
    fn transcribe(
        &mut self,
        audio: &Pcm16k,
        options: &TranscribeOptions,
    ) -> Result<Transcript, TranscribeError>;
}

#[cfg(test)]
mod tests;
