//! The command-line ends of `onrecord transcribe`, `search` and `bench transcribe`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use onrecord_transcribe::whisper::WhisperDevice;

use super::bench::TranscribeBenchReport;
use super::index::SearchHit;
use super::{Engine, RunReport, model_directory, run_one, run_pending};
use crate::app::{App, cli_actor};
use crate::datadir::DataDir;

/// `onrecord transcribe ID|--pending`: exit 0 when every job ran, non-zero naming failures.
pub async fn transcribe(
    data_dir: DataDir,
    id: Option<String>,
    pending: bool,
    model: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    let engine = Engine::load(&model_directory(&app.data_dir, model))?;
    let report: RunReport = match (id, pending) {
        (Some(id), false) => {
            let id = id.parse().map_err(|e| anyhow!("{e}"))?;
            run_one(&app, &engine, id, !json).await?
        }
        (None, true) => run_pending(&app, &engine, !json).await?,
        _ => bail!("give a recording ID or --pending"),
    };
    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for (tenant, reason) in &report.skipped_tenants {
            eprintln!("skipped tenant {tenant}: {reason}");
        }
        writeln!(
            std::io::stdout().lock(),
            "transcribed {}, failed {}",
            report.done.len(),
            report.failed.len()
        )?;
    }
    if report.failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = report
        .failed
        .iter()
        .map(|(id, reason)| format!("{id} ({reason})"))
        .collect();
    eprintln!("onrecord: transcription failed for {}", names.join(", "));
    Ok(ExitCode::FAILURE)
}

/// An RFC 3339 time, or a date (midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow!("{text:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))?;
    Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

pub fn print_hits(hits: &[SearchHit], json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, hits)?;
        writeln!(out)?;
        return Ok(());
    }
    for hit in hits {
        writeln!(
            out,
            "{}  {:>8.2}s  {}: {}",
            hit.recording_id, hit.start, hit.participant_label, hit.text
        )?;
    }
    Ok(())
}

fn parse_device(text: &str) -> Result<WhisperDevice> {
    match text.split_once(':') {
        None if text == "cpu" => Ok(WhisperDevice::Cpu),
        None if text == "cuda" => Ok(WhisperDevice::Cuda(0)),
        Some(("cuda", ordinal)) => {
            Ok(WhisperDevice::Cuda(ordinal.parse().map_err(|_| {
                anyhow!("--device: bad GPU ordinal {ordinal:?}")
            })?))
        }
        _ => bail!("--device: {text:?} is not cpu, cuda or cuda:N"),
    }
}

/// `onrecord bench transcribe`.
pub fn bench(
    models: Vec<PathBuf>,
    seconds: f64,
    device: &str,
    turbo: bool,
) -> Result<TranscribeBenchReport> {
    let device = parse_device(device)?;
    let models = if models.is_empty() {
        let root = std::env::var_os("ONRECORD_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/models"));
        vec![root.join("tiny.en"), root.join("base")]
    } else {
        models
    };
    super::bench::run(&models, seconds, device, turbo)
}
