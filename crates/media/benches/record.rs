//! The per-packet recording path on 172-byte G.711 datagrams (12-byte RTP header + 160 bytes
//! of payload): RTP parse + receive-state update + stored-stream append, with full chunks
//! released as the caller would after sealing. Baseline in the same run: a plain copy of the
//! payload into a buffer. Throughput is reported in packets per second.
//!
//! `cargo bench -p onrecord-media --bench record -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model::clock::{Clock, SystemClock};
use onrecord_media::{LIVE_CHUNK_SIZE, RecorderConfig, StreamHeader, StreamRecorder};
use rtp::PayloadTypeMap;

const PACKETS: usize = 1_000;

/// 1,000 consecutive PCMU packets, 20 ms apart.
fn datagrams() -> Vec<Vec<u8>> {
    (0..PACKETS)
        .map(|index| {
            let mut packet = vec![0x80, 0];
            packet.extend_from_slice(&(index as u16).to_be_bytes());
            packet.extend_from_slice(&(index as u32 * 160).to_be_bytes());
            packet.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            packet.extend((0..160).map(|byte| (byte + index) as u8));
            packet
        })
        .collect()
}

fn record(criterion: &mut Criterion) {
    let datagrams = datagrams();
    let mut group = criterion.benchmark_group("g711_172_byte_packets");
    group.throughput(Throughput::Elements(PACKETS as u64));

    group.bench_function("baseline_memcpy_payload", |bencher| {
        let mut buffer = Vec::with_capacity(LIVE_CHUNK_SIZE + 2_048);
        bencher.iter(|| {
            for datagram in &datagrams {
                if buffer.len() >= LIVE_CHUNK_SIZE {
                    buffer.clear();
                }
                buffer.extend_from_slice(black_box(&datagram[12..]));
            }
            black_box(buffer.len())
        });
    });

    group.bench_function("parse_receive_append", |bencher| {
        let start: Instant = SystemClock.monotonic();
        let header = match StreamHeader::new(PayloadTypeMap::with_static_types(), 0, 0) {
            Ok(header) => header,
            Err(error) => panic!("header: {error}"),
        };
        let mut recorder = match StreamRecorder::new(RecorderConfig::new(header), start, Vec::new())
        {
            Ok(recorder) => recorder,
            Err(error) => panic!("recorder: {error}"),
        };
        // Each iteration replays the same 1,000 packets 20 s further on, as a new numbering
        // would be a restart: advance sequence and timestamp by rewriting them.
        let mut round: u32 = 0;
        let mut replay = datagrams.clone();
        bencher.iter(|| {
            let sequence_base = (round as usize * PACKETS) as u16;
            let timestamp_base = round.wrapping_mul(PACKETS as u32 * 160);
            for (index, datagram) in replay.iter_mut().enumerate() {
                let sequence = sequence_base.wrapping_add(index as u16);
                let timestamp = timestamp_base.wrapping_add(index as u32 * 160);
                datagram[2..4].copy_from_slice(&sequence.to_be_bytes());
                datagram[4..8].copy_from_slice(&timestamp.to_be_bytes());
            }
            let now = start + Duration::from_millis(u64::from(round) * 20_000);
            for datagram in &replay {
                if let Ok(Some(_)) = recorder.on_rtp(now, black_box(datagram)) {
                    black_box(recorder.full_chunk());
                    let _ = recorder.release_chunk();
                }
            }
            round = round.wrapping_add(1);
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = record
}
criterion_main!(benches);
