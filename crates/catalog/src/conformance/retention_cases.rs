//! Conformance cases for minimum retention and the expiry query ([`crate::Retention`]) and the
//! batched erasure ([`crate::Governance::shred_recordings`]).

use std::collections::BTreeMap;

use chrono::Duration;

use super::fixtures::{base_time, note, register, sample_recording, tenant_id};
use crate::governance::{HoldScope, NewHold, ShredRequest};
use crate::retention::{
    ExpiryQuery, FloorChange, FloorOutcome, FloorScope, RetentionPolicy, RuleSource, days_after,
};
use crate::types::{NewRecording, RecordingState};
use crate::{Catalog, CatalogError, Conflict};

fn change(tenant: &str, scope: FloorScope, minimum_days: u32) -> FloorChange {
    FloorChange {
        tenant: tenant_id(tenant),
        scope,
        minimum_days,
        at: base_time() + Duration::days(1),
        actor: "cli:compliance".into(),
        via: "cli".into(),
    }
}

fn shred_at(id: model::RecordingId, days: i64) -> ShredRequest {
    ShredRequest {
        recording: id,
        at: base_time() + Duration::days(days),
        pseudonym_salt: [7; 32],
        audit: note("recording.erased"),
    }
}

fn tagged(tenant: &str, index: u32, tags: &[&str]) -> NewRecording {
    let mut recording = sample_recording(tenant, index);
    recording.tags = tags.iter().map(|tag| (*tag).to_owned()).collect();
    recording
}

pub async fn minimum_retention_can_be_raised_but_never_shortened(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let set = catalog
        .set_retention_floor(&change("acme", FloorScope::Tenant, 365))
        .await
        .expect("set");
    let FloorOutcome::Set { entry } = set else {
        panic!("first floor: {set:?}")
    };
    assert_eq!(entry.action, "retention.minimum-set");
    let raised = catalog
        .set_retention_floor(&change("acme", FloorScope::Tenant, 2555))
        .await
        .expect("raise");
    let FloorOutcome::Raised { previous, entry } = raised else {
        panic!("raise: {raised:?}")
    };
    assert_eq!(previous, 365);
    assert_eq!(entry.action, "retention.minimum-raised");
    assert_eq!(
        catalog
            .set_retention_floor(&change("acme", FloorScope::Tenant, 2555))
            .await
            .expect("same"),
        FloorOutcome::Unchanged
    );

    let refused = catalog
        .set_retention_floor(&change("acme", FloorScope::Tenant, 90))
        .await
        .expect("a refusal is an outcome");
    let FloorOutcome::Refused { stored, entry } = refused else {
        panic!("shorten: {refused:?}")
    };
    assert_eq!(stored.minimum_days, 2555);
    assert_eq!(entry.action, "retention.shorten-refused");
    assert!(entry.details.contains("\"requested_minimum_days\":90"));
    assert!(entry.details.contains("\"stored_minimum_days\":2555"));

    // A tag's floor is its own scope.
    catalog
        .set_retention_floor(&change("acme", FloorScope::Tag("mifid".into()), 3000))
        .await
        .expect("tag floor");
    let floors = catalog
        .retention_floors(Some(&tenant_id("acme")))
        .await
        .expect("read");
    let summary: Vec<(FloorScope, u32)> = floors
        .iter()
        .map(|floor| (floor.scope.clone(), floor.minimum_days))
        .collect();
    assert_eq!(
        summary,
        vec![
            (FloorScope::Tenant, 2555),
            (FloorScope::Tag("mifid".into()), 3000)
        ]
    );
    assert_eq!(floors[0].set_by, "cli:compliance");

    let unknown = catalog
        .set_retention_floor(&change("nobody", FloorScope::Tenant, 10))
        .await;
    assert!(matches!(unknown, Err(CatalogError::NotFound { .. })));
    let zero = catalog
        .set_retention_floor(&change("acme", FloorScope::Tenant, 0))
        .await;
    assert!(matches!(zero, Err(CatalogError::Invalid(_))));
    assert!(catalog.verify_audit().await.expect("read").is_ok());
}

pub async fn erasure_inside_minimum_retention_is_refused_with_its_end(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let plain = tagged("acme", 1, &[]);
    let mifid = tagged("acme", 2, &["mifid", "sales"]);
    catalog
        .commit_recordings(&[plain.clone(), mifid.clone()])
        .await
        .expect("commit");
    catalog
        .set_retention_floor(&change("acme", FloorScope::Tenant, 30))
        .await
        .expect("tenant floor");
    catalog
        .set_retention_floor(&change("acme", FloorScope::Tag("mifid".into()), 2555))
        .await
        .expect("tag floor");

    // Day 10: both inside the tenant floor; the tagged one inside the longer tag floor.
    let results = catalog
        .shred_recordings(&[shred_at(plain.id, 10), shred_at(mifid.id, 10)])
        .await
        .expect("batch");
    assert_eq!(results.len(), 2);
    match &results[0] {
        Err(CatalogError::Conflict(Conflict::MinimumRetention {
            minimum_days,
            until,
            scope,
            ..
        })) => {
            assert_eq!(*minimum_days, 30);
            assert_eq!(scope, "tenant");
            assert_eq!(
                *until,
                days_after(crate::time::truncate_millis(&plain.started_at), 30)
            );
        }
        other => panic!("plain at day 10: {other:?}"),
    }
    assert!(matches!(
        &results[1],
        Err(CatalogError::Conflict(Conflict::MinimumRetention { minimum_days: 2555, scope, .. })) if scope == "tag:mifid"
    ));
    let erase = catalog
        .erase_recording(
            &plain.id,
            base_time() + Duration::days(10),
            &note("recording.erased"),
        )
        .await;
    assert!(
        matches!(
            erase,
            Err(CatalogError::Conflict(Conflict::MinimumRetention { .. }))
        ),
        "{erase:?}"
    );
    assert!(catalog.sealed_key(&plain.id).await.expect("read").is_some());

    // Day 31: the untagged one may go, the tagged one may not; one refusal spoils nothing.
    let results = catalog
        .shred_recordings(&[shred_at(mifid.id, 31), shred_at(plain.id, 31)])
        .await
        .expect("batch");
    assert!(results[0].is_err());
    let outcome = results[1].as_ref().expect("erased after its floor");
    assert_eq!(outcome.entry.action, "recording.erased");
    assert_eq!(catalog.sealed_key(&plain.id).await.expect("read"), None);
    assert!(catalog.sealed_key(&mifid.id).await.expect("read").is_some());
    assert!(catalog.verify_audit().await.expect("read").is_ok());
}

pub async fn batched_shredding_erases_each_recording_and_refuses_held_and_unknown(
    catalog: &dyn Catalog,
) {
    register(catalog, "acme").await;
    let recordings: Vec<NewRecording> = (0..5).map(|i| sample_recording("acme", i)).collect();
    catalog
        .commit_recordings(&recordings)
        .await
        .expect("commit");
    let (hold, _) = catalog
        .place_hold(&NewHold {
            tenant: tenant_id("acme"),
            scope: HoldScope::Recording(recordings[2].id),
            reason: "case 7".into(),
            holder: "cli:counsel".into(),
            at: base_time(),
        })
        .await
        .expect("hold");
    let unknown = sample_recording("acme", 99).id;
    let mut requests: Vec<ShredRequest> = recordings.iter().map(|r| shred_at(r.id, 2)).collect();
    requests.push(shred_at(unknown, 2));
    requests.push(shred_at(recordings[0].id, 2));
    let results = catalog.shred_recordings(&requests).await.expect("batch");
    assert_eq!(results.len(), 7);
    for index in [0, 1, 3, 4] {
        let outcome = results[index].as_ref().expect("erased");
        assert_eq!(outcome.participants_pseudonymised, 2);
        assert_eq!(
            catalog
                .recording(None, &recordings[index].id)
                .await
                .expect("read")
                .expect("kept")
                .recording
                .state,
            RecordingState::Erased
        );
    }
    assert!(
        matches!(&results[2], Err(CatalogError::Conflict(Conflict::Held { holds, .. })) if holds == &vec![hold.id])
    );
    assert!(matches!(&results[5], Err(CatalogError::NotFound { .. })));
    // The same recording twice in one batch: the second finds it erased.
    assert!(matches!(
        &results[6],
        Err(CatalogError::Conflict(Conflict::Transition { .. }))
    ));
    let seqs: Vec<u64> = results
        .iter()
        .filter_map(|result| result.as_ref().ok())
        .map(|outcome| outcome.entry.seq)
        .collect();
    assert!(
        seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{seqs:?}"
    );
    assert!(catalog.verify_audit().await.expect("read").is_ok());
}

pub async fn expired_recordings_follow_tag_rules_floors_and_pages(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "other").await;
    // Started at base + index minutes.
    let untagged = tagged("acme", 1, &[]);
    let qa = tagged("acme", 2, &["qa"]);
    let qa_and_legal = tagged("acme", 3, &["qa", "legal"]);
    let unknown_tag = tagged("acme", 4, &["queue-7"]);
    let mifid_qa = tagged("acme", 5, &["qa", "mifid"]);
    let other_tenant = tagged("other", 6, &["qa"]);
    catalog
        .commit_recordings(&[
            untagged.clone(),
            qa.clone(),
            qa_and_legal.clone(),
            unknown_tag.clone(),
            mifid_qa.clone(),
        ])
        .await
        .expect("commit");
    catalog
        .commit_recordings(std::slice::from_ref(&other_tenant))
        .await
        .expect("commit");
    catalog
        .set_retention_floor(&change("acme", FloorScope::Tag("mifid".into()), 400))
        .await
        .expect("floor");
    let policy = RetentionPolicy {
        default_days: 365,
        tags: BTreeMap::from([("qa".into(), 90), ("legal".into(), 3650)]),
    };
    assert_eq!(
        policy.retention_of(&["qa".into(), "legal".into()]),
        (3650, RuleSource::Tag("legal".into()))
    );
    assert_eq!(
        policy.retention_of(&["queue-7".into()]),
        (365, RuleSource::TenantDefault)
    );
    let query = |days: i64, limit: u32| ExpiryQuery {
        tenant: tenant_id("acme"),
        policy: policy.clone(),
        now: base_time() + Duration::days(days),
        after: None,
        limit,
    };
    let ids = |page: &crate::retention::ExpiredPage| -> Vec<model::RecordingId> {
        page.items.iter().map(|item| item.recording.id).collect()
    };

    let day_91 = catalog
        .expired_recordings(&query(91, 100))
        .await
        .expect("read");
    assert_eq!(ids(&day_91), vec![qa.id], "only the 90-day qa call is due");
    assert_eq!(day_91.next, None);
    assert_eq!(
        day_91.items[0].retain_until.rule,
        RuleSource::Tag("qa".into())
    );

    // Day 366: untagged and unknown-tag ones (default 365) too; mifid+qa waits for its
    // 400-day floor; qa+legal keeps its 3650 days.
    let day_366 = catalog
        .expired_recordings(&query(366, 100))
        .await
        .expect("read");
    assert_eq!(ids(&day_366), vec![untagged.id, qa.id, unknown_tag.id]);
    let day_401 = catalog
        .expired_recordings(&query(401, 100))
        .await
        .expect("read");
    assert_eq!(
        ids(&day_401),
        vec![untagged.id, qa.id, unknown_tag.id, mifid_qa.id]
    );
    assert_eq!(day_401.items[3].retain_until.minimum_days, Some(400));

    // Pages, oldest first, without gaps or repeats.
    let first = catalog
        .expired_recordings(&query(401, 3))
        .await
        .expect("read");
    assert_eq!(ids(&first), vec![untagged.id, qa.id, unknown_tag.id]);
    let mut next = query(401, 3);
    next.after = first.next;
    let second = catalog.expired_recordings(&next).await.expect("read");
    assert_eq!(ids(&second), vec![mifid_qa.id]);
    assert_eq!(second.next, None);

    // Erased recordings are not expired any more.
    catalog
        .shred_recording(&shred_at(qa.id, 401))
        .await
        .expect("erase");
    let after_erasure = catalog
        .expired_recordings(&query(401, 100))
        .await
        .expect("read");
    assert_eq!(
        ids(&after_erasure),
        vec![untagged.id, unknown_tag.id, mifid_qa.id]
    );
    let bad = catalog.expired_recordings(&query(401, 0)).await;
    assert!(matches!(bad, Err(CatalogError::Invalid(_))));
}

/// Generates the retention conformance cases for a backend, like
/// [`conformance_tests!`](crate::conformance_tests).
#[macro_export]
macro_rules! retention_conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            minimum_retention_can_be_raised_but_never_shortened,
            erasure_inside_minimum_retention_is_refused_with_its_end,
            batched_shredding_erases_each_recording_and_refuses_held_and_unknown,
            expired_recordings_follow_tag_rules_floors_and_pages,
        );
    };
}
