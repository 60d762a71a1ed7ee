//! The transcription queue of the in-memory twin.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};

use crate::audit::{AuditEntry, AuditNote, PreparedAuditEntry};
use crate::error::CatalogError;
use crate::jobs::{
    JobState, MAX_QUEUE_BATCH, TranscriptObject, TranscriptionJob, TranscriptionJobs,
    bounded_reason,
};
use crate::memory::{MemoryCatalog, State, one};
use crate::time::truncate_millis;
use crate::types::RecordingState;

fn new_job(recording: RecordingId, tenant: TenantId, at: DateTime<Utc>) -> TranscriptionJob {
    TranscriptionJob {
        recording,
        tenant,
        state: JobState::Queued,
        attempts: 0,
        progress: 0,
        failure: None,
        queued_at: at,
        updated_at: at,
        transcript: None,
    }
}

fn is_committed(state: &State, recording: &RecordingId) -> bool {
    state
        .recordings
        .get(recording)
        .is_some_and(|detail| detail.recording.state == RecordingState::Committed)
}

fn running_job<'a>(
    state: &'a mut State,
    recording: &RecordingId,
) -> Result<&'a mut TranscriptionJob, CatalogError> {
    let job =
        state
            .transcription_jobs
            .get_mut(recording)
            .ok_or_else(|| CatalogError::NotFound {
                what: "transcription job",
                id: recording.to_string(),
            })?;
    if job.state != JobState::Running {
        return Err(CatalogError::Invalid(format!(
            "transcription job of {recording} is {}, not running",
            job.state
        )));
    }
    Ok(job)
}

fn queue_order(job: &TranscriptionJob) -> (DateTime<Utc>, RecordingId) {
    (job.queued_at, job.recording)
}

#[async_trait]
impl TranscriptionJobs for MemoryCatalog {
    async fn queue_transcriptions(
        &self,
        recordings: &[RecordingId],
        at: DateTime<Utc>,
    ) -> Result<Vec<RecordingId>, CatalogError> {
        if recordings.len() > MAX_QUEUE_BATCH {
            return Err(CatalogError::Invalid("queue batch too large".into()));
        }
        let at = truncate_millis(&at);
        let mut state = self.lock();
        let mut queued = Vec::new();
        for recording in recordings {
            if !is_committed(&state, recording) || state.transcription_jobs.contains_key(recording)
            {
                continue;
            }
            let Some(detail) = state.recordings.get(recording) else {
                continue;
            };
            let job = new_job(*recording, detail.recording.tenant.clone(), at);
            state.transcription_jobs.insert(*recording, job);
            queued.push(*recording);
        }
        Ok(queued)
    }

    async fn recordings_without_transcription(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<RecordingId>, CatalogError> {
        let state = self.lock();
        let mut found: Vec<_> = state
            .recordings
            .values()
            .filter(|detail| {
                detail.recording.tenant == *tenant
                    && detail.recording.state == RecordingState::Committed
                    && !state.transcription_jobs.contains_key(&detail.recording.id)
            })
            .map(|detail| (detail.recording.created_at, detail.recording.id))
            .collect();
        found.sort();
        Ok(found
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(_, id)| id)
            .collect())
    }

    async fn requeue_transcription(
        &self,
        recording: &RecordingId,
        at: DateTime<Utc>,
    ) -> Result<TranscriptionJob, CatalogError> {
        let at = truncate_millis(&at);
        let mut state = self.lock();
        let detail = state
            .recordings
            .get(recording)
            .ok_or_else(|| CatalogError::NotFound {
                what: "recording",
                id: recording.to_string(),
            })?;
        if detail.recording.state != RecordingState::Committed {
            return Err(CatalogError::Invalid(format!(
                "recording {recording} is {}; only committed recordings are transcribed",
                detail.recording.state
            )));
        }
        let tenant = detail.recording.tenant.clone();
        let job = state
            .transcription_jobs
            .entry(*recording)
            .or_insert_with(|| new_job(*recording, tenant, at));
        job.state = JobState::Queued;
        job.progress = 0;
        job.failure = None;
        job.queued_at = at;
        job.updated_at = at;
        Ok(job.clone())
    }

    async fn claim_transcription(
        &self,
        tenant: &TenantId,
        only: Option<&RecordingId>,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<TranscriptionJob>, CatalogError> {
        let at = truncate_millis(&at);
        let stale_before = truncate_millis(&stale_before);
        let mut state = self.lock();
        for job in state.transcription_jobs.values_mut() {
            if job.tenant == *tenant
                && job.state == JobState::Running
                && job.updated_at < stale_before
            {
                job.state = JobState::Queued;
                job.updated_at = at;
            }
        }
        let next = state
            .transcription_jobs
            .values()
            .filter(|job| {
                job.tenant == *tenant
                    && job.state == JobState::Queued
                    && only.is_none_or(|only| *only == job.recording)
                    && is_committed(&state, &job.recording)
            })
            .min_by_key(|job| queue_order(job))
            .map(|job| job.recording);
        let Some(next) = next else {
            return Ok(None);
        };
        let Some(job) = state.transcription_jobs.get_mut(&next) else {
            return Ok(None);
        };
        job.state = JobState::Running;
        job.attempts = job.attempts.saturating_add(1);
        job.progress = 0;
        job.failure = None;
        job.updated_at = at;
        Ok(Some(job.clone()))
    }

    async fn transcription_progress(
        &self,
        recording: &RecordingId,
        progress: u8,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        let mut state = self.lock();
        if let Some(job) = state.transcription_jobs.get_mut(recording)
            && job.state == JobState::Running
        {
            job.progress = progress.min(100);
            job.updated_at = truncate_millis(&at);
        }
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
        let mut state = self.lock();
        let tenant = running_job(&mut state, recording)?.tenant.clone();
        let prepared = PreparedAuditEntry::new(&audit.entry(at, Some(&tenant), Some(recording)))?;
        let entry = one(state.append(vec![prepared])?)?;
        let job = running_job(&mut state, recording)?;
        job.state = JobState::Done;
        job.progress = 100;
        job.failure = None;
        job.updated_at = at;
        job.transcript = Some(transcript.clone());
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
        let mut state = self.lock();
        let tenant = running_job(&mut state, recording)?.tenant.clone();
        let prepared = PreparedAuditEntry::new(&audit.entry(at, Some(&tenant), Some(recording)))?;
        let entry = one(state.append(vec![prepared])?)?;
        let job = running_job(&mut state, recording)?;
        job.state = JobState::Failed;
        job.failure = Some(bounded_reason(reason));
        job.updated_at = at;
        Ok(entry)
    }

    async fn transcription_job(
        &self,
        recording: &RecordingId,
    ) -> Result<Option<TranscriptionJob>, CatalogError> {
        Ok(self.lock().transcription_jobs.get(recording).cloned())
    }

    async fn transcription_jobs(
        &self,
        tenant: &TenantId,
        state: Option<JobState>,
    ) -> Result<Vec<TranscriptionJob>, CatalogError> {
        let guard = self.lock();
        let mut jobs: Vec<TranscriptionJob> = guard
            .transcription_jobs
            .values()
            .filter(|job| job.tenant == *tenant && state.is_none_or(|state| state == job.state))
            .cloned()
            .collect();
        jobs.sort_by_key(queue_order);
        Ok(jobs)
    }
}
