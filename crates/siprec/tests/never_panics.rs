//! Hostile bytes never panic the multipart splitter or the metadata reader (STYLE.md §3):
//! random bytes, mutated corpus bodies, and the fuzz corpora replayed on stable.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use onrecord_siprec::{
    MetadataDocument, MetadataState, parse_metadata, split_recording_session_body,
};
use proptest::prelude::*;

fn exercise_metadata(bytes: &[u8]) {
    if let Ok(MetadataDocument::Recording(metadata)) = parse_metadata(bytes) {
        let mut state = MetadataState::new();
        let labels: Vec<String> = metadata
            .streams
            .iter()
            .filter_map(|stream| stream.label.clone())
            .collect();
        let _ = state.apply(DateTime::UNIX_EPOCH, metadata.clone());
        let _ = state.apply(DateTime::UNIX_EPOCH, metadata);
        let _ = state.resolve_labels(labels.iter().map(String::as_str));
    }
}

fn exercise_body(content_type: &str, bytes: &[u8]) {
    if let Ok(body) = split_recording_session_body(content_type, bytes)
        && let Some(part) = body.metadata
    {
        exercise_metadata(part.body);
    }
}

fn corpus_bodies() -> Vec<(String, Vec<u8>)> {
    let directory =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/siprec-corpus/vendors");
    let entries = std::fs::read_dir(&directory).unwrap_or_else(|error| {
        panic!("SIPREC corpus {} is missing ({error})", directory.display())
    });
    let mut bodies: Vec<(String, Vec<u8>)> = entries
        .flatten()
        .filter_map(|entry| {
            let bytes = std::fs::read(entry.path()).ok()?;
            let text = String::from_utf8_lossy(&bytes);
            let first = text.lines().map(str::trim).find(|line| !line.is_empty())?;
            let boundary = first.strip_prefix("--")?.to_owned();
            Some((format!("multipart/mixed;boundary=\"{boundary}\""), bytes))
        })
        .collect();
    bodies.sort();
    assert!(
        bodies.len() >= 10,
        "expected the vendor multipart bodies in {}",
        directory.display()
    );
    bodies
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        exercise_body("multipart/mixed;boundary=x", &bytes);
        exercise_body("multipart/mixed", &bytes);
        exercise_metadata(&bytes);
    }

    #[test]
    fn mutated_corpus_bodies_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let bodies = corpus_bodies();
        let (content_type, original) = &bodies[pick.index(bodies.len())];
        let mut bytes = original.clone();
        for (position, byte) in edits {
            let index = position.index(bytes.len());
            bytes[index] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        exercise_body(content_type, &bytes);
    }
}

fn fuzz_corpus(target: &str) -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("fuzz corpus {} unreadable: {error}", directory.display()));
    let files: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    assert!(
        !files.is_empty(),
        "fuzz corpus {} is empty",
        directory.display()
    );
    files
}

#[test]
fn fuzz_corpora_replay_without_panic() {
    for path in fuzz_corpus("rs_metadata") {
        if let Ok(bytes) = std::fs::read(&path) {
            exercise_metadata(&bytes);
        }
    }
    for path in fuzz_corpus("multipart") {
        if let Ok(bytes) = std::fs::read(&path) {
            // The multipart target reads its Content-Type from the first line.
            let (content_type, body) = match bytes.iter().position(|byte| *byte == b'\n') {
                Some(end) => (
                    String::from_utf8_lossy(&bytes[..end]).into_owned(),
                    &bytes[end + 1..],
                ),
                None => (String::new(), &bytes[..]),
            };
            exercise_body(&content_type, body);
        }
    }
}
