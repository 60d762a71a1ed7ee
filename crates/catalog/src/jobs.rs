//! Transcription jobs: one per recording, queued after the recording is committed, claimed by
//! a worker, finished with the sealed transcript it produced (or failed with a reason).
//!
//! The lifecycle is one enum ([`JobState`]): `Queued` → `Running` → `Done` | `Failed`. A
//! `Running` job whose worker stopped heartbeating (crash, kill) goes back to `Queued` the next
//! time a worker claims from the queue; `Done` and `Failed` jobs are queued again only on
//! purpose ([`TranscriptionJobs::requeue_transcription`]). Queueing is idempotent: a recording
//! has at most one job.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};

use crate::audit::{AuditEntry, AuditNote};
use crate::error::CatalogError;
use crate::types::{MAX_LONG_TEXT_BYTES, MAX_SHORT_TEXT_BYTES, Sha256Digest};

/// Most recordings one queueing call takes.
pub const MAX_QUEUE_BATCH: usize = 10_000;

/// Where a transcription job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        match text {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "done" => Some(JobState::Done),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The sealed transcript a finished job stored in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptObject {
    pub object_key: String,
    pub object_size: u64,
    pub object_sha256: Sha256Digest,
    pub plaintext_size: u64,
    pub plaintext_sha256: Sha256Digest,
    pub segments: u32,
    /// Which model produced it, e.g. `whisper tiny.en`.
    pub model: String,
}

/// One recording's transcription job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionJob {
    pub recording: RecordingId,
    pub tenant: TenantId,
    pub state: JobState,
    /// Times a worker claimed it.
    pub attempts: u32,
    /// 0 to 100.
    pub progress: u8,
    /// Why the last attempt failed (only in `Failed`).
    pub failure: Option<String>,
    pub queued_at: DateTime<Utc>,
    /// Last change or heartbeat.
    pub updated_at: DateTime<Utc>,
    /// Only in `Done`.
    pub transcript: Option<TranscriptObject>,
}

impl TranscriptObject {
    pub(crate) fn checked(&self) -> Result<(), CatalogError> {
        if self.object_key.is_empty() || self.object_key.len() > MAX_LONG_TEXT_BYTES {
            return Err(CatalogError::Invalid(
                "transcript object key must be 1 to 4096 bytes".into(),
            ));
        }
        if self.model.len() > MAX_SHORT_TEXT_BYTES {
            return Err(CatalogError::Invalid(
                "transcript model name too long".into(),
            ));
        }
        if i64::try_from(self.object_size).is_err() || i64::try_from(self.plaintext_size).is_err() {
            return Err(CatalogError::Invalid("transcript size too large".into()));
        }
        Ok(())
    }
}

/// A failure reason as stored: at most [`MAX_LONG_TEXT_BYTES`], cut at a character boundary.
pub(crate) fn bounded_reason(reason: &str) -> String {
    if reason.len() <= MAX_LONG_TEXT_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_LONG_TEXT_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// The transcription queue. A supertrait of [`crate::Catalog`], so an `Arc<dyn Catalog>`
/// offers it; every backend passes the same conformance cases.
#[async_trait]
pub trait TranscriptionJobs: Send + Sync {
    /// Queues a job for each committed recording that has none (any state). Unknown and
    /// erased recordings are skipped. Returns the recordings newly queued.
    async fn queue_transcriptions(
        &self,
        recordings: &[RecordingId],
        at: DateTime<Utc>,
    ) -> Result<Vec<RecordingId>, CatalogError>;

    /// Committed recordings of `tenant` that have no job (a crash between commit and
    /// queueing, or recordings from before transcription was turned on), oldest first.
    async fn recordings_without_transcription(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<RecordingId>, CatalogError>;

    /// Puts a recording's job back in the queue whatever its state (creating it if missing).
    /// `NotFound` for an unknown recording, `Invalid` for one that is not committed.
    async fn requeue_transcription(
        &self,
        recording: &RecordingId,
        at: DateTime<Utc>,
    ) -> Result<TranscriptionJob, CatalogError>;

    /// Claims the oldest queued job of `tenant` (or exactly `only`, when given and queued):
    /// it becomes `Running` with one more attempt. First, `Running` jobs of the tenant not
    /// updated since `stale_before` (their worker died) go back to the queue. Jobs of
    /// recordings no longer committed (erased) are never claimed.
    async fn claim_transcription(
        &self,
        tenant: &TenantId,
        only: Option<&RecordingId>,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<TranscriptionJob>, CatalogError>;

    /// Records progress (0 to 100) of a running job; also its heartbeat.
    async fn transcription_progress(
        &self,
        recording: &RecordingId,
        progress: u8,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogError>;

    /// A running job finished: it stores the transcript object and its audit entry in one
    /// transaction. `Invalid` unless the job is `Running`.
    async fn finish_transcription(
        &self,
        recording: &RecordingId,
        transcript: &TranscriptObject,
        at: DateTime<Utc>,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError>;

    /// A running job failed (the reason is kept, cut to 4 KiB), with its audit entry.
    async fn fail_transcription(
        &self,
        recording: &RecordingId,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError>;

    async fn transcription_job(
        &self,
        recording: &RecordingId,
    ) -> Result<Option<TranscriptionJob>, CatalogError>;

    /// A tenant's jobs (in `state`, when given), oldest queued first.
    async fn transcription_jobs(
        &self,
        tenant: &TenantId,
        state: Option<JobState>,
    ) -> Result<Vec<TranscriptionJob>, CatalogError>;
}
