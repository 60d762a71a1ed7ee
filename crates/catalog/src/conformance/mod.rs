//! The one test suite every [`Catalog`] backend must pass (STYLE.md §6). Each case is an
//! async fn taking `&dyn Catalog` (a fresh, empty one) that panics on failure;
//! [`conformance_tests!`](crate::conformance_tests) turns the whole list into `#[tokio::test]`s
//! for a backend:
//!
//! ```text
//! async fn fresh() -> (SqliteCatalog, tempfile::TempDir) { /* ... */ }
//! catalog::conformance_tests!(fresh);
//! ```
//!
//! Panicking is how a case reports failure, so `expect` is allowed here and only here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod audit_cases;
mod completeness_cases;
mod fixtures;
mod hold_cases;
mod recording_cases;
mod retention_cases;
mod token_cases;
mod transcription_cases;
mod transparency_cases;

pub use audit_cases::*;
pub use completeness_cases::*;
pub use fixtures::*;
pub use hold_cases::*;
pub use recording_cases::*;
pub use retention_cases::*;
pub use token_cases::*;
pub use transcription_cases::*;
pub use transparency_cases::*;

/// Generates one `#[tokio::test]` per conformance case. `$make` is an async fn returning
/// `(backend, guard)`; the guard (a temp dir, say) lives as long as the test.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            tenant_registration_round_trips_and_is_audited,
            registering_a_tenant_twice_conflicts,
            tenants_are_listed_in_id_order,
            committed_recording_reads_back_whole,
            recording_of_another_tenant_reads_as_absent,
            duplicate_content_hash_yields_duplicate_not_error,
            same_content_in_two_tenants_is_two_recordings,
            commit_for_unknown_tenant_writes_nothing,
            stream_outside_tenant_region_conflicts_and_writes_nothing,
            recording_id_reused_for_other_content_conflicts,
            invalid_recordings_are_rejected_before_anything_is_written,
            erasure_destroys_sealed_key_and_is_final,
            erased_recording_cannot_be_committed_again,
            erasing_an_unknown_recording_is_not_found,
            large_batch_commits_across_statement_chunks,
            list_pages_newest_first_without_gaps_or_repeats,
            list_and_count_apply_every_filter,
            list_rejects_bad_page_limits_and_cursors,
            refusals_are_counted_per_tenant_and_reason_and_audited,
            audit_append_assigns_consecutive_seqs_and_chains_hashes,
            audit_times_keep_millisecond_precision,
            audit_entries_page_after_a_seq,
            audit_for_recording_lists_its_entries_in_order,
            audit_chain_verifies_after_mixed_writes,
            concurrent_appends_keep_one_unbroken_chain,
            invalid_audit_entries_are_rejected_and_change_nothing,
            queueing_a_transcription_twice_keeps_one_job,
            claimed_job_finishes_with_its_transcript_and_audit,
            stale_running_job_is_claimed_again,
            erased_recording_is_never_transcribed,
            token_round_trips_and_its_creation_is_audited,
            token_ids_are_unique_and_tenants_must_exist,
            token_tenant_must_match_its_role,
            evidence_coverage_counts_covered_participants_per_tenant,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (catalog, _guard) = $make().await;
                $crate::conformance::$case(&catalog).await;
            }
        )*
    };
}
