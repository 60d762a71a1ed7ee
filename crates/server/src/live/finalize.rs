//! Turning an ended live session into a recording: the last chunk of every stream sealed, the
//! streams published to the tenant's region, the metadata timeline sealed as an object, and the
//! recording committed (with participants, evidence, statistics, gap maps and its signed
//! completeness certificate) by the group committer.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use archive::{ObjectKey, Placement, RegionStore};
use catalog::{AuditNote, NewRecording, Participant, RecordingSource, Stream};
use chrono::{DateTime, Utc};
use model::{Direction, RecordingId, StreamLabel, TenantId};
use seal::{ContainerHeader, DataKey, SealedDataKey};
use serde_json::json;
use siprec::session::{EndReason, SessionParticipant, StreamPlan};

use super::certify::{self, CompletenessNotes};
use super::committer::Committer;
use super::media::{FinishedStream, MediaEngine, SessionKey};
use super::server::{LIVE_STREAM_CONTENT_TYPE, METADATA_STREAM_LABEL};
use crate::completeness;
use crate::nodekey::NodeKey;

/// What the driver keeps about a session in progress.
pub(super) struct LiveSession {
    pub(super) recording_id: RecordingId,
    pub(super) key: SessionKey,
    pub(super) tenant: TenantId,
    pub(super) client: String,
    pub(super) call_id: String,
    pub(super) legacy: bool,
    pub(super) placement: Placement,
    pub(super) started_at: DateTime<Utc>,
    pub(super) data_key: DataKey,
    pub(super) sealed_key: SealedDataKey,
    /// Participants in first-seen order, latest view of each.
    pub(super) participants: Vec<SessionParticipant>,
    /// Streams being recorded, by label.
    pub(super) streams: HashMap<StreamLabel, StreamPlan>,
    /// Each metadata version as received, serialised at once: a compact string per version
    /// costs far less memory per call than a JSON tree.
    pub(super) metadata_timeline: Vec<String>,
    /// What the completeness certificate needs to know, noted as signalling arrives.
    pub(super) completeness: CompletenessNotes,
}

/// Where a finished session goes: the region store, the group committer, and the node key
/// that signs its completeness certificate.
#[derive(Clone)]
pub(super) struct Archiving {
    pub(super) media: Arc<MediaEngine>,
    pub(super) store: RegionStore,
    pub(super) committer: Committer,
    pub(super) node: Arc<NodeKey>,
}

/// Seals the rest of each stream, publishes it, seals the metadata timeline, certifies the
/// recording's completeness, and commits.
pub(super) async fn finalize(
    id: RecordingId,
    live: LiveSession,
    reason: EndReason,
    ended_at: DateTime<Utc>,
    archiving: Archiving,
) -> Result<()> {
    let Archiving {
        media,
        store,
        committer,
        node,
    } = archiving;
    let finished: Vec<FinishedStream> = media.finish(live.key).await;
    let verdict = completeness::assess(&certify::facts(&live, &finished, reason));
    let duration_ms = u64::try_from((ended_at - live.started_at).num_milliseconds()).unwrap_or(0);
    let mut streams = Vec::new();
    let mut statistics = serde_json::Map::new();
    let mut hash_input = id.as_bytes().to_vec();
    for stream in finished {
        let plan = live.streams.get(&stream.label);
        let codec = plan
            .and_then(|plan| plan.codecs.first())
            .map(|codec| codec.encoding_name.to_ascii_lowercase())
            .unwrap_or_else(|| "unknown".into());
        statistics.insert(
            stream.label.to_string(),
            json!({
                "codec": codec,
                "packets": stream.statistics.audio_records,
                "telephone_events": stream.statistics.telephone_events,
                "lost": stream.statistics.receive.lost,
                "duplicates": stream.statistics.receive.duplicates,
                "reordered": stream.statistics.receive.reordered,
                "malformed": stream.statistics.malformed,
                "dropped_while_paused": stream.statistics.dropped_while_paused,
                "rejected_source": stream.rejected_source,
                "rtcp_packets": stream.rtcp_packets,
                "gap_map": stream.gap_map,
                "error": stream.error,
                "local_port": stream.rtp_port,
                "plaintext_digest": "sha256",
                // Who sends on this stream (participant ordinal), for per-participant
                // transcription.
                "participant": live
                    .participants
                    .iter()
                    .position(|p| p.sends_on.contains(&stream.label))
                    .map(|index| index + 1),
            }),
        );
        hash_input.extend_from_slice(&stream.plaintext_digest);
        let (stored, object_digest) = stream.spooled.publish(&store, &live.placement).await?;
        streams.push(Stream {
            label: stream.label,
            content_type: LIVE_STREAM_CONTENT_TYPE.into(),
            codec,
            duration_ms,
            plaintext_size: stream.plaintext_size,
            plaintext_sha256: stream.plaintext_digest,
            object_key: stored.key.to_string(),
            object_size: stored.size,
            object_sha256: object_digest,
            region: stored.region,
        });
    }

    // The metadata timeline names participants: it is content, sealed like audio.
    let timeline = format!("{{\"versions\":[{}]}}", live.metadata_timeline.join(",")).into_bytes();
    let label = StreamLabel::new(METADATA_STREAM_LABEL)?;
    let header = ContainerHeader::new(
        id,
        label.clone(),
        "application/json",
        seal::DEFAULT_CHUNK_SIZE,
    )?;
    let sealed = seal::seal_container(&live.data_key, header, &timeline, &mut rand::rng())?;
    let object_digest = *blake3::hash(sealed.as_bytes()).as_bytes();
    let key = ObjectKey::for_stream(&live.tenant, live.started_at, id, &label);
    let stored = store.put(&live.placement, &key, sealed).await?;
    let timeline_digest = *blake3::hash(&timeline).as_bytes();
    hash_input.extend_from_slice(&timeline_digest);
    streams.push(Stream {
        label,
        content_type: "application/json".into(),
        codec: "json".into(),
        duration_ms,
        plaintext_size: timeline.len() as u64,
        plaintext_sha256: timeline_digest,
        object_key: key.to_string(),
        object_size: stored.size,
        object_sha256: object_digest,
        region: stored.region,
    });

    let participants = live
        .participants
        .iter()
        .enumerate()
        .map(|(index, p)| Participant {
            ordinal: u32::try_from(index + 1).unwrap_or(u32::MAX),
            address: p.address.clone(),
            name: p.name.clone(),
            role: if p.role.is_empty() {
                "participant".into()
            } else {
                p.role.clone()
            },
            evidence: p.evidence.clone(),
        })
        .collect();
    let content_hash = *blake3::hash(&hash_input).as_bytes();
    // One signature per call, computed here on the finalising task (not the committer's):
    // the commit path stays one transaction for the whole batch.
    let certificate = completeness::certificate(
        &node,
        &completeness::Subject {
            recording: id,
            tenant: &live.tenant,
            source: RecordingSource::Siprec,
            started_at: live.started_at,
            duration_ms,
            content_hash: &content_hash,
            issued_at: ended_at,
            client: Some(&live.client),
        },
        &verdict,
    );
    let recording = NewRecording {
        id,
        tenant: live.tenant.clone(),
        source: RecordingSource::Siprec,
        external_id: Some(live.call_id.clone()),
        started_at: live.started_at,
        duration_ms,
        direction: Direction::Unknown,
        tags: vec!["siprec".into()],
        content_hash,
        details: json!({
            "client": live.client,
            "call_id": live.call_id,
            "legacy_dialect": live.legacy,
            "end_reason": format!("{reason:?}"),
            "metadata_versions": live.metadata_timeline.len(),
            "streams": statistics,
            // Live streams' plaintext digests are SHA-256 (see `media.rs`); the rest BLAKE3.
            "digests": "blake3",
        }),
        created_at: ended_at,
        participants,
        streams,
        sealed_key: live.sealed_key.as_bytes().to_vec(),
        audit: AuditNote::new(
            format!("siprec:{}", live.client),
            "siprec.recorded",
            json!({
                "end_reason": format!("{reason:?}"),
                "duration_ms": duration_ms,
                "completeness": certificate.verdict.as_str(),
            }),
        ),
        certificate: Some(certificate),
    };
    committer
        .commit(recording)
        .await
        .map_err(anyhow::Error::msg)?;
    tracing::info!(session = %id, "call archived");
    Ok(())
}
