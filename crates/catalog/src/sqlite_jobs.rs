//! The transcription queue in SQLite (`transcription_jobs`, migration 0003).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::audit::{AuditEntry, AuditNote, PreparedAuditEntry};
use crate::error::CatalogError;
use crate::jobs::{
    JobState, MAX_QUEUE_BATCH, TranscriptObject, TranscriptionJob, TranscriptionJobs,
    bounded_reason,
};
use crate::sqlite::{SqliteCatalog, append_entries, audit_head, one};
use crate::sqlite_read as read;
use crate::time::{from_millis, to_millis, truncate_millis};
use crate::types::RecordingState;

/// `SELECT` of every job column, followed by the rest of the statement.
macro_rules! select_jobs {
    ($rest:literal) => {
        concat!(
            "SELECT recording_id, tenant_id, state, attempts, progress, failure, queued_at, \
             updated_at, object_key, object_size, object_sha256, plaintext_size, \
             plaintext_sha256, segments, model FROM transcription_jobs ",
            $rest
        )
    };
}

fn corrupt(column: &'static str, reason: impl Into<String>) -> CatalogError {
    CatalogError::Corrupt {
        column,
        reason: reason.into(),
    }
}

fn decode(row: &SqliteRow) -> Result<TranscriptionJob, CatalogError> {
    let recording: String = row.try_get("recording_id")?;
    let state: String = row.try_get("state")?;
    let state =
        JobState::parse(&state).ok_or_else(|| corrupt("transcription_jobs.state", state))?;
    let object_key: Option<String> = row.try_get("object_key")?;
    let transcript = match object_key {
        None => None,
        Some(object_key) => {
            let size = |column: &'static str| -> Result<u64, CatalogError> {
                let value: Option<i64> = row.try_get(column)?;
                read::unsigned(column, value.unwrap_or(-1))
            };
            let digest = |column: &'static str| -> Result<[u8; 32], CatalogError> {
                let value: Option<Vec<u8>> = row.try_get(column)?;
                read::digest(column, value.unwrap_or_default())
            };
            let segments: Option<i64> = row.try_get("segments")?;
            Some(TranscriptObject {
                object_key,
                object_size: size("object_size")?,
                object_sha256: digest("object_sha256")?,
                plaintext_size: size("plaintext_size")?,
                plaintext_sha256: digest("plaintext_sha256")?,
                segments: u32::try_from(segments.unwrap_or(0))
                    .map_err(|_| corrupt("transcription_jobs.segments", "out of range"))?,
                model: row
                    .try_get::<Option<String>, _>("model")?
                    .unwrap_or_default(),
            })
        }
    };
    let attempts: i64 = row.try_get("attempts")?;
    let progress: i64 = row.try_get("progress")?;
    Ok(TranscriptionJob {
        recording: recording
            .parse()
            .map_err(|_| corrupt("transcription_jobs.recording_id", recording.clone()))?,
        tenant: read::tenant_id("transcription_jobs.tenant_id", row.try_get("tenant_id")?)?,
        state,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt("transcription_jobs.attempts", "out of range"))?,
        progress: u8::try_from(progress.clamp(0, 100)).unwrap_or(0),
        failure: row.try_get("failure")?,
        queued_at: from_millis("transcription_jobs.queued_at", row.try_get("queued_at")?)?,
        updated_at: from_millis("transcription_jobs.updated_at", row.try_get("updated_at")?)?,
        transcript,
    })
}

async fn job(
    connection: &mut SqliteConnection,
    recording: &RecordingId,
) -> Result<Option<TranscriptionJob>, CatalogError> {
    let row = sqlx::query(select_jobs!("WHERE recording_id = $1"))
        .bind(recording.to_string())
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// The job, which must be `Running`, for finishing or failing it.
async fn running_job(
    connection: &mut SqliteConnection,
    recording: &RecordingId,
) -> Result<TranscriptionJob, CatalogError> {
    let found = job(&mut *connection, recording)
        .await?
        .ok_or_else(|| CatalogError::NotFound {
            what: "transcription job",
            id: recording.to_string(),
        })?;
    if found.state != JobState::Running {
        return Err(CatalogError::Invalid(format!(
            "transcription job of {recording} is {}, not running",
            found.state
        )));
    }
    Ok(found)
}

#[async_trait]
impl TranscriptionJobs for SqliteCatalog {
    async fn queue_transcriptions(
        &self,
        recordings: &[RecordingId],
        at: DateTime<Utc>,
    ) -> Result<Vec<RecordingId>, CatalogError> {
        if recordings.len() > MAX_QUEUE_BATCH {
            return Err(CatalogError::Invalid("queue batch too large".into()));
        }
        let at = to_millis(&at);
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let mut queued = Vec::new();
        for recording in recordings {
            let inserted = sqlx::query(
                "INSERT INTO transcription_jobs (recording_id, tenant_id, state, attempts, \
                 progress, queued_at, updated_at) \
                 SELECT id, tenant_id, 'queued', 0, 0, $2, $2 FROM recordings \
                 WHERE id = $1 AND state = 'committed' \
                 ON CONFLICT (recording_id) DO NOTHING",
            )
            .bind(recording.to_string())
            .bind(at)
            .execute(&mut *connection)
            .await?;
            if inserted.rows_affected() > 0 {
                queued.push(*recording);
            }
        }
        write.transaction.commit().await?;
        Ok(queued)
    }

    async fn recordings_without_transcription(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<RecordingId>, CatalogError> {
        let rows = sqlx::query(
            "SELECT r.id FROM recordings r LEFT JOIN transcription_jobs j \
             ON j.recording_id = r.id WHERE r.tenant_id = $1 AND r.state = 'committed' \
             AND j.recording_id IS NULL ORDER BY r.created_at, r.id LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                id.parse().map_err(|_| corrupt("recordings.id", id.clone()))
            })
            .collect()
    }

    async fn requeue_transcription(
        &self,
        recording: &RecordingId,
        at: DateTime<Utc>,
    ) -> Result<TranscriptionJob, CatalogError> {
        let at = to_millis(&at);
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let row = sqlx::query("SELECT tenant_id, state FROM recordings WHERE id = $1")
            .bind(recording.to_string())
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| CatalogError::NotFound {
                what: "recording",
                id: recording.to_string(),
            })?;
        let state = read::recording_state(row.try_get("state")?)?;
        if state != RecordingState::Committed {
            return Err(CatalogError::Invalid(format!(
                "recording {recording} is {state}; only committed recordings are transcribed"
            )));
        }
        let tenant: String = row.try_get("tenant_id")?;
        sqlx::query(
            "INSERT INTO transcription_jobs (recording_id, tenant_id, state, attempts, progress, \
             queued_at, updated_at) VALUES ($1, $2, 'queued', 0, 0, $3, $3) \
             ON CONFLICT (recording_id) DO UPDATE SET state = 'queued', progress = 0, \
             failure = NULL, queued_at = $3, updated_at = $3",
        )
        .bind(recording.to_string())
        .bind(tenant)
        .bind(at)
        .execute(&mut *connection)
        .await?;
        let queued = job(&mut *connection, recording)
            .await?
            .ok_or_else(|| corrupt("transcription_jobs", "queued job vanished"))?;
        write.transaction.commit().await?;
        Ok(queued)
    }

    async fn claim_transcription(
        &self,
        tenant: &TenantId,
        only: Option<&RecordingId>,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<TranscriptionJob>, CatalogError> {
        let at = to_millis(&at);
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        sqlx::query(
            "UPDATE transcription_jobs SET state = 'queued', updated_at = $3 \
             WHERE tenant_id = $1 AND state = 'running' AND updated_at < $2",
        )
        .bind(tenant.as_str())
        .bind(to_millis(&stale_before))
        .bind(at)
        .execute(&mut *connection)
        .await?;
        let only = only.map(|id| id.to_string());
        let row = sqlx::query(
            "SELECT j.recording_id FROM transcription_jobs j JOIN recordings r \
             ON r.id = j.recording_id WHERE j.tenant_id = $1 AND j.state = 'queued' \
             AND r.state = 'committed' AND ($2 IS NULL OR j.recording_id = $2) \
             ORDER BY j.queued_at, j.recording_id LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(only)
        .fetch_optional(&mut *connection)
        .await?;
        let Some(row) = row else {
            write.transaction.commit().await?;
            return Ok(None);
        };
        let recording: String = row.try_get("recording_id")?;
        sqlx::query(
            "UPDATE transcription_jobs SET state = 'running', attempts = attempts + 1, \
             progress = 0, failure = NULL, updated_at = $2 WHERE recording_id = $1",
        )
        .bind(&recording)
        .bind(at)
        .execute(&mut *connection)
        .await?;
        let claimed = sqlx::query(select_jobs!("WHERE recording_id = $1"))
            .bind(&recording)
            .fetch_one(&mut *connection)
            .await?;
        let claimed = decode(&claimed)?;
        write.transaction.commit().await?;
        Ok(Some(claimed))
    }

    async fn transcription_progress(
        &self,
        recording: &RecordingId,
        progress: u8,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        let mut write = self.begin_write().await?;
        sqlx::query(
            "UPDATE transcription_jobs SET progress = $2, updated_at = $3 \
             WHERE recording_id = $1 AND state = 'running'",
        )
        .bind(recording.to_string())
        .bind(i64::from(progress.min(100)))
        .bind(to_millis(&at))
        .execute(&mut *write.transaction)
        .await?;
        write.transaction.commit().await?;
        Ok(())
    }

    async fn finish_transcription(
        &self,
        recording: &RecordingId,
        transcript: &TranscriptObject,
        at: DateTime<Utc>,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError> {
        transcript.checked()?;
        let at = truncate_millis(&at);
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let found = running_job(&mut *connection, recording).await?;
        sqlx::query(
            "UPDATE transcription_jobs SET state = 'done', progress = 100, failure = NULL, \
             updated_at = $2, object_key = $3, object_size = $4, object_sha256 = $5, \
             plaintext_size = $6, plaintext_sha256 = $7, segments = $8, model = $9 \
             WHERE recording_id = $1",
        )
        .bind(recording.to_string())
        .bind(to_millis(&at))
        .bind(&transcript.object_key)
        .bind(i64::try_from(transcript.object_size).unwrap_or(i64::MAX))
        .bind(transcript.object_sha256.to_vec())
        .bind(i64::try_from(transcript.plaintext_size).unwrap_or(i64::MAX))
        .bind(transcript.plaintext_sha256.to_vec())
        .bind(i64::from(transcript.segments))
        .bind(&transcript.model)
        .execute(&mut *connection)
        .await?;
        let prepared =
            PreparedAuditEntry::new(&audit.entry(at, Some(&found.tenant), Some(recording)))?;
        let mut head = audit_head(&mut *connection).await?;
        let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
        write.transaction.commit().await?;
        Ok(entry)
    }

    async fn fail_transcription(
        &self,
        recording: &RecordingId,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError> {
        let at = truncate_millis(&at);
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let found = running_job(&mut *connection, recording).await?;
        sqlx::query(
            "UPDATE transcription_jobs SET state = 'failed', failure = $2, updated_at = $3 \
             WHERE recording_id = $1",
        )
        .bind(recording.to_string())
        .bind(bounded_reason(reason))
        .bind(to_millis(&at))
        .execute(&mut *connection)
        .await?;
        let prepared =
            PreparedAuditEntry::new(&audit.entry(at, Some(&found.tenant), Some(recording)))?;
        let mut head = audit_head(&mut *connection).await?;
        let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
        write.transaction.commit().await?;
        Ok(entry)
    }

    async fn transcription_job(
        &self,
        recording: &RecordingId,
    ) -> Result<Option<TranscriptionJob>, CatalogError> {
        let mut connection = self.pool().acquire().await?;
        job(&mut connection, recording).await
    }

    async fn transcription_jobs(
        &self,
        tenant: &TenantId,
        state: Option<JobState>,
    ) -> Result<Vec<TranscriptionJob>, CatalogError> {
        let rows = sqlx::query(select_jobs!(
            "WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
             ORDER BY queued_at, recording_id"
        ))
        .bind(tenant.as_str())
        .bind(state.map(JobState::as_str))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }
}
