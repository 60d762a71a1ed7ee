//! Greedy batched decoding with timestamp tokens, and the turn of decoded tokens into
//! segments with the guards applied.

use candle_core::{IndexOp, Tensor};
use candle_transformers::models::whisper::model::Whisper;
use tokenizers::Tokenizer;

use super::SpecialTokens;
use crate::vad::Window;
use crate::{Segment, TranscribeError, TranscribeOptions, guards, interpolate_words};

/// Timestamp tokens are 20 ms apart.
const TIMESTAMP_MS: u64 = 20;
/// The first timestamp may be at most 1 s into the window (OpenAI's `max_initial_timestamp`).
const MAX_INITIAL_TIMESTAMP: u32 = 50;

fn inference(error: candle_core::Error) -> TranscribeError {
    TranscribeError::Inference(error.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop at end of text, apply every rule.
    Transcribe,
    /// Benchmark: decode exactly the step budget, never stopping early.
    Forced,
}

/// What decoding one window produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decoded {
    /// Sampled tokens (prompt excluded, end of text excluded).
    pub tokens: Vec<u32>,
    pub logprobs: Vec<f32>,
    pub no_speech_prob: f32,
    /// Decoding was stopped by the repetition guard.
    pub looped: bool,
}

/// Decodes a batch of windows at once: every sequence gets one token per step; finished
/// sequences are padded with end-of-text and ignored.
pub(crate) fn decode_batch(
    model: &mut Whisper,
    tokens: &SpecialTokens,
    features: &Tensor,
    max_tokens: usize,
    mode: Mode,
) -> Result<Vec<Decoded>, TranscribeError> {
    let batch = features.dim(0).map_err(inference)?;
    let device = features.device().clone();
    let max_positions = model.config.max_target_positions;
    let budget = max_tokens.min(max_positions.saturating_sub(tokens.prompt.len() + 1));
    let mut sequences: Vec<Vec<u32>> = vec![tokens.prompt.clone(); batch];
    let mut results = vec![Decoded::default(); batch];
    let mut finished = vec![false; batch];
    for step in 0..budget {
        let flat: Vec<u32> = sequences.iter().flatten().copied().collect();
        let length = sequences.first().map_or(0, Vec::len);
        let input = Tensor::from_vec(flat, (batch, length), &device).map_err(inference)?;
        let hidden = model
            .decoder
            .forward(&input, features, step == 0)
            .map_err(inference)?;
        if step == 0
            && let Some(no_speech) = tokens.no_speech
        {
            let first = hidden.i((.., 0..1)).map_err(inference)?;
            let probabilities = logits_rows(model, &first)?;
            for (result, row) in results.iter_mut().zip(&probabilities) {
                result.no_speech_prob = softmax_at(row, no_speech as usize);
            }
        }
        let last = hidden.i((.., length - 1..length)).map_err(inference)?;
        let rows = logits_rows(model, &last)?;
        for (index, mut logits) in rows.into_iter().enumerate() {
            if finished[index] {
                sequences[index].push(tokens.eot);
                continue;
            }
            let result = &mut results[index];
            apply_rules(&mut logits, tokens, &result.tokens, mode);
            let logprobs = log_softmax(&logits);
            let (next, logprob) = argmax(&logprobs);
            if next == tokens.eot && mode == Mode::Transcribe {
                finished[index] = true;
                sequences[index].push(tokens.eot);
                continue;
            }
            sequences[index].push(next);
            result.tokens.push(next);
            result.logprobs.push(logprob);
            if mode == Mode::Transcribe
                && let Some(keep) = guards::repetition_cut(&result.tokens)
            {
                result.tokens.truncate(keep);
                result.logprobs.truncate(keep);
                result.looped = true;
                finished[index] = true;
            }
        }
        if finished.iter().all(|&done| done) {
            break;
        }
    }
    Ok(results)
}

/// `[batch, 1, d]` hidden states → one logits row per sequence (f32).
fn logits_rows(model: &Whisper, hidden: &Tensor) -> Result<Vec<Vec<f32>>, TranscribeError> {
    model
        .decoder
        .final_linear(hidden)
        .and_then(|logits| logits.squeeze(1))
        .and_then(|logits| logits.to_dtype(candle_core::DType::F32))
        .and_then(|logits| logits.to_vec2::<f32>())
        .map_err(inference)
}

fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    let log_sum = max + sum.ln();
    logits.iter().map(|&l| l - log_sum).collect()
}

fn softmax_at(logits: &[f32], index: usize) -> f32 {
    log_softmax(logits).get(index).map_or(0.0, |l| l.exp())
}

fn argmax(values: &[f32]) -> (u32, f32) {
    let mut best = (0u32, f32::NEG_INFINITY);
    for (index, &value) in values.iter().enumerate() {
        if value > best.1 {
            best = (index as u32, value);
        }
    }
    best
}

/// OpenAI's logit filters: suppressed tokens, special tokens, and the timestamp rules
/// (timestamps come in pairs, never decrease, the first is within 1 s, and a timestamp is
/// forced when the timestamps together are more likely than any text token).
fn apply_rules(logits: &mut [f32], tokens: &SpecialTokens, sampled: &[u32], mode: Mode) {
    let vocabulary = logits.len();
    let mut suppress = |id: u32| {
        if let Some(logit) = logits.get_mut(id as usize) {
            *logit = f32::NEG_INFINITY;
        }
    };
    for &id in &tokens.suppress {
        suppress(id);
    }
    // Special tokens between end of text and the first timestamp are never sampled.
    for id in tokens.eot + 1..tokens.timestamp_begin {
        suppress(id);
    }
    if sampled.is_empty() {
        for &id in &tokens.suppress_begin {
            suppress(id);
        }
    }
    if mode == Mode::Forced {
        suppress(tokens.eot);
    }
    let begin = tokens.timestamp_begin as usize;
    if begin >= vocabulary {
        return;
    }
    let is_timestamp = |id: &u32| *id >= tokens.timestamp_begin;
    let last_was_timestamp = sampled.last().is_some_and(is_timestamp);
    let penultimate_was_timestamp = sampled.len() < 2 || is_timestamp(&sampled[sampled.len() - 2]);
    if last_was_timestamp {
        if penultimate_was_timestamp {
            // A pair just closed: text (or end) must follow.
            logits[begin..].fill(f32::NEG_INFINITY);
        } else {
            // An opened segment ends: only a timestamp or end of text.
            logits[..tokens.eot as usize].fill(f32::NEG_INFINITY);
        }
    }
    if let Some(&last_timestamp) = sampled.iter().rev().find(|id| is_timestamp(id)) {
        // Timestamps never go back; after a closed pair they move strictly forward.
        let floor = if last_was_timestamp && !penultimate_was_timestamp {
            last_timestamp
        } else {
            last_timestamp + 1
        } as usize;
        logits[begin..floor.min(vocabulary)].fill(f32::NEG_INFINITY);
    }
    if sampled.is_empty() {
        // The window starts with a timestamp, at most 1 s in.
        logits[..begin].fill(f32::NEG_INFINITY);
        let last_allowed = begin + MAX_INITIAL_TIMESTAMP as usize + 1;
        if last_allowed < vocabulary {
            logits[last_allowed..].fill(f32::NEG_INFINITY);
        }
    }
    let logprobs = log_softmax(logits);
    let timestamp_mass = log_sum_exp(&logprobs[begin..]);
    let best_text = logprobs[..begin]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    if timestamp_mass > best_text {
        logits[..begin].fill(f32::NEG_INFINITY);
    }
}

fn log_sum_exp(values: &[f32]) -> f32 {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + values.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
}

/// A decoded segment before guards: token span and timestamps.
struct RawSegment {
    start: u32,
    end: Option<u32>,
    text_tokens: Vec<u32>,
    logprob_sum: f32,
}

/// Turns one window's tokens into segments on the stream's time line, applying the guards:
/// silence (no-speech probability with low confidence), loops (compression ratio), and
/// window-edge fragments.
pub(crate) fn segments(
    tokenizer: &Tokenizer,
    tokens: &SpecialTokens,
    window: &Window,
    decoded: &Decoded,
    options: &TranscribeOptions,
) -> Result<Vec<Segment>, TranscribeError> {
    let mut raw: Vec<RawSegment> = Vec::new();
    let mut open: Option<RawSegment> = None;
    for (&token, &logprob) in decoded.tokens.iter().zip(&decoded.logprobs) {
        if token >= tokens.timestamp_begin {
            let time = token - tokens.timestamp_begin;
            open = match open.take() {
                Some(mut segment) if !segment.text_tokens.is_empty() => {
                    segment.end = Some(time);
                    raw.push(segment);
                    None
                }
                _ => Some(RawSegment {
                    start: time,
                    end: None,
                    text_tokens: Vec::new(),
                    logprob_sum: 0.0,
                }),
            };
        } else if token < tokens.eot {
            let segment = open.get_or_insert_with(|| RawSegment {
                start: 0,
                end: None,
                text_tokens: Vec::new(),
                logprob_sum: 0.0,
            });
            segment.text_tokens.push(token);
            segment.logprob_sum += logprob;
        }
    }
    raw.extend(open.filter(|segment| !segment.text_tokens.is_empty()));

    let text_count: usize = raw.iter().map(|s| s.text_tokens.len()).sum();
    let window_logprob = raw.iter().map(|s| s.logprob_sum).sum::<f32>() / text_count.max(1) as f32;
    if decoded.no_speech_prob > options.no_speech_threshold
        && window_logprob < options.logprob_threshold
    {
        return Ok(Vec::new());
    }
    let window_start_ms = window.start as u64 / 16;
    let window_end_ms = window.end as u64 / 16;
    let mut out = Vec::new();
    for segment in raw {
        let text = tokenizer
            .decode(&segment.text_tokens, true)
            .map_err(|e| TranscribeError::Tokenizer(e.to_string()))?;
        let text = text.trim().to_owned();
        if text.is_empty() || guards::compression_ratio(&text) > guards::COMPRESSION_RATIO_THRESHOLD
        {
            continue;
        }
        let start_ms =
            (window_start_ms + u64::from(segment.start) * TIMESTAMP_MS).min(window_end_ms);
        let end_ms = segment
            .end
            .map_or(window_end_ms, |end| {
                window_start_ms + u64::from(end) * TIMESTAMP_MS
            })
            .clamp(start_ms, window_end_ms);
        if guards::is_edge_fragment(
            start_ms,
            window_end_ms,
            &text,
            window.cut_in_speech,
            segment.end.is_some(),
        ) {
            continue;
        }
        out.push(Segment {
            start_ms,
            end_ms,
            words: interpolate_words(start_ms, end_ms, &text),
            avg_logprob: segment.logprob_sum / segment.text_tokens.len().max(1) as f32,
            no_speech_prob: decoded.no_speech_prob,
            text,
        });
    }
    Ok(out)
}
