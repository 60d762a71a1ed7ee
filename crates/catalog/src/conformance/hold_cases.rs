//! Conformance cases for legal holds and the pseudonymising erasure ([`crate::Governance`]).

use chrono::Duration;
use model::Pii;
use sha2::{Digest, Sha256};

use super::fixtures::{base_time, note, register, sample_recording, tenant_id};
use crate::governance::{HoldRelease, HoldScope, NewHold, PSEUDONYM_PREFIX, ShredRequest};
use crate::types::RecordingState;
use crate::{Catalog, CatalogError, Conflict};

fn hold(tenant: &str, scope: HoldScope) -> NewHold {
    NewHold {
        tenant: tenant_id(tenant),
        scope,
        reason: "case 2026-114 (litigation)".into(),
        holder: "cli:counsel".into(),
        at: base_time() + Duration::days(1),
    }
}

fn release() -> HoldRelease {
    HoldRelease {
        by: "cli:counsel".into(),
        reason: "case closed".into(),
        at: base_time() + Duration::days(3),
    }
}

fn shred(id: model::RecordingId) -> ShredRequest {
    ShredRequest {
        recording: id,
        at: base_time() + Duration::days(4),
        pseudonym_salt: [7; 32],
        audit: note("recording.erased"),
    }
}

async fn commit(catalog: &dyn Catalog, recordings: &[crate::NewRecording]) {
    catalog
        .commit_recordings(recordings)
        .await
        .expect("commit succeeds");
}

fn is_held(result: &Result<impl std::fmt::Debug, CatalogError>, hold_id: u64) -> bool {
    matches!(result, Err(CatalogError::Conflict(Conflict::Held { holds, .. })) if holds.contains(&hold_id))
}

pub async fn recording_hold_blocks_every_erasure_until_released(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let held = sample_recording("acme", 1);
    let free = sample_recording("acme", 2);
    commit(catalog, &[held.clone(), free.clone()]).await;
    let (placed, entry) = catalog
        .place_hold(&hold("acme", HoldScope::Recording(held.id)))
        .await
        .expect("place hold");
    assert_eq!(entry.action, "hold.placed");
    assert_eq!(entry.recording, Some(held.id));
    assert!(placed.is_active());

    let erase = catalog
        .erase_recording(&held.id, base_time(), &note("recording.erased"))
        .await;
    assert!(is_held(&erase, placed.id), "erase_recording: {erase:?}");
    let shredded = catalog.shred_recording(&shred(held.id)).await;
    assert!(
        is_held(&shredded, placed.id),
        "shred_recording: {shredded:?}"
    );
    assert!(catalog.sealed_key(&held.id).await.expect("read").is_some());
    assert_eq!(
        catalog.holds_covering(&free.id).await.expect("read"),
        vec![]
    );

    let released = catalog
        .release_holds(
            &tenant_id("acme"),
            &HoldScope::Recording(held.id),
            &release(),
        )
        .await
        .expect("release");
    assert_eq!(released.len(), 1);
    assert!(!released[0].is_active());
    catalog
        .shred_recording(&shred(held.id))
        .await
        .expect("erasable once released");
    let history = catalog
        .holds(Some(&tenant_id("acme")), true)
        .await
        .expect("read");
    assert_eq!(history.len(), 1, "a released hold stays in the history");
    assert!(catalog.holds(None, false).await.expect("read").is_empty());
}

pub async fn participant_hold_covers_recordings_committed_later(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "globex").await;
    let before = sample_recording("acme", 7);
    commit(catalog, std::slice::from_ref(&before)).await;
    let address = before
        .participants
        .iter()
        .find(|p| p.role == "caller")
        .expect("caller")
        .address
        .clone();
    let (placed, entry) = catalog
        .place_hold(&hold("acme", HoldScope::Participant(address.clone())))
        .await
        .expect("place");
    assert!(
        !entry.details.contains(address.dangerous_reveal()),
        "the audit must not hold the address: {}",
        entry.details
    );
    // Index 107 has the same caller address (index % 100), committed after the hold.
    let later = sample_recording("acme", 107);
    let other = sample_recording("acme", 8);
    let other_tenant = sample_recording("globex", 7);
    commit(
        catalog,
        &[later.clone(), other.clone(), other_tenant.clone()],
    )
    .await;
    assert_eq!(
        catalog
            .recordings_with_participant(&tenant_id("acme"), &address)
            .await
            .expect("read"),
        [before.id, later.id]
    );
    for id in [before.id, later.id] {
        let covering = catalog.holds_covering(&id).await.expect("read");
        assert_eq!(
            covering.iter().map(|h| h.id).collect::<Vec<_>>(),
            [placed.id]
        );
    }
    assert!(
        catalog
            .holds_covering(&other.id)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        catalog
            .holds_covering(&other_tenant.id)
            .await
            .expect("read")
            .is_empty(),
        "a hold never reaches another tenant"
    );
    let shredded = catalog.shred_recording(&shred(later.id)).await;
    assert!(is_held(&shredded, placed.id), "{shredded:?}");
}

pub async fn query_hold_covers_matching_time_and_tag_only(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let recordings: Vec<_> = (0..6)
        .map(|index| sample_recording("acme", index))
        .collect();
    commit(catalog, &recordings).await;
    // Minutes 1..4 and tag batch-1: indexes 1 and 4.
    let (placed, _) = catalog
        .place_hold(&hold(
            "acme",
            HoldScope::Query {
                started_from: Some(base_time() + Duration::minutes(1)),
                started_before: Some(base_time() + Duration::minutes(5)),
                tag: Some("batch-1".into()),
            },
        ))
        .await
        .expect("place");
    let mut covered = Vec::new();
    for (index, recording) in recordings.iter().enumerate() {
        if !catalog
            .holds_covering(&recording.id)
            .await
            .expect("read")
            .is_empty()
        {
            covered.push(index);
        }
    }
    assert_eq!(covered, [1, 4]);
    let unbounded = catalog
        .place_hold(&hold(
            "acme",
            HoldScope::Query {
                started_from: None,
                started_before: None,
                tag: None,
            },
        ))
        .await;
    assert!(
        matches!(unbounded, Err(CatalogError::Invalid(_))),
        "{unbounded:?}"
    );
    assert_eq!(
        catalog.holds(None, false).await.expect("read"),
        vec![placed]
    );
}

pub async fn holds_on_unknown_things_and_releases_without_a_hold_are_not_found(
    catalog: &dyn Catalog,
) {
    register(catalog, "acme").await;
    register(catalog, "globex").await;
    let recording = sample_recording("globex", 1);
    commit(catalog, std::slice::from_ref(&recording)).await;
    let audit_before = catalog.audit_entries(0, 1000).await.expect("read").len();
    let cross_tenant = catalog
        .place_hold(&hold("acme", HoldScope::Recording(recording.id)))
        .await;
    assert!(
        matches!(cross_tenant, Err(CatalogError::NotFound { .. })),
        "{cross_tenant:?}"
    );
    let unknown_tenant = catalog
        .place_hold(&hold("initech", HoldScope::Recording(recording.id)))
        .await;
    assert!(matches!(unknown_tenant, Err(CatalogError::NotFound { .. })));
    let nothing = catalog
        .release_holds(
            &tenant_id("globex"),
            &HoldScope::Participant(Pii::new("tel:+441632960001".into())),
            &release(),
        )
        .await;
    assert!(
        matches!(nothing, Err(CatalogError::NotFound { .. })),
        "{nothing:?}"
    );
    let audit_after = catalog.audit_entries(0, 1000).await.expect("read").len();
    assert_eq!(
        audit_before, audit_after,
        "failed hold operations audit nothing"
    );
}

pub async fn shredding_destroys_the_key_and_pseudonymises_participants(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let first = sample_recording("acme", 3);
    let second = sample_recording("acme", 103);
    commit(catalog, &[first.clone(), second.clone()]).await;
    let outcome = catalog
        .shred_recording(&shred(first.id))
        .await
        .expect("shred");
    assert_eq!(
        outcome.sealed_key_sha256,
        <[u8; 32]>::from(Sha256::digest(&first.sealed_key))
    );
    assert_eq!(outcome.streams.len(), 2);
    assert_eq!(outcome.participants_pseudonymised, 2);
    assert_eq!(outcome.entry.action, "recording.erased");
    assert_eq!(catalog.sealed_key(&first.id).await.expect("read"), None);
    let erased = catalog
        .recording(None, &first.id)
        .await
        .expect("read")
        .expect("metadata remains");
    assert_eq!(erased.recording.state, RecordingState::Erased);
    for participant in &erased.participants {
        assert!(
            participant
                .address
                .dangerous_reveal()
                .starts_with(PSEUDONYM_PREFIX)
        );
        assert_eq!(participant.name, None);
    }
    catalog
        .shred_recording(&shred(second.id))
        .await
        .expect("shred");
    let again = catalog
        .recording(None, &second.id)
        .await
        .expect("read")
        .expect("metadata remains");
    // The same person erased twice has the same pseudonym: counts survive.
    let callers = |detail: &crate::RecordingDetail| {
        detail
            .participants
            .iter()
            .find(|p| p.role == "caller")
            .map(|p| p.address.clone())
    };
    assert_eq!(callers(&erased), callers(&again));
    let twice = catalog.shred_recording(&shred(first.id)).await;
    assert!(
        matches!(
            twice,
            Err(CatalogError::Conflict(Conflict::Transition { .. }))
        ),
        "{twice:?}"
    );
    assert!(catalog.verify_audit().await.expect("read").is_ok());
}

/// Generates the governance conformance cases for a backend, like
/// [`conformance_tests!`](crate::conformance_tests).
#[macro_export]
macro_rules! governance_conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            recording_hold_blocks_every_erasure_until_released,
            participant_hold_covers_recordings_committed_later,
            query_hold_covers_matching_time_and_tag_only,
            holds_on_unknown_things_and_releases_without_a_hold_are_not_found,
            shredding_destroys_the_key_and_pseudonymises_participants,
        );
    };
}
