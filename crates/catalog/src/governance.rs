//! Governance in the catalog: legal holds and the erasure that crypto-shreds a recording and
//! pseudonymises its participants.
//!
//! A hold has one of three scopes ([`HoldScope`]): a recording; a participant address, which
//! covers every recording of the tenant naming that address, including recordings committed
//! after the hold was placed (a litigation hold on a person must not miss their next call);
//! or a query (start-time range and tag), which likewise covers later recordings that match.
//! Coverage is decided by one function, [`Hold::covers`], in every backend. A recording
//! covered by any active hold cannot be erased by anything: [`Governance::shred_recording`]
//! and [`crate::Catalog::erase_recording`] both refuse it with [`Conflict::Held`], checked
//! inside the erasing transaction.
//!
//! Erasure pseudonymises: each participant address of the erased recording becomes
//! `erased:` + hex SHA-256(salt ‖ address) and the name is dropped. The salt is a secret of the
//! node supplied by the caller, so the pseudonym cannot be reversed by hashing candidate
//! phone numbers, yet two erased rows of the same person still count as one participant.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{Pii, RecordingId, TenantId};
use sha2::{Digest, Sha256};

use crate::audit::{AuditEntry, AuditNote};
use crate::error::{CatalogError, Conflict};
use crate::time::truncate_millis;
use crate::types::{
    MAX_LONG_TEXT_BYTES, MAX_SHORT_TEXT_BYTES, MAX_TAG_BYTES, RecordingDetail, Sha256Digest, Stream,
};

/// The prefix of a pseudonymised participant address.
pub const PSEUDONYM_PREFIX: &str = "erased:";

/// What a legal hold covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldScope {
    Recording(RecordingId),
    /// Every recording of the tenant with a participant at exactly this address, now and later.
    Participant(Pii<String>),
    /// Every recording of the tenant matching all given bounds, now and later.
    Query {
        /// Inclusive.
        started_from: Option<DateTime<Utc>>,
        /// Exclusive.
        started_before: Option<DateTime<Utc>>,
        tag: Option<String>,
    },
}

impl HoldScope {
    pub fn kind(&self) -> &'static str {
        match self {
            HoldScope::Recording(_) => "recording",
            HoldScope::Participant(_) => "participant",
            HoldScope::Query { .. } => "query",
        }
    }

    pub(crate) fn normalized(&self) -> Result<HoldScope, CatalogError> {
        Ok(match self {
            HoldScope::Recording(id) => HoldScope::Recording(*id),
            HoldScope::Participant(address) => {
                check(
                    "participant address",
                    address.dangerous_reveal(),
                    1,
                    MAX_SHORT_TEXT_BYTES,
                )?;
                HoldScope::Participant(address.clone())
            }
            HoldScope::Query {
                started_from,
                started_before,
                tag,
            } => {
                if let Some(tag) = tag {
                    check("tag", tag, 1, MAX_TAG_BYTES)?;
                }
                if started_from.is_none() && started_before.is_none() && tag.is_none() {
                    return Err(CatalogError::Invalid(
                        "a query hold needs a time bound or a tag (a whole-tenant hold is a query with a wide range)".into(),
                    ));
                }
                HoldScope::Query {
                    started_from: started_from.as_ref().map(truncate_millis),
                    started_before: started_before.as_ref().map(truncate_millis),
                    tag: tag.clone(),
                }
            }
        })
    }
}

/// A hold to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    pub tenant: TenantId,
    pub scope: HoldScope,
    /// Why (a case number, a regulator's request). Required.
    pub reason: String,
    /// Who placed it (the audit actor, e.g. `cli:alice`).
    pub holder: String,
    pub at: DateTime<Utc>,
}

/// How a hold ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRelease {
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A stored hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: u64,
    pub tenant: TenantId,
    pub scope: HoldScope,
    pub reason: String,
    pub holder: String,
    pub placed_at: DateTime<Utc>,
    pub released: Option<HoldRelease>,
}

impl Hold {
    pub fn is_active(&self) -> bool {
        self.released.is_none()
    }

    /// Whether this hold, while active, covers `detail`. The one rule every backend uses.
    pub fn covers(&self, detail: &RecordingDetail) -> bool {
        let recording = &detail.recording;
        if !self.is_active() || recording.tenant != self.tenant {
            return false;
        }
        match &self.scope {
            HoldScope::Recording(id) => *id == recording.id,
            HoldScope::Participant(address) => detail
                .participants
                .iter()
                .any(|participant| participant.address == *address),
            HoldScope::Query {
                started_from,
                started_before,
                tag,
            } => {
                started_from.is_none_or(|from| recording.started_at >= from)
                    && started_before.is_none_or(|before| recording.started_at < before)
                    && tag
                        .as_ref()
                        .is_none_or(|tag| recording.tags.iter().any(|candidate| candidate == tag))
            }
        }
    }

    /// The hold's facts for an audit entry: never the participant address.
    pub fn audit_details(&self) -> serde_json::Value {
        let mut details = serde_json::json!({
            "hold": self.id,
            "scope": self.scope.kind(),
            "reason": self.reason,
            "holder": self.holder,
        });
        match &self.scope {
            HoldScope::Recording(id) => details["recording"] = serde_json::json!(id),
            HoldScope::Participant(_) => {}
            HoldScope::Query {
                started_from,
                started_before,
                tag,
            } => {
                details["started_from"] = serde_json::json!(started_from);
                details["started_before"] = serde_json::json!(started_before);
                details["tag"] = serde_json::json!(tag);
            }
        }
        details
    }
}

impl NewHold {
    pub(crate) fn checked(&self) -> Result<NewHold, CatalogError> {
        check("hold reason", &self.reason, 1, MAX_LONG_TEXT_BYTES)?;
        check("hold holder", &self.holder, 1, MAX_SHORT_TEXT_BYTES)?;
        Ok(NewHold {
            scope: self.scope.normalized()?,
            at: truncate_millis(&self.at),
            ..self.clone()
        })
    }
}

impl HoldRelease {
    pub(crate) fn checked(&self) -> Result<HoldRelease, CatalogError> {
        check("release reason", &self.reason, 1, MAX_LONG_TEXT_BYTES)?;
        check("released by", &self.by, 1, MAX_SHORT_TEXT_BYTES)?;
        Ok(HoldRelease {
            at: truncate_millis(&self.at),
            ..self.clone()
        })
    }
}

/// An erasure to perform.
#[derive(Debug, Clone, PartialEq)]
pub struct ShredRequest {
    pub recording: RecordingId,
    pub at: DateTime<Utc>,
    /// The node's secret pseudonym salt (see the module docs).
    pub pseudonym_salt: [u8; 32],
    /// Written with the erasure (tenant and recording filled in).
    pub audit: AuditNote,
}

/// What an erasure destroyed, for the receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct ShredOutcome {
    pub tenant: TenantId,
    pub entry: AuditEntry,
    /// SHA-256 of the sealed data key bytes that were deleted.
    pub sealed_key_sha256: Sha256Digest,
    /// The streams whose objects the caller must now delete from the store.
    pub streams: Vec<Stream>,
    pub participants_pseudonymised: usize,
}

/// The pseudonym that replaces `address` after erasure.
pub fn pseudonym(salt: &[u8; 32], address: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"onrecord/participant-pseudonym/v1\0");
    hasher.update(salt);
    hasher.update(address.as_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut text = String::with_capacity(PSEUDONYM_PREFIX.len() + 64);
    text.push_str(PSEUDONYM_PREFIX);
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// The refusal for a held recording.
pub(crate) fn held(id: RecordingId, holds: &[Hold]) -> CatalogError {
    Conflict::Held {
        id,
        holds: holds.iter().map(|hold| hold.id).collect(),
    }
    .into()
}

fn check(what: &str, value: &str, min: usize, max: usize) -> Result<(), CatalogError> {
    if value.len() < min || value.len() > max {
        return Err(CatalogError::Invalid(format!(
            "{what} must be {min} to {max} bytes"
        )));
    }
    Ok(())
}

/// The governance operations, a supertrait of [`crate::Catalog`] so an `Arc<dyn Catalog>`
/// offers them too. Every write is audited in its own transaction.
#[async_trait]
pub trait Governance: Send + Sync {
    /// Place a hold (audited as `hold.placed`). A recording scope must name a recording of the
    /// tenant (`NotFound` otherwise); an unknown tenant is `NotFound`.
    async fn place_hold(&self, hold: &NewHold) -> Result<(Hold, AuditEntry), CatalogError>;

    /// Release every active hold of the tenant with exactly this scope (each audited as
    /// `hold.released`); `NotFound` when there is none.
    async fn release_holds(
        &self,
        tenant: &TenantId,
        scope: &HoldScope,
        release: &HoldRelease,
    ) -> Result<Vec<Hold>, CatalogError>;

    /// Holds ordered by id, of one tenant or all; released ones only when asked.
    async fn holds(
        &self,
        tenant: Option<&TenantId>,
        include_released: bool,
    ) -> Result<Vec<Hold>, CatalogError>;

    /// The active holds covering a recording (empty for an unknown one).
    async fn holds_covering(&self, id: &RecordingId) -> Result<Vec<Hold>, CatalogError>;

    /// The tenant's recordings (any state) with a participant at exactly this address,
    /// oldest first.
    async fn recordings_with_participant(
        &self,
        tenant: &TenantId,
        address: &Pii<String>,
    ) -> Result<Vec<RecordingId>, CatalogError>;

    /// Crypto-shred a recording in one transaction: refuse if held ([`Conflict::Held`]),
    /// inside its minimum retention ([`Conflict::MinimumRetention`], see [`crate::retention`])
    /// or already erased; delete the sealed key; mark it `Erased`; pseudonymise its
    /// participants; write the audit entry. Deleting the objects is the caller's next step.
    async fn shred_recording(&self, request: &ShredRequest) -> Result<ShredOutcome, CatalogError> {
        self.shred_recordings(std::slice::from_ref(request))
            .await?
            .pop()
            .unwrap_or_else(|| {
                Err(CatalogError::NotFound {
                    what: "recording",
                    id: request.recording.to_string(),
                })
            })
    }

    /// [`Governance::shred_recording`] for up to [`crate::MAX_BATCH`] recordings in one
    /// transaction (one commit, one sync), each with its own audit entry. A recording that
    /// cannot be erased (unknown, held, inside its minimum retention, already erased) gets its
    /// error in its slot and the others go ahead; the outer error is a failure of the store.
    async fn shred_recordings(
        &self,
        requests: &[ShredRequest],
    ) -> Result<Vec<Result<ShredOutcome, CatalogError>>, CatalogError>;
}
