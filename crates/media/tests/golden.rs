//! Golden files of the stored stream format v1: a fixed packet sequence must produce exactly
//! the frozen bytes in `testdata/media/v1/`, and those bytes must read back forever.
//!
//! To write a fixture the first time: `ONRECORD_BLESS=1 cargo test -p onrecord-media --test
//! golden`. A frozen fixture is never rewritten: a format change is a new version.

use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use model::clock::{Clock, SystemClock};
use onrecord_media as media;
use onrecord_media::{
    GapMap, GapReason, PayloadOrder, Record, RecorderConfig, SourceCause, StreamHeader,
    StreamReader, StreamRecorder, WriterConfig,
};
use rtp::{Encoding, PayloadFormat, PayloadTypeMap};

const START_UNIX_MS: i64 = 1_795_860_000_000;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/media/v1")
        .join(name)
}

fn rtp(payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, payload_type];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&timestamp.to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

fn tone(seed: u8) -> Vec<u8> {
    (0..160u16)
        .map(|index| seed.wrapping_add(index as u8))
        .collect()
}

/// The scenario: sequence wrap, a lost packet that arrives late, a duplicate, a DTMF digit
/// with its three end packets, a pause with a packet dropped inside it, an SSRC change
/// (whose first packet is on probation) and a codec change, then the end.
fn record_scenario() -> Result<Vec<u8>, Box<dyn Error>> {
    record_scenario_with_gap_map().map(|(stored, _)| stored)
}

/// The scenario's stored bytes and the gap map the recorder kept while writing them.
fn record_scenario_with_gap_map() -> Result<(Vec<u8>, GapMap), Box<dyn Error>> {
    let mut payload_types = PayloadTypeMap::with_static_types();
    payload_types.insert(PayloadFormat::new(101, Encoding::TelephoneEvent, 8_000)?)?;
    let header = StreamHeader::new(payload_types, 0, START_UNIX_MS)?;
    let config = RecorderConfig {
        writer: WriterConfig { chunk_size: 1_024 },
        ..RecorderConfig::new(header)
    };
    let start: Instant = SystemClock.monotonic();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut recorder = StreamRecorder::new(config, start, Vec::new())?;
    let mut stored = Vec::new();
    let mut drain = |recorder: &mut StreamRecorder| {
        while let Some(chunk) = recorder.full_chunk() {
            stored.extend_from_slice(chunk);
            let _ = recorder.release_chunk();
        }
    };

    let first_ssrc = 0x1122_3344;
    let base = 0xffff_fe00u32;
    let audio = |sequence: u16, step: u32| {
        rtp(
            0,
            sequence,
            base.wrapping_add(step * 160),
            first_ssrc,
            &tone(step as u8),
        )
    };
    for (ms, packet) in [
        (20, audio(65_533, 0)),
        (40, audio(65_534, 1)),
        (60, audio(65_535, 2)),
        (100, audio(1, 4)),
        (105, audio(0, 3)),
        (106, audio(1, 4)),
    ] {
        recorder.on_rtp(at(ms), &packet)?;
        drain(&mut recorder);
    }
    let digit = |sequence: u16, duration: u16, end: bool| {
        let flags = if end { 0x80 | 10 } else { 10 };
        let [high, low] = duration.to_be_bytes();
        rtp(
            101,
            sequence,
            base.wrapping_add(5 * 160),
            first_ssrc,
            &[7, flags, high, low],
        )
    };
    for (ms, packet) in [
        (120, digit(2, 160, false)),
        (140, digit(3, 320, false)),
        (160, digit(4, 480, true)),
        (161, digit(5, 480, true)),
        (162, digit(6, 480, true)),
        (180, audio(7, 8)),
    ] {
        recorder.on_rtp(at(ms), &packet)?;
        drain(&mut recorder);
    }
    let _ = recorder.start_gap(at(200), GapReason::Pause)?;
    recorder.on_rtp(at(220), &audio(8, 9))?;
    let _ = recorder.end_gap(at(1_500), GapReason::Pause)?;
    drain(&mut recorder);

    let second_ssrc = 0x5566_7788;
    for (ms, payload_type, sequence, step) in [
        (1_520, 0, 100u16, 0u32),
        (1_540, 0, 101, 1),
        (1_560, 8, 102, 2),
        (1_580, 8, 103, 3),
    ] {
        let packet = rtp(
            payload_type,
            sequence,
            9_000 + step * 160,
            second_ssrc,
            &tone(0x40 + step as u8),
        );
        recorder.on_rtp(at(ms), &packet)?;
        drain(&mut recorder);
    }
    let _ = recorder.finish(at(1_600))?;
    drain(&mut recorder);
    stored.extend_from_slice(recorder.last_chunk().ok_or("no last chunk")?);
    Ok((stored, recorder.gap_map()))
}

#[test]
fn the_recorders_own_gap_map_equals_the_one_read_from_its_bytes() -> Result<(), Box<dyn Error>> {
    let (stored, kept) = record_scenario_with_gap_map()?;
    assert_eq!(kept, GapMap::from_stream(&stored)?);
    assert!(!kept.gaps.is_empty());
    Ok(())
}

#[test]
fn scenario_produces_the_frozen_v1_bytes() -> Result<(), Box<dyn Error>> {
    let produced = record_scenario()?;
    let path = fixture("g711-scenario.bin");
    if std::env::var_os("ONRECORD_BLESS").is_some() && !path.exists() {
        std::fs::write(&path, &produced)?;
    }
    let frozen = std::fs::read(&path).map_err(|error| {
        format!(
            "golden fixture {} missing ({error}); create it once with ONRECORD_BLESS=1",
            path.display()
        )
    })?;
    assert_eq!(
        produced, frozen,
        "writer output differs from the frozen v1 fixture"
    );
    Ok(())
}

#[test]
fn frozen_v1_fixture_reads_back() -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(fixture("g711-scenario.bin"))?;
    let reader = StreamReader::open(&bytes)?;
    assert_eq!(reader.header().start_unix_ms, START_UNIX_MS);
    assert_eq!(reader.header().clock_rate, 8_000);
    assert_eq!(reader.header().primary_payload_type, 0);
    let records = reader.records().collect::<Result<Vec<_>, _>>()?;

    let audio: Vec<(u64, u32)> = records
        .iter()
        .filter_map(|record| match record {
            Record::Audio { time, sequence, .. } => Some((*time, *sequence)),
            _ => None,
        })
        .collect();
    // First packet at its arrival (20 ms = 160 ticks), 160 ticks per packet after it; the
    // late packet (65,536 = wrapped 0) is stored when it arrived, after 65,537.
    assert_eq!(
        audio[..6],
        [
            (160, 65_533),
            (320, 65_534),
            (480, 65_535),
            (800, 65_537),
            (640, 65_536),
            (1_440, 65_543),
        ]
    );
    assert_eq!(
        audio.len(),
        9,
        "duplicate, paused and probation packets are not stored"
    );

    let kinds = |wanted: fn(&Record<'_>) -> bool| records.iter().filter(|r| wanted(r)).count();
    assert_eq!(kinds(|r| matches!(r, Record::TelephoneEvent { .. })), 2);
    assert!(records.iter().any(|record| matches!(
        record,
        Record::Gap {
            reason: GapReason::Loss,
            lost_packets: 1,
            ..
        }
    )));
    assert!(records.iter().any(|record| matches!(
        record,
        Record::Source {
            cause: SourceCause::SsrcChange,
            previous_ssrc: 0x1122_3344,
            ssrc: 0x5566_7788,
            ..
        }
    )));
    assert!(records.iter().any(|record| matches!(
        record,
        Record::CodecChange {
            payload_type: 8,
            encoding: Encoding::Pcma,
            ..
        }
    )));
    assert!(matches!(
        records.last(),
        Some(Record::End {
            time: 12_800,
            arrival_ms: 1_600
        })
    ));
    Ok(())
}

#[test]
fn frozen_v1_fixture_gap_map_has_pause_and_no_loss_after_the_late_packet()
-> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(fixture("g711-scenario.bin"))?;
    let map = GapMap::from_stream(&bytes)?;
    let reasons: Vec<_> = map.gaps.iter().map(|gap| gap.reason).collect();
    assert_eq!(reasons, vec![GapReason::Pause]);
    let pause = map.gaps[0];
    assert_eq!((pause.start_ms, pause.end_ms), (200, 1_500));
    assert_eq!(pause.start_unix_ms, START_UNIX_MS + 200);
    let json = serde_json::to_string(&map)?;
    assert!(json.contains(r#""reason":"pause""#), "{json}");
    let back: GapMap = serde_json::from_str(&json)?;
    assert_eq!(back, map);
    Ok(())
}

#[test]
fn frozen_v1_fixture_raw_payloads_are_the_audio_as_received() -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(fixture("g711-scenario.bin"))?;
    let arrival = media::raw_payloads(&bytes, PayloadOrder::Arrival)?;
    let sequence = media::raw_payloads(&bytes, PayloadOrder::Sequence)?;
    assert_eq!(arrival.packets, 9);
    assert_eq!(arrival.bytes.len(), 9 * 160);
    let steps = [0u8, 1, 2, 4, 3, 8, 1, 2, 3];
    let second_source = [false, false, false, false, false, false, true, true, true];
    let expected: Vec<u8> = steps
        .iter()
        .zip(second_source)
        .flat_map(|(&step, second)| tone(if second { 0x40 + step } else { step }))
        .collect();
    assert_eq!(arrival.bytes, expected);
    assert_eq!(
        &sequence.bytes[3 * 160..4 * 160],
        &tone(3)[..],
        "late packet back in place"
    );
    Ok(())
}
