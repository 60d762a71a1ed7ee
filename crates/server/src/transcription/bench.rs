//! `onrecord bench transcribe`: the real-time factor of the Whisper pipeline per model and
//! device, on synthetic audio with a fixed decoding load (see `onrecord_transcribe::whisper::bench`).
//! Real models are measured when their directories exist; the large-v3-turbo shape runs on
//! random weights (no registry ships turbo weights as CTranslate2 float16 in a wheel).

use std::path::PathBuf;

use anyhow::Result;
use model::clock::SystemClock;
use onrecord_transcribe::whisper::{BenchModel, BenchResult, WhisperDevice, WhisperShape, bench};
use serde::Serialize;

/// One measured model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFigure {
    pub model: String,
    pub device: String,
    pub audio_seconds: f64,
    pub batch_size: usize,
    pub tokens_per_window: usize,
    pub load_seconds: f64,
    pub process_seconds: f64,
    /// Processing time over audio time (lower is faster).
    pub realtime_factor: f64,
    pub times_realtime: f64,
    /// Cores the CPU figures ran on (the per-core factor is `realtime_factor * cores`).
    pub cores: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TranscribeBenchReport {
    pub models: Vec<ModelFigure>,
    /// Models not measured and why (directory missing).
    pub skipped: Vec<String>,
}

impl TranscribeBenchReport {
    pub fn human(&self) -> String {
        let mut lines = Vec::new();
        for figure in &self.models {
            lines.push(format!(
                "{:<28} {:<6} {:>7.1} s audio  {:>7.2} s  real-time factor {:.3} ({:.1}x real time, {} cores)",
                figure.model,
                figure.device,
                figure.audio_seconds,
                figure.process_seconds,
                figure.realtime_factor,
                figure.times_realtime,
                figure.cores
            ));
        }
        for skipped in &self.skipped {
            lines.push(format!("skipped: {skipped}"));
        }
        lines.join("\n")
    }
}

fn figure(name: &str, result: BenchResult) -> ModelFigure {
    ModelFigure {
        model: name.to_owned(),
        device: result.device,
        audio_seconds: result.audio_seconds,
        batch_size: result.batch_size,
        tokens_per_window: result.tokens_per_window,
        load_seconds: result.load_seconds,
        process_seconds: result.process_seconds,
        realtime_factor: result.realtime_factor,
        times_realtime: result.times_realtime,
        cores: crate::cli::default_workers(),
    }
}

/// Measures each model in `models` (directories; missing ones are skipped), then the
/// large-v3-turbo shape with random weights, each over `seconds` of audio.
pub fn run(
    models: &[PathBuf],
    seconds: f64,
    device: WhisperDevice,
    turbo: bool,
) -> Result<TranscribeBenchReport> {
    let clock = SystemClock;
    let mut report = TranscribeBenchReport {
        models: Vec::new(),
        skipped: Vec::new(),
    };
    for directory in models {
        let name = directory
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| directory.display().to_string());
        if !directory.join("model.bin").is_file() {
            report.skipped.push(format!(
                "{name}: no model in {} (run scripts/fetch-models.sh)",
                directory.display()
            ));
            continue;
        }
        let result = bench(
            &BenchModel::Directory(directory.clone()),
            device,
            seconds,
            &clock,
        )?;
        report.models.push(figure(&name, result));
    }
    if turbo {
        let result = bench(
            &BenchModel::Shape(WhisperShape::LARGE_V3_TURBO),
            device,
            seconds,
            &clock,
        )?;
        report
            .models
            .push(figure("large-v3-turbo (random weights)", result));
    }
    Ok(report)
}
