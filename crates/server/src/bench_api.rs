//! `onrecord bench api`: the HTTP API over a catalog of many recordings (100,000 by default,
//! inserted directly in batches), each figure beside the same work done without HTTP:
//! - search: `GET /api/v1/recordings` with filters vs `Catalog::list_recordings`;
//! - first audio byte: a mid-call `Range` request on a real sealed call vs opening the key,
//!   fetching and opening the same chunks in process.
//!
//! The HTTP side goes through a real TCP socket on loopback, one connection per request, and
//! includes the audit entry every read appends (a synchronous catalog write).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use catalog::{
    AuditNote, NewRecording, PageRequest, Participant, RecordingFilter, RecordingSource, TokenRole,
};
use chrono::TimeZone;
use model::clock::{Clock, SystemClock};
use model::{
    ConsentEvidence, ConsentKind, ConsentPolicy, Direction, EvidenceSource, Pii, RecordingId,
    RegionId, TenantId,
};
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::app::App;
use crate::datadir::DataDir;
use crate::http::{self, HttpState, playback};
use crate::import::{ImportRequest, import};
use crate::synth;
use crate::tenants::{self, NewTenant};

/// Latency percentiles of one measured operation, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn latency(mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let at = |fraction: f64| {
        let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
        samples.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Latency {
        samples: samples.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

#[derive(Debug, Serialize)]
pub struct ApiBenchReport {
    pub recordings: u64,
    pub insert_seconds: f64,
    pub search_http: Latency,
    pub search_catalog: Latency,
    pub first_audio_byte_http: Latency,
    pub first_audio_byte_in_process: Latency,
    pub search_query: String,
    pub range: String,
    pub goals: &'static str,
}

impl ApiBenchReport {
    pub fn human(&self) -> String {
        format!(
            "api over {} recordings (inserted in {:.1}s)\n  search  {}\n    HTTP     p50 {:.2} ms  p99 {:.2} ms\n    catalog  p50 {:.2} ms  p99 {:.2} ms\n  first audio byte  {}\n    HTTP        p50 {:.2} ms  p99 {:.2} ms\n    in process  p50 {:.2} ms  p99 {:.2} ms\n  goals: {}",
            self.recordings,
            self.insert_seconds,
            self.search_query,
            self.search_http.p50_ms,
            self.search_http.p99_ms,
            self.search_catalog.p50_ms,
            self.search_catalog.p99_ms,
            self.range,
            self.first_audio_byte_http.p50_ms,
            self.first_audio_byte_http.p99_ms,
            self.first_audio_byte_in_process.p50_ms,
            self.first_audio_byte_in_process.p99_ms,
            self.goals,
        )
    }
}

const BATCH: usize = 5_000;
const ROUNDS: usize = 300;

fn synthetic(tenant: &TenantId, index: u64, now: chrono::DateTime<chrono::Utc>) -> NewRecording {
    let base = chrono::Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    // Spread over about 30 days, a few seconds apart.
    let started_at = base + chrono::Duration::seconds((index * 26) as i64);
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&index.to_be_bytes());
    hash[8..16].copy_from_slice(b"benchapi");
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    let id = RecordingId::from_parts(started_at.timestamp_millis() as u64, random);
    let evidence = ConsentEvidence {
        kind: ConsentKind::Announcement,
        at: Some(started_at),
        reference: "prompt-recording-notice-v2".into(),
        source: EvidenceSource::ImportSidecar,
    };
    NewRecording {
        id,
        tenant: tenant.clone(),
        source: RecordingSource::Import,
        external_id: Some(format!("bench-{index}")),
        started_at,
        duration_ms: 30_000 + (index % 600) * 1_000,
        direction: if index.is_multiple_of(3) {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        tags: vec!["qa".into(), format!("queue-{}", index % 20)],
        content_hash: hash,
        details: json!({ "format": "wav-mulaw", "sample_rate": 8000, "channels": 2 }),
        created_at: now,
        participants: vec![
            Participant {
                ordinal: 1,
                address: Pii::new(format!("tel:+4416329{:05}", index % 100_000)),
                name: None,
                role: "customer".into(),
                evidence: vec![evidence],
            },
            Participant {
                ordinal: 2,
                address: Pii::new(format!("sip:agent{}@contact.example.com", index % 200)),
                name: None,
                role: "agent".into(),
                evidence: Vec::new(),
            },
        ],
        streams: Vec::new(),
        sealed_key: vec![0u8; seal::SEALED_DATA_KEY_LEN],
        audit: AuditNote::new("bench", "import.accepted", json!({})),
        // Synthetic rows for the API benchmark: no call was recorded, so nothing to certify.
        certificate: None,
    }
}

/// One GET over a fresh connection: (status, time to the first body byte).
async fn get(
    address: SocketAddr,
    path: &str,
    token: &str,
    range: Option<&str>,
    clock: &dyn Clock,
) -> Result<(u16, Duration)> {
    let started = clock.monotonic();
    let mut stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n{range}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let mut first_byte = None;
    let mut header_end = None;
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if header_end.is_none() {
            header_end = buffer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|at| at + 4);
        }
        if let Some(end) = header_end
            && first_byte.is_none()
            && buffer.len() > end
        {
            first_byte = Some(clock.monotonic() - started);
        }
    }
    let text = String::from_utf8_lossy(&buffer[..buffer.len().min(64)]).into_owned();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP response: {text:?}"))?;
    Ok((
        status,
        first_byte.unwrap_or_else(|| clock.monotonic() - started),
    ))
}

pub async fn api(recordings: u64, dir: Option<std::path::PathBuf>) -> Result<ApiBenchReport> {
    let clock = SystemClock;
    let root = match dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("onrecord-bench-api-")
            .tempdir()?
            .keep(),
    };
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
            legal_basis: "legitimate interests".into(),
            retention_days: 30,
            staff: vec!["sip:*@contact.example.com".into()],
        },
    )
    .await?;
    let app = App::open(data_dir, "bench".into()).await?;

    // One real sealed call (3 minutes) for the range requests.
    let calls = root.join("calls");
    std::fs::create_dir_all(&calls)?;
    synth::write_call(
        &calls,
        "call",
        &synth::two_party_mulaw_wav(synth::CALL_SECONDS, 7),
        &synth::sidecar("bench-audio", "2026-11-28T10:00:00Z", true),
    )?;
    let summary = import(
        &app,
        ImportRequest {
            tenant: tenant.clone(),
            paths: vec![calls],
            batch_size: 1,
            workers: 1,
            progress: false,
        },
    )
    .await?;
    let audio_id = summary
        .imported
        .first()
        .map(|i| i.recording)
        .ok_or_else(|| anyhow!("the audio call was not imported"))?;

    let started = clock.monotonic();
    let now = clock.wall();
    let mut index = 0u64;
    while index < recordings {
        let batch: Vec<_> = (index..(index + BATCH as u64).min(recordings))
            .map(|i| synthetic(&tenant, i, now))
            .collect();
        app.catalog
            .commit_recordings(&batch)
            .await
            .context("inserting synthetic recordings")?;
        index += batch.len() as u64;
    }
    let insert_seconds = (clock.monotonic() - started).as_secs_f64();

    let token = http::tokens::create(
        &app,
        Some(tenant.clone()),
        TokenRole::Viewer,
        "bench".into(),
    )
    .await?;
    let state = HttpState::new(app.clone());
    let listener = http::bind(([127, 0, 0, 1], 0).into()).await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, http::router(state.clone()), async {
        let _ = stopped.await;
    }));

    let search_query = "/api/v1/recordings?direction=inbound&tag=queue-7&limit=50".to_owned();
    let filter = RecordingFilter {
        tenant: Some(tenant.clone()),
        direction: Some(Direction::Inbound),
        tag: Some("queue-7".into()),
        ..Default::default()
    };
    let range = "bytes=1440000-1449999".to_owned();
    let audio_path = format!("/api/v1/recordings/{audio_id}/streams/original/audio");

    let (mut search_http, mut search_catalog, mut audio_http, mut audio_local) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (status, _) = get(address, &search_query, &token, None, &clock).await?;
        if status != 200 {
            bail!("search answered {status}");
        }
        // Time to the first byte is the whole page here: the body is written at once.
        let began = clock.monotonic();
        let (status, _) = get(address, &search_query, &token, None, &clock).await?;
        search_http.push(clock.monotonic() - began);
        if status != 200 {
            bail!("search answered {status}");
        }

        let began = clock.monotonic();
        let page = app
            .catalog
            .list_recordings(&filter, &PageRequest::first(50))
            .await?;
        search_catalog.push(clock.monotonic() - began);
        if page.items.is_empty() {
            bail!("the benchmark query matched nothing");
        }

        let (status, first_byte) = get(address, &audio_path, &token, Some(&range), &clock).await?;
        if status != 206 {
            bail!("range request answered {status}");
        }
        audio_http.push(first_byte);

        let began = clock.monotonic();
        let detail = app
            .catalog
            .recording(Some(&tenant), &audio_id)
            .await?
            .ok_or_else(|| anyhow!("audio call vanished"))?;
        let open = playback::open(&state, &detail, "original")
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let source = playback::audio_source(&state, &open, &detail)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let bytes = source
            .read(&open, 1_440_000..1_450_000)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        audio_local.push(clock.monotonic() - began);
        if bytes.len() != 10_000 {
            bail!("in-process range read returned {} bytes", bytes.len());
        }
    }
    let _ = stop.send(());
    server.await??;
    Ok(ApiBenchReport {
        recordings: recordings + 1,
        insert_seconds,
        search_http: latency(search_http),
        search_catalog: latency(search_catalog),
        first_audio_byte_http: latency(audio_http),
        first_audio_byte_in_process: latency(audio_local),
        search_query,
        range,
        goals: "search p99 < 100 ms, first audio byte p99 < 50 ms (local store)",
    })
}
