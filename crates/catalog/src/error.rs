use model::{RecordingId, RegionId, TenantId};

use crate::types::RecordingState;

/// Everything that can go wrong in the catalog. Which side caused it: `NotFound`, `Conflict`
/// and `Invalid` are the caller's; `Corrupt` and `Database` are ours (or the disk's).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A row the operation needs does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The operation contradicts what is stored.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The input breaks a bound or rule of the catalog (sizes, duplicate labels, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A stored value does not parse: the database was edited outside the catalog or is damaged.
    #[error("corrupt value in {column}: {reason}")]
    Corrupt {
        column: &'static str,
        reason: String,
    },
    /// The database failed.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The schema migrations failed.
    #[error("schema migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> CatalogError {
        CatalogError::Database(error)
    }
}

/// The ways an operation can contradict stored state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("tenant {0} already exists")]
    TenantExists(TenantId),
    /// The recording id is taken by a recording with different content.
    #[error("recording id {0} is already used by other content")]
    RecordingIdTaken(RecordingId),
    /// The recording lifecycle does not allow this step.
    #[error("recording {id} cannot go from {from} to {to}")]
    Transition {
        id: RecordingId,
        from: RecordingState,
        to: RecordingState,
    },
    /// A tenant's data must stay in its region.
    #[error("stream of tenant {tenant} must be stored in region {expected}, not {actual}")]
    RegionMismatch {
        tenant: TenantId,
        expected: RegionId,
        actual: RegionId,
    },
    /// The recording is under legal hold (these hold ids) and cannot be erased.
    #[error("recording {id} is under legal hold {holds:?}")]
    Held { id: RecordingId, holds: Vec<u64> },
    /// The recording is inside its minimum retention (a floor that nobody can shorten).
    #[error(
        "recording {id} is inside its minimum retention of {minimum_days} days ({scope}) until {until}"
    )]
    MinimumRetention {
        id: RecordingId,
        minimum_days: u32,
        /// `tenant` or `tag:NAME`: which floor.
        scope: String,
        until: chrono::DateTime<chrono::Utc>,
    },
    #[error("token id {0} is already in use")]
    TokenExists(String),
    /// The transparency log moved on since the caller read its position (another writer).
    #[error("the transparency log moved from audit seq {expected_seq} to {actual_seq}")]
    LogMoved { expected_seq: u64, actual_seq: u64 },
}
