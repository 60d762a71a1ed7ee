//! The rows of the catalog, the recording lifecycle, and list filters and pages.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use model::{
    ConsentEvidence, ConsentPolicy, Direction, Pii, RecordingId, RegionId, StreamLabel, TenantId,
};
use serde_json::Value;

use crate::audit::AuditNote;
use crate::completeness::NewCertificate;
use crate::error::{CatalogError, Conflict};
use crate::time::truncate_millis;

/// Bounds on stored input, checked before anything is written.
pub const MAX_BATCH: usize = 10_000;
pub const MAX_PARTICIPANTS: usize = 256;
pub const MAX_EVIDENCE_PER_PARTICIPANT: usize = 16;
pub const MAX_STREAMS: usize = 256;
pub const MAX_TAGS: usize = 64;
pub const MAX_TAG_BYTES: usize = 64;
pub const MAX_SHORT_TEXT_BYTES: usize = 256;
pub const MAX_LONG_TEXT_BYTES: usize = 4096;
pub const MAX_SEALED_KEY_BYTES: usize = 4096;
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;
pub const MAX_PAGE: u32 = 1000;

/// A SHA-256 digest.
pub type Sha256Digest = [u8; 32];

/// One organisation: where its data lives and on what terms it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub region: RegionId,
    pub consent_policy: ConsentPolicy,
    /// Why the tenant records (shown in transparency reports).
    pub purpose: String,
    pub legal_basis: String,
    pub retention_days: u32,
    /// The tenant's public key in its text form; opaque to the catalog.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
}

/// How a recording reached onrecord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingSource {
    Import,
    Siprec,
}

impl RecordingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingSource::Import => "import",
            RecordingSource::Siprec => "siprec",
        }
    }

    pub fn parse(text: &str) -> Option<RecordingSource> {
        match text {
            "import" => Some(RecordingSource::Import),
            "siprec" => Some(RecordingSource::Siprec),
            _ => None,
        }
    }
}

/// The lifecycle of a recording, one state at a time (STYLE.md §4).
///
/// `Recording` (media still arriving) → `Committed` (objects published, sealed key stored) →
/// `Erased` (sealed key destroyed). `Recording` may also go straight to `Erased` (a call
/// abandoned and shredded). Nothing leaves `Erased`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingState {
    Recording,
    Committed,
    Erased,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Committed => "committed",
            RecordingState::Erased => "erased",
        }
    }

    pub fn parse(text: &str) -> Option<RecordingState> {
        match text {
            "recording" => Some(RecordingState::Recording),
            "committed" => Some(RecordingState::Committed),
            "erased" => Some(RecordingState::Erased),
            _ => None,
        }
    }

    pub fn can_become(self, next: RecordingState) -> bool {
        use RecordingState::{Committed, Erased, Recording};
        matches!(
            (self, next),
            (Recording, Committed) | (Recording, Erased) | (Committed, Erased)
        )
    }

    /// The checked transition.
    pub fn transition(
        self,
        id: RecordingId,
        next: RecordingState,
    ) -> Result<RecordingState, Conflict> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(Conflict::Transition {
                id,
                from: self,
                to: next,
            })
        }
    }
}

impl fmt::Display for RecordingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One participant of a recording with the consent evidence that covers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Position in the call's participant list, unique within the recording.
    pub ordinal: u32,
    pub address: Pii<String>,
    pub name: Option<Pii<String>>,
    /// `caller`, `callee`, `agent`, ... as the source reported it.
    pub role: String,
    /// Times keep millisecond precision.
    pub evidence: Vec<ConsentEvidence>,
}

/// One sealed media stream of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub label: StreamLabel,
    /// Media type of the plaintext, e.g. `audio/wav`.
    pub content_type: String,
    /// Codec or format, e.g. `pcmu`, `wav/pcm_s16le`.
    pub codec: String,
    pub duration_ms: u64,
    pub plaintext_size: u64,
    pub plaintext_sha256: Sha256Digest,
    pub object_key: String,
    /// Size and digest of the sealed bytes in the object store.
    pub object_size: u64,
    pub object_sha256: Sha256Digest,
    pub region: RegionId,
}

/// A finished recording to commit, with everything that belongs to it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecording {
    pub id: RecordingId,
    pub tenant: TenantId,
    pub source: RecordingSource,
    /// The source's own id for the call (vendor call id, import file name).
    pub external_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub direction: Direction,
    /// A set: stored sorted and without duplicates.
    pub tags: Vec<String>,
    /// SHA-256 of the recording's content; unique per tenant (import idempotence key).
    pub content_hash: Sha256Digest,
    /// Source-specific facts (format, codec, sample rate, SIPREC metadata), no personal data.
    pub details: Value,
    pub created_at: DateTime<Utc>,
    pub participants: Vec<Participant>,
    pub streams: Vec<Stream>,
    /// The recording's data key sealed to the tenant's public key.
    pub sealed_key: Vec<u8>,
    /// The audit entry written with the commit (at `created_at`, with tenant and recording).
    pub audit: AuditNote,
    /// The recording's signed completeness certificate, stored in the same transaction.
    pub certificate: Option<NewCertificate>,
}

/// What happened to one recording of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed {
        id: RecordingId,
        audit_seq: u64,
    },
    /// The tenant already has a recording with this content hash; nothing was written.
    Duplicate {
        existing: RecordingId,
    },
}

/// The recording row itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub id: RecordingId,
    pub tenant: TenantId,
    pub source: RecordingSource,
    pub external_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub direction: Direction,
    pub tags: Vec<String>,
    pub content_hash: Sha256Digest,
    pub state: RecordingState,
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

/// A recording with its participants (ordered by ordinal) and streams (ordered by label).
/// The sealed key is not part of it: [`crate::Catalog::sealed_key`] fetches it on purpose.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingDetail {
    pub recording: Recording,
    pub participants: Vec<Participant>,
    pub streams: Vec<Stream>,
}

/// What a refusal concerns, without personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalSubject {
    /// The refused import file's content hash.
    ContentHash(Sha256Digest),
    /// The recording client's configured name.
    Client(String),
}

/// A recording that was refused (no consent evidence, unknown client, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefusal {
    pub tenant: TenantId,
    pub at: DateTime<Utc>,
    /// A reason code such as `consent.missing`.
    pub reason: String,
    pub source: RecordingSource,
    pub subject: RefusalSubject,
    pub audit: AuditNote,
}

/// Which recordings to list or count. Every field narrows; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    pub tenant: Option<TenantId>,
    /// Inclusive lower bound on `started_at`.
    pub started_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `started_at`.
    pub started_before: Option<DateTime<Utc>>,
    pub state: Option<RecordingState>,
    pub direction: Option<Direction>,
    /// Recordings carrying this tag.
    pub tag: Option<String>,
    /// Recordings with a participant at exactly this address (`sip:…`, `tel:…`).
    pub participant: Option<String>,
    /// Inclusive bounds on `duration_ms`.
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
}

/// Position after the last item of a page (keyset: `started_at` descending, then id
/// descending). Its text form is opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub started_at_millis: i64,
    pub id: RecordingId,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.started_at_millis, self.id)
    }
}

impl FromStr for Cursor {
    type Err = CatalogError;
    fn from_str(text: &str) -> Result<Cursor, CatalogError> {
        let invalid = || CatalogError::Invalid("malformed page cursor".into());
        let (millis, id) = text.split_once('.').ok_or_else(invalid)?;
        Ok(Cursor {
            started_at_millis: millis.parse().map_err(|_| invalid())?,
            id: id.parse().map_err(|_| invalid())?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1 to [`MAX_PAGE`].
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn first(limit: u32) -> PageRequest {
        PageRequest { limit, after: None }
    }

    pub(crate) fn checked_limit(&self) -> Result<u32, CatalogError> {
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(CatalogError::Invalid(format!(
                "page limit must be 1 to {MAX_PAGE}"
            )));
        }
        Ok(self.limit)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Recording>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<Cursor>,
}

fn check_text(what: &str, value: &str, min: usize, max: usize) -> Result<(), CatalogError> {
    if value.len() < min || value.len() > max {
        return Err(CatalogError::Invalid(format!(
            "{what} must be {min} to {max} bytes"
        )));
    }
    Ok(())
}

fn check_i64(what: &str, value: u64) -> Result<(), CatalogError> {
    if i64::try_from(value).is_err() {
        return Err(CatalogError::Invalid(format!("{what} is too large")));
    }
    Ok(())
}

impl Tenant {
    /// Checked and with `created_at` at storage precision.
    pub(crate) fn normalized(&self) -> Result<Tenant, CatalogError> {
        check_text("purpose", &self.purpose, 1, MAX_LONG_TEXT_BYTES)?;
        check_text("legal basis", &self.legal_basis, 1, MAX_LONG_TEXT_BYTES)?;
        check_text("public key", &self.public_key, 1, MAX_LONG_TEXT_BYTES)?;
        Ok(Tenant {
            created_at: truncate_millis(&self.created_at),
            ..self.clone()
        })
    }
}

/// A [`NewRecording`] that passed every bound, with times at storage precision, tags as a
/// sorted set and details serialized.
#[derive(Debug, Clone)]
pub(crate) struct CheckedRecording {
    pub recording: Recording,
    pub details_text: String,
    pub participants: Vec<Participant>,
    pub streams: Vec<Stream>,
    pub sealed_key: Vec<u8>,
    pub audit: AuditNote,
    pub certificate: Option<NewCertificate>,
}

impl NewRecording {
    pub(crate) fn checked(&self) -> Result<CheckedRecording, CatalogError> {
        if let Some(external_id) = &self.external_id {
            check_text("external id", external_id, 1, MAX_SHORT_TEXT_BYTES)?;
        }
        check_i64("duration", self.duration_ms)?;
        let mut tags = self.tags.clone();
        tags.sort();
        tags.dedup();
        if tags.len() > MAX_TAGS {
            return Err(CatalogError::Invalid(format!(
                "at most {MAX_TAGS} tags per recording"
            )));
        }
        for tag in &tags {
            check_text("tag", tag, 1, MAX_TAG_BYTES)?;
        }
        let details_text = serde_json::to_string(&self.details)
            .map_err(|error| CatalogError::Invalid(format!("recording details: {error}")))?;
        check_text("recording details", &details_text, 0, MAX_DETAILS_BYTES)?;
        if self.participants.len() > MAX_PARTICIPANTS {
            return Err(CatalogError::Invalid(format!(
                "at most {MAX_PARTICIPANTS} participants per recording"
            )));
        }
        let mut ordinals = HashSet::new();
        let mut participants = Vec::with_capacity(self.participants.len());
        for participant in &self.participants {
            if !ordinals.insert(participant.ordinal) {
                return Err(CatalogError::Invalid(format!(
                    "participant ordinal {} appears twice",
                    participant.ordinal
                )));
            }
            check_text(
                "participant address",
                participant.address.dangerous_reveal(),
                1,
                MAX_SHORT_TEXT_BYTES,
            )?;
            if let Some(name) = &participant.name {
                check_text(
                    "participant name",
                    name.dangerous_reveal(),
                    0,
                    MAX_SHORT_TEXT_BYTES,
                )?;
            }
            check_text(
                "participant role",
                &participant.role,
                0,
                MAX_SHORT_TEXT_BYTES,
            )?;
            if participant.evidence.len() > MAX_EVIDENCE_PER_PARTICIPANT {
                return Err(CatalogError::Invalid(format!(
                    "at most {MAX_EVIDENCE_PER_PARTICIPANT} evidence items per participant"
                )));
            }
            let mut evidence = Vec::with_capacity(participant.evidence.len());
            for item in &participant.evidence {
                check_text(
                    "evidence reference",
                    &item.reference,
                    0,
                    MAX_SHORT_TEXT_BYTES,
                )?;
                evidence.push(ConsentEvidence {
                    at: item.at.as_ref().map(truncate_millis),
                    ..item.clone()
                });
            }
            participants.push(Participant {
                evidence,
                ..participant.clone()
            });
        }
        participants.sort_by_key(|participant| participant.ordinal);
        if self.streams.len() > MAX_STREAMS {
            return Err(CatalogError::Invalid(format!(
                "at most {MAX_STREAMS} streams per recording"
            )));
        }
        let mut labels = HashSet::new();
        for stream in &self.streams {
            if !labels.insert(stream.label.clone()) {
                return Err(CatalogError::Invalid(format!(
                    "stream label {} appears twice",
                    stream.label
                )));
            }
            check_text(
                "stream content type",
                &stream.content_type,
                1,
                MAX_SHORT_TEXT_BYTES,
            )?;
            check_text("stream codec", &stream.codec, 0, MAX_SHORT_TEXT_BYTES)?;
            check_text("object key", &stream.object_key, 1, MAX_LONG_TEXT_BYTES)?;
            check_i64("stream duration", stream.duration_ms)?;
            check_i64("plaintext size", stream.plaintext_size)?;
            check_i64("object size", stream.object_size)?;
        }
        let mut streams = self.streams.clone();
        streams.sort_by(|left, right| left.label.cmp(&right.label));
        if let Some(certificate) = &self.certificate {
            certificate.checked()?;
        }
        if self.sealed_key.is_empty() || self.sealed_key.len() > MAX_SEALED_KEY_BYTES {
            return Err(CatalogError::Invalid(format!(
                "sealed key must be 1 to {MAX_SEALED_KEY_BYTES} bytes"
            )));
        }
        Ok(CheckedRecording {
            recording: Recording {
                id: self.id,
                tenant: self.tenant.clone(),
                source: self.source,
                external_id: self.external_id.clone(),
                started_at: truncate_millis(&self.started_at),
                duration_ms: self.duration_ms,
                direction: self.direction,
                tags,
                content_hash: self.content_hash,
                state: RecordingState::Committed,
                details: self.details.clone(),
                created_at: truncate_millis(&self.created_at),
            },
            details_text,
            participants,
            streams,
            sealed_key: self.sealed_key.clone(),
            audit: self.audit.clone(),
            certificate: self.certificate.clone(),
        })
    }
}

impl CheckedRecording {
    /// A tenant's streams must be stored in the tenant's region.
    pub(crate) fn check_region(&self, tenant: &Tenant) -> Result<(), CatalogError> {
        for stream in &self.streams {
            if stream.region != tenant.region {
                return Err(Conflict::RegionMismatch {
                    tenant: tenant.id.clone(),
                    expected: tenant.region.clone(),
                    actual: stream.region.clone(),
                }
                .into());
            }
        }
        Ok(())
    }
}

impl NewRefusal {
    pub(crate) fn checked(&self) -> Result<NewRefusal, CatalogError> {
        check_text(
            "refusal reason",
            &self.reason,
            1,
            crate::audit::MAX_ACTION_BYTES,
        )?;
        if let RefusalSubject::Client(name) = &self.subject {
            check_text("client name", name, 1, MAX_SHORT_TEXT_BYTES)?;
        }
        Ok(NewRefusal {
            at: truncate_millis(&self.at),
            ..self.clone()
        })
    }
}

impl RecordingFilter {
    pub(crate) fn checked(&self) -> Result<(), CatalogError> {
        if let Some(tag) = &self.tag {
            check_text("tag", tag, 1, MAX_TAG_BYTES)?;
        }
        if let Some(participant) = &self.participant {
            check_text("participant address", participant, 1, MAX_SHORT_TEXT_BYTES)?;
        }
        if let Some(min) = self.min_duration_ms {
            check_i64("minimum duration", min)?;
        }
        if let Some(max) = self.max_duration_ms {
            check_i64("maximum duration", max)?;
        }
        Ok(())
    }

    /// [`RecordingFilter::matches`] plus the filters that look at participants.
    pub(crate) fn matches_detail(&self, detail: &RecordingDetail) -> bool {
        self.matches(&detail.recording)
            && self.participant.as_ref().is_none_or(|address| {
                detail
                    .participants
                    .iter()
                    .any(|participant| participant.address.dangerous_reveal() == address)
            })
    }

    /// Whether `recording` passes this filter (the in-memory twin of the SQL `WHERE`).
    pub(crate) fn matches(&self, recording: &Recording) -> bool {
        self.tenant
            .as_ref()
            .is_none_or(|tenant| *tenant == recording.tenant)
            && self
                .started_from
                .is_none_or(|from| recording.started_at >= truncate_millis(&from))
            && self
                .started_before
                .is_none_or(|before| recording.started_at < truncate_millis(&before))
            && self.state.is_none_or(|state| state == recording.state)
            && self
                .direction
                .is_none_or(|direction| direction == recording.direction)
            && self
                .tag
                .as_ref()
                .is_none_or(|tag| recording.tags.iter().any(|candidate| candidate == tag))
            && self
                .min_duration_ms
                .is_none_or(|min| recording.duration_ms >= min)
            && self
                .max_duration_ms
                .is_none_or(|max| recording.duration_ms <= max)
    }
}

/// What a batch commit does with one checked recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommitStep {
    Insert,
    Duplicate { existing: RecordingId },
}

/// Decide every item of a batch before anything is written, the same way in every backend:
/// a content hash the tenant already has (stored, or earlier in the batch) is a duplicate;
/// otherwise an id that is taken is a conflict (a lifecycle conflict when the holder was
/// erased). `stored_hash` and `stored_state` answer for what is already stored.
pub(crate) fn plan_commit(
    items: &[CheckedRecording],
    stored_hash: impl Fn(&TenantId, &Sha256Digest) -> Option<RecordingId>,
    stored_state: impl Fn(&RecordingId) -> Option<RecordingState>,
) -> Result<Vec<CommitStep>, CatalogError> {
    let mut batch_hashes: std::collections::HashMap<(&TenantId, &Sha256Digest), RecordingId> =
        std::collections::HashMap::new();
    let mut batch_ids: HashSet<RecordingId> = HashSet::new();
    let mut steps = Vec::with_capacity(items.len());
    for item in items {
        let recording = &item.recording;
        let key = (&recording.tenant, &recording.content_hash);
        let existing = stored_hash(key.0, key.1).or_else(|| batch_hashes.get(&key).copied());
        if let Some(existing) = existing {
            steps.push(CommitStep::Duplicate { existing });
            continue;
        }
        if let Some(state) = stored_state(&recording.id) {
            return Err(match state {
                RecordingState::Erased => Conflict::Transition {
                    id: recording.id,
                    from: RecordingState::Erased,
                    to: RecordingState::Committed,
                },
                _ => Conflict::RecordingIdTaken(recording.id),
            }
            .into());
        }
        if !batch_ids.insert(recording.id) {
            return Err(Conflict::RecordingIdTaken(recording.id).into());
        }
        batch_hashes.insert(key, recording.id);
        steps.push(CommitStep::Insert);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_allows_only_forward_steps() {
        use RecordingState::{Committed, Erased, Recording};
        let id = RecordingId::from_parts(0, [0; 10]);
        let all = [Recording, Committed, Erased];
        for from in all {
            for to in all {
                let allowed = matches!(
                    (from, to),
                    (Recording, Committed) | (Recording, Erased) | (Committed, Erased)
                );
                assert_eq!(from.transition(id, to).is_ok(), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn states_and_sources_round_trip_through_text() {
        for state in [
            RecordingState::Recording,
            RecordingState::Committed,
            RecordingState::Erased,
        ] {
            assert_eq!(RecordingState::parse(state.as_str()), Some(state));
        }
        for source in [RecordingSource::Import, RecordingSource::Siprec] {
            assert_eq!(RecordingSource::parse(source.as_str()), Some(source));
        }
        assert_eq!(RecordingState::parse("deleted"), None);
    }

    #[test]
    fn cursor_text_round_trips() {
        let cursor = Cursor {
            started_at_millis: -5,
            id: RecordingId::from_parts(9, [7; 10]),
        };
        let parsed: Result<Cursor, _> = cursor.to_string().parse();
        assert!(matches!(parsed, Ok(parsed) if parsed == cursor));
    }
}
