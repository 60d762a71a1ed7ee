//! The fuzz target's corpus, replayed on stable, plus random and mutated input through
//! `parse_sidecar` and `probe_audio`: whatever the bytes, an answer and never a panic.

use std::path::{Path, PathBuf};

use onrecord_intake::{RawCodec, RawEncoding, parse_sidecar, probe_audio};
use proptest::prelude::*;

const EXTENSIONS: [Option<&str>; 8] = [
    None,
    Some("wav"),
    Some("flac"),
    Some("mp3"),
    Some("opus"),
    Some("raw"),
    Some("ulaw"),
    Some("bin"),
];

fn workspace_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn read(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => panic!("cannot read {}: {error}", path.display()),
    }
}

/// Every corpus file, sorted by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let directory = workspace_path("fuzz/corpus/import_sidecar");
    let entries = match std::fs::read_dir(&directory) {
        Ok(entries) => entries,
        Err(error) => panic!("sidecar corpus {} is missing: {error}", directory.display()),
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned());
            (name.unwrap_or_default(), read(&path))
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "sidecar corpus {} has too few files",
        directory.display()
    );
    files
}

fn fixtures() -> Vec<Vec<u8>> {
    [
        "tone-8k-mono-500ms.flac",
        "tone-8k-mono-500ms-unknown-length.flac",
        "tone-8k-mono-500ms.mp3",
        "tone-8k-mono-500ms.opus",
    ]
    .iter()
    .map(|name| read(&workspace_path("testdata/intake").join(name)))
    .collect()
}

fn probe_every_way(bytes: &[u8]) {
    for extension in EXTENSIONS {
        for raw in [None, Some(RawCodec::g711(RawEncoding::Pcmu))] {
            let _ = probe_audio(extension, bytes, raw);
        }
    }
}

#[test]
fn corpus_sidecars_named_invalid_are_refused_and_the_others_accepted() {
    for (name, bytes) in corpus() {
        let result = parse_sidecar(&bytes);
        if name.starts_with("invalid-") {
            assert!(result.is_err(), "{name} should be refused");
        } else if let Err(error) = result {
            panic!("{name} should be accepted: {error}");
        }
        probe_every_way(&bytes);
    }
}

#[test]
fn truncations_of_every_corpus_sidecar_never_panic() {
    for (_, bytes) in corpus() {
        for length in 0..bytes.len() {
            let _ = parse_sidecar(&bytes[..length]);
        }
    }
}

/// Byte-level edits of a seed: overwrite, insert or delete at a position.
fn mutated(seed: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(position, operation, value) in edits {
        let at = if bytes.is_empty() {
            0
        } else {
            position % (bytes.len() + 1)
        };
        match operation % 3 {
            0 if at < bytes.len() => bytes[at] = value,
            1 => bytes.insert(at, value),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => {}
        }
    }
    bytes
}

/// JSON-ish text built from the tokens a sidecar is made of.
fn json_tokens() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"started_at\"",
        "\"participants\"",
        "\"address\"",
        "\"consent\"",
        "\"kind\"",
        "\"at\"",
        "\"reference\"",
        "\"codec\"",
        "\"encoding\"",
        "\"sample_rate\"",
        "\"channels\"",
        "\"tags\"",
        "\"direction\"",
        "\"2026-11-28T10:00:00Z\"",
        "\"pcmu\"",
        "\"verbal\"",
        "\"inbound\"",
        "\"tel:+1\"",
        "null",
        "true",
        "-1",
        "8000",
        "1e400",
        "\"\\ud800\"",
        "\"\"",
    ]);
    prop::collection::vec(token, 0..64).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2_048)) {
        let _ = parse_sidecar(&bytes);
        probe_every_way(&bytes);
    }

    #[test]
    fn mutated_corpus_sidecars_never_panic(
        seed in 0usize..64,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..16),
    ) {
        let corpus = corpus();
        let (_, seed) = &corpus[seed % corpus.len()];
        let bytes = mutated(seed, &edits);
        let _ = parse_sidecar(&bytes);
    }

    #[test]
    fn token_soup_sidecars_never_panic(text in json_tokens()) {
        let _ = parse_sidecar(text.as_bytes());
    }

    #[test]
    fn mutated_audio_fixtures_never_panic(
        fixture in 0usize..4,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..24),
    ) {
        let fixtures = fixtures();
        let bytes = mutated(&fixtures[fixture % fixtures.len()], &edits);
        probe_every_way(&bytes);
    }

    #[test]
    fn random_bodies_behind_audio_signatures_never_panic(
        signature in prop::sample::select(vec![
            &b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"[..],
            b"RIFF\xff\xff\xff\xffWAVE",
            b"fLaC",
            b"fLaC\x00\x00\x00\x22",
            b"OggS\x00\x02",
            b"ID3\x04\x00\x00\x00\x00\x00\x00",
            b"\xff\xfb\x90\x64",
            b"\xff\xe3\x48\xc4",
        ]),
        body in prop::collection::vec(any::<u8>(), 0..4_096),
    ) {
        let mut bytes = signature.to_vec();
        bytes.extend_from_slice(&body);
        probe_every_way(&bytes);
    }
}
