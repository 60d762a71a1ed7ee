//! Builders shared by the integration tests.

#![allow(dead_code)]

use model::{RecordingId, StreamLabel};
use onrecord_seal::{ContainerHeader, DataKey, SealError};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn recording(millis: u64) -> RecordingId {
    RecordingId::from_parts(millis, [0x11; 10])
}

pub fn header(recording_millis: u64, stream: &str, chunk_size: u32) -> ContainerHeader {
    let stream = StreamLabel::new(stream).unwrap_or_else(|error| panic!("{error}"));
    ContainerHeader::new(recording(recording_millis), stream, "audio/wav", chunk_size)
        .unwrap_or_else(|error| panic!("{error}"))
}

pub fn data_key(seed: u64) -> DataKey {
    DataKey::generate(&mut rng(seed))
}

/// Plaintext whose bytes differ from chunk to chunk, so swapped chunks change the content.
pub fn plaintext(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index % 251) as u8).collect()
}

pub fn integrity(chunk: u64) -> Result<(ContainerHeader, Vec<u8>), SealError> {
    Err(SealError::Integrity { chunk })
}
