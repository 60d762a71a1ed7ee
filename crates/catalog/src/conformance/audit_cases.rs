//! Conformance cases for the audit chain.

use chrono::Duration;
use serde_json::json;

use super::fixtures::{base_time, note, register, sample_recording, tenant_id};
use crate::audit::{AuditFields, GENESIS_HASH, NewAuditEntry, chain_hash};
use crate::error::CatalogError;
use crate::time::truncate_millis;
use crate::{AuditEntry, Catalog};

fn shown(index: i64) -> NewAuditEntry {
    NewAuditEntry {
        at: base_time() + Duration::seconds(index),
        actor: "token:7f3a".into(),
        action: "recording.listed".into(),
        tenant: Some(tenant_id("acme")),
        recording: None,
        details: json!({ "page": index, "filter": { "state": "committed" } }),
    }
}

fn recomputed(previous: &[u8; 32], entry: &AuditEntry) -> [u8; 32] {
    let tenant = entry.tenant.as_ref().map(|tenant| tenant.to_string());
    let recording = entry.recording.map(|recording| recording.to_string());
    chain_hash(
        previous,
        &AuditFields {
            seq: entry.seq,
            at_millis: entry.at.timestamp_millis(),
            actor: &entry.actor,
            action: &entry.action,
            tenant: tenant.as_deref(),
            recording: recording.as_deref(),
            details: &entry.details,
        },
    )
}

pub async fn audit_append_assigns_consecutive_seqs_and_chains_hashes(catalog: &dyn Catalog) {
    let first = catalog
        .append_audit(&[shown(0), shown(1)])
        .await
        .expect("append");
    let second = catalog.append_audit(&[shown(2)]).await.expect("append");
    let entries: Vec<_> = first.into_iter().chain(second).collect();
    let seqs: Vec<_> = entries.iter().map(|entry| entry.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    let mut previous = GENESIS_HASH;
    for entry in &entries {
        assert_eq!(
            entry.prev_hash, previous,
            "entry {} links to its predecessor",
            entry.seq
        );
        assert_eq!(
            entry.hash,
            recomputed(&previous, entry),
            "entry {} hash",
            entry.seq
        );
        previous = entry.hash;
    }
    assert_eq!(
        entries[0].details, r#"{"filter":{"state":"committed"},"page":0}"#,
        "details are stored as the exact serialized text"
    );
    let read = catalog.audit_entries(0, 10).await.expect("read");
    assert_eq!(read, entries, "what is read back is what append returned");
    let summary = catalog
        .verify_audit()
        .await
        .expect("readable")
        .expect("verifies");
    assert_eq!(summary.entries, 3);
    assert_eq!(summary.last_hash, entries[2].hash);
}

pub async fn audit_times_keep_millisecond_precision(catalog: &dyn Catalog) {
    let entries = catalog.append_audit(&[shown(0)]).await.expect("append");
    assert_eq!(entries[0].at, truncate_millis(&shown(0).at));
    let read = catalog.audit_entries(0, 1).await.expect("read");
    assert_eq!(read[0].at, entries[0].at);
}

pub async fn audit_entries_page_after_a_seq(catalog: &dyn Catalog) {
    let batch: Vec<_> = (0..7).map(shown).collect();
    catalog.append_audit(&batch).await.expect("append");
    let page = catalog.audit_entries(2, 3).await.expect("read");
    let seqs: Vec<_> = page.iter().map(|entry| entry.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    let tail = catalog.audit_entries(5, 100).await.expect("read");
    assert_eq!(tail.len(), 2);
    let beyond = catalog.audit_entries(u64::MAX, 10).await.expect("read");
    assert!(beyond.is_empty());
    for limit in [0, crate::MAX_AUDIT_PAGE + 1] {
        let result = catalog.audit_entries(0, limit).await;
        assert!(
            matches!(result, Err(CatalogError::Invalid(_))),
            "limit {limit}"
        );
    }
}

pub async fn audit_for_recording_lists_its_entries_in_order(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let one = sample_recording("acme", 1);
    let other = sample_recording("acme", 2);
    catalog
        .commit_recordings(&[one.clone(), other.clone()])
        .await
        .expect("commit");
    let viewed = NewAuditEntry {
        recording: Some(one.id),
        action: "recording.shown".into(),
        ..shown(9)
    };
    catalog.append_audit(&[viewed]).await.expect("append");
    let entries = catalog.audit_for_recording(&one.id).await.expect("read");
    let trail: Vec<_> = entries
        .iter()
        .map(|entry| (entry.seq, entry.action.as_str()))
        .collect();
    assert_eq!(trail, [(2, "import.accepted"), (4, "recording.shown")]);
    let none = catalog
        .audit_for_recording(&sample_recording("acme", 3).id)
        .await
        .expect("read");
    assert!(none.is_empty());
}

pub async fn audit_chain_verifies_after_mixed_writes(catalog: &dyn Catalog) {
    let empty = catalog.verify_audit().await.expect("readable");
    assert_eq!(empty.map(|summary| summary.entries), Ok(0));
    register(catalog, "acme").await;
    let recordings: Vec<_> = (0..5)
        .map(|index| sample_recording("acme", index))
        .collect();
    catalog
        .commit_recordings(&recordings)
        .await
        .expect("commit");
    catalog
        .erase_recording(&recordings[0].id, base_time(), &note("recording.erased"))
        .await
        .expect("erase");
    catalog.append_audit(&[shown(1)]).await.expect("append");
    let summary = catalog
        .verify_audit()
        .await
        .expect("readable")
        .expect("verifies");
    assert_eq!(summary.entries, 8);
    let last = catalog.audit_entries(7, 1).await.expect("read");
    assert_eq!(summary.last_hash, last[0].hash);
}

pub async fn concurrent_appends_keep_one_unbroken_chain(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let writer = |offset: u32| async move {
        for round in 0..10 {
            let index = offset * 100 + round;
            if round % 3 == 0 {
                catalog
                    .commit_recordings(&[sample_recording("acme", index)])
                    .await
                    .expect("commit");
            } else {
                catalog
                    .append_audit(&[shown(i64::from(index)), shown(i64::from(index) + 1)])
                    .await
                    .expect("append");
            }
        }
    };
    tokio::join!(writer(1), writer(2), writer(3), writer(4));
    let summary = catalog
        .verify_audit()
        .await
        .expect("readable")
        .expect("verifies");
    // 1 tenant + 4 writers × (4 commits + 6 appends of 2).
    assert_eq!(summary.entries, 1 + 4 * (4 + 12));
}

pub async fn invalid_audit_entries_are_rejected_and_change_nothing(catalog: &dyn Catalog) {
    catalog.append_audit(&[shown(0)]).await.expect("append");
    let cases = [
        NewAuditEntry {
            actor: String::new(),
            ..shown(1)
        },
        NewAuditEntry {
            actor: "a".repeat(crate::audit::MAX_ACTOR_BYTES + 1),
            ..shown(1)
        },
        NewAuditEntry {
            action: String::new(),
            ..shown(1)
        },
        NewAuditEntry {
            details: json!({ "blob": "x".repeat(crate::audit::MAX_DETAILS_BYTES) }),
            ..shown(1)
        },
    ];
    for case in cases {
        let result = catalog.append_audit(&[shown(1), case]).await;
        assert!(
            matches!(result, Err(CatalogError::Invalid(_))),
            "{result:?}"
        );
    }
    let summary = catalog
        .verify_audit()
        .await
        .expect("readable")
        .expect("verifies");
    assert_eq!(summary.entries, 1, "a rejected batch appends nothing");
}
