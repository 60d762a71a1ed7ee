//! The reader against hostile bytes, on stable: the steps of the fuzz target
//! `fuzz/fuzz_targets/container_reader.rs`, fed random bytes, mutations of valid containers,
//! and the target's seed corpus. Nothing may panic; nothing altered may open.

mod support;

use std::fs;
use std::path::Path;

use onrecord_seal::{
    ContainerHeader, ContainerLayout, ContainerReader, DataKey, MAX_HEADER_LEN, SealError,
    open_container, open_plaintext_range, seal_container,
};
use proptest::prelude::*;
use support::{header, plaintext, rng};

/// Must match `FUZZ_KEY` in the fuzz target and in `fixtures_v1.rs`.
const FUZZ_KEY: [u8; 32] = [0x5e; 32];

fn fuzz_key() -> DataKey {
    DataKey::dangerous_from_bytes(FUZZ_KEY)
}

/// The fuzz target's body. Returns the whole-object result for further checks.
fn exercise_reader(data: &[u8]) -> Result<(ContainerHeader, Vec<u8>), SealError> {
    let key = fuzz_key();
    let whole = open_container(&key, data);
    let Ok((header, header_len)) = ContainerHeader::parse(data) else {
        assert!(whole.is_err());
        return whole;
    };
    assert!(header_len <= MAX_HEADER_LEN);
    let reader = ContainerReader::new(&key, &header)?;
    let body = &data[header_len..];
    let _ = reader.open_chunk(0, true, body);
    let _ = reader.open_chunk(u64::from(u32::MAX) + 1, false, body);
    let Ok(layout) = ContainerLayout::new(&header, header_len, data.len() as u64) else {
        assert!(whole.is_err());
        return whole;
    };
    let mut opened = Vec::new();
    for index in 0..layout.chunk_count().min(256) {
        let Some(range) = layout.chunk_range(index) else {
            panic!("chunk {index} of {} has no range", layout.chunk_count());
        };
        let chunk = &data[range.start as usize..range.end as usize];
        if reader
            .open_chunk_into(index, layout.is_last(index), chunk, &mut opened)
            .is_err()
        {
            break;
        }
    }
    if let Ok((_, plaintext)) = &whole {
        assert_eq!(plaintext.len() as u64, layout.plaintext_len());
        assert_eq!(&opened, plaintext);
    }
    let plaintext_len = layout.plaintext_len().max(1);
    let start = u64::from(data.first().copied().unwrap_or(0)) * 97 % plaintext_len;
    let end = start + u64::from(data.last().copied().unwrap_or(0)) * 31;
    if let Some(range) = layout.object_range_for_plaintext(start..end) {
        let fetched = &data[range.start as usize..range.end as usize];
        let ranged = open_plaintext_range(&key, &header, &layout, start..end, fetched);
        if let (Ok(slice), Ok((_, plaintext))) = (&ranged, &whole) {
            let end = (end as usize).min(plaintext.len());
            assert_eq!(slice.as_slice(), &plaintext[start as usize..end]);
        }
    }
    whole
}

fn valid_container(length: usize, chunk_size: u32, seed: u64) -> Vec<u8> {
    seal_container(
        &fuzz_key(),
        header(seed, "s", chunk_size),
        &plaintext(length),
        &mut rng(seed),
    )
    .map(|sealed| sealed.as_bytes().to_vec())
    .unwrap_or_else(|error| panic!("sealing failed: {error}"))
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { position: usize, mask: u8 },
    Truncate { length: usize },
    Insert { position: usize, bytes: Vec<u8> },
    Remove { position: usize, count: usize },
    Overwrite { position: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(position, mask)| Mutation::Flip { position, mask }),
        any::<usize>().prop_map(|length| Mutation::Truncate { length }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(position, bytes)| Mutation::Insert { position, bytes }),
        (any::<usize>(), 1usize..2000)
            .prop_map(|(position, count)| Mutation::Remove { position, count }),
        (any::<usize>(), any::<u8>())
            .prop_map(|(position, byte)| Mutation::Overwrite { position, byte }),
    ]
}

/// Applies a mutation; returns whether the bytes changed.
fn apply(data: &mut Vec<u8>, mutation: &Mutation) -> bool {
    let original = data.clone();
    let length = data.len().max(1);
    match mutation {
        Mutation::Flip { position, mask } => {
            if let Some(byte) = data.get_mut(position % length) {
                *byte ^= mask;
            }
        }
        Mutation::Truncate { length: cut } => data.truncate(cut % length),
        Mutation::Insert { position, bytes } => {
            let at = position % (data.len() + 1);
            data.splice(at..at, bytes.iter().copied());
        }
        Mutation::Remove { position, count } => {
            let at = position % length;
            let end = (at + count).min(data.len());
            data.drain(at.min(end)..end);
        }
        Mutation::Overwrite { position, byte } => {
            if let Some(slot) = data.get_mut(position % length) {
                *slot = *byte;
            }
        }
    }
    *data != original
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(exercise_reader(&data).is_err());
    }

    #[test]
    fn random_bytes_behind_a_valid_header_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..5000),
        chunk_size in 1024u32..2048,
    ) {
        let mut data = valid_container(0, chunk_size, 1);
        let (_, header_len) = ContainerHeader::parse(&data)?;
        data.truncate(header_len);
        data.extend_from_slice(&tail);
        prop_assert!(exercise_reader(&data).is_err());
    }

    #[test]
    fn mutated_containers_never_panic_and_never_open(
        length in 0usize..5000,
        chunk_size in 1024u32..2048,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let original = valid_container(length, chunk_size, 7);
        let mut data = original.clone();
        for mutation in &mutations {
            apply(&mut data, mutation);
        }
        let result = exercise_reader(&data);
        if data != original {
            prop_assert!(result.is_err(), "a mutated container opened: {:?}", mutations);
        } else {
            prop_assert_eq!(result?.1, plaintext(length));
        }
    }
}

#[test]
fn fuzz_seed_corpus_opens_under_the_fuzz_key() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/container_reader");
    let entries = fs::read_dir(&corpus)
        .map_err(|error| format!("fuzz corpus {} is missing: {error}", corpus.display()))?;
    let mut count = 0;
    for entry in entries {
        let path = entry?.path();
        let data = fs::read(&path)?;
        exercise_reader(&data).map_err(|error| format!("{}: {error}", path.display()))?;
        count += 1;
    }
    assert!(
        count >= 2,
        "expected at least two seed containers in {}",
        corpus.display()
    );
    Ok(())
}
