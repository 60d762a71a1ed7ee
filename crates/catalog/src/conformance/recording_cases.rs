//! Conformance cases for tenants, recordings, erasure, lists and refusals.

use chrono::Duration;
use model::{Direction, StreamLabel};
use serde_json::json;

use super::fixtures::{
    base_time, content_hash, note, region_id, register, sample_recording, sample_tenant, tenant_id,
};
use crate::error::{CatalogError, Conflict};
use crate::time::truncate_millis;
use crate::types::{
    CommitOutcome, Cursor, NewRecording, NewRefusal, PageRequest, RecordingFilter, RecordingSource,
    RecordingState, RefusalSubject,
};
use crate::{AuditNote, Catalog};

async fn audit_len(catalog: &dyn Catalog) -> u64 {
    let verdict = catalog.verify_audit().await.expect("audit chain readable");
    verdict.expect("audit chain verifies").entries
}

async fn commit(catalog: &dyn Catalog, recordings: &[NewRecording]) -> Vec<CommitOutcome> {
    catalog
        .commit_recordings(recordings)
        .await
        .expect("commit succeeds")
}

pub async fn tenant_registration_round_trips_and_is_audited(catalog: &dyn Catalog) {
    let entry = register(catalog, "acme").await;
    assert_eq!(entry.seq, 1);
    assert_eq!(entry.action, "tenant.created");
    assert_eq!(entry.tenant, Some(tenant_id("acme")));
    assert_eq!(entry.at, truncate_millis(&base_time()));
    let stored = catalog
        .tenant(&tenant_id("acme"))
        .await
        .expect("read tenant");
    let expected = sample_tenant("acme");
    let stored = stored.expect("registered tenant is found");
    assert_eq!(stored.created_at, truncate_millis(&expected.created_at));
    assert_eq!(
        stored,
        crate::Tenant {
            created_at: stored.created_at,
            ..expected
        }
    );
    let missing = catalog
        .tenant(&tenant_id("nobody"))
        .await
        .expect("read tenant");
    assert_eq!(missing, None);
}

pub async fn registering_a_tenant_twice_conflicts(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let again = catalog
        .register_tenant(&sample_tenant("acme"), &note("tenant.created"))
        .await;
    assert!(
        matches!(again, Err(CatalogError::Conflict(Conflict::TenantExists(ref id))) if id.as_str() == "acme"),
        "second registration must conflict, got {again:?}"
    );
    assert_eq!(
        audit_len(catalog).await,
        1,
        "a refused registration is not audited"
    );
}

pub async fn tenants_are_listed_in_id_order(catalog: &dyn Catalog) {
    for id in ["zeta", "acme", "mid"] {
        register(catalog, id).await;
    }
    let ids: Vec<_> = catalog
        .tenants()
        .await
        .expect("list tenants")
        .into_iter()
        .map(|tenant| tenant.id.to_string())
        .collect();
    assert_eq!(ids, ["acme", "mid", "zeta"]);
}

pub async fn committed_recording_reads_back_whole(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let new = sample_recording("acme", 7);
    let outcomes = commit(catalog, std::slice::from_ref(&new)).await;
    assert_eq!(
        outcomes,
        [CommitOutcome::Committed {
            id: new.id,
            audit_seq: 2
        }]
    );
    let detail = catalog
        .recording(None, &new.id)
        .await
        .expect("read recording")
        .expect("committed recording is found");
    let recording = &detail.recording;
    assert_eq!(recording.id, new.id);
    assert_eq!(recording.tenant, new.tenant);
    assert_eq!(recording.source, RecordingSource::Import);
    assert_eq!(recording.external_id.as_deref(), Some("call-00007.wav"));
    assert_eq!(recording.started_at, truncate_millis(&new.started_at));
    assert_eq!(recording.created_at, truncate_millis(&new.created_at));
    assert_eq!(recording.duration_ms, 180_000);
    assert_eq!(recording.direction, Direction::Outbound);
    assert_eq!(
        recording.tags,
        ["batch-1", "sales"],
        "tags are a sorted set"
    );
    assert_eq!(recording.content_hash, new.content_hash);
    assert_eq!(recording.state, RecordingState::Committed);
    assert_eq!(recording.details, new.details);

    let ordinals: Vec<_> = detail.participants.iter().map(|p| p.ordinal).collect();
    assert_eq!(ordinals, [0, 1], "participants come ordered by ordinal");
    let caller = &detail.participants[0];
    let new_caller = &new.participants[1];
    assert_eq!(caller.address, new_caller.address);
    assert_eq!(caller.name, None);
    assert_eq!(caller.role, "caller");
    assert_eq!(caller.evidence.len(), 2);
    for (stored, given) in caller.evidence.iter().zip(&new_caller.evidence) {
        assert_eq!(stored.kind, given.kind);
        assert_eq!(stored.reference, given.reference);
        assert_eq!(stored.source, given.source);
        assert_eq!(stored.at, given.at.as_ref().map(truncate_millis));
    }
    assert_eq!(detail.participants[1], new.participants[0]);

    let labels: Vec<_> = detail.streams.iter().map(|s| s.label.to_string()).collect();
    assert_eq!(labels, ["left", "right"], "streams come ordered by label");
    assert_eq!(detail.streams[0], new.streams[1]);

    let key = catalog.sealed_key(&new.id).await.expect("read sealed key");
    assert_eq!(key, Some(new.sealed_key.clone()));

    let audit = catalog
        .audit_for_recording(&new.id)
        .await
        .expect("read audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "import.accepted");
    assert_eq!(audit[0].tenant, Some(new.tenant.clone()));
    assert_eq!(audit[0].at, truncate_millis(&new.created_at));
}

pub async fn recording_of_another_tenant_reads_as_absent(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "globex").await;
    let new = sample_recording("acme", 1);
    commit(catalog, std::slice::from_ref(&new)).await;
    let own = catalog.recording(Some(&tenant_id("acme")), &new.id).await;
    assert!(own.expect("read").is_some());
    let other = catalog.recording(Some(&tenant_id("globex")), &new.id).await;
    assert!(
        other.expect("read").is_none(),
        "tenants never see each other's recordings"
    );
}

pub async fn duplicate_content_hash_yields_duplicate_not_error(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let first = sample_recording("acme", 1);
    commit(catalog, std::slice::from_ref(&first)).await;

    // Same content again under a new id, once against the stored row and twice in one batch.
    let mut again = sample_recording("acme", 2);
    again.content_hash = first.content_hash;
    let fresh = sample_recording("acme", 3);
    let mut fresh_twin = sample_recording("acme", 4);
    fresh_twin.content_hash = fresh.content_hash;
    let outcomes = commit(catalog, &[again.clone(), fresh.clone(), fresh_twin.clone()]).await;
    assert_eq!(outcomes[0], CommitOutcome::Duplicate { existing: first.id });
    assert!(matches!(outcomes[1], CommitOutcome::Committed { id, .. } if id == fresh.id));
    assert_eq!(outcomes[2], CommitOutcome::Duplicate { existing: fresh.id });

    for skipped in [&again, &fresh_twin] {
        let read = catalog.recording(None, &skipped.id).await.expect("read");
        assert!(read.is_none(), "a duplicate writes nothing");
        assert_eq!(catalog.sealed_key(&skipped.id).await.expect("read"), None);
    }
    let found = catalog
        .recording_by_content_hash(&tenant_id("acme"), &first.content_hash)
        .await
        .expect("lookup");
    assert_eq!(found, Some(first.id));
    assert_eq!(
        audit_len(catalog).await,
        3,
        "tenant + two committed recordings"
    );
}

pub async fn same_content_in_two_tenants_is_two_recordings(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "globex").await;
    let ours = sample_recording("acme", 1);
    let mut theirs = sample_recording("globex", 1);
    theirs.content_hash = ours.content_hash;
    let outcomes = commit(catalog, &[ours.clone(), theirs.clone()]).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, CommitOutcome::Committed { .. }))
    );
    let lookup = catalog
        .recording_by_content_hash(&tenant_id("globex"), &ours.content_hash)
        .await
        .expect("lookup");
    assert_eq!(lookup, Some(theirs.id));
    let none = catalog
        .recording_by_content_hash(&tenant_id("globex"), &content_hash("globex", 99))
        .await
        .expect("lookup");
    assert_eq!(none, None);
}

pub async fn commit_for_unknown_tenant_writes_nothing(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let good = sample_recording("acme", 1);
    let orphan = sample_recording("nobody", 1);
    let result = catalog.commit_recordings(&[good.clone(), orphan]).await;
    assert!(
        matches!(result, Err(CatalogError::NotFound { what: "tenant", ref id }) if id == "nobody"),
        "unknown tenant must be NotFound, got {result:?}"
    );
    let read = catalog.recording(None, &good.id).await.expect("read");
    assert!(read.is_none(), "the whole batch rolls back");
    assert_eq!(
        audit_len(catalog).await,
        1,
        "no audit entry of a rolled-back batch survives"
    );
}

pub async fn stream_outside_tenant_region_conflicts_and_writes_nothing(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let mut elsewhere = sample_recording("acme", 1);
    elsewhere.streams[0].region = region_id("us-east");
    let result = catalog.commit_recordings(&[elsewhere.clone()]).await;
    assert!(
        matches!(
            result,
            Err(CatalogError::Conflict(Conflict::RegionMismatch { .. }))
        ),
        "a stream in another region must conflict, got {result:?}"
    );
    let read = catalog.recording(None, &elsewhere.id).await.expect("read");
    assert!(read.is_none());
}

pub async fn recording_id_reused_for_other_content_conflicts(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let first = sample_recording("acme", 1);
    commit(catalog, std::slice::from_ref(&first)).await;
    let mut clash = sample_recording("acme", 2);
    clash.id = first.id;
    let result = catalog.commit_recordings(&[clash]).await;
    assert!(
        matches!(result, Err(CatalogError::Conflict(Conflict::RecordingIdTaken(id))) if id == first.id),
        "id reuse must conflict, got {result:?}"
    );
    let mut twins = (sample_recording("acme", 3), sample_recording("acme", 4));
    twins.1.id = twins.0.id;
    let result = catalog.commit_recordings(&[twins.0, twins.1]).await;
    assert!(
        matches!(
            result,
            Err(CatalogError::Conflict(Conflict::RecordingIdTaken(_)))
        ),
        "id reuse inside one batch must conflict, got {result:?}"
    );
}

pub async fn invalid_recordings_are_rejected_before_anything_is_written(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let mut cases: Vec<(&str, NewRecording)> = Vec::new();
    let mut bad = sample_recording("acme", 1);
    bad.tags.push("x".repeat(65));
    cases.push(("oversized tag", bad));
    let mut bad = sample_recording("acme", 2);
    bad.participants[1].ordinal = bad.participants[0].ordinal;
    cases.push(("repeated participant ordinal", bad));
    let mut bad = sample_recording("acme", 3);
    bad.streams[1].label = StreamLabel::new("right").expect("valid label");
    cases.push(("repeated stream label", bad));
    let mut bad = sample_recording("acme", 4);
    bad.sealed_key.clear();
    cases.push(("empty sealed key", bad));
    let mut bad = sample_recording("acme", 5);
    bad.duration_ms = u64::MAX;
    cases.push(("duration beyond storage range", bad));
    let mut bad = sample_recording("acme", 6);
    bad.details = json!({ "blob": "x".repeat(70_000) });
    cases.push(("oversized details", bad));
    for (case, recording) in cases {
        let result = catalog
            .commit_recordings(&[sample_recording("acme", 9), recording])
            .await;
        assert!(
            matches!(result, Err(CatalogError::Invalid(_))),
            "{case} must be Invalid, got {result:?}"
        );
    }
    let count = catalog
        .count_recordings(&RecordingFilter::default())
        .await
        .expect("count");
    assert_eq!(count, 0);
}

pub async fn erasure_destroys_sealed_key_and_is_final(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let new = sample_recording("acme", 1);
    commit(catalog, std::slice::from_ref(&new)).await;
    let at = base_time() + Duration::days(2);
    let entry = catalog
        .erase_recording(&new.id, at, &note("recording.erased"))
        .await
        .expect("erase");
    assert_eq!(entry.recording, Some(new.id));
    assert_eq!(entry.tenant, Some(new.tenant.clone()));
    assert_eq!(entry.at, truncate_millis(&at));
    assert_eq!(catalog.sealed_key(&new.id).await.expect("read"), None);
    let detail = catalog.recording(None, &new.id).await.expect("read");
    let state = detail
        .expect("erased recording metadata remains")
        .recording
        .state;
    assert_eq!(state, RecordingState::Erased);

    let again = catalog
        .erase_recording(&new.id, at, &note("recording.erased"))
        .await;
    assert!(
        matches!(
            again,
            Err(CatalogError::Conflict(Conflict::Transition {
                from: RecordingState::Erased,
                to: RecordingState::Erased,
                ..
            }))
        ),
        "erasing twice must conflict, got {again:?}"
    );
    let actions: Vec<_> = catalog
        .audit_for_recording(&new.id)
        .await
        .expect("read audit")
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, ["import.accepted", "recording.erased"]);
}

pub async fn erased_recording_cannot_be_committed_again(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let new = sample_recording("acme", 1);
    commit(catalog, std::slice::from_ref(&new)).await;
    catalog
        .erase_recording(&new.id, base_time(), &note("recording.erased"))
        .await
        .expect("erase");
    let mut revived = new.clone();
    revived.content_hash = content_hash("acme", 500);
    let result = catalog.commit_recordings(&[revived]).await;
    assert!(
        matches!(
            result,
            Err(CatalogError::Conflict(Conflict::Transition {
                from: RecordingState::Erased,
                to: RecordingState::Committed,
                ..
            }))
        ),
        "committing an erased recording must conflict, got {result:?}"
    );
    assert_eq!(catalog.sealed_key(&new.id).await.expect("read"), None);
}

pub async fn erasing_an_unknown_recording_is_not_found(catalog: &dyn Catalog) {
    let id = sample_recording("acme", 1).id;
    let result = catalog
        .erase_recording(&id, base_time(), &note("recording.erased"))
        .await;
    assert!(
        matches!(
            result,
            Err(CatalogError::NotFound {
                what: "recording",
                ..
            })
        ),
        "got {result:?}"
    );
    assert_eq!(audit_len(catalog).await, 0);
}

pub async fn list_pages_newest_first_without_gaps_or_repeats(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    // 25 recordings; pairs share a start time so the id breaks ties.
    let recordings: Vec<_> = (0..25)
        .map(|index| {
            let mut recording = sample_recording("acme", index);
            recording.started_at = base_time() + Duration::minutes(i64::from(index / 2));
            recording
        })
        .collect();
    commit(catalog, &recordings).await;
    let mut expected: Vec<_> = recordings
        .iter()
        .map(|r| (truncate_millis(&r.started_at), r.id))
        .collect();
    expected.sort_by(|left, right| right.cmp(left));

    let mut seen = Vec::new();
    let mut page = PageRequest::first(10);
    let mut pages = 0;
    loop {
        let result = catalog
            .list_recordings(&RecordingFilter::default(), &page)
            .await
            .expect("list");
        pages += 1;
        assert!(result.items.len() <= 10);
        seen.extend(result.items.iter().map(|r| (r.started_at, r.id)));
        match result.next {
            Some(cursor) => {
                let text = cursor.to_string();
                page.after = Some(text.parse::<Cursor>().expect("cursor round-trips"));
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);

    let exact = catalog
        .list_recordings(&RecordingFilter::default(), &PageRequest::first(25))
        .await
        .expect("list");
    assert_eq!(exact.items.len(), 25);
    assert_eq!(
        exact.next, None,
        "a page that holds everything has no next cursor"
    );
}

pub async fn list_and_count_apply_every_filter(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "globex").await;
    let ours: Vec<_> = (0..6)
        .map(|index| sample_recording("acme", index))
        .collect();
    let theirs: Vec<_> = (0..3)
        .map(|index| sample_recording("globex", index))
        .collect();
    commit(catalog, &ours).await;
    commit(catalog, &theirs).await;
    catalog
        .erase_recording(&ours[5].id, base_time(), &note("recording.erased"))
        .await
        .expect("erase");

    let acme = Some(tenant_id("acme"));
    let cases: Vec<(&str, RecordingFilter, Vec<u32>)> = vec![
        ("everything", RecordingFilter::default(), vec![]),
        (
            "tenant",
            RecordingFilter {
                tenant: acme.clone(),
                ..Default::default()
            },
            vec![5, 4, 3, 2, 1, 0],
        ),
        (
            "time range",
            RecordingFilter {
                tenant: acme.clone(),
                started_from: Some(base_time() + Duration::minutes(1)),
                started_before: Some(base_time() + Duration::minutes(4)),
                ..Default::default()
            },
            vec![3, 2, 1],
        ),
        (
            "state",
            RecordingFilter {
                tenant: acme.clone(),
                state: Some(RecordingState::Erased),
                ..Default::default()
            },
            vec![5],
        ),
        (
            "direction",
            RecordingFilter {
                tenant: acme.clone(),
                direction: Some(Direction::Outbound),
                ..Default::default()
            },
            vec![5, 3, 1],
        ),
        (
            "tag",
            RecordingFilter {
                tenant: acme.clone(),
                tag: Some("batch-2".into()),
                ..Default::default()
            },
            vec![5, 2],
        ),
        (
            "nothing matches",
            RecordingFilter {
                tenant: acme.clone(),
                tag: Some("no-such-tag".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            "participant address",
            RecordingFilter {
                tenant: acme.clone(),
                participant: Some("tel:+441632960003".into()),
                ..Default::default()
            },
            vec![3],
        ),
        (
            "participant address shared by every call",
            RecordingFilter {
                tenant: acme.clone(),
                participant: Some("sip:agent-7@contact.example.com".into()),
                direction: Some(Direction::Inbound),
                ..Default::default()
            },
            vec![4, 2, 0],
        ),
        (
            "duration bounds inclusive",
            RecordingFilter {
                tenant: acme.clone(),
                min_duration_ms: Some(180_000),
                max_duration_ms: Some(180_000),
                ..Default::default()
            },
            vec![5, 4, 3, 2, 1, 0],
        ),
        (
            "duration shorter than every call",
            RecordingFilter {
                tenant: acme.clone(),
                max_duration_ms: Some(179_999),
                ..Default::default()
            },
            vec![],
        ),
        (
            "duration longer than every call",
            RecordingFilter {
                tenant: acme.clone(),
                min_duration_ms: Some(180_001),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (case, filter, indexes) in cases {
        let page = catalog
            .list_recordings(&filter, &PageRequest::first(100))
            .await
            .expect("list");
        let count = catalog.count_recordings(&filter).await.expect("count");
        assert_eq!(
            count,
            page.items.len() as u64,
            "{case}: count matches the list"
        );
        if case == "everything" {
            assert_eq!(count, 9, "{case}");
            continue;
        }
        let ids: Vec<_> = page.items.iter().map(|r| r.id).collect();
        let expected: Vec<_> = indexes.iter().map(|&i| ours[i as usize].id).collect();
        assert_eq!(ids, expected, "{case}");
    }
}

pub async fn list_rejects_bad_page_limits_and_cursors(catalog: &dyn Catalog) {
    for limit in [0, crate::MAX_PAGE + 1] {
        let result = catalog
            .list_recordings(&RecordingFilter::default(), &PageRequest::first(limit))
            .await;
        assert!(
            matches!(result, Err(CatalogError::Invalid(_))),
            "limit {limit}: {result:?}"
        );
    }
    for text in ["", "12", "x.y", "12.not-a-uuid"] {
        assert!(
            text.parse::<Cursor>().is_err(),
            "{text:?} accepted as a cursor"
        );
    }
}

pub async fn refusals_are_counted_per_tenant_and_reason_and_audited(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "globex").await;
    let refusal = |tenant: &str, reason: &str, subject| NewRefusal {
        tenant: tenant_id(tenant),
        at: base_time() + Duration::seconds(30),
        reason: reason.into(),
        source: RecordingSource::Import,
        subject,
        audit: AuditNote::new("cli:root", "import.refused", json!({ "reason": reason })),
    };
    let entries = catalog
        .record_refusals(&[
            refusal(
                "acme",
                "consent.missing",
                RefusalSubject::ContentHash([1; 32]),
            ),
            refusal(
                "acme",
                "consent.missing",
                RefusalSubject::ContentHash([2; 32]),
            ),
            refusal(
                "acme",
                "client.unknown",
                RefusalSubject::Client("sbc-2".into()),
            ),
            refusal(
                "globex",
                "consent.missing",
                RefusalSubject::ContentHash([3; 32]),
            ),
        ])
        .await
        .expect("record refusals");
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().all(|entry| entry.action == "import.refused"));
    assert_eq!(entries[3].tenant, Some(tenant_id("globex")));
    let counts = catalog
        .refusal_counts(&tenant_id("acme"))
        .await
        .expect("counts");
    assert_eq!(
        counts,
        [
            ("client.unknown".to_owned(), 1),
            ("consent.missing".to_owned(), 2)
        ]
    );
    let none = catalog
        .refusal_counts(&tenant_id("initech"))
        .await
        .expect("counts");
    assert!(none.is_empty());

    let unknown = catalog
        .record_refusals(&[
            refusal(
                "acme",
                "consent.missing",
                RefusalSubject::ContentHash([4; 32]),
            ),
            refusal(
                "initech",
                "consent.missing",
                RefusalSubject::ContentHash([5; 32]),
            ),
        ])
        .await;
    assert!(
        matches!(unknown, Err(CatalogError::NotFound { .. })),
        "{unknown:?}"
    );
    let counts = catalog
        .refusal_counts(&tenant_id("acme"))
        .await
        .expect("counts");
    assert_eq!(
        counts[1],
        ("consent.missing".to_owned(), 2),
        "failed batch wrote nothing"
    );
    assert_eq!(audit_len(catalog).await, 6);
}

pub async fn large_batch_commits_across_statement_chunks(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let mut recordings: Vec<_> = (0..900)
        .map(|index| sample_recording("acme", index))
        .collect();
    let mut repeat = sample_recording("acme", 5_000);
    repeat.content_hash = recordings[3].content_hash;
    recordings.push(repeat);
    let outcomes = commit(catalog, &recordings).await;
    assert_eq!(outcomes.len(), 901);
    for (index, outcome) in outcomes.iter().take(900).enumerate() {
        assert_eq!(
            *outcome,
            CommitOutcome::Committed {
                id: recordings[index].id,
                audit_seq: index as u64 + 2
            }
        );
    }
    assert_eq!(
        outcomes[900],
        CommitOutcome::Duplicate {
            existing: recordings[3].id
        }
    );
    let count = catalog
        .count_recordings(&RecordingFilter::default())
        .await
        .expect("count");
    assert_eq!(count, 900);
    let last = catalog
        .recording(None, &recordings[899].id)
        .await
        .expect("read")
        .expect("last of the batch stored");
    assert_eq!(last.participants.len(), 2);
    assert_eq!(last.streams.len(), 2);
    assert_eq!(audit_len(catalog).await, 901);
}
