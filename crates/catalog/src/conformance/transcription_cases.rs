//! Conformance cases for the transcription queue.

use chrono::Duration;

use super::fixtures::{base_time, note, register, sample_recording, tenant_id};
use crate::Catalog;
use crate::error::CatalogError;
use crate::jobs::{JobState, TranscriptObject};
use crate::types::NewRecording;

async fn committed(catalog: &dyn Catalog, tenant: &str, index: u32) -> NewRecording {
    let new = sample_recording(tenant, index);
    catalog
        .commit_recordings(std::slice::from_ref(&new))
        .await
        .expect("commit succeeds");
    new
}

fn transcript(index: u8) -> TranscriptObject {
    TranscriptObject {
        object_key: format!("acme/transcript-{index}"),
        object_size: 100,
        object_sha256: [index; 32],
        plaintext_size: 80,
        plaintext_sha256: [index + 1; 32],
        segments: 3,
        model: "whisper tiny.en".into(),
    }
}

pub async fn queueing_a_transcription_twice_keeps_one_job(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let first = committed(catalog, "acme", 1).await;
    let unknown = sample_recording("acme", 2).id;
    let queued = catalog
        .queue_transcriptions(&[first.id, unknown], base_time())
        .await
        .expect("queue");
    assert_eq!(queued, vec![first.id], "unknown recordings are skipped");
    let again = catalog
        .queue_transcriptions(&[first.id], base_time() + Duration::seconds(5))
        .await
        .expect("queue again");
    assert!(again.is_empty(), "a recording has at most one job");
    let job = catalog
        .transcription_job(&first.id)
        .await
        .expect("read")
        .expect("job exists");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.queued_at, crate::time::truncate_millis(&base_time()));
    let jobs = catalog
        .transcription_jobs(&tenant_id("acme"), None)
        .await
        .expect("list");
    assert_eq!(jobs.len(), 1);
    let missing = catalog
        .recordings_without_transcription(&tenant_id("acme"), 10)
        .await
        .expect("sweep");
    assert!(missing.is_empty());
}

pub async fn claimed_job_finishes_with_its_transcript_and_audit(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let older = committed(catalog, "acme", 1).await;
    let newer = committed(catalog, "acme", 2).await;
    let missing = catalog
        .recordings_without_transcription(&tenant_id("acme"), 10)
        .await
        .expect("sweep");
    assert_eq!(missing.len(), 2);
    catalog
        .queue_transcriptions(&[older.id], base_time())
        .await
        .expect("queue");
    catalog
        .queue_transcriptions(&[newer.id], base_time() + Duration::seconds(1))
        .await
        .expect("queue");
    let now = base_time() + Duration::minutes(1);
    let claimed = catalog
        .claim_transcription(&tenant_id("acme"), None, now, base_time())
        .await
        .expect("claim")
        .expect("a job is queued");
    assert_eq!(claimed.recording, older.id, "oldest first");
    assert_eq!(claimed.state, JobState::Running);
    assert_eq!(claimed.attempts, 1);
    catalog
        .transcription_progress(&older.id, 50, now)
        .await
        .expect("progress");
    let entry = catalog
        .finish_transcription(&older.id, &transcript(7), now, &note("transcription.done"))
        .await
        .expect("finish");
    assert_eq!(entry.recording, Some(older.id));
    assert_eq!(entry.action, "transcription.done");
    let done = catalog
        .transcription_job(&older.id)
        .await
        .expect("read")
        .expect("job");
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.progress, 100);
    assert_eq!(done.transcript, Some(transcript(7)));
    let finished_twice = catalog
        .finish_transcription(&older.id, &transcript(7), now, &note("transcription.done"))
        .await;
    assert!(matches!(finished_twice, Err(CatalogError::Invalid(_))));

    let second = catalog
        .claim_transcription(&tenant_id("acme"), None, now, base_time())
        .await
        .expect("claim")
        .expect("second job");
    assert_eq!(second.recording, newer.id);
    catalog
        .fail_transcription(
            &newer.id,
            "model missing",
            now,
            &note("transcription.failed"),
        )
        .await
        .expect("fail");
    let failed = catalog
        .transcription_job(&newer.id)
        .await
        .expect("read")
        .expect("job");
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.failure.as_deref(), Some("model missing"));
    let nothing = catalog
        .claim_transcription(&tenant_id("acme"), None, now, base_time())
        .await
        .expect("claim");
    assert_eq!(nothing, None, "done and failed jobs are not claimed again");
    let requeued = catalog
        .requeue_transcription(&newer.id, now)
        .await
        .expect("requeue");
    assert_eq!(requeued.state, JobState::Queued);
    assert_eq!(requeued.attempts, 1);
    let only = catalog
        .claim_transcription(&tenant_id("acme"), Some(&newer.id), now, base_time())
        .await
        .expect("claim")
        .expect("requeued job");
    assert_eq!(only.attempts, 2);
    assert_eq!(
        catalog
            .transcription_jobs(&tenant_id("acme"), Some(JobState::Done))
            .await
            .expect("list")
            .len(),
        1
    );
}

pub async fn stale_running_job_is_claimed_again(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let new = committed(catalog, "acme", 1).await;
    catalog
        .queue_transcriptions(&[new.id], base_time())
        .await
        .expect("queue");
    let started = base_time() + Duration::minutes(1);
    catalog
        .claim_transcription(&tenant_id("acme"), None, started, base_time())
        .await
        .expect("claim")
        .expect("job");
    let soon = started + Duration::minutes(1);
    let busy = catalog
        .claim_transcription(
            &tenant_id("acme"),
            None,
            soon,
            started - Duration::minutes(15),
        )
        .await
        .expect("claim");
    assert_eq!(busy, None, "a live running job is left alone");
    let later = started + Duration::hours(1);
    let resumed = catalog
        .claim_transcription(
            &tenant_id("acme"),
            None,
            later,
            later - Duration::minutes(15),
        )
        .await
        .expect("claim")
        .expect("the crashed job is claimed again");
    assert_eq!(resumed.recording, new.id);
    assert_eq!(resumed.attempts, 2);
}

pub async fn erased_recording_is_never_transcribed(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let new = committed(catalog, "acme", 1).await;
    catalog
        .queue_transcriptions(&[new.id], base_time())
        .await
        .expect("queue");
    catalog
        .erase_recording(&new.id, base_time(), &note("recording.erased"))
        .await
        .expect("erase");
    let claimed = catalog
        .claim_transcription(&tenant_id("acme"), None, base_time(), base_time())
        .await
        .expect("claim");
    assert_eq!(claimed, None);
    let requeue = catalog.requeue_transcription(&new.id, base_time()).await;
    assert!(matches!(requeue, Err(CatalogError::Invalid(_))));
    let queued = catalog
        .queue_transcriptions(&[new.id], base_time())
        .await
        .expect("queue");
    assert!(queued.is_empty());
}
