//! The metadata store of onrecord.
//!
//! Owns: tenants, recordings (with their lifecycle), participants and their consent
//! evidence, sealed media streams, the sealed data keys (in their own table, so that erasure
//! deletes them and nothing else holds them), refusals, and the hash-chained audit log.
//! One small object-safe trait, [`Catalog`], with a SQLite backend ([`SqliteCatalog`]), an
//! in-memory twin ([`MemoryCatalog`]) and one conformance suite both pass (`conformance`
//! feature). A PostgreSQL backend will implement the same trait against the same suite, so the
//! SQL is kept portable: `$n` placeholders, TEXT ids, INTEGER epoch-millisecond times, BLOB
//! bytes.
//!
//! Never does: read the clock (every time is an argument), decide consent, seal or open
//! keys (it stores sealed keys as opaque bytes), touch audio or object stores, or log
//! personal data (addresses and names are [`model::Pii`]).

pub mod audit;
pub mod completeness;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
pub mod governance;
pub mod jobs;
mod memory;
mod memory_jobs;
pub mod retention;
mod sqlite;
mod sqlite_commit;
mod sqlite_jobs;
mod sqlite_read;
mod sqlite_tokens;
mod time;
pub mod tokens;
pub mod transparency;
mod types;

use async_trait::async_trait;
use model::{RecordingId, TenantId};

pub use audit::{
    AuditBreak, AuditEntry, AuditNote, AuditSummary, BreakReason, NewAuditEntry, StoredAuditEntry,
};
pub use completeness::{
    CertificateCounts, CertificateQuery, Completeness, CompletenessVerdict, NewCertificate,
    StoredCertificate,
};
pub use error::{CatalogError, Conflict};
pub use governance::Governance;
pub use jobs::{JobState, TranscriptObject, TranscriptionJob, TranscriptionJobs};
pub use memory::MemoryCatalog;
pub use retention::Retention;
pub use sqlite::SqliteCatalog;
pub use tokens::{ApiToken, EvidenceCoverage, NewToken, TokenRole};
pub use transparency::TransparencyStore;
pub use types::*;

/// The catalog's operations. Object-safe, so the server holds an `Arc<dyn Catalog>`.
///
/// Every write that belongs to an audited action writes its audit entry in the same
/// transaction: either both are stored or neither is.
#[async_trait]
pub trait Catalog:
    Governance
    + TranscriptionJobs
    + Completeness
    + TransparencyStore
    + Retention
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Store a new tenant and its `tenant.created`-style audit entry (at `created_at`).
    /// [`Conflict::TenantExists`] if the id is taken.
    async fn register_tenant(
        &self,
        tenant: &Tenant,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError>;

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, CatalogError>;

    /// All tenants, ordered by id.
    async fn tenants(&self) -> Result<Vec<Tenant>, CatalogError>;

    /// Commit finished recordings in one transaction (group commit): each recording with its
    /// participants, evidence, streams, sealed key and audit entry. A content hash the tenant
    /// already has (stored, or earlier in the same batch) yields
    /// [`CommitOutcome::Duplicate`] and writes nothing for that item. Any error rolls back
    /// the whole batch: an unknown tenant is `NotFound`, a stream outside the tenant's
    /// region, a recording id used by other content or an erased recording committed again is
    /// `Conflict`.
    async fn commit_recordings(
        &self,
        recordings: &[NewRecording],
    ) -> Result<Vec<CommitOutcome>, CatalogError>;

    /// One recording with participants and streams. With `tenant` given, a recording of
    /// another tenant reads as absent.
    async fn recording(
        &self,
        tenant: Option<&TenantId>,
        id: &RecordingId,
    ) -> Result<Option<RecordingDetail>, CatalogError>;

    /// The tenant's recording with this content hash, if any (import idempotence).
    async fn recording_by_content_hash(
        &self,
        tenant: &TenantId,
        content_hash: &Sha256Digest,
    ) -> Result<Option<RecordingId>, CatalogError>;

    /// Recordings matching `filter`, newest first (`started_at` descending, then id
    /// descending), one keyset page at a time.
    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> Result<Page, CatalogError>;

    async fn count_recordings(&self, filter: &RecordingFilter) -> Result<u64, CatalogError>;

    /// The sealed data key of a recording; `None` once erased.
    async fn sealed_key(&self, id: &RecordingId) -> Result<Option<Vec<u8>>, CatalogError>;

    /// Crypto-shred a recording: delete its sealed key first, then mark it `Erased`, with its
    /// audit entry, in one transaction. `NotFound` for an unknown id, `Conflict` when the
    /// lifecycle forbids it (already erased), a hold covers it or its minimum retention runs.
    async fn erase_recording(
        &self,
        id: &RecordingId,
        at: chrono::DateTime<chrono::Utc>,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError>;

    /// Store refusals, each with its audit entry, in one transaction.
    async fn record_refusals(
        &self,
        refusals: &[NewRefusal],
    ) -> Result<Vec<AuditEntry>, CatalogError>;

    /// Refusals of a tenant counted per reason code, ordered by reason.
    async fn refusal_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>, CatalogError>;

    /// Append entries to the audit chain in one transaction; returns them with `seq` and hashes.
    async fn append_audit(
        &self,
        entries: &[NewAuditEntry],
    ) -> Result<Vec<AuditEntry>, CatalogError>;

    /// Up to `limit` (1 to 10,000) entries with `seq > after_seq`, in order.
    async fn audit_entries(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CatalogError>;

    /// Every entry naming this recording, in order.
    async fn audit_for_recording(&self, id: &RecordingId) -> Result<Vec<AuditEntry>, CatalogError>;

    /// Verify the whole chain. The outer error is a failure to read; the inner one is a chain
    /// that does not verify, naming its first bad entry. A cut-off tail is not detected here
    /// (see [`audit`]).
    async fn verify_audit(&self) -> Result<Result<AuditSummary, AuditBreak>, CatalogError>;

    /// Store an API token (its secret's digest only) with its audit entry. `NotFound` for an
    /// unknown tenant, `Invalid` for a malformed token, `Conflict` for an id in use.
    async fn create_token(&self, token: &NewToken) -> Result<AuditEntry, CatalogError>;

    /// The token with this id, revoked or not.
    async fn token(&self, id: &str) -> Result<Option<ApiToken>, CatalogError>;

    /// Content-blind figures of a tenant: recordings, participants, covered participants.
    async fn evidence_coverage(&self, tenant: &TenantId) -> Result<EvidenceCoverage, CatalogError>;
}

/// Most audit entries one read returns.
pub const MAX_AUDIT_PAGE: u32 = 10_000;

pub(crate) fn check_audit_limit(limit: u32) -> Result<(), CatalogError> {
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(CatalogError::Invalid(format!(
            "audit page limit must be 1 to {MAX_AUDIT_PAGE}"
        )));
    }
    Ok(())
}
