//! A by-hand throughput check, not a timed test: commit 10,000 two-party recordings in
//! batches of 500 into a temp-file SQLite catalog and print recordings/s and rows/s.
//!
//! `cargo run -p onrecord-catalog --example commit_throughput [--release]`
#![allow(clippy::print_stdout, clippy::expect_used)] // a by-hand tool that reports on stdout

use model::clock::{Clock, SystemClock};
use onrecord_catalog::conformance::{register, sample_recording};
use onrecord_catalog::{Catalog, SqliteCatalog};

const RECORDINGS: u32 = 10_000;
const BATCH: u32 = 500;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let directory = tempfile::tempdir().expect("temp dir");
    let catalog = SqliteCatalog::open(directory.path().join("catalog.db"))
        .await
        .expect("open");
    register(&catalog, "acme").await;
    let batches: Vec<Vec<_>> = (0..RECORDINGS / BATCH)
        .map(|batch| {
            (batch * BATCH..(batch + 1) * BATCH)
                .map(|index| sample_recording("acme", index))
                .collect()
        })
        .collect();
    // Rows one recording writes: itself, its tags, participants, evidence, streams, sealed
    // key and audit entry.
    let sample = &batches[0][0];
    let mut tags = sample.tags.clone();
    tags.sort();
    tags.dedup();
    let rows_per_recording = 1
        + tags.len()
        + sample.participants.len()
        + sample
            .participants
            .iter()
            .map(|participant| participant.evidence.len())
            .sum::<usize>()
        + sample.streams.len()
        + 2;

    let clock = SystemClock;
    let started = clock.monotonic();
    for batch in &batches {
        catalog.commit_recordings(batch).await.expect("commit");
    }
    let seconds = (clock.monotonic() - started).as_secs_f64();
    let rows = f64::from(RECORDINGS) * rows_per_recording as f64;
    println!(
        "{RECORDINGS} recordings in batches of {BATCH}: {seconds:.3} s, {:.0} recordings/s, \
         {:.0} rows/s ({rows_per_recording} rows per recording)",
        f64::from(RECORDINGS) / seconds,
        rows / seconds,
    );
    let verified = catalog.verify_audit().await.expect("readable");
    println!("audit chain: {:?}", verified.map(|summary| summary.entries));
}
