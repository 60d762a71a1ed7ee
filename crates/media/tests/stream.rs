//! Recorder behaviour, chunking, WAV rendering and hostile stored bytes.

use std::error::Error;
use std::time::{Duration, Instant};

use model::clock::{Clock, SystemClock};
use onrecord_media::{
    GapMap, GapReason, LIVE_CHUNK_SIZE, MediaError, Record, RecorderConfig, RenderOptions,
    StreamHeader, StreamReader, StreamRecorder, WriterConfig, alaw_to_linear, mulaw_to_linear,
    raw_payloads, render_wav, wav_header,
};
use proptest::prelude::*;
use rtp::{Encoding, PayloadFormat, PayloadTypeMap};

fn rtp_packet(payload_type: u8, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, payload_type];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&timestamp.to_be_bytes());
    packet.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

struct Session {
    recorder: StreamRecorder,
    start: Instant,
    stored: Vec<u8>,
}

impl Session {
    fn new(primary: u8, chunk_size: usize) -> Result<Session, Box<dyn Error>> {
        let mut payload_types = PayloadTypeMap::with_static_types();
        payload_types.insert(PayloadFormat::new(111, Encoding::Opus, 48_000)?)?;
        let header = StreamHeader::new(payload_types, primary, 1_000)?;
        let config = RecorderConfig {
            writer: WriterConfig { chunk_size },
            ..RecorderConfig::new(header)
        };
        let start = SystemClock.monotonic();
        Ok(Session {
            recorder: StreamRecorder::new(config, start, Vec::new())?,
            start,
            stored: Vec::new(),
        })
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn drain(&mut self) {
        while let Some(chunk) = self.recorder.full_chunk() {
            self.stored.extend_from_slice(chunk);
            let _ = self.recorder.release_chunk();
        }
    }

    fn packet(&mut self, ms: u64, packet: &[u8]) -> Result<(), MediaError> {
        self.recorder.on_rtp(self.at(ms), packet)?;
        self.drain();
        Ok(())
    }

    fn finish(mut self, ms: u64) -> Result<Vec<u8>, Box<dyn Error>> {
        let _ = self.recorder.finish(self.at(ms))?;
        self.drain();
        let last = self.recorder.last_chunk().ok_or("no last chunk")?.to_vec();
        self.stored.extend_from_slice(&last);
        Ok(self.stored)
    }
}

/// 20 ms G.711 packets from time 0: sequence `index`, timestamp `index × 160`.
fn g711(payload_type: u8, index: u16, code: u8) -> Vec<u8> {
    rtp_packet(payload_type, index, u32::from(index) * 160, &[code; 160])
}

#[test]
fn missing_packet_is_rendered_as_silence_at_its_place() -> Result<(), Box<dyn Error>> {
    let mut session = Session::new(0, LIVE_CHUNK_SIZE)?;
    // µ-law 0x80 decodes to +32,124; packet 1 never arrives.
    for index in [0u16, 2, 3] {
        session.packet(u64::from(index) * 20, &g711(0, index, 0x80))?;
    }
    let stored = session.finish(80)?;
    let mut wav = Vec::new();
    let summary = render_wav(&stored, &RenderOptions::default(), &mut wav)?;
    assert_eq!(summary.sample_rate, 8_000);
    assert_eq!(summary.samples, 640, "80 ms at 8 kHz");
    let samples: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    assert!(samples[..160].iter().all(|&sample| sample == 32_124));
    assert!(
        samples[160..320].iter().all(|&sample| sample == 0),
        "lost packet is silence"
    );
    assert!(samples[320..].iter().all(|&sample| sample == 32_124));

    let map = GapMap::from_stream(&stored)?;
    assert_eq!(map.gaps.len(), 1);
    assert_eq!(map.gaps[0].reason, GapReason::Loss);
    assert_eq!((map.gaps[0].start_ms, map.gaps[0].end_ms), (20, 40));
    assert_eq!(map.gaps[0].lost_packets, 1);
    Ok(())
}

#[test]
fn statistics_count_ssrc_changes_and_when_audio_started_and_stopped() -> Result<(), Box<dyn Error>>
{
    let mut session = Session::new(0, LIVE_CHUNK_SIZE)?;
    let from = |ssrc: u32, index: u16| {
        let mut packet = g711(0, index, 0x80);
        packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
        packet
    };
    // The first source from 300 ms, then a transfer to another SSRC.
    for index in 0..10u16 {
        session.packet(300 + u64::from(index) * 20, &from(0x0bad_cafe, index))?;
    }
    for index in 0..10u16 {
        session.packet(
            500 + u64::from(index) * 20,
            &from(0x0dec_afe0, 5_000 + index),
        )?;
    }
    let statistics = session.recorder.statistics();
    assert_eq!(statistics.ssrc_changes, 1);
    assert_eq!(statistics.first_audio_ms, Some(300));
    assert_eq!(statistics.last_audio_ms, Some(680));
    Ok(())
}

#[test]
fn wav_header_is_riff_pcm_mono_16_bit() {
    let header = wav_header(16_000, 1_000);
    assert_eq!(&header[0..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes([header[4], header[5], header[6], header[7]]),
        2_036
    );
    assert_eq!(&header[8..16], b"WAVEfmt ");
    assert_eq!(
        u32::from_le_bytes([header[16], header[17], header[18], header[19]]),
        16
    );
    assert_eq!(u16::from_le_bytes([header[20], header[21]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([header[22], header[23]]), 1, "mono");
    assert_eq!(
        u32::from_le_bytes([header[24], header[25], header[26], header[27]]),
        16_000
    );
    assert_eq!(
        u32::from_le_bytes([header[28], header[29], header[30], header[31]]),
        32_000,
        "byte rate"
    );
    assert_eq!(
        u16::from_le_bytes([header[32], header[33]]),
        2,
        "block align"
    );
    assert_eq!(u16::from_le_bytes([header[34], header[35]]), 16, "bits");
    assert_eq!(&header[36..40], b"data");
    assert_eq!(
        u32::from_le_bytes([header[40], header[41], header[42], header[43]]),
        2_000
    );
}

#[test]
fn g711_tables_match_itu_reference_points() {
    assert_eq!(mulaw_to_linear(0xff), 0);
    assert_eq!(mulaw_to_linear(0x00), -32_124);
    assert_eq!(alaw_to_linear(0xd5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
}

#[test]
fn g722_stream_renders_at_16_khz() -> Result<(), Box<dyn Error>> {
    let mut session = Session::new(9, LIVE_CHUNK_SIZE)?;
    for index in 0..3u16 {
        session.packet(u64::from(index) * 20, &g711(9, index, 0x5a))?;
    }
    let stored = session.finish(60)?;
    let mut wav = Vec::new();
    let summary = render_wav(&stored, &RenderOptions::default(), &mut wav)?;
    assert_eq!(summary.sample_rate, 16_000);
    assert_eq!(summary.samples, 960, "60 ms at 16 kHz");
    assert_eq!(wav.len(), 44 + 960 * 2);
    Ok(())
}

/// The packets of a single-stream Ogg file (RFC 3533 §6: a packet ends with a lacing value
/// under 255, and may continue on the next page).
fn ogg_packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut packet = Vec::new();
    let mut at = 0;
    while bytes.get(at..at + 4) == Some(b"OggS") && at + 27 <= bytes.len() {
        let segments = usize::from(bytes[at + 26]);
        let table = &bytes[at + 27..at + 27 + segments];
        let mut body = at + 27 + segments;
        for &lacing in table {
            packet.extend_from_slice(&bytes[body..body + usize::from(lacing)]);
            body += usize::from(lacing);
            if lacing < 255 {
                packets.push(std::mem::take(&mut packet));
            }
        }
        at = body;
    }
    packets
}

/// A real Opus stream (opusenc's packets of testdata/intake's 440 Hz tone, sent as RTP with the
/// 48 kHz clock of RFC 7587) renders at 16 kHz to that tone, and a lost packet is silence.
#[test]
fn opus_stream_renders_the_tone_at_16_khz() -> Result<(), Box<dyn Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/intake/tone-8k-mono-500ms.opus"
    );
    let packets = ogg_packets(&std::fs::read(path)?);
    // RFC 7845 §5: the ID and comment headers come first.
    assert!(packets[0].starts_with(b"OpusHead") && packets[1].starts_with(b"OpusTags"));
    let audio = &packets[2..];
    let mut session = Session::new(111, LIVE_CHUNK_SIZE)?;
    let mut timestamp = 0u32;
    let mut sent = 0;
    for (index, packet) in audio.iter().enumerate() {
        let samples = onrecord_media::opus_packet_samples(packet, 48_000).ok_or("bad TOC")?;
        // Drop the fourth packet: its time must render as silence.
        if index != 3 {
            session.packet(
                u64::from(timestamp / 48),
                &rtp_packet(111, index as u16, timestamp, packet),
            )?;
            sent += 1;
        }
        timestamp += samples as u32;
    }
    assert!(sent > 10);
    let stored = session.finish(u64::from(timestamp / 48))?;
    let mut wav = Vec::new();
    let summary = render_wav(&stored, &RenderOptions::default(), &mut wav)?;
    assert_eq!(summary.sample_rate, 16_000);
    assert_eq!(
        summary.samples,
        u64::from(timestamp / 3),
        "the whole timeline at 16 kHz"
    );
    let pcm: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    let lost_at = {
        let before: usize = audio[..3]
            .iter()
            .filter_map(|packet| onrecord_media::opus_packet_samples(packet, 16_000))
            .sum();
        let length = onrecord_media::opus_packet_samples(&audio[3], 16_000).ok_or("bad TOC")?;
        before..before + length
    };
    assert!(
        pcm[lost_at.clone()].iter().all(|&sample| sample == 0),
        "the lost packet"
    );
    // The tone: zero crossings over the second half (after the lost packet and the codec's
    // start-up) give its frequency.
    let body = &pcm[pcm.len() / 2..pcm.len() * 9 / 10];
    let crossings = body
        .windows(2)
        .filter(|pair| (pair[0] < 0) != (pair[1] < 0))
        .count();
    let hertz = crossings as f64 / 2.0 / (body.len() as f64 / 16_000.0);
    assert!((hertz - 440.0).abs() < 15.0, "{hertz:.1} Hz");
    Ok(())
}

#[test]
fn chunks_are_exactly_chunk_size_and_concatenate_to_the_stream() -> Result<(), Box<dyn Error>> {
    let mut session = Session::new(0, 1_024)?;
    let mut ready = 0;
    for index in 0..40u16 {
        if session
            .recorder
            .on_rtp(session.at(u64::from(index) * 20), &g711(0, index, 0xff))?
            .is_some()
        {
            ready += 1;
            let chunk = session
                .recorder
                .full_chunk()
                .ok_or("announced chunk missing")?;
            assert_eq!(chunk.len(), 1_024);
            session.stored.extend_from_slice(chunk);
            assert!(session.recorder.release_chunk().is_none());
        }
    }
    assert_eq!(ready, (40 * (19 + 160) + 44) / 1_024);
    let stored = session.finish(800)?;
    let records = StreamReader::open(&stored)?
        .records()
        .collect::<Result<Vec<_>, _>>()?;
    let audio = records
        .iter()
        .filter(|record| matches!(record, Record::Audio { .. }))
        .count();
    assert_eq!(audio, 40);
    Ok(())
}

#[test]
fn no_consent_gap_drops_audio_and_appears_in_the_gap_map() -> Result<(), Box<dyn Error>> {
    let mut session = Session::new(0, LIVE_CHUNK_SIZE)?;
    session.packet(0, &g711(0, 0, 0xff))?;
    let _ = session
        .recorder
        .start_gap(session.at(20), GapReason::NoConsent)?;
    assert!(session.recorder.is_suppressed());
    for index in 1..50u16 {
        session.packet(u64::from(index) * 20, &g711(0, index, 0x80))?;
    }
    let _ = session
        .recorder
        .end_gap(session.at(1_000), GapReason::NoConsent)?;
    session.packet(1_000, &g711(0, 50, 0xff))?;
    assert_eq!(session.recorder.statistics().dropped_while_paused, 49);
    let stored = session.finish(1_020)?;
    let payloads = raw_payloads(&stored, onrecord_media::PayloadOrder::Arrival)?;
    assert_eq!(payloads.packets, 2);
    assert!(
        payloads.bytes.iter().all(|&code| code == 0xff),
        "nothing from the gap kept"
    );
    let map = GapMap::from_stream(&stored)?;
    assert_eq!(map.gaps.len(), 1);
    assert_eq!(map.gaps[0].reason, GapReason::NoConsent);
    assert_eq!((map.gaps[0].start_ms, map.gaps[0].end_ms), (20, 1_000));
    Ok(())
}

#[test]
fn long_silence_with_contiguous_sequence_is_an_inactivity_gap() -> Result<(), Box<dyn Error>> {
    let mut session = Session::new(0, LIVE_CHUNK_SIZE)?;
    session.packet(0, &g711(0, 0, 0xff))?;
    // Sequence 1 follows at timestamp 3 s: the sender suppressed 3 s of silence.
    session.packet(3_000, &rtp_packet(0, 1, 24_000, &[0xff; 160]))?;
    let stored = session.finish(3_020)?;
    let map = GapMap::from_stream(&stored)?;
    assert_eq!(map.gaps.len(), 1);
    assert_eq!(map.gaps[0].reason, GapReason::Inactivity);
    assert_eq!((map.gaps[0].start_ms, map.gaps[0].end_ms), (20, 3_000));
    assert_eq!(map.total_ms(GapReason::Inactivity), 2_980);
    Ok(())
}

#[test]
fn stream_cut_inside_its_last_record_still_renders_what_was_sealed() -> Result<(), Box<dyn Error>> {
    let mut session = Session::new(0, LIVE_CHUNK_SIZE)?;
    for index in 0..5u16 {
        session.packet(u64::from(index) * 20, &g711(0, index, 0xff))?;
    }
    let mut stored = session.finish(100)?;
    stored.truncate(stored.len() - 50);
    let records: Vec<_> = StreamReader::open(&stored)?.records().collect();
    assert!(matches!(
        records.last(),
        Some(Err(MediaError::TruncatedRecord { .. }))
    ));
    let summary = render_wav(&stored, &RenderOptions::default(), &mut Vec::new())?;
    assert!(summary.truncated);
    assert_eq!(summary.audio_records, 4);
    Ok(())
}

#[test]
fn overlong_timeline_is_refused_before_writing() -> Result<(), Box<dyn Error>> {
    let mut session = Session::new(0, LIVE_CHUNK_SIZE)?;
    session.packet(0, &g711(0, 0, 0xff))?;
    let stored = session.finish(10_000)?;
    let mut wav = Vec::new();
    let result = render_wav(&stored, &RenderOptions { max_seconds: 5 }, &mut wav);
    assert!(matches!(result, Err(MediaError::TooLong { limit: 5, .. })));
    assert!(wav.is_empty());
    Ok(())
}

#[test]
fn per_stream_state_stays_small() -> Result<(), Box<dyn Error>> {
    let session = Session::new(0, LIVE_CHUNK_SIZE)?;
    let state = size_of::<StreamRecorder>();
    let buffer = session.recorder.writer().buffer_capacity();
    eprintln!(
        "StreamRecorder {state} B (SourceState {} B, StreamReceiver {} B), open buffer {buffer} B",
        size_of::<rtp::SourceState>(),
        size_of::<rtp::StreamReceiver>()
    );
    assert!(state <= 1_024, "StreamRecorder is {state} bytes");
    assert!(
        buffer <= LIVE_CHUNK_SIZE + 2_048,
        "open buffer reserves {buffer} bytes"
    );
    // Two streams per call stay under the 64 KiB-per-call goal.
    assert!(2 * (state + buffer) <= 64 * 1024);
    Ok(())
}

proptest! {
    #[test]
    fn hostile_stored_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        // A valid header followed by random records, and random bytes alone.
        let header = StreamHeader::new(PayloadTypeMap::with_static_types(), 9, 0)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let mut stream = Vec::new();
        header.encode(&mut stream);
        stream.extend_from_slice(&tail);
        for bytes in [&stream[..], &tail[..]] {
            if let Ok(reader) = StreamReader::open(bytes) {
                for _record in reader.records() {}
            }
            let _ = GapMap::from_stream(bytes);
            let _ = raw_payloads(bytes, onrecord_media::PayloadOrder::Sequence);
            let _ = render_wav(bytes, &RenderOptions { max_seconds: 60 }, &mut Vec::new());
        }
    }

    #[test]
    fn random_datagrams_never_panic_the_recorder(
        datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..40),
    ) {
        let mut session = Session::new(0, 1_024)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        for (index, datagram) in datagrams.iter().enumerate() {
            let mut packet = datagram.clone();
            if let Some(first) = packet.first_mut() {
                *first = 0x80 | (*first & 0x3f);
            }
            let _ = session.packet(index as u64 * 20, &packet);
        }
        let stored = session.finish(2_000)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert!(StreamReader::open(&stored).is_ok());
        let _ = GapMap::from_stream(&stored);
        let _ = render_wav(&stored, &RenderOptions { max_seconds: 3_600 }, &mut Vec::new());
    }
}
