//! Measures Whisper throughput: `cargo run --release -p onrecord-transcribe --example
//! bench_transcribe -- MODEL SECONDS [cpu|cuda] [BATCH] [TOKENS]` where MODEL is a model
//! directory (e.g. `target/models/tiny.en`) or one of the shapes `turbo-shape`,
//! `base-shape`, `tiny-shape` (random weights, no file needed).

use std::path::PathBuf;

use model::clock::SystemClock;
use onrecord_transcribe::whisper::{BenchModel, BenchOptions, WhisperDevice, WhisperShape};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let which = match arguments.first().map(String::as_str) {
        Some("turbo-shape") => BenchModel::Shape(WhisperShape::LARGE_V3_TURBO),
        Some("base-shape") => BenchModel::Shape(WhisperShape::BASE),
        Some("tiny-shape") => BenchModel::Shape(WhisperShape::TINY_EN),
        Some(path) => BenchModel::Directory(PathBuf::from(path)),
        None => {
            return Err("usage: bench_transcribe MODEL SECONDS [cpu|cuda] [BATCH] [TOKENS]".into());
        }
    };
    let seconds: f64 = arguments.get(1).map_or(Ok(60.0), |s| s.parse())?;
    let device = match arguments.get(2).map(String::as_str) {
        Some("cuda") => WhisperDevice::Cuda(0),
        _ => WhisperDevice::Cpu,
    };
    let mut options = BenchOptions::default();
    if let Some(batch) = arguments.get(3) {
        options.batch_size = batch.parse()?;
    }
    if let Some(tokens) = arguments.get(4) {
        options.tokens_per_window = tokens.parse()?;
    }
    let result = onrecord_transcribe::whisper::bench_with_options(
        &which,
        device,
        seconds,
        &options,
        &SystemClock,
    )?;
    eprintln!("{result:#?}");
    Ok(())
}
