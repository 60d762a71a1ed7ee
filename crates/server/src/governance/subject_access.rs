//! Subject access: every recording of a tenant in which one address took part, as one signed
//! bundle ([`super::bundle`]) the data subject can check offline.
//!
//! Which recordings: those whose participants name the address, and those erased earlier,
//! whose participant rows now carry the address's pseudonym (`catalog::governance::pseudonym`
//! with this node's salt), so an erased call is still accounted for: listed as erased, with
//! its erasure time, and no content (its key is gone). A recording still being recorded is
//! listed as in progress, without content.
//!
//! Per exported recording the bundle holds a folder `<recording-id>/` with the audio (an
//! import's original file, bit-exact; a live call's streams as WAV), the SIPREC metadata
//! timeline of a live call, `transcript.json` when there is one, and `vcon.json`
//! ([`super::vcon`]). The export is audited (`subject-access.exported` with the recording ids
//! and the manifest's SHA-256, never the address; one `recording.exported` per recording).

use std::io::{Seek, Write};

use anyhow::{Context, anyhow};
use catalog::{NewAuditEntry, RecordingDetail, RecordingState};
use chrono::{DateTime, SecondsFormat, Utc};
use model::{Pii, RecordingId, TenantId};
use seal::TenantPrivateKey;
use serde::Serialize;
use serde_json::{Value, json};

use super::bundle::{self, BundleWriter};
use super::vcon::{self, FileRef, TranscriptRef};
use crate::app::App;
use crate::nodekey::NodeKey;
use crate::readback;
use crate::transcription::transcript::{StoredTranscript, TRANSCRIPT_LABEL};

#[derive(Debug, thiserror::Error)]
pub enum SubjectAccessError {
    /// Nothing of the tenant names the address, erased recordings included.
    #[error(
        "no recording of tenant {0} has a participant at this address (erased recordings included)"
    )]
    NoRecordings(TenantId),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<catalog::CatalogError> for SubjectAccessError {
    fn from(error: catalog::CatalogError) -> SubjectAccessError {
        SubjectAccessError::Failed(error.into())
    }
}

/// Who asks for whose data.
#[derive(Debug, Clone)]
pub struct SubjectAccessRequest {
    pub tenant: TenantId,
    pub participant: Pii<String>,
    /// The audit actor (`cli:alice`, `token:…`), also named in the manifest.
    pub actor: String,
    /// `cli` or `http`, for the audit entry.
    pub via: &'static str,
}

/// The recordings a request covers, oldest first, split by what can be exported.
#[derive(Debug)]
pub struct Plan {
    pub exportable: Vec<RecordingDetail>,
    pub erased: Vec<RecordingDetail>,
    pub in_progress: Vec<RecordingDetail>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub tenant: TenantId,
    pub recordings: Vec<RecordingId>,
    pub erased: Vec<RecordingId>,
    pub in_progress: Vec<RecordingId>,
    /// Files listed in the manifest.
    pub files: usize,
    /// Their bytes, uncompressed.
    pub bytes: u64,
    /// SHA-256 of `manifest.json` as written into the zip.
    pub manifest_sha256: String,
    /// The node key that signed the manifest (hex); verify with a copy obtained independently.
    pub node_public_key: String,
}

/// Finds the recordings of `request`; [`SubjectAccessError::NoRecordings`] when there are none.
pub async fn plan(
    app: &App,
    node: &NodeKey,
    request: &SubjectAccessRequest,
) -> Result<Plan, SubjectAccessError> {
    let tenant = &request.tenant;
    app.tenant_config(tenant)?;
    let pseudonym = Pii::new(catalog::governance::pseudonym(
        &node.pseudonym_salt(),
        request.participant.dangerous_reveal(),
    ));
    let mut ids = app
        .catalog
        .recordings_with_participant(tenant, &request.participant)
        .await?;
    ids.extend(
        app.catalog
            .recordings_with_participant(tenant, &pseudonym)
            .await?,
    );
    ids.sort();
    ids.dedup();
    let mut details = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(detail) = app.catalog.recording(Some(tenant), &id).await? {
            details.push(detail);
        }
    }
    details.sort_by_key(|detail| (detail.recording.started_at, detail.recording.id));
    let mut plan = Plan {
        exportable: Vec::new(),
        erased: Vec::new(),
        in_progress: Vec::new(),
    };
    for detail in details {
        match detail.recording.state {
            RecordingState::Committed => plan.exportable.push(detail),
            RecordingState::Erased => plan.erased.push(detail),
            RecordingState::Recording => plan.in_progress.push(detail),
        }
    }
    if plan.exportable.is_empty() && plan.erased.is_empty() && plan.in_progress.is_empty() {
        return Err(SubjectAccessError::NoRecordings(tenant.clone()));
    }
    Ok(plan)
}

/// Writes the bundle of `plan` into `out`, signs its manifest and audits the export.
pub async fn export<W: Write + Seek>(
    app: &App,
    node: &NodeKey,
    private_key: &TenantPrivateKey,
    request: &SubjectAccessRequest,
    plan: &Plan,
    out: W,
) -> Result<(W, ExportSummary), SubjectAccessError> {
    let now = app.clock.wall();
    let mut writer = BundleWriter::new(out, now);
    let mut recordings = Vec::with_capacity(plan.exportable.len());
    for detail in &plan.exportable {
        let folder = write_recording(app, private_key, request, detail, now, &mut writer).await?;
        recordings.push(folder);
    }
    let mut erased = Vec::with_capacity(plan.erased.len());
    for detail in &plan.erased {
        erased.push(json!({
            "id": detail.recording.id,
            "started_at": time(detail.recording.started_at),
            "duration_ms": detail.recording.duration_ms,
            "erased_at": erased_at(app, &detail.recording.id).await?.map(time),
            "content": "destroyed by erasure before this export",
        }));
    }
    let in_progress: Vec<Value> = plan
        .in_progress
        .iter()
        .map(|detail| {
            json!({
                "id": detail.recording.id,
                "started_at": time(detail.recording.started_at),
                "content": "still being recorded; ask again once the call has ended",
            })
        })
        .collect();
    let body = json!({
        "format": bundle::FORMAT,
        "tenant": request.tenant,
        // The subject's own data, in the subject's own copy.
        "data_subject": { "address": request.participant.dangerous_reveal() },
        "generated_at": time(now),
        "generated_by": request.actor,
        "node_public_key": node.public_hex(),
        "recordings": recordings,
        "erased": erased,
        "in_progress": in_progress,
    });
    let finished = writer.finish(body, |body| node.sign(bundle::MANIFEST_KIND, body))?;
    let summary = ExportSummary {
        tenant: request.tenant.clone(),
        recordings: plan.exportable.iter().map(|d| d.recording.id).collect(),
        erased: plan.erased.iter().map(|d| d.recording.id).collect(),
        in_progress: plan.in_progress.iter().map(|d| d.recording.id).collect(),
        files: finished.files.len(),
        bytes: finished.files.iter().map(|file| file.size).sum(),
        manifest_sha256: hex::encode(finished.manifest_sha256),
        node_public_key: node.public_hex(),
    };
    audit(app, request, &summary).await?;
    Ok((finished.out, summary))
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// When the recording was erased, from its audit trail.
async fn erased_at(
    app: &App,
    id: &RecordingId,
) -> Result<Option<DateTime<Utc>>, SubjectAccessError> {
    Ok(app
        .catalog
        .audit_for_recording(id)
        .await?
        .iter()
        .rev()
        .find(|entry| entry.action == "recording.erased")
        .map(|entry| entry.at))
}

/// Decrypts one recording into its folder of the bundle; returns its manifest entry.
async fn write_recording<W: Write + Seek>(
    app: &App,
    private_key: &TenantPrivateKey,
    request: &SubjectAccessRequest,
    detail: &RecordingDetail,
    now: DateTime<Utc>,
    writer: &mut BundleWriter<W>,
) -> anyhow::Result<Value> {
    let id = detail.recording.id;
    let sealed_key = app.catalog.sealed_key(&id).await?.ok_or_else(|| {
        anyhow!("recording {id} has no data key any more (erased while exporting?); export again")
    })?;
    let data_key = readback::open_data_key(private_key, detail, &sealed_key)?;
    let extension = readback::original_extension(detail);
    // (file name, bytes, stream index): audio and metadata kept apart for the vCon.
    let mut audio = Vec::new();
    let mut metadata = Vec::new();
    for (index, stream) in detail.streams.iter().enumerate() {
        let plaintext = readback::open_stream(app, detail, &data_key, stream).await?;
        let is_metadata = stream.content_type == "application/json";
        for (name, bytes) in readback::stream_files(stream, &extension, plaintext, false)? {
            if is_metadata {
                metadata.push((name, bytes, index));
            } else {
                audio.push((name, bytes, index));
            }
        }
    }
    let transcript = read_transcript(app, detail, &data_key).await?;
    let transcript_bytes = transcript
        .as_ref()
        .map(|stored| {
            serde_json::to_vec_pretty(&crate::transcription::transcript_json(detail, stored))
        })
        .transpose()?;

    let audio_refs: Vec<FileRef<'_>> = audio
        .iter()
        .map(|(name, bytes, index)| FileRef {
            name,
            bytes,
            stream: &detail.streams[*index],
        })
        .collect();
    let metadata_refs: Vec<FileRef<'_>> = metadata
        .iter()
        .map(|(name, bytes, index)| FileRef {
            name,
            bytes,
            stream: &detail.streams[*index],
        })
        .collect();
    let transcript_ref =
        transcript
            .as_ref()
            .zip(transcript_bytes.as_deref())
            .map(|(stored, bytes)| TranscriptRef {
                name: "transcript.json",
                bytes,
                model: &stored.model,
            });
    let document = vcon::document(
        detail,
        &request.participant,
        now,
        &audio_refs,
        transcript_ref,
        &metadata_refs,
    );
    let document = serde_json::to_vec_pretty(&document)?;

    let mut written = Vec::new();
    let mut add = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let listed = writer.add(&format!("{id}/{name}"), bytes)?;
        written.push(listed);
        Ok(())
    };
    for (name, bytes, _) in audio.iter().chain(&metadata) {
        add(name, bytes)?;
    }
    if let Some(bytes) = &transcript_bytes {
        add("transcript.json", bytes)?;
    }
    add("vcon.json", &document)?;
    Ok(json!({
        "id": id,
        "source": detail.recording.source.as_str(),
        "started_at": time(detail.recording.started_at),
        "duration_ms": detail.recording.duration_ms,
        "folder": format!("{id}/"),
        "files": written.iter().map(|file| &file.path).collect::<Vec<_>>(),
        "bytes": written.iter().map(|file| file.size).sum::<u64>(),
    }))
}

/// The recording's finished transcript, decrypted; `None` when it has none.
async fn read_transcript(
    app: &App,
    detail: &RecordingDetail,
    data_key: &seal::DataKey,
) -> anyhow::Result<Option<StoredTranscript>> {
    let Some(job) = app.catalog.transcription_job(&detail.recording.id).await? else {
        return Ok(None);
    };
    let Some(object) = job
        .transcript
        .filter(|_| job.state == catalog::JobState::Done)
    else {
        return Ok(None);
    };
    let plaintext = crate::transcription::open_object(
        app,
        detail,
        data_key,
        &object.object_key,
        TRANSCRIPT_LABEL,
        &object.plaintext_sha256,
    )
    .await?;
    let stored = serde_json::from_slice(&plaintext)
        .with_context(|| format!("transcript of recording {}", detail.recording.id))?;
    Ok(Some(stored))
}

/// One `subject-access.exported` entry (ids and the manifest digest, never the address) and
/// one `recording.exported` per exported recording, in one append.
async fn audit(
    app: &App,
    request: &SubjectAccessRequest,
    summary: &ExportSummary,
) -> anyhow::Result<()> {
    let at = app.clock.wall();
    let mut entries = vec![NewAuditEntry {
        at,
        actor: request.actor.clone(),
        action: "subject-access.exported".into(),
        tenant: Some(request.tenant.clone()),
        recording: None,
        details: json!({
            "via": request.via,
            "recordings": summary.recordings,
            "erased": summary.erased,
            "in_progress": summary.in_progress,
            "files": summary.files,
            "bytes": summary.bytes,
            "manifest_sha256": summary.manifest_sha256,
        }),
    }];
    entries.extend(summary.recordings.iter().map(|id| NewAuditEntry {
        at,
        actor: request.actor.clone(),
        action: "recording.exported".into(),
        tenant: Some(request.tenant.clone()),
        recording: Some(*id),
        details: json!({
            "via": request.via,
            "subject_access_manifest_sha256": summary.manifest_sha256,
        }),
    }));
    app.catalog.append_audit(&entries).await?;
    Ok(())
}
