//! `onrecord bench erase`: erasing one participant across N recordings (100,000 by default)
//! through the real crypto-shredding path, beside deleting the same rows and objects without
//! it, in the same run and data dir.
//!
//! Setup (not measured): two tenants, each with N small recordings of the same participant,
//! each with its own data key sealed to the tenant (HPKE), one sealed object (a 1 KiB payload
//! in the v1 container) in the local store, committed through the catalog in batches.
//!
//! - erase: `governance::erase::erase` as `onrecord erase --participant` runs it: per batch
//!   of 500, one catalog transaction destroys the sealed keys, marks the recordings erased,
//!   pseudonymises participants and chains one audit entry per recording; then each object is
//!   deleted, each receipt is signed (Ed25519) and the batch's receipts are appended to the
//!   audit chain in one more transaction.
//! - baseline: the same number of rows and objects of the other tenant deleted with plain
//!   `DELETE`s (sealed key, evidence, participants, streams, tags, recording), 500 recordings
//!   per transaction, then the objects: no audit, no receipts, no pseudonyms.
//!
//! The two run in alternating halves (baseline, erase, baseline, erase) on the same catalog;
//! wall and CPU time (this process, all threads) are summed per side.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use archive::ObjectKey;
use catalog::{AuditNote, NewRecording, Participant, RecordingDetail, RecordingSource, Stream};
use chrono::{DateTime, TimeZone, Utc};
use model::clock::{Clock, SystemClock};
use model::{
    ConsentEvidence, ConsentKind, ConsentPolicy, Direction, EvidenceSource, Pii, RecordingId,
    RegionId, StreamLabel, TenantId,
};
use rand::RngCore;
use seal::{ContainerHeader, DataKey, KeyBinding, MIN_CHUNK_SIZE};
use serde::Serialize;
use serde_json::json;
use sqlx::{QueryBuilder, Sqlite};

use crate::app::App;
use crate::datadir::DataDir;
use crate::governance::erase;
use crate::nodekey::NodeKey;
use crate::tenants::{self, NewTenant};

/// The participant both tenants' recordings share.
const PARTICIPANT: &str = "tel:+441632960999";
const COMMIT_BATCH: usize = 2_000;
/// Recordings per baseline transaction: the erase path's batch, so both pay the same commits.
const DELETE_BATCH: usize = 500;
const PAYLOAD_BYTES: usize = 1_024;

#[derive(Debug, Serialize)]
pub struct EraseBenchReport {
    pub recordings: u64,
    pub setup_seconds: f64,
    pub erase_seconds: f64,
    pub erase_cpu_seconds: f64,
    pub erase_per_recording_ms: f64,
    pub baseline_seconds: f64,
    pub baseline_cpu_seconds: f64,
    pub baseline_per_recording_ms: f64,
    /// Erase wall time / baseline wall time.
    pub ratio: f64,
    /// The same in CPU seconds of this process (robust to busy neighbours).
    pub cpu_ratio: f64,
    pub receipts: usize,
    pub audit_entries_written: u64,
    pub objects_deleted: u64,
    pub note: &'static str,
}

impl EraseBenchReport {
    pub fn human(&self) -> String {
        format!(
            "erase one participant across {} recordings\n  crypto-shred erase  {:.1} s wall, {:.1} s CPU  ({:.3} ms per recording, {} signed receipts, {} audit entries)\n  plain DELETE        {:.1} s wall, {:.1} s CPU  ({:.3} ms per recording)\n  ratio {:.2}x wall, {:.2}x CPU\n  setup {:.1} s\n  {}",
            self.recordings,
            self.erase_seconds,
            self.erase_cpu_seconds,
            self.erase_per_recording_ms,
            self.receipts,
            self.audit_entries_written,
            self.baseline_seconds,
            self.baseline_cpu_seconds,
            self.baseline_per_recording_ms,
            self.ratio,
            self.cpu_ratio,
            self.setup_seconds,
            self.note,
        )
    }
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// N sealed recordings of [`PARTICIPANT`] for `tenant`, objects stored and made durable.
async fn populate(app: &App, tenant: &TenantId, count: u64) -> Result<()> {
    let public_key = app.public_key(tenant).await?;
    let placement = app.placement(tenant)?;
    let store = app.archive.for_placement(&placement)?;
    let label = StreamLabel::new(crate::import::IMPORT_STREAM_LABEL)?;
    let now = app.clock.wall();
    let mut index = 0u64;
    while index < count {
        let end = (index + COMMIT_BATCH as u64).min(count);
        let mut batch = Vec::with_capacity(COMMIT_BATCH);
        for i in index..end {
            let mut rng = rand::rng();
            let started_at = base_time() + chrono::Duration::seconds(i as i64 * 30);
            let mut random = [0u8; 10];
            rng.fill_bytes(&mut random);
            let id = RecordingId::from_parts(started_at.timestamp_millis() as u64, random);
            let data_key = DataKey::generate(&mut rng);
            let binding = KeyBinding {
                tenant: tenant.clone(),
                recording: id,
            };
            let sealed_key = data_key.seal_to(&public_key, &binding, &mut rng)?;
            let mut payload = vec![0u8; PAYLOAD_BYTES];
            rng.fill_bytes(&mut payload);
            let header = ContainerHeader::new(id, label.clone(), "audio/wav", MIN_CHUNK_SIZE)?;
            let sealed = seal::seal_container(&data_key, header, &payload, &mut rng)?;
            let digest = *blake3::hash(sealed.as_bytes()).as_bytes();
            let size = sealed.len() as u64;
            let key = ObjectKey::for_stream(tenant, started_at, id, &label);
            store.put(&placement, &key, sealed).await?;
            let mut content_hash = [0u8; 32];
            content_hash[..8].copy_from_slice(&i.to_be_bytes());
            batch.push(NewRecording {
                id,
                tenant: tenant.clone(),
                source: RecordingSource::Import,
                external_id: Some(format!("bench-erase-{i}")),
                started_at,
                duration_ms: 60_000,
                direction: Direction::Inbound,
                tags: vec!["qa".into()],
                content_hash,
                details: json!({ "format": "wav", "digests": "blake3" }),
                created_at: now,
                participants: vec![
                    Participant {
                        ordinal: 1,
                        address: Pii::new(PARTICIPANT.to_owned()),
                        name: Some(Pii::new("Bench Customer".to_owned())),
                        role: "customer".into(),
                        evidence: vec![ConsentEvidence {
                            kind: ConsentKind::Announcement,
                            at: Some(started_at),
                            reference: "prompt-recording-notice-v2".into(),
                            source: EvidenceSource::ImportSidecar,
                        }],
                    },
                    Participant {
                        ordinal: 2,
                        address: Pii::new(format!("sip:agent{}@contact.example.com", i % 50)),
                        name: None,
                        role: "agent".into(),
                        evidence: Vec::new(),
                    },
                ],
                streams: vec![Stream {
                    label: label.clone(),
                    content_type: "audio/wav".into(),
                    codec: "wav".into(),
                    duration_ms: 60_000,
                    plaintext_size: PAYLOAD_BYTES as u64,
                    plaintext_sha256: archive::sha256(&payload),
                    object_key: key.to_string(),
                    object_size: size,
                    object_sha256: digest,
                    region: placement.region.clone(),
                }],
                sealed_key: sealed_key.as_bytes().to_vec(),
                audit: AuditNote::new("bench", "import.accepted", json!({})),
                // Synthetic rows: the benchmark measures erasure, not certification.
                certificate: None,
            });
        }
        store.make_durable().await?;
        app.catalog
            .commit_recordings(&batch)
            .await
            .context("committing benchmark recordings")?;
        index = end;
    }
    Ok(())
}

/// Deletes the recordings' rows (plain `DELETE`s, batched like the erase path) and then
/// their objects. Returns the number of objects deleted.
async fn plain_delete(app: &App, pool: &sqlx::SqlitePool, ids: &[RecordingId]) -> Result<u64> {
    let mut deleted = 0u64;
    for batch in ids.chunks(DELETE_BATCH) {
        let texts: Vec<String> = batch.iter().map(ToString::to_string).collect();
        let mut details: Vec<RecordingDetail> = Vec::with_capacity(batch.len());
        for id in batch {
            if let Some(detail) = app.catalog.recording(None, id).await? {
                details.push(detail);
            }
        }
        let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await?;
        for table in [
            "sealed_keys",
            "consent_evidence",
            "participants",
            "streams",
            "recording_tags",
            "transcription_jobs",
            "recordings",
        ] {
            let column = if table == "recordings" {
                "id"
            } else {
                "recording_id"
            };
            let mut builder: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("DELETE FROM {table} WHERE {column} IN ("));
            let mut separated = builder.separated(", ");
            for id in &texts {
                separated.push_bind(id.clone());
            }
            builder.push(")");
            builder.build().execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        for detail in &details {
            let placement = app.placement(&detail.recording.tenant)?;
            let store = app.archive.for_placement(&placement)?;
            for stream in &detail.streams {
                let key = ObjectKey::parse(&stream.object_key).map_err(|e| anyhow!("{e}"))?;
                store.delete(&placement, &key).await?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

async fn tenant(data_dir: &DataDir, id: &str) -> Result<TenantId> {
    let tenant = TenantId::new(id)?;
    tenants::create(
        data_dir,
        "bench".into(),
        NewTenant {
            id: tenant.clone(),
            region: RegionId::new("local")?,
            policy: ConsentPolicy::AllParty,
            purpose: "benchmark".into(),
            legal_basis: "benchmark".into(),
            retention_days: 30,
            staff: vec!["sip:*@contact.example.com".into()],
        },
    )
    .await?;
    Ok(tenant)
}

pub async fn erase(recordings: u64, dir: Option<std::path::PathBuf>) -> Result<EraseBenchReport> {
    if recordings == 0 {
        bail!("--recordings must be at least 1");
    }
    let clock = SystemClock;
    let root = match dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("onrecord-bench-erase-")
            .tempdir()?
            .keep(),
    };
    let data_dir = DataDir::new(root.join("data"));
    let shredded = tenant(&data_dir, "shred").await?;
    let deleted = tenant(&data_dir, "plain").await?;
    let app = App::open(data_dir.clone(), "bench".into()).await?;
    let started = clock.monotonic();
    eprintln!("setup: {recordings} sealed recordings per tenant");
    populate(&app, &shredded, recordings).await?;
    populate(&app, &deleted, recordings).await?;
    let setup_seconds = (clock.monotonic() - started).as_secs_f64();
    let participant = Pii::new(PARTICIPANT.to_owned());
    let sync = || {
        if let Ok(folder) = std::fs::File::open(&root) {
            let _ = rustix::fs::syncfs(&folder);
        }
    };

    // Both sides' recordings are found the same way, outside the measured sections.
    let baseline_ids = app
        .catalog
        .recordings_with_participant(&deleted, &participant)
        .await?;
    let erase_ids = app
        .catalog
        .recordings_with_participant(&shredded, &participant)
        .await?;
    if baseline_ids.len() as u64 != recordings || erase_ids.len() as u64 != recordings {
        bail!(
            "setup stored {} and {} of {recordings} recordings",
            baseline_ids.len(),
            erase_ids.len()
        );
    }
    let raw = catalog::SqliteCatalog::open(data_dir.catalog_path()).await?;
    let node = NodeKey::load_or_create(&data_dir.root().join("keyring"))?;
    let audit_before = audit_count(&app).await?;
    let rule = |_: &RecordingDetail, _: DateTime<Utc>| Vec::new();

    // Alternating halves, so drift on a shared machine (neighbours, page cache, a growing
    // WAL) falls on both sides alike.
    let (mut baseline, mut erase_time) = (Timing::default(), Timing::default());
    let (mut objects_deleted, mut receipts) = (0u64, 0usize);
    let half = recordings.div_ceil(2) as usize;
    for (round, (plain, shred)) in baseline_ids
        .chunks(half)
        .zip(erase_ids.chunks(half))
        .enumerate()
    {
        sync();
        eprintln!(
            "round {}: plain DELETEs and object deletes of {}",
            round + 1,
            plain.len()
        );
        let start = Timing::now(&clock);
        objects_deleted += plain_delete(&app, raw.pool(), plain).await?;
        baseline.add(start.elapsed(&clock));

        sync();
        eprintln!(
            "round {}: crypto-shredding erasure of {}",
            round + 1,
            shred.len()
        );
        let start = Timing::now(&clock);
        let report = erase::erase(&app, &node, shred, "benchmark", &rule).await?;
        erase_time.add(start.elapsed(&clock));
        receipts += report.receipts.len();
    }
    let audit_entries_written = audit_count(&app).await? - audit_before;
    if receipts as u64 != recordings || objects_deleted != recordings {
        bail!("erased {receipts} and deleted {objects_deleted} of {recordings} recordings");
    }
    if app.catalog.sealed_key(&erase_ids[0]).await?.is_some() {
        bail!("a sealed key survived erasure");
    }
    let per = |seconds: f64| seconds * 1000.0 / recordings as f64;
    Ok(EraseBenchReport {
        recordings,
        setup_seconds,
        erase_seconds: erase_time.wall,
        erase_cpu_seconds: erase_time.cpu,
        erase_per_recording_ms: per(erase_time.wall),
        baseline_seconds: baseline.wall,
        baseline_cpu_seconds: baseline.cpu,
        baseline_per_recording_ms: per(baseline.wall),
        ratio: erase_time.wall / baseline.wall.max(1e-9),
        cpu_ratio: erase_time.cpu / baseline.cpu.max(1e-9),
        receipts,
        audit_entries_written,
        objects_deleted,
        note: "same data dir and catalog, the two sides alternating in halves; both commit per 500 recordings (SQLite WAL, synchronous=FULL) and delete one local-store object per recording; erase adds reads of each recording, hold and minimum-retention checks, pseudonyms, one chained audit entry and one Ed25519-signed receipt per recording (two audit entries each)",
    })
}

/// Wall and CPU seconds (this process, all threads) of the measured sections.
#[derive(Debug, Default, Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
}

struct Started {
    wall: std::time::Instant,
    cpu: Duration,
}

impl Timing {
    fn now(clock: &dyn Clock) -> Started {
        Started {
            wall: clock.monotonic(),
            cpu: crate::bench::cpu_time(),
        }
    }

    fn add(&mut self, other: Timing) {
        self.wall += other.wall;
        self.cpu += other.cpu;
    }
}

impl Started {
    fn elapsed(&self, clock: &dyn Clock) -> Timing {
        Timing {
            wall: (clock.monotonic() - self.wall).as_secs_f64(),
            cpu: crate::bench::cpu_time()
                .saturating_sub(self.cpu)
                .as_secs_f64(),
        }
    }
}

async fn audit_count(app: &App) -> Result<u64> {
    let mut count = 0u64;
    let mut after = 0u64;
    loop {
        let page = app
            .catalog
            .audit_entries(after, catalog::MAX_AUDIT_PAGE)
            .await?;
        let Some(last) = page.last() else {
            return Ok(count);
        };
        after = last.seq;
        count += page.len() as u64;
    }
}
