//! Sealing a 3-minute two-party G.711 call (2 × 8,000 bytes/s × 180 s = 2.88 MB) into a
//! container, against two baselines of plain aws-lc-rs AES-256-GCM over the same bytes in
//! one call: copying the plaintext into a fresh buffer and sealing it in place (what any
//! sealer that keeps its input must do), and sealing a buffer in place with no copy at all
//! (compared with `ContainerBuffer::seal`, whose slots are filled outside the timing, as an
//! import reading a file straight into them would).
//!
//! Run: `cargo bench -p onrecord-seal -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::{RecordingId, StreamLabel};
use onrecord_seal::{
    ContainerBuffer, ContainerHeader, DEFAULT_CHUNK_SIZE, DataKey, seal_container,
};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const CALL_BYTES: usize = 2 * 8_000 * 180;

fn bench_seal(criterion: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut call = vec![0u8; CALL_BYTES];
    rng.fill_bytes(&mut call);
    let mut raw_key = [0u8; 32];
    rng.fill_bytes(&mut raw_key);
    let data_key = DataKey::dangerous_from_bytes(raw_key);
    let header = match StreamLabel::new("mixed") {
        Ok(stream) => ContainerHeader::new(
            RecordingId::from_parts(1, [0; 10]),
            stream,
            "audio/wav",
            DEFAULT_CHUNK_SIZE,
        ),
        Err(error) => panic!("{error}"),
    }
    .unwrap_or_else(|error| panic!("{error}"));
    let plain_key = match UnboundKey::new(&AES_256_GCM, &raw_key) {
        Ok(key) => LessSafeKey::new(key),
        Err(error) => panic!("{error}"),
    };

    let mut group = criterion.benchmark_group("seal_3min_g711_call");
    group.throughput(Throughput::Bytes(CALL_BYTES as u64));
    group.bench_function("seal_container", |bencher| {
        bencher.iter(|| {
            seal_container(&data_key, header.clone(), black_box(&call), &mut rng)
                .unwrap_or_else(|error| panic!("{error}"))
        });
    });
    group.bench_function("baseline_copy_and_aes_256_gcm_one_call", |bencher| {
        bencher.iter(|| {
            let mut buffer = Vec::with_capacity(CALL_BYTES + 16);
            buffer.extend_from_slice(black_box(&call));
            let nonce = Nonce::assume_unique_for_key([7; 12]);
            plain_key
                .seal_in_place_append_tag(nonce, Aad::empty(), &mut buffer)
                .unwrap_or_else(|error| panic!("{error}"));
            buffer
        });
    });
    // The import path that reads a file straight into the container's chunk slots: filling
    // the slots is setup (it stands for the file read), only the in-place sealing is timed.
    group.bench_function("container_buffer_seal_in_place", |bencher| {
        bencher.iter_batched(
            || {
                let mut buffer = ContainerBuffer::new(header.clone(), CALL_BYTES as u64)
                    .unwrap_or_else(|error| panic!("{error}"));
                let mut offset = 0;
                for slot in buffer.chunk_slots_mut() {
                    slot.copy_from_slice(&call[offset..offset + slot.len()]);
                    offset += slot.len();
                }
                buffer
            },
            |buffer| {
                buffer
                    .seal(&data_key, &mut ChaCha20Rng::seed_from_u64(2))
                    .unwrap_or_else(|error| panic!("{error}"))
            },
            BatchSize::LargeInput,
        );
    });
    let mut in_place = call.clone();
    group.bench_function("baseline_aes_256_gcm_in_place_one_call", |bencher| {
        bencher.iter(|| {
            let nonce = Nonce::assume_unique_for_key([7; 12]);
            plain_key
                .seal_in_place_separate_tag(nonce, Aad::empty(), black_box(&mut in_place))
                .unwrap_or_else(|error| panic!("{error}"))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_seal);
criterion_main!(benches);
