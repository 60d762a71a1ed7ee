//! `onrecord import`: existing recordings in bulk, each with its JSON sidecar.
//!
//! Per file: read the sidecar and the audio, probe the format, decide consent (a refusal
//! stores nothing but the audited refusal), hash the content (BLAKE3; the idempotence key),
//! skip what the tenant already has, seal the original bytes under a fresh data key, publish
//! the sealed object to the tenant's region, and finally commit a batch of recordings to the
//! catalog in one transaction after one durability barrier for the batch's objects (group
//! commit). A crash between publish and commit leaves only sealed objects whose keys were
//! never stored (unreadable); a re-run imports those files again and skips the rest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};
use archive::{ObjectKey, Placement, RegionStore};
use catalog::{
    AuditNote, Catalog, CommitOutcome, NewRecording, NewRefusal, Participant, RecordingSource,
    RefusalSubject, Stream,
};
use chrono::{DateTime, Utc};
use consent::{Call, ConsentRules, Decision};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use intake::{AudioFacts, Sidecar};
use model::{RecordingId, StreamLabel, TenantId};
use rand::RngCore;
use seal::{ContainerHeader, DEFAULT_CHUNK_SIZE, DataKey, KeyBinding, TenantPublicKey};
use serde::Serialize;
use serde_json::json;

use crate::app::App;

/// File extensions taken as audio; anything else in a folder is ignored (sidecars are found
/// from their audio file).
const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "flac", "mp3", "ogg", "opus", "oga", "ul", "ulaw", "mulaw", "pcmu", "al", "alaw", "pcma",
];

/// The label of the one stream an imported file becomes.
pub const IMPORT_STREAM_LABEL: &str = "original";

#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub tenant: TenantId,
    pub paths: Vec<PathBuf>,
    /// Recordings per catalog transaction and durability barrier.
    pub batch_size: usize,
    /// Files worked on at once.
    pub workers: usize,
    pub progress: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub imported: Vec<Imported>,
    pub duplicates: Vec<Duplicate>,
    pub refused: Vec<Refused>,
    pub failed: Vec<Failed>,
    /// Bytes of audio read.
    pub bytes_read: u64,
}

#[derive(Debug, Serialize)]
pub struct Imported {
    pub file: PathBuf,
    pub recording: RecordingId,
    pub format: String,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Duplicate {
    pub file: PathBuf,
    /// The recording that already holds this content, when known.
    pub existing: Option<RecordingId>,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct Refused {
    pub file: PathBuf,
    pub reason_code: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Failed {
    pub file: PathBuf,
    pub error: String,
}

impl ImportSummary {
    pub fn is_clean(&self) -> bool {
        self.refused.is_empty() && self.failed.is_empty()
    }

    fn sort(&mut self) {
        self.imported.sort_by(|a, b| a.file.cmp(&b.file));
        self.duplicates.sort_by(|a, b| a.file.cmp(&b.file));
        self.refused.sort_by(|a, b| a.file.cmp(&b.file));
        self.failed.sort_by(|a, b| a.file.cmp(&b.file));
    }
}

/// An audio file and the sidecar beside it.
#[derive(Debug, Clone)]
struct Candidate {
    audio: PathBuf,
    sidecar: PathBuf,
}

/// Finds audio files in the given files and folders (recursively), in a stable order.
fn discover(paths: &[PathBuf], failed: &mut Vec<Failed>) -> Vec<Candidate> {
    let mut audio = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(error) => {
                failed.push(Failed {
                    file: path,
                    error: format!("cannot read: {error}"),
                });
                continue;
            }
        };
        if metadata.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path()))),
                Err(error) => failed.push(Failed {
                    file: path,
                    error: format!("cannot list: {error}"),
                }),
            }
            continue;
        }
        let extension = extension_of(&path);
        if AUDIO_EXTENSIONS.contains(&extension.as_str()) {
            audio.push(path);
        } else if extension == "json" && paths.contains(&path) {
            // A sidecar named on the command line stands for its audio file.
            match sibling_audio(&path) {
                Some(found) => audio.push(found),
                None => failed.push(Failed {
                    file: path,
                    error: "no audio file beside this sidecar".into(),
                }),
            }
        } else if paths.contains(&path) {
            failed.push(Failed {
                file: path,
                error: format!(
                    "not an audio file this import reads ({})",
                    AUDIO_EXTENSIONS.join(", ")
                ),
            });
        }
    }
    audio.sort();
    audio.dedup();
    audio
        .into_iter()
        .map(|audio| Candidate {
            sidecar: audio.with_extension("json"),
            audio,
        })
        .collect()
}

fn extension_of(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default()
}

fn sibling_audio(sidecar: &Path) -> Option<PathBuf> {
    AUDIO_EXTENSIONS
        .iter()
        .map(|extension| sidecar.with_extension(extension))
        .find(|candidate| candidate.is_file())
}

/// Everything a worker needs, shared.
struct Context {
    tenant: TenantId,
    placement: Placement,
    store: RegionStore,
    rules: ConsentRules,
    public_key: TenantPublicKey,
    catalog: Arc<dyn Catalog>,
    actor: String,
    now: DateTime<Utc>,
    /// Signs each imported recording's completeness certificate.
    node: crate::nodekey::NodeKey,
    /// Content hashes claimed by a file of this run, so two copies of one file in one run
    /// are stored once.
    claimed: Mutex<HashMap<[u8; 32], PathBuf>>,
}

/// What became of one file before the catalog commit.
enum Outcome {
    Ready(Box<NewRecording>, ObjectKey, Imported),
    Duplicate(Duplicate),
    Refused(Refused, Box<NewRefusal>),
    Failed(Failed),
}

/// What reading and checking one file found.
enum Examined {
    Accepted(Box<Accepted>),
    Refused(Refused, Box<NewRefusal>),
}

struct Accepted {
    bytes: Vec<u8>,
    sidecar: Sidecar,
    facts: AudioFacts,
    content_hash: [u8; 32],
    participants: Vec<Participant>,
    extension: String,
}

fn examine(candidate: &Candidate, context: &Context) -> Result<Examined, String> {
    let sidecar_bytes = std::fs::read(&candidate.sidecar).map_err(|error| {
        format!(
            "cannot read sidecar {}: {error}",
            candidate.sidecar.display()
        )
    })?;
    let sidecar = intake::parse_sidecar(&sidecar_bytes)
        .map_err(|error| format!("sidecar {}: {error}", candidate.sidecar.display()))?;
    let bytes = std::fs::read(&candidate.audio).map_err(|error| format!("cannot read: {error}"))?;
    let extension = extension_of(&candidate.audio);
    let facts = intake::probe_audio(Some(&extension), &bytes, sidecar.codec)
        .map_err(|error| error.to_string())?;
    let content_hash: [u8; 32] = *blake3::hash(&bytes).as_bytes();

    let ended_at = sidecar.started_at
        + chrono::Duration::milliseconds(i64::try_from(facts.duration_ms).unwrap_or(i64::MAX / 2));
    let call = Call {
        participants: sidecar
            .participants
            .iter()
            .map(|p| {
                let mut participant = consent::Participant::new(p.address.clone(), p.role.clone());
                participant.evidence = p.consent.clone();
                participant
            })
            .collect(),
        ended_at: Some(ended_at),
    };
    match context.rules.decide(None, &call) {
        Decision::Refuse { reason } => {
            let code = reason.as_code().to_owned();
            let message = reason.to_string();
            let refusal = NewRefusal {
                tenant: context.tenant.clone(),
                at: context.now,
                reason: code.clone(),
                source: RecordingSource::Import,
                subject: RefusalSubject::ContentHash(content_hash),
                audit: AuditNote::new(
                    context.actor.clone(),
                    "import.refused",
                    json!({ "reason": code, "message": message, "content_hash": hex::encode(content_hash) }),
                ),
            };
            Ok(Examined::Refused(
                Refused {
                    file: candidate.audio.clone(),
                    reason_code: code,
                    reason: message,
                },
                Box::new(refusal),
            ))
        }
        Decision::Record {
            participants: covered,
        } => {
            let participants = sidecar
                .participants
                .iter()
                .enumerate()
                .map(|(index, p)| Participant {
                    ordinal: u32::try_from(index + 1).unwrap_or(u32::MAX),
                    address: p.address.clone(),
                    name: p.name.clone(),
                    role: p.role.clone(),
                    evidence: covered
                        .iter()
                        .find(|c| c.index == index)
                        .map(|c| c.evidence.clone())
                        .unwrap_or_default(),
                })
                .collect();
            Ok(Examined::Accepted(Box::new(Accepted {
                bytes,
                sidecar,
                facts,
                content_hash,
                participants,
                extension,
            })))
        }
    }
}

/// Seals one accepted file: a fresh data key sealed to the tenant, the original bytes in one
/// container. Returns the recording to commit (without its object size yet) and the sealed
/// object.
fn seal_recording(
    accepted: Accepted,
    context: &Context,
) -> Result<(NewRecording, ObjectKey, seal::SealedBytes, Imported), String> {
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    let millis = u64::try_from(context.now.timestamp_millis()).unwrap_or(0);
    let id = RecordingId::from_parts(millis, random);
    let label = StreamLabel::new(IMPORT_STREAM_LABEL).map_err(|e| e.to_string())?;

    let mut rng = rand::rng();
    let data_key = DataKey::generate(&mut rng);
    let binding = KeyBinding {
        tenant: context.tenant.clone(),
        recording: id,
    };
    let sealed_key = data_key
        .seal_to(&context.public_key, &binding, &mut rng)
        .map_err(|error| format!("cannot seal the data key: {error}"))?;
    let header = ContainerHeader::new(
        id,
        label.clone(),
        accepted.facts.content_tag,
        DEFAULT_CHUNK_SIZE,
    )
    .map_err(|error| format!("cannot build the container header: {error}"))?;
    let sealed = seal::seal_container(&data_key, header, &accepted.bytes, &mut rng)
        .map_err(|error| format!("cannot seal: {error}"))?;
    let object_digest = *blake3::hash(sealed.as_bytes()).as_bytes();
    let key = ObjectKey::for_stream(&context.tenant, accepted.sidecar.started_at, id, &label);
    let format = accepted.facts.format.as_str().to_owned();
    let verdict = crate::completeness::assess_import(&crate::completeness::ImportFacts {
        participants: accepted.sidecar.participants.len(),
        declared_channels: accepted.sidecar.codec.map(|codec| codec.channels),
        decoded_channels: accepted.facts.channels,
        duration_ms: accepted.facts.duration_ms,
    });
    let certificate = crate::completeness::certificate(
        &context.node,
        &crate::completeness::Subject {
            recording: id,
            tenant: &context.tenant,
            source: RecordingSource::Import,
            started_at: accepted.sidecar.started_at,
            duration_ms: accepted.facts.duration_ms,
            content_hash: &accepted.content_hash,
            issued_at: context.now,
            client: None,
        },
        &verdict,
    );

    let recording = NewRecording {
        id,
        tenant: context.tenant.clone(),
        source: RecordingSource::Import,
        external_id: accepted.sidecar.external_id.clone(),
        started_at: accepted.sidecar.started_at,
        duration_ms: accepted.facts.duration_ms,
        direction: accepted.sidecar.direction,
        tags: accepted.sidecar.tags.clone(),
        content_hash: accepted.content_hash,
        details: json!({
            "format": format,
            "sample_rate": accepted.facts.sample_rate,
            "channels": accepted.facts.channels,
            "file_extension": accepted.extension,
            "digests": "blake3",
        }),
        created_at: context.now,
        participants: accepted.participants,
        streams: vec![Stream {
            label,
            content_type: accepted.facts.content_tag.to_owned(),
            codec: format.clone(),
            duration_ms: accepted.facts.duration_ms,
            plaintext_size: accepted.bytes.len() as u64,
            plaintext_sha256: accepted.content_hash,
            object_key: key.to_string(),
            object_size: sealed.len() as u64,
            object_sha256: object_digest,
            region: context.placement.region.clone(),
        }],
        sealed_key: sealed_key.as_bytes().to_vec(),
        audit: AuditNote::new(
            context.actor.clone(),
            "import.accepted",
            json!({
                "content_hash": hex::encode(accepted.content_hash),
                "format": format,
                "duration_ms": accepted.facts.duration_ms,
                "participants": accepted.sidecar.participants.len(),
                "completeness": certificate.verdict.as_str(),
            }),
        ),
        certificate: Some(certificate),
    };
    let imported = Imported {
        file: PathBuf::new(),
        recording: id,
        format,
        duration_ms: accepted.facts.duration_ms,
    };
    Ok((recording, key, sealed, imported))
}

async fn process(candidate: Candidate, context: Arc<Context>) -> Outcome {
    let file = candidate.audio.clone();
    let failed = |error: String| {
        Outcome::Failed(Failed {
            file: file.clone(),
            error,
        })
    };

    let examined = {
        let context = context.clone();
        let candidate = candidate.clone();
        match tokio::task::spawn_blocking(move || examine(&candidate, &context)).await {
            Ok(result) => result,
            Err(join) => Err(format!("worker stopped: {join}")),
        }
    };
    let accepted = match examined {
        Err(error) => return failed(error),
        Ok(Examined::Refused(refused, refusal)) => return Outcome::Refused(refused, refusal),
        Ok(Examined::Accepted(accepted)) => accepted,
    };

    // Idempotence: content this tenant already has is not stored again.
    {
        let mut claimed = context.claimed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(first) = claimed.get(&accepted.content_hash) {
            return Outcome::Duplicate(Duplicate {
                file,
                existing: None,
                note: format!("same content as {} in this import", first.display()),
            });
        }
        claimed.insert(accepted.content_hash, candidate.audio.clone());
    }
    match context
        .catalog
        .recording_by_content_hash(&context.tenant, &accepted.content_hash)
        .await
    {
        Ok(Some(existing)) => {
            return Outcome::Duplicate(Duplicate {
                file,
                existing: Some(existing),
                note: "already imported".into(),
            });
        }
        Ok(None) => {}
        Err(error) => return failed(format!("catalog: {error}")),
    }

    let sealed = {
        let context = context.clone();
        match tokio::task::spawn_blocking(move || seal_recording(*accepted, &context)).await {
            Ok(result) => result,
            Err(join) => Err(format!("worker stopped: {join}")),
        }
    };
    let (recording, key, sealed, mut imported) = match sealed {
        Ok(parts) => parts,
        Err(error) => return failed(error),
    };
    if let Err(error) = context.store.put(&context.placement, &key, sealed).await {
        return failed(error.to_string());
    }
    imported.file = file;
    Outcome::Ready(Box::new(recording), key, imported)
}

/// Pending work between two commits.
#[derive(Default)]
struct Batch {
    recordings: Vec<NewRecording>,
    keys: Vec<ObjectKey>,
    imported: Vec<Imported>,
    refusals: Vec<NewRefusal>,
}

impl Batch {
    fn len(&self) -> usize {
        self.recordings.len() + self.refusals.len()
    }
}

async fn flush(batch: &mut Batch, context: &Context, summary: &mut ImportSummary) -> Result<()> {
    if !batch.refusals.is_empty() {
        context.catalog.record_refusals(&batch.refusals).await?;
        batch.refusals.clear();
    }
    if batch.recordings.is_empty() {
        return Ok(());
    }
    // Objects first, durable, then the catalog flips (STYLE.md §7).
    context.store.make_durable().await?;
    let outcomes = context.catalog.commit_recordings(&batch.recordings).await?;
    let keys = std::mem::take(&mut batch.keys);
    let imported = std::mem::take(&mut batch.imported);
    batch.recordings.clear();
    for ((outcome, key), imported) in outcomes.into_iter().zip(keys).zip(imported) {
        match outcome {
            CommitOutcome::Committed { .. } => summary.imported.push(imported),
            CommitOutcome::Duplicate { existing } => {
                // Another import of the same content committed first: drop our copy.
                context.store.delete(&context.placement, &key).await?;
                summary.duplicates.push(Duplicate {
                    file: imported.file,
                    existing: Some(existing),
                    note: "imported concurrently by another run".into(),
                });
            }
        }
    }
    Ok(())
}

/// Runs an import. Errors are returned only for failures of the catalog or store as a whole;
/// per-file problems land in the summary.
pub async fn import(app: &App, request: ImportRequest) -> Result<ImportSummary> {
    let tenant_config = app.tenant_config(&request.tenant)?;
    let placement = app.placement(&request.tenant)?;
    let store = app.archive.for_placement(&placement)?.clone();
    let public_key = app.public_key(&request.tenant).await?;
    let context = Arc::new(Context {
        tenant: request.tenant.clone(),
        placement,
        store,
        rules: ConsentRules::new(tenant_config.policy, tenant_config.staff.clone()),
        public_key,
        catalog: app.catalog.clone(),
        actor: app.actor.clone(),
        now: app.clock.wall(),
        node: crate::nodekey::NodeKey::load_or_create(&app.data_dir.root().join("keyring"))?,
        claimed: Mutex::new(HashMap::new()),
    });

    let mut summary = ImportSummary::default();
    let candidates = discover(&request.paths, &mut summary.failed);
    if candidates.is_empty() && summary.failed.is_empty() {
        return Err(anyhow!("found no audio files to import in the given paths"));
    }
    let progress = if request.progress {
        let bar = ProgressBar::new(candidates.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files  {per_sec}  eta {eta}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let workers = request.workers.max(1);
    let batch_size = request.batch_size.clamp(1, catalog::MAX_BATCH);
    let mut outcomes = futures::stream::iter(candidates)
        .map(|candidate| process(candidate, context.clone()))
        .buffer_unordered(workers);
    let mut batch = Batch::default();
    let mut committed_before = 0;
    while let Some(outcome) = outcomes.next().await {
        progress.inc(1);
        match outcome {
            Outcome::Ready(recording, key, imported) => {
                summary.bytes_read += recording
                    .streams
                    .iter()
                    .map(|s| s.plaintext_size)
                    .sum::<u64>();
                batch.recordings.push(*recording);
                batch.keys.push(key);
                batch.imported.push(imported);
            }
            Outcome::Duplicate(duplicate) => summary.duplicates.push(duplicate),
            Outcome::Refused(refused, refusal) => {
                progress.set_message(format!("{} refused", summary.refused.len() + 1));
                summary.refused.push(refused);
                batch.refusals.push(*refusal);
            }
            Outcome::Failed(failed) => summary.failed.push(failed),
        }
        if batch.len() >= batch_size {
            flush(&mut batch, &context, &mut summary).await?;
            committed_before =
                queue_transcriptions(app, &request, &summary, committed_before).await;
        }
    }
    flush(&mut batch, &context, &mut summary).await?;
    queue_transcriptions(app, &request, &summary, committed_before).await;
    progress.finish_and_clear();
    summary.sort();
    Ok(summary)
}

/// Queues transcription for the recordings committed since `from` (an index into
/// `summary.imported`); returns the new index.
async fn queue_transcriptions(
    app: &App,
    request: &ImportRequest,
    summary: &ImportSummary,
    from: usize,
) -> usize {
    let committed: Vec<RecordingId> = summary.imported[from..]
        .iter()
        .map(|imported| imported.recording)
        .collect();
    crate::transcription::queue_committed(app, &request.tenant, &committed).await;
    summary.imported.len()
}
