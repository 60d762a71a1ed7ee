//! `onrecord list`, `show` and `export`: reading the archive back, every read audited.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use archive::ObjectKey;
use catalog::{NewAuditEntry, PageRequest, RecordingDetail, RecordingFilter};
use model::{RecordingId, TenantId};
use seal::{DataKey, KeyBinding, SealedDataKey, TenantPrivateKey};
use serde_json::{Value, json};

use crate::app::App;
use crate::live::server::LIVE_STREAM_CONTENT_TYPE;

/// The JSON view of a recording, shared by `list`, `show` and `export`'s `metadata.json`.
/// Addresses and names are revealed here on purpose: the caller is reading the archive.
pub fn recording_json(detail: &RecordingDetail) -> Value {
    let recording = &detail.recording;
    json!({
        "id": recording.id,
        "tenant": recording.tenant,
        "source": recording.source.as_str(),
        "external_id": recording.external_id,
        "started_at": recording.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration_ms": recording.duration_ms,
        "direction": recording.direction.as_str(),
        "state": recording.state.as_str(),
        "tags": recording.tags,
        "content_hash": hex::encode(recording.content_hash),
        "details": recording.details,
        "created_at": recording.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "participants": detail.participants.iter().map(|p| json!({
            "ordinal": p.ordinal,
            "address": p.address.dangerous_reveal(),
            "name": p.name.as_ref().map(|n| n.dangerous_reveal().clone()),
            "role": p.role,
            "evidence": p.evidence.iter().map(|e| json!({
                "kind": e.kind.as_str(),
                "at": e.at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                "reference": e.reference,
                "source": e.source.as_str(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "streams": detail.streams.iter().map(|s| json!({
            "label": s.label,
            "content_type": s.content_type,
            "codec": s.codec,
            "duration_ms": s.duration_ms,
            "plaintext_size": s.plaintext_size,
            "plaintext_digest": hex::encode(s.plaintext_sha256),
            "object_key": s.object_key,
            "object_size": s.object_size,
            "object_digest": hex::encode(s.object_sha256),
            "region": s.region,
            "statistics": recording.details.get("streams").and_then(|streams| streams.get(s.label.as_str())),
        })).collect::<Vec<_>>(),
    })
}

async fn audit(
    app: &App,
    action: &str,
    tenant: Option<&TenantId>,
    recording: Option<RecordingId>,
    details: Value,
) -> Result<()> {
    app.catalog
        .append_audit(&[NewAuditEntry {
            at: app.clock.wall(),
            actor: app.actor.clone(),
            action: action.to_owned(),
            tenant: tenant.cloned(),
            recording,
            details,
        }])
        .await?;
    Ok(())
}

/// Every recording matching the filter with its participants, newest first.
pub async fn list(
    app: &App,
    filter: RecordingFilter,
    limit: usize,
) -> Result<Vec<RecordingDetail>> {
    let mut found = Vec::new();
    let mut page =
        PageRequest::first(catalog::MAX_PAGE.min(u32::try_from(limit.max(1)).unwrap_or(u32::MAX)));
    loop {
        let result = app.catalog.list_recordings(&filter, &page).await?;
        for recording in result.items {
            if found.len() >= limit {
                break;
            }
            if let Some(detail) = app.catalog.recording(None, &recording.id).await? {
                found.push(detail);
            }
        }
        match result.next {
            Some(next) if found.len() < limit => page.after = Some(next),
            _ => break,
        }
    }
    audit(
        app,
        "recording.listed",
        filter.tenant.as_ref(),
        None,
        json!({ "count": found.len(), "state": filter.state.map(|s| s.as_str()) }),
    )
    .await?;
    Ok(found)
}

pub async fn show(app: &App, id: RecordingId) -> Result<RecordingDetail> {
    let detail = app
        .catalog
        .recording(None, &id)
        .await?
        .ok_or_else(|| anyhow!("no recording {id}"))?;
    audit(
        app,
        "recording.shown",
        Some(&detail.recording.tenant),
        Some(id),
        json!({}),
    )
    .await?;
    Ok(detail)
}

/// The files one decrypted stream becomes, named relative to the recording's folder: an
/// import's original bytes as they were; a live stream as 16-bit PCM WAV (decoded from the
/// stored payloads, silence in the gaps) plus, when `with_payloads`, the payloads exactly as
/// received (`.payload`); a metadata timeline as JSON.
pub fn stream_files(
    stream: &catalog::Stream,
    extension: &str,
    plaintext: Vec<u8>,
    with_payloads: bool,
) -> Result<Vec<(String, Vec<u8>)>> {
    let label = &stream.label;
    match stream.content_type.as_str() {
        LIVE_STREAM_CONTENT_TYPE => {
            let mut wav = Vec::new();
            media::render_wav(&plaintext, &media::RenderOptions::default(), &mut wav)
                .map_err(|error| anyhow!("stream {label}: cannot render audio: {error}"))?;
            let mut files = vec![(format!("{label}.wav"), wav)];
            if with_payloads {
                let raw = media::raw_payloads(&plaintext, media::PayloadOrder::Arrival)
                    .map_err(|error| anyhow!("stream {label}: cannot read payloads: {error}"))?;
                files.push((format!("{label}.payload"), raw.bytes));
            }
            Ok(files)
        }
        "application/json" => Ok(vec![(format!("{label}.json"), plaintext)]),
        _ => Ok(vec![(format!("{label}.{extension}"), plaintext)]),
    }
}

/// The extension an import's original file had (`bin` when unknown).
pub fn original_extension(detail: &RecordingDetail) -> String {
    detail
        .recording
        .details
        .get("file_extension")
        .and_then(Value::as_str)
        .unwrap_or("bin")
        .to_owned()
}

/// Opens a recording's sealed data key with the tenant's private key.
pub fn open_data_key(
    private_key: &TenantPrivateKey,
    detail: &RecordingDetail,
    sealed_key: &[u8],
) -> Result<DataKey> {
    let id = detail.recording.id;
    let tenant = &detail.recording.tenant;
    SealedDataKey::from_bytes(sealed_key)
        .and_then(|sealed| sealed.open(private_key, &KeyBinding { tenant: tenant.clone(), recording: id }))
        .map_err(|error| anyhow!("cannot open the data key of recording {id} with tenant {tenant}'s private key: {error}"))
}

/// Fetches and decrypts one stream, refusing an object of another recording or stream and
/// content that does not match the digest the catalog recorded.
pub async fn open_stream(
    app: &App,
    detail: &RecordingDetail,
    data_key: &DataKey,
    stream: &catalog::Stream,
) -> Result<Vec<u8>> {
    let id = detail.recording.id;
    let placement = app.placement(&detail.recording.tenant)?;
    let store = app.archive.for_placement(&placement)?;
    let key = ObjectKey::parse(&stream.object_key).map_err(|e| anyhow!("catalog: {e}"))?;
    let sealed = store.get(&placement, &key).await?;
    let (header, plaintext) = seal::open_container(data_key, &sealed).map_err(|error| {
        anyhow!(
            "stream {} of recording {id}: {error}; refusing to export it",
            stream.label
        )
    })?;
    if header.recording() != id || header.stream() != &stream.label {
        bail!(
            "stream {} of recording {id}: the stored object belongs to another recording or stream",
            stream.label
        );
    }
    let algorithm = detail
        .recording
        .details
        .pointer(&format!("/streams/{}/plaintext_digest", stream.label))
        .and_then(Value::as_str)
        .unwrap_or("blake3");
    let digest = match algorithm {
        "sha256" => archive::sha256(&plaintext),
        _ => *blake3::hash(&plaintext).as_bytes(),
    };
    if digest != stream.plaintext_sha256 {
        bail!(
            "stream {} of recording {id}: decrypted content does not match its recorded digest",
            stream.label
        );
    }
    Ok(plaintext)
}

/// Decrypts every stream of a recording into `out` (the original bytes, bit-exact) plus
/// `metadata.json`. Nothing is written unless every stream opens and matches its digest.
pub async fn export(app: &App, id: RecordingId, out: &Path) -> Result<Vec<PathBuf>> {
    let detail = app
        .catalog
        .recording(None, &id)
        .await?
        .ok_or_else(|| anyhow!("no recording {id}"))?;
    let tenant = detail.recording.tenant.clone();
    let sealed_key = app.catalog.sealed_key(&id).await?.ok_or_else(|| {
        anyhow!("recording {id} has no data key (it was erased); nothing to export")
    })?;
    let data_key = open_data_key(&app.private_key(&tenant)?, &detail, &sealed_key)?;
    let extension = original_extension(&detail);
    let mut files = Vec::new();
    for stream in &detail.streams {
        let plaintext = open_stream(app, &detail, &data_key, stream).await?;
        files.extend(
            stream_files(stream, &extension, plaintext, true)?
                .into_iter()
                .map(|(name, bytes)| (out.join(name), bytes)),
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let metadata_path = out.join("metadata.json");
    let mut written = Vec::new();
    for (path, _) in &files {
        if path.exists() {
            bail!("{} exists; refusing to overwrite", path.display());
        }
    }
    for (path, bytes) in files {
        std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    let metadata = serde_json::to_vec_pretty(&recording_json(&detail))?;
    std::fs::write(&metadata_path, metadata)
        .with_context(|| format!("cannot write {}", metadata_path.display()))?;
    written.push(metadata_path);
    audit(
        app,
        "recording.exported",
        Some(&tenant),
        Some(id),
        json!({ "streams": detail.streams.len() }),
    )
    .await?;
    Ok(written)
}
