//! Frozen format v1 fixtures in `testdata/seal/v1/`: opened forever, compared byte for byte.
//!
//! The files were generated once by `regenerate_fixtures` below with
//! `ONRECORD_REGENERATE_FIXTURES=1 cargo test -p onrecord-seal --test fixtures_v1`. Without
//! that variable this test only reads. Regenerating them is a format change: don't, unless a
//! new format version is being introduced (and then the v1 files stay as they are).

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use model::{RecordingId, StreamLabel, TenantId};
use onrecord_seal::{
    ContainerHeader, ContainerLayout, DataKey, KeyBinding, SealedDataKey, TenantPrivateKey,
    TenantPublicKey, generate_tenant_keypair, open_container, open_plaintext_range, seal_container,
};
use rand::RngCore;
use support::rng;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const REGENERATE: &str = "ONRECORD_REGENERATE_FIXTURES";
const TENANT: &str = "fixture-tenant";
const RECORDING: &str = "0190a5f0-0000-7000-8000-00000000f1f1";
/// The fuzz target's fixed data key; must match `fuzz/fuzz_targets/container_reader.rs`.
const FUZZ_KEY: [u8; 32] = [0x5e; 32];

/// One frozen container: file stem, stream label, content type, chunk size, plaintext length,
/// and the seed of the generator that drew its nonce prefix.
struct Case {
    name: &'static str,
    stream: &'static str,
    content_type: &'static str,
    chunk_size: u32,
    plaintext_len: usize,
    seed: u64,
}

const CASES: [Case; 5] = [
    Case {
        name: "empty",
        stream: "mixed",
        content_type: "audio/wav",
        chunk_size: 65_536,
        plaintext_len: 0,
        seed: 10,
    },
    Case {
        name: "one-partial-chunk",
        stream: "caller",
        content_type: "rtp/pcmu",
        chunk_size: 65_536,
        plaintext_len: 1000,
        seed: 11,
    },
    Case {
        name: "several-chunks-partial-last",
        stream: "callee",
        content_type: "audio/wav",
        chunk_size: 4096,
        plaintext_len: 3 * 4096 + 1234,
        seed: 12,
    },
    Case {
        name: "small-chunk-size",
        stream: "1",
        content_type: "rtp/pcma",
        chunk_size: 1024,
        plaintext_len: 2500,
        seed: 13,
    },
    Case {
        name: "exact-multiple",
        stream: "2",
        content_type: "rtp/pcma",
        chunk_size: 1024,
        plaintext_len: 2048,
        seed: 14,
    },
];

fn workspace_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn fixture_dir() -> PathBuf {
    workspace_path("testdata/seal/v1")
}

fn read(name: &str) -> Result<Vec<u8>, String> {
    let path = fixture_dir().join(name);
    fs::read(&path)
        .map_err(|error| format!("frozen fixture {} is missing: {error}", path.display()))
}

fn binding() -> Result<KeyBinding, Box<dyn std::error::Error>> {
    Ok(KeyBinding {
        tenant: TenantId::new(TENANT)?,
        recording: RECORDING.parse()?,
    })
}

fn case_header(
    case: &Case,
    recording: RecordingId,
) -> Result<ContainerHeader, Box<dyn std::error::Error>> {
    Ok(ContainerHeader::new(
        recording,
        StreamLabel::new(case.stream)?,
        case.content_type,
        case.chunk_size,
    )?)
}

fn case_plaintext(case: &Case) -> Vec<u8> {
    let mut plaintext = vec![0u8; case.plaintext_len];
    rng(case.seed + 100).fill_bytes(&mut plaintext);
    plaintext
}

/// Writes every fixture and the fuzz corpus. Runs only with `ONRECORD_REGENERATE_FIXTURES=1`.
fn regenerate_fixtures() -> TestResult {
    let directory = fixture_dir();
    fs::create_dir_all(&directory)?;
    let mut key_rng = rng(1);
    let (private_key, public_key) = generate_tenant_keypair(&mut key_rng);
    let data_key = DataKey::generate(&mut key_rng);
    let sealed_key = data_key.seal_to(&public_key, &binding()?, &mut key_rng)?;
    fs::write(
        directory.join("tenant-private-key.bin"),
        private_key.to_bytes().as_slice(),
    )?;
    fs::write(
        directory.join("tenant-public-key.txt"),
        format!("{public_key}\n"),
    )?;
    fs::write(directory.join("data-key.sealed"), sealed_key.as_bytes())?;
    let recording: RecordingId = RECORDING.parse()?;
    for case in &CASES {
        let plaintext = case_plaintext(case);
        let sealed = seal_container(
            &data_key,
            case_header(case, recording)?,
            &plaintext,
            &mut rng(case.seed),
        )?;
        fs::write(
            directory.join(format!("{}.orc", case.name)),
            sealed.as_bytes(),
        )?;
        fs::write(directory.join(format!("{}.plain", case.name)), &plaintext)?;
    }
    let corpus = workspace_path("fuzz/corpus/container_reader");
    fs::create_dir_all(&corpus)?;
    let fuzz_key = DataKey::dangerous_from_bytes(FUZZ_KEY);
    for case in CASES.iter().filter(|case| case.plaintext_len <= 4096) {
        let plaintext = case_plaintext(case);
        let sealed = seal_container(
            &fuzz_key,
            case_header(case, recording)?,
            &plaintext,
            &mut rng(case.seed),
        )?;
        fs::write(corpus.join(format!("{}.orc", case.name)), sealed.as_bytes())?;
    }
    Ok(())
}

#[test]
fn frozen_v1_fixtures_open_forever() -> TestResult {
    if std::env::var(REGENERATE).is_ok_and(|value| value == "1") {
        regenerate_fixtures()?;
    }
    let private_key = TenantPrivateKey::from_bytes(&read("tenant-private-key.bin")?)?;
    let public_text = String::from_utf8(read("tenant-public-key.txt")?)?;
    assert_eq!(
        private_key.public_key(),
        public_text.parse::<TenantPublicKey>()?
    );
    let sealed_key = SealedDataKey::from_bytes(&read("data-key.sealed")?)?;
    let data_key = sealed_key.open(&private_key, &binding()?)?;
    let mut other_recording = binding()?;
    other_recording.recording = "0190a5f0-0000-7000-8000-00000000f1f2".parse()?;
    assert!(sealed_key.open(&private_key, &other_recording).is_err());
    let recording: RecordingId = RECORDING.parse()?;

    for case in &CASES {
        let object = read(&format!("{}.orc", case.name))?;
        let expected = read(&format!("{}.plain", case.name))?;
        assert_eq!(expected.len(), case.plaintext_len, "{}", case.name);
        let (header, plaintext) = open_container(&data_key, &object)?;
        assert_eq!(plaintext, expected, "{}", case.name);
        assert_eq!(header.recording(), recording);
        assert_eq!(header.stream().as_str(), case.stream);
        assert_eq!(header.content_type(), case.content_type);
        assert_eq!(header.chunk_size(), case.chunk_size);

        // Sealing the same plaintext with the same generator gives the same bytes: the
        // writer is pinned as well as the reader.
        let resealed = seal_container(
            &data_key,
            case_header(case, recording)?,
            &expected,
            &mut rng(case.seed),
        )?;
        assert_eq!(
            resealed.as_bytes(),
            object.as_slice(),
            "{} resealed",
            case.name
        );

        // A range read of the middle of the plaintext.
        let (header, header_len) = ContainerHeader::parse(&object)?;
        let layout = ContainerLayout::new(&header, header_len, object.len() as u64)?;
        let wanted = expected.len() as u64 / 3..expected.len() as u64 * 2 / 3 + 1;
        let fetched = match layout.object_range_for_plaintext(wanted.clone()) {
            Some(range) => &object[range.start as usize..range.end as usize],
            None => &[][..],
        };
        let slice = open_plaintext_range(&data_key, &header, &layout, wanted.clone(), fetched)?;
        let end = (wanted.end as usize).min(expected.len());
        assert_eq!(
            slice,
            expected[(wanted.start as usize).min(end)..end],
            "{} range",
            case.name
        );
    }
    Ok(())
}
