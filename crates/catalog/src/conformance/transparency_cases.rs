//! Conformance cases of the checkpoint mirror and the transparency log.

use chrono::Duration;

use super::fixtures::{base_time, register, sample_recording, tenant_id};
use crate::Catalog;
use crate::error::{CatalogError, Conflict};
use crate::transparency::{CheckpointRecord, LogPosition, NewLeaf};

fn checkpoint(seq: u64, seconds: i64) -> CheckpointRecord {
    CheckpointRecord {
        seq,
        hash: [seq as u8; 32],
        at: base_time() + Duration::seconds(seconds),
        public_key: [7; 32],
        signature: [seq as u8 ^ 0x5a; 64],
    }
}

pub async fn mirrored_checkpoints_round_trip_in_seq_order_and_repeat_once(catalog: &dyn Catalog) {
    assert!(
        catalog
            .mirrored_checkpoints()
            .await
            .expect("read")
            .is_empty()
    );
    for stored in [checkpoint(9, 2), checkpoint(4, 1), checkpoint(4, 1)] {
        catalog.mirror_checkpoint(&stored).await.expect("mirror");
    }
    let mirrored = catalog.mirrored_checkpoints().await.expect("read");
    assert_eq!(mirrored.len(), 2, "the repeated checkpoint is kept once");
    assert_eq!(mirrored[0].seq, 4);
    assert_eq!(mirrored[1].seq, 9);
    // Times are kept at millisecond precision, everything else exactly.
    let expected = checkpoint(9, 2);
    assert_eq!(mirrored[1].at, crate::time::truncate_millis(&expected.at));
    assert_eq!(
        (
            mirrored[1].hash,
            mirrored[1].public_key,
            mirrored[1].signature
        ),
        (expected.hash, expected.public_key, expected.signature)
    );
}

fn leaf(audit_seq: u64, recording: model::RecordingId, event: &str) -> NewLeaf {
    NewLeaf {
        audit_seq,
        recording,
        tenant: tenant_id("acme"),
        event: event.into(),
        manifest: format!("{{\"event\":\"{event}\",\"seq\":{audit_seq}}}"),
    }
}

pub async fn leaves_get_consecutive_indexes_and_the_cursor_moves_with_them(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let first = sample_recording("acme", 0);
    let second = sample_recording("acme", 1);
    let start = catalog.log_position().await.expect("position");
    assert_eq!(start, LogPosition::default());
    let after_first = catalog
        .append_leaves(
            &start,
            3,
            &[
                leaf(2, first.id, "committed"),
                leaf(3, second.id, "committed"),
            ],
        )
        .await
        .expect("append");
    assert_eq!(
        after_first,
        LogPosition {
            processed_seq: 3,
            size: 2
        }
    );
    // An append of no leaves still moves the cursor (entries that make no leaf).
    let idle = catalog
        .append_leaves(&after_first, 5, &[])
        .await
        .expect("cursor only");
    assert_eq!(idle.size, 2);
    let last = catalog
        .append_leaves(&idle, 7, &[leaf(7, first.id, "erased")])
        .await
        .expect("append");
    assert_eq!(catalog.log_position().await.expect("position"), last);
    assert_eq!(last.size, 3);

    let all = catalog.leaves(0, 100).await.expect("leaves");
    let indexes: Vec<u64> = all.iter().map(|leaf| leaf.index).collect();
    assert_eq!(indexes, vec![0, 1, 2]);
    assert_eq!(all[2].manifest, leaf(7, first.id, "erased").manifest);
    assert_eq!(all[2].audit_seq, 7);
    let page = catalog.leaves(1, 1).await.expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].recording, second.id);
    assert!(
        catalog
            .leaves(3, 10)
            .await
            .expect("past the end")
            .is_empty()
    );
    let of_first = catalog
        .leaves_for_recording(&first.id)
        .await
        .expect("first");
    let events: Vec<&str> = of_first.iter().map(|leaf| leaf.event.as_str()).collect();
    assert_eq!(events, vec!["committed", "erased"]);
    assert!(matches!(
        catalog.leaves(0, 0).await,
        Err(CatalogError::Invalid(_))
    ));
}

pub async fn a_stale_append_conflicts_and_bad_leaves_change_nothing(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let recording = sample_recording("acme", 0);
    let start = catalog.log_position().await.expect("position");
    let moved = catalog
        .append_leaves(&start, 2, &[leaf(2, recording.id, "committed")])
        .await
        .expect("append");
    // A second writer that read the old position must not append again.
    let stale = catalog
        .append_leaves(&start, 2, &[leaf(2, recording.id, "committed")])
        .await;
    assert!(
        matches!(
            stale,
            Err(CatalogError::Conflict(Conflict::LogMoved {
                expected_seq: 0,
                actual_seq: 2
            }))
        ),
        "{stale:?}"
    );
    // Leaves must come from entries after the position, in order, and be bounded.
    for bad in [
        vec![leaf(2, recording.id, "committed")],
        vec![leaf(9, recording.id, "committed")],
        vec![leaf(5, recording.id, "a"), leaf(4, recording.id, "b")],
        vec![NewLeaf {
            manifest: String::new(),
            ..leaf(3, recording.id, "committed")
        }],
        vec![NewLeaf {
            manifest: "x".repeat(crate::transparency::MAX_MANIFEST_BYTES + 1),
            ..leaf(3, recording.id, "committed")
        }],
    ] {
        assert!(matches!(
            catalog.append_leaves(&moved, 8, &bad).await,
            Err(CatalogError::Invalid(_))
        ));
    }
    assert!(matches!(
        catalog.append_leaves(&moved, 1, &[]).await,
        Err(CatalogError::Invalid(_))
    ));
    assert_eq!(catalog.log_position().await.expect("position"), moved);
    assert_eq!(catalog.leaves(0, 10).await.expect("leaves").len(), 1);
}

/// Runs the transparency cases for a backend (see [`crate::conformance_tests`]).
#[macro_export]
macro_rules! transparency_conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            mirrored_checkpoints_round_trip_in_seq_order_and_repeat_once,
            leaves_get_consecutive_indexes_and_the_cursor_moves_with_them,
            a_stale_append_conflicts_and_bad_leaves_change_nothing,
        );
    };
}
