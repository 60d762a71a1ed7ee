//! Transcription of archived recordings: the job runner behind `onrecord transcribe` and
//! the worker of `onrecord serve`, and reading sealed transcripts back.
//!
//! A job decrypts the recording (the tenant's private key comes from this node's keyring,
//! so transcription runs where the keyring is), turns each participant's stream or channel
//! into 16-bit PCM, transcribes each on its own (no diarisation: a stream belongs to a known
//! participant), interleaves the segments by time, seals the transcript under the
//! recording's own data key, publishes it, marks the job done with its audit entry, and
//! indexes it for search. Jobs are queued right after an import commits and by a sweep of
//! committed recordings without a job (live SIPREC calls, a crash between commit and queue).

pub mod audio;
pub mod bench;
pub mod cli;
pub mod compressed;
pub mod index;
pub mod transcript;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use archive::ObjectKey;
use catalog::{
    AuditNote, JobState, RecordingDetail, RecordingSource, TranscriptObject, TranscriptionJob,
};
use model::{RecordingId, StreamLabel, TenantId};
use onrecord_transcribe::whisper::{WhisperDevice, WhisperEngine};
use onrecord_transcribe::{Pcm16k, TranscribeOptions, Transcriber};
use seal::{ContainerHeader, DataKey, KeyBinding, SealedDataKey};
use serde_json::{Value, json};

use crate::app::App;
use crate::datadir::DataDir;
use crate::live::server::LIVE_STREAM_CONTENT_TYPE;
use transcript::{
    Attributed, StoredTranscript, TRANSCRIPT_CONTENT_TYPE, TRANSCRIPT_LABEL, UNATTRIBUTED,
};

/// Environment variable naming the Whisper model directory.
pub const MODEL_DIR_ENV: &str = "ONRECORD_MODEL_DIR";
/// A running job not heard from for this long is taken to have crashed and is re-queued.
pub const STALE_AFTER: Duration = Duration::from_secs(15 * 60);
/// How often the worker of `serve` looks at the queue when it is empty.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Recordings queued per sweep step.
const SWEEP_BATCH: u32 = 1_000;

/// The model directory: the flag, else `ONRECORD_MODEL_DIR`, else `DATA_DIR/models/tiny.en`.
pub fn model_directory(data_dir: &DataDir, flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os(MODEL_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| data_dir.root().join("models").join("tiny.en"))
}

/// A loaded speech-to-text engine, shared by the jobs of one process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Mutex<WhisperEngine>>,
    /// e.g. `whisper tiny.en`.
    pub name: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Engine")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads the Whisper model in `directory` on the CPU. A missing model is one clear error.
    pub fn load(directory: &Path) -> Result<Engine> {
        if !directory.join("model.bin").is_file() {
            bail!(
                "no Whisper model in {}: run `scripts/fetch-models.sh DIR` and pass --model DIR/tiny.en (or set {MODEL_DIR_ENV})",
                directory.display()
            );
        }
        let engine = WhisperEngine::load(directory, WhisperDevice::Cpu)
            .with_context(|| format!("cannot load the Whisper model in {}", directory.display()))?;
        let name = directory
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok(Engine {
            inner: Arc::new(Mutex::new(engine)),
            name: format!("whisper {name}"),
        })
    }

    async fn transcribe(&self, audio: Pcm16k) -> Result<onrecord_transcribe::Transcript> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut engine = inner.lock().unwrap_or_else(|p| p.into_inner());
            engine.transcribe(&audio, &TranscribeOptions::default())
        })
        .await
        .map_err(|join| anyhow!("transcription worker stopped: {join}"))?
        .map_err(|error| anyhow!("transcription: {error}"))
    }
}

/// What a run did.
#[derive(Debug, Default, serde::Serialize)]
pub struct RunReport {
    pub done: Vec<RecordingId>,
    /// Recordings whose job failed, with the reason.
    pub failed: Vec<(RecordingId, String)>,
    /// Tenants skipped and why (transcription off, no private key here).
    pub skipped_tenants: Vec<(TenantId, String)>,
}

/// Queues transcription jobs for recordings just committed, when the tenant has
/// transcription on. A failure here only delays the job: the sweep queues it later.
pub async fn queue_committed(app: &App, tenant: &TenantId, recordings: &[RecordingId]) {
    let enabled = app.config.tenant(tenant).is_some_and(|t| t.transcription);
    if !enabled || recordings.is_empty() {
        return;
    }
    if let Err(error) = app
        .catalog
        .queue_transcriptions(recordings, app.clock.wall())
        .await
    {
        tracing::warn!(%error, "cannot queue transcription jobs; the next sweep will");
    }
}

/// Queues every committed recording of the tenant that has no job yet.
async fn sweep(app: &App, tenant: &TenantId) -> Result<usize> {
    let mut queued = 0;
    loop {
        let missing = app
            .catalog
            .recordings_without_transcription(tenant, SWEEP_BATCH)
            .await?;
        if missing.is_empty() {
            return Ok(queued);
        }
        let newly = app
            .catalog
            .queue_transcriptions(&missing, app.clock.wall())
            .await?;
        queued += newly.len();
        if newly.is_empty() || missing.len() < SWEEP_BATCH as usize {
            return Ok(queued);
        }
    }
}

fn stale_before(app: &App) -> chrono::DateTime<chrono::Utc> {
    app.clock.wall() - chrono::Duration::from_std(STALE_AFTER).unwrap_or_default()
}

/// Why this node cannot transcribe the tenant's recordings, if it cannot.
fn tenant_unavailable(app: &App, tenant: &TenantId) -> Option<String> {
    match app.config.tenant(tenant) {
        None => Some("not in config.toml".into()),
        Some(config) if !config.transcription => Some("transcription = false".into()),
        Some(_) if !app.data_dir.keyring().has(tenant) => {
            Some("no private key in this node's keyring".into())
        }
        Some(_) => None,
    }
}

/// Runs every queued job of every tenant that has transcription on and whose private key is
/// here, until the queue is empty. Progress goes to stderr when `progress` is set.
pub async fn run_pending(app: &App, engine: &Engine, progress: bool) -> Result<RunReport> {
    let mut report = RunReport::default();
    for tenant in app.config.tenants.keys() {
        if let Some(reason) = tenant_unavailable(app, tenant) {
            report.skipped_tenants.push((tenant.clone(), reason));
            continue;
        }
        sweep(app, tenant).await?;
        while let Some(job) = app
            .catalog
            .claim_transcription(tenant, None, app.clock.wall(), stale_before(app))
            .await?
        {
            run_claimed(app, engine, job, progress, &mut report).await?;
        }
    }
    Ok(report)
}

/// Transcribes one recording now, whatever its job's state (a re-run replaces the transcript).
pub async fn run_one(
    app: &App,
    engine: &Engine,
    id: RecordingId,
    progress: bool,
) -> Result<RunReport> {
    let detail = app
        .catalog
        .recording(None, &id)
        .await?
        .ok_or_else(|| anyhow!("no recording {id}"))?;
    let tenant = detail.recording.tenant.clone();
    if let Some(reason) = tenant_unavailable(app, &tenant) {
        bail!("cannot transcribe recordings of tenant {tenant}: {reason}");
    }
    app.catalog
        .requeue_transcription(&id, app.clock.wall())
        .await?;
    let job = app
        .catalog
        .claim_transcription(&tenant, Some(&id), app.clock.wall(), stale_before(app))
        .await?
        .ok_or_else(|| anyhow!("the job of recording {id} is running elsewhere"))?;
    let mut report = RunReport::default();
    run_claimed(app, engine, job, progress, &mut report).await?;
    Ok(report)
}

/// The worker of `onrecord serve`: runs queued jobs, then waits [`POLL_INTERVAL`]. Stopping
/// it mid-job leaves a `running` job that the next claim re-queues once stale.
pub async fn worker(app: App, engine: Engine) {
    loop {
        match run_pending(&app, &engine, false).await {
            Ok(report) => {
                for (id, reason) in &report.failed {
                    tracing::warn!(recording = %id, %reason, "transcription failed");
                }
            }
            Err(error) => tracing::warn!(%error, "transcription worker"),
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn run_claimed(
    app: &App,
    engine: &Engine,
    job: TranscriptionJob,
    progress: bool,
    report: &mut RunReport,
) -> Result<()> {
    let id = job.recording;
    if progress {
        eprintln!("transcribing {id} (attempt {})", job.attempts);
    }
    let started = app.clock.monotonic();
    match transcribe_recording(app, engine, id, progress).await {
        Ok((stored, object, audio_ms)) => {
            let seconds = app.clock.monotonic().duration_since(started).as_secs_f64();
            app.catalog
                .finish_transcription(
                    &id,
                    &object,
                    app.clock.wall(),
                    &AuditNote::new(
                        app.actor.clone(),
                        "transcription.done",
                        json!({
                            "model": engine.name,
                            "segments": stored.segments.len(),
                            "audio_ms": audio_ms,
                            "seconds": (seconds * 1000.0).round() / 1000.0,
                        }),
                    ),
                )
                .await?;
            if let Err(error) = index::index_transcript(app, id, &stored).await {
                eprintln!(
                    "onrecord: warning: recording {id} transcribed but not indexed ({error:#}); run `onrecord reindex`"
                );
            }
            if progress {
                eprintln!(
                    "done {id}: {} segments, {:.1} s of audio in {seconds:.1} s",
                    stored.segments.len(),
                    audio_ms as f64 / 1000.0
                );
            }
            report.done.push(id);
        }
        Err(error) => {
            let reason = format!("{error:#}");
            app.catalog
                .fail_transcription(
                    &id,
                    &reason,
                    app.clock.wall(),
                    &AuditNote::new(
                        app.actor.clone(),
                        "transcription.failed",
                        json!({ "model": engine.name, "reason": reason }),
                    ),
                )
                .await?;
            if progress {
                eprintln!("failed {id}: {reason}");
            }
            report.failed.push((id, reason));
        }
    }
    Ok(())
}

/// The recording's data key, opened with the tenant's private key from the keyring.
pub fn open_data_key(
    app: &App,
    tenant: &TenantId,
    id: RecordingId,
    sealed: &[u8],
) -> Result<DataKey> {
    let private_key = app.private_key(tenant)?;
    SealedDataKey::from_bytes(sealed)
        .and_then(|sealed| {
            sealed.open(
                &private_key,
                &KeyBinding {
                    tenant: tenant.clone(),
                    recording: id,
                },
            )
        })
        .map_err(|error| anyhow!("cannot open the data key of recording {id}: {error}"))
}

async fn data_key_of(app: &App, detail: &RecordingDetail) -> Result<DataKey> {
    let id = detail.recording.id;
    let sealed = app
        .catalog
        .sealed_key(&id)
        .await?
        .ok_or_else(|| anyhow!("recording {id} was erased"))?;
    open_data_key(app, &detail.recording.tenant, id, &sealed)
}

/// Fetches and opens one sealed object of the recording, checking that it belongs to it.
pub(crate) async fn open_object(
    app: &App,
    detail: &RecordingDetail,
    data_key: &DataKey,
    object_key: &str,
    label: &str,
    plaintext_digest: &[u8; 32],
) -> Result<Vec<u8>> {
    let id = detail.recording.id;
    let placement = app.placement(&detail.recording.tenant)?;
    let store = app.archive.for_placement(&placement)?;
    let key = ObjectKey::parse(object_key).map_err(|e| anyhow!("catalog: {e}"))?;
    let sealed = store.get(&placement, &key).await?;
    let (header, plaintext) = seal::open_container(data_key, &sealed)
        .map_err(|error| anyhow!("{label} of recording {id}: {error}"))?;
    if header.recording() != id || header.stream().as_str() != label {
        bail!("{label} of recording {id}: the stored object belongs to another recording");
    }
    if blake3::hash(&plaintext).as_bytes() != plaintext_digest {
        bail!("{label} of recording {id}: content does not match its recorded digest");
    }
    Ok(plaintext)
}

/// Who a stream or channel belongs to: `(ordinal, label)`.
fn participant_label(detail: &RecordingDetail, ordinal: u32) -> (Option<u32>, String) {
    match detail.participants.iter().find(|p| p.ordinal == ordinal) {
        Some(participant) if !participant.role.is_empty() => {
            (Some(ordinal), participant.role.clone())
        }
        Some(_) => (Some(ordinal), format!("participant {ordinal}")),
        None => (None, UNATTRIBUTED.into()),
    }
}

/// One participant's audio, ready for the engine.
struct Track {
    participant: Option<u32>,
    label: String,
    source: String,
    audio: Pcm16k,
}

/// The recording's tracks: an import's channels (channel 0 is the first participant,
/// channel 1 the second; a mono file is unattributed unless the call has one participant),
/// or a live call's streams (each the participant that sends on it).
fn tracks(
    detail: &RecordingDetail,
    stream: &catalog::Stream,
    plaintext: &[u8],
) -> Result<Vec<Track>> {
    let details = &detail.recording.details;
    let (decoded, owners): (audio::Channels, Vec<(Option<u32>, String)>) =
        if stream.content_type == LIVE_STREAM_CONTENT_TYPE {
            let decoded = audio::decode_live(plaintext)?;
            let ordinal = details
                .get("streams")
                .and_then(|streams| streams.get(stream.label.as_str()))
                .and_then(|stream| stream.get("participant"))
                .and_then(Value::as_u64)
                .and_then(|ordinal| u32::try_from(ordinal).ok());
            let owner = match ordinal {
                Some(ordinal) => participant_label(detail, ordinal),
                None => (None, stream.label.to_string()),
            };
            (decoded, vec![owner])
        } else {
            let format = details.get("format").and_then(Value::as_str).unwrap_or("");
            let rate = details
                .get("sample_rate")
                .and_then(Value::as_u64)
                .and_then(|rate| u32::try_from(rate).ok())
                .unwrap_or(8_000);
            let channels = details
                .get("channels")
                .and_then(Value::as_u64)
                .and_then(|channels| u16::try_from(channels).ok())
                .unwrap_or(1);
            let decoded = audio::decode_import(plaintext, format, rate, channels)?;
            let owners = if decoded.channels.len() == 1 {
                match detail.participants.as_slice() {
                    [only] => vec![participant_label(detail, only.ordinal)],
                    _ => vec![(None, UNATTRIBUTED.into())],
                }
            } else {
                (0..decoded.channels.len())
                    .map(|index| match detail.participants.get(index) {
                        Some(participant) => participant_label(detail, participant.ordinal),
                        None => (None, UNATTRIBUTED.into()),
                    })
                    .collect()
            };
            (decoded, owners)
        };
    let several = decoded.channels.len() > 1;
    decoded
        .channels
        .iter()
        .zip(owners)
        .enumerate()
        .map(|(index, (samples, (participant, label)))| {
            let audio = Pcm16k::from_i16(samples, decoded.sample_rate)
                .map_err(|error| anyhow!("stream {}: {error}", stream.label))?;
            let source = if several {
                format!("{}#{index}", stream.label)
            } else {
                stream.label.to_string()
            };
            Ok(Track {
                participant,
                label,
                source,
                audio,
            })
        })
        .collect()
}

/// Transcribes, seals and publishes; returns the transcript, its object and the audio length.
async fn transcribe_recording(
    app: &App,
    engine: &Engine,
    id: RecordingId,
    progress: bool,
) -> Result<(StoredTranscript, TranscriptObject, u64)> {
    let detail = app
        .catalog
        .recording(None, &id)
        .await?
        .ok_or_else(|| anyhow!("no recording {id}"))?;
    let data_key = data_key_of(app, &detail).await?;
    let audio_streams: Vec<&catalog::Stream> = detail
        .streams
        .iter()
        .filter(|stream| match detail.recording.source {
            RecordingSource::Import => stream.content_type.starts_with("audio/"),
            RecordingSource::Siprec => stream.content_type == LIVE_STREAM_CONTENT_TYPE,
        })
        .collect();
    if audio_streams.is_empty() {
        bail!("recording {id} has no audio stream to transcribe");
    }
    let mut all_tracks = Vec::new();
    for stream in audio_streams {
        let plaintext = open_object(
            app,
            &detail,
            &data_key,
            &stream.object_key,
            stream.label.as_str(),
            &stream.plaintext_sha256,
        )
        .await?;
        all_tracks.extend(tracks(&detail, stream, &plaintext)?);
    }
    let total = all_tracks.len();
    let mut parts = Vec::with_capacity(total);
    let mut audio_ms = 0;
    for (index, track) in all_tracks.into_iter().enumerate() {
        audio_ms += track.audio.duration_ms();
        let transcript = engine.transcribe(track.audio).await?;
        let done = u8::try_from((index + 1) * 100 / total.max(1)).unwrap_or(100);
        app.catalog
            .transcription_progress(&id, done.min(99), app.clock.wall())
            .await?;
        if progress {
            eprintln!("  {id}: {} transcribed ({done}%)", track.source);
        }
        parts.push(Attributed {
            participant: track.participant,
            label: track.label,
            source: track.source,
            offset_ms: 0,
            transcript,
        });
    }
    let stored = transcript::interleave(&engine.name, parts);
    let plaintext = serde_json::to_vec(&stored)?;
    let label = StreamLabel::new(TRANSCRIPT_LABEL)?;
    let header = ContainerHeader::new(
        id,
        label.clone(),
        TRANSCRIPT_CONTENT_TYPE,
        seal::DEFAULT_CHUNK_SIZE,
    )?;
    let sealed = seal::seal_container(&data_key, header, &plaintext, &mut rand::rng())?;
    let object_sha256 = *blake3::hash(sealed.as_bytes()).as_bytes();
    let tenant = &detail.recording.tenant;
    let key = ObjectKey::for_stream(tenant, detail.recording.started_at, id, &label);
    let placement = app.placement(tenant)?;
    let store = app.archive.for_placement(&placement)?;
    let stored_object = store.put(&placement, &key, sealed).await?;
    // The object is durable before the catalog points at it (STYLE.md §7).
    store.make_durable().await?;
    let object = TranscriptObject {
        object_key: key.to_string(),
        object_size: stored_object.size,
        object_sha256,
        plaintext_size: plaintext.len() as u64,
        plaintext_sha256: *blake3::hash(&plaintext).as_bytes(),
        segments: u32::try_from(stored.segments.len()).unwrap_or(u32::MAX),
        model: engine.name.clone(),
    };
    Ok((stored, object, audio_ms))
}

/// A finished job's transcript, decrypted (needs the tenant's private key). Not audited:
/// the caller audits the read.
pub async fn read_transcript(
    app: &App,
    detail: &RecordingDetail,
    job: &TranscriptionJob,
) -> Result<Option<StoredTranscript>> {
    let Some(object) = job
        .transcript
        .as_ref()
        .filter(|_| job.state == JobState::Done)
    else {
        return Ok(None);
    };
    let data_key = data_key_of(app, detail).await?;
    let plaintext = open_object(
        app,
        detail,
        &data_key,
        &object.object_key,
        TRANSCRIPT_LABEL,
        &object.plaintext_sha256,
    )
    .await?;
    let stored: StoredTranscript = serde_json::from_slice(&plaintext)
        .with_context(|| format!("transcript of recording {}", detail.recording.id))?;
    Ok(Some(stored))
}

/// The participant shown with a segment: their address, else the label.
fn shown_participant(detail: &RecordingDetail, ordinal: Option<u32>, label: &str) -> String {
    ordinal
        .and_then(|ordinal| detail.participants.iter().find(|p| p.ordinal == ordinal))
        .map(|participant| participant.address.dangerous_reveal().clone())
        .unwrap_or_else(|| label.to_owned())
}

/// What `show --json` adds: the job's state and, once done, the decrypted transcript
/// (audited as `transcript.read`).
pub async fn show_json(app: &App, detail: &RecordingDetail) -> Result<(Value, Value)> {
    let id = detail.recording.id;
    let Some(job) = app.catalog.transcription_job(&id).await? else {
        return Ok((Value::Null, Value::Null));
    };
    let state = json!({
        "state": job.state.as_str(),
        "attempts": job.attempts,
        "progress": job.progress,
        "failure": job.failure,
        "model": job.transcript.as_ref().map(|t| t.model.clone()),
    });
    let Some(stored) = read_transcript(app, detail, &job).await? else {
        return Ok((state, Value::Null));
    };
    app.catalog
        .append_audit(&[catalog::NewAuditEntry {
            at: app.clock.wall(),
            actor: app.actor.clone(),
            action: "transcript.read".into(),
            tenant: Some(detail.recording.tenant.clone()),
            recording: Some(id),
            details: json!({ "segments": stored.segments.len() }),
        }])
        .await?;
    Ok((state, transcript_json(detail, &stored)))
}

/// The readable view of a transcript: segments with the speaker's address revealed (the
/// caller is reading the archive).
pub fn transcript_json(detail: &RecordingDetail, stored: &StoredTranscript) -> Value {
    json!({
        "model": stored.model,
        "segments": stored.segments.iter().map(|segment| json!({
            "participant": shown_participant(detail, segment.participant, &segment.label),
            "participant_ordinal": segment.participant,
            "label": segment.label,
            "start": segment.start_ms as f64 / 1000.0,
            "end": segment.end_ms as f64 / 1000.0,
            "start_ms": segment.start_ms,
            "end_ms": segment.end_ms,
            "text": segment.text,
            "words": segment.words.iter().map(|word| json!({
                "start_ms": word.start_ms, "end_ms": word.end_ms, "text": word.text,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
