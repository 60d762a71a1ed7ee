//! `onrecord bench …`: throughput figures, each with a baseline measured in the same run on
//! the same machine (these machines are shared and noisy, so only ratios travel).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use model::clock::{Clock, SystemClock};
use model::{ConsentPolicy, RegionId, TenantId};
use rand::RngCore;
use serde::Serialize;

use crate::app::App;
use crate::datadir::DataDir;
use crate::import::{ImportRequest, import as run_import};
use crate::synth;
use crate::tenants::{self, NewTenant};

pub mod rtp;

/// CPU time (user + system, all threads) of this process so far.
pub(crate) fn cpu_time() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        time.tv_sec.max(0) as u64,
        time.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Wall and CPU time of one measured section.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Section {
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub calls_per_sec: f64,
    pub calls_per_cpu_second: f64,
}

fn measure<T>(
    calls: usize,
    clock: &dyn Clock,
    work: impl FnOnce() -> Result<T>,
) -> Result<(T, Section)> {
    let (wall0, cpu0) = (clock.monotonic(), cpu_time());
    let value = work()?;
    let (wall, cpu) = (clock.monotonic() - wall0, cpu_time().saturating_sub(cpu0));
    let calls = calls as f64;
    Ok((
        value,
        Section {
            wall_seconds: wall.as_secs_f64(),
            cpu_seconds: cpu.as_secs_f64(),
            calls_per_sec: calls / wall.as_secs_f64().max(1e-9),
            calls_per_cpu_second: calls / cpu.as_secs_f64().max(1e-9),
        },
    ))
}

#[derive(Debug, Serialize)]
pub struct ImportBenchReport {
    pub calls: usize,
    pub bytes_per_call: u64,
    /// Calls imported per CPU-second (all threads): the per-core figure.
    pub calls_per_sec_per_core: f64,
    /// Import calls per CPU-second over the baseline's (read + AES-256-GCM + write).
    pub ratio_to_baseline: f64,
    pub import: Section,
    pub baseline: Section,
    pub workers: usize,
    pub note: &'static str,
}

impl ImportBenchReport {
    pub fn human(&self) -> String {
        format!(
            "import: {} calls of {} bytes\n  onrecord import: {:.0} calls/s/core ({:.0} calls/s wall, {} workers)\n  baseline read+AES-256-GCM+write: {:.0} calls/s/core\n  ratio to baseline: {:.2}",
            self.calls,
            self.bytes_per_call,
            self.calls_per_sec_per_core,
            self.import.calls_per_sec,
            self.workers,
            self.baseline.calls_per_cpu_second,
            self.ratio_to_baseline
        )
    }
}

/// The baseline: the least any importer must do — read each file, seal it with AES-256-GCM in
/// 64 KiB chunks (aws-lc-rs, in place), write it out. No parsing, consent, keys or catalog.
fn baseline(files: &[PathBuf], out: &Path) -> Result<()> {
    use std::io::Read;

    let mut key_bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut key_bytes);
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &key_bytes).map_err(|_| anyhow::anyhow!("aead key"))?,
    );
    std::fs::create_dir_all(out)?;
    // Buffers are reused across files: the baseline is the cheapest honest way to do the job.
    let mut plain = Vec::new();
    let mut sealed = Vec::new();
    for (index, file) in files.iter().enumerate() {
        plain.clear();
        std::fs::File::open(file)?.read_to_end(&mut plain)?;
        sealed.clear();
        for (chunk_index, chunk) in plain.chunks(64 * 1024).enumerate() {
            let start = sealed.len();
            sealed.extend_from_slice(chunk);
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&((index as u64) << 20 | chunk_index as u64).to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    &mut sealed[start..],
                )
                .map_err(|_| anyhow::anyhow!("seal"))?;
            sealed.extend_from_slice(tag.as_ref());
        }
        std::fs::write(out.join(format!("{index}.bin")), &sealed)?;
    }
    Ok(())
}

pub async fn import(calls: usize, dir: Option<PathBuf>) -> Result<ImportBenchReport> {
    if calls == 0 {
        bail!("--calls must be at least 1");
    }
    let temporary = match &dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("onrecord-bench-")
                .tempdir()?,
        ),
    };
    let root = dir
        .clone()
        .or_else(|| temporary.as_ref().map(|t| t.path().to_owned()))
        .context("bench folder")?;
    let input = root.join("input");
    std::fs::create_dir_all(&input)?;
    eprintln!(
        "generating {calls} synthetic 3-minute two-party G.711 calls in {}",
        input.display()
    );
    let mut files = Vec::with_capacity(calls);
    for index in 0..calls {
        let audio = synth::two_party_mulaw_wav(synth::CALL_SECONDS, index as u64 + 1);
        let sidecar = synth::sidecar(&format!("bench-{index}"), "2026-11-28T10:00:00Z", true);
        files.push(synth::write_call(
            &input,
            &format!("call-{index:06}"),
            &audio,
            &sidecar,
        )?);
    }
    let bytes_per_call = std::fs::metadata(&files[0])?.len();

    let data_dir = DataDir::new(root.join("data"));
    let tenant = TenantId::new("bench")?;
    tenants::create(
        &data_dir,
        "bench".into(),
        NewTenant {
            id: tenant.clone(),
            region: RegionId::new("local")?,
            policy: ConsentPolicy::AllParty,
            purpose: "benchmark".into(),
            legal_basis: "benchmark".into(),
            retention_days: 1,
            staff: vec!["sip:*@contact.example.com".into()],
        },
    )
    .await?;
    let app = App::open(data_dir, "bench".into()).await?;
    let clock = SystemClock;
    let baseline_out = root.join("baseline");
    let sync = || {
        // Start each measured phase with no dirty pages from the one before.
        if let Ok(folder) = std::fs::File::open(&root) {
            let _ = rustix::fs::syncfs(&folder);
        }
    };

    // Warm the page cache once for both contenders.
    for file in &files {
        std::fs::read(file)?;
    }
    eprintln!("baseline: read + AES-256-GCM + write");
    sync();
    let ((), baseline_before) = measure(calls, &clock, || baseline(&files, &baseline_out))?;
    let _ = std::fs::remove_dir_all(root.join("baseline"));
    sync();

    eprintln!("onrecord import");
    let workers = 1;
    let request = ImportRequest {
        tenant,
        paths: vec![input.clone()],
        batch_size: 256,
        workers,
        progress: false,
    };
    let (wall0, cpu0) = (clock.monotonic(), cpu_time());
    let summary = run_import(&app, request).await?;
    let (wall, cpu) = (clock.monotonic() - wall0, cpu_time().saturating_sub(cpu0));
    eprintln!("baseline again");
    sync();
    let ((), baseline_after) = measure(calls, &clock, || baseline(&files, &baseline_out))?;
    let _ = std::fs::remove_dir_all(root.join("baseline"));
    // The faster of the two baseline runs, so noise can only make our ratio look worse.
    let baseline_section =
        if baseline_after.calls_per_cpu_second > baseline_before.calls_per_cpu_second {
            baseline_after
        } else {
            baseline_before
        };
    if summary.imported.len() != calls {
        bail!(
            "benchmark import stored {} of {calls} calls: {:?}",
            summary.imported.len(),
            summary.failed.first()
        );
    }
    let import_section = Section {
        wall_seconds: wall.as_secs_f64(),
        cpu_seconds: cpu.as_secs_f64(),
        calls_per_sec: calls as f64 / wall.as_secs_f64().max(1e-9),
        calls_per_cpu_second: calls as f64 / cpu.as_secs_f64().max(1e-9),
    };
    Ok(ImportBenchReport {
        calls,
        bytes_per_call,
        calls_per_sec_per_core: import_section.calls_per_cpu_second,
        ratio_to_baseline: import_section.calls_per_cpu_second
            / baseline_section.calls_per_cpu_second.max(1e-9),
        import: import_section,
        baseline: baseline_section,
        workers,
        note: "per core = per CPU-second of this process (user+system, all threads); page cache warm; objects made durable by one syncfs per 256 calls",
    })
}
