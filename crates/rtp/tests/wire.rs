//! RTCP compound parsing on hand-built packets, and no panic on hostile bytes (the fuzz
//! corpus replayed plus random inputs).

use std::path::PathBuf;
use std::time::Instant;

use model::clock::{Clock, SystemClock};
use onrecord_rtp as rtp;
use proptest::prelude::*;
use rtp::rtcp::{Compound, Packet};
use rtp::{RtpError, RtpPacket, StreamReceiver, TelephoneEvent, looks_like_rtcp};

fn workspace_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn read(relative: &str) -> Vec<u8> {
    let path = workspace_file(relative);
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("fixture {} missing: {error}", path.display()))
}

#[test]
fn compound_sender_report_sdes_bye_is_read() -> Result<(), RtpError> {
    let bytes = read("testdata/rtp/rtcp-sr-sdes-bye.bin");
    assert!(looks_like_rtcp(&bytes));
    let compound = Compound::parse(&bytes)?;
    let packets = compound.packets().collect::<Result<Vec<_>, _>>()?;
    assert_eq!(packets.len(), 3);

    let Packet::SenderReport(report) = packets[0] else {
        panic!("first packet is {:?}", packets[0]);
    };
    assert_eq!(report.ssrc, 0x1122_3344);
    assert_eq!(report.ntp_timestamp, 0xe6a1_b2c3_8000_0000);
    assert_eq!(report.rtp_timestamp, 160_000);
    assert_eq!(report.packet_count, 500);
    assert_eq!(report.octet_count, 80_000);
    let blocks: Vec<_> = report.reports.iter().collect();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].ssrc, 0x5566_7788);
    assert_eq!(blocks[0].fraction_lost, 0x40);
    assert_eq!(blocks[0].cumulative_lost, -2);
    assert_eq!(blocks[0].highest_extended_sequence, 0x0001_0010);
    assert_eq!(blocks[0].jitter, 37);

    let Packet::SourceDescription(description) = packets[1] else {
        panic!("second packet is {:?}", packets[1]);
    };
    let chunks: Vec<_> = description.chunks().collect();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].ssrc, 0x1122_3344);
    assert_eq!(chunks[0].cname(), Some(&b"rec@10.0.0.1"[..]));

    let Packet::Goodbye(goodbye) = packets[2] else {
        panic!("third packet is {:?}", packets[2]);
    };
    assert_eq!(
        goodbye.ssrcs().collect::<Vec<_>>(),
        vec![0x1122_3344, 0x99aa_bbcc]
    );
    assert_eq!(goodbye.reason, Some(&b"transfer"[..]));
    assert_eq!(packets[2].ssrc(), Some(0x1122_3344));
    Ok(())
}

#[test]
fn compound_receiver_report_and_padded_app_is_read() -> Result<(), RtpError> {
    let bytes = read("testdata/rtp/rtcp-rr-app-padded.bin");
    let packets = Compound::parse(&bytes)?
        .packets()
        .collect::<Result<Vec<_>, _>>()?;
    let Packet::ReceiverReport(report) = packets[0] else {
        panic!("first packet is {:?}", packets[0]);
    };
    assert_eq!(report.ssrc, 0x0a0b_0c0d);
    assert!(report.reports.is_empty());
    let Packet::Application(application) = packets[1] else {
        panic!("second packet is {:?}", packets[1]);
    };
    assert_eq!(application.subtype, 3);
    assert_eq!(&application.name, b"ONRC");
    assert_eq!(application.data, &[1, 2, 3, 4], "padding removed");
    Ok(())
}

#[test]
fn padding_before_the_last_packet_is_refused() {
    let mut bytes = read("testdata/rtp/rtcp-rr-app-padded.bin");
    bytes[0] |= 0x20;
    assert_eq!(Compound::parse(&bytes), Err(RtpError::RtcpPaddingNotLast));
}

#[test]
fn length_past_the_datagram_is_refused() {
    let mut bytes = read("testdata/rtp/rtcp-sr-sdes-bye.bin");
    bytes.truncate(bytes.len() - 4);
    assert!(matches!(
        Compound::parse(&bytes),
        Err(RtpError::RtcpLength { .. })
    ));
}

#[test]
fn sender_report_claiming_more_blocks_than_it_holds_is_malformed() -> Result<(), RtpError> {
    let mut bytes = read("testdata/rtp/rtcp-sr-sdes-bye.bin");
    bytes[0] = 0x80 | 2;
    let first = Compound::parse(&bytes)?.packets().next();
    assert_eq!(first, Some(Err(RtpError::RtcpBody { packet_type: 200 })));
    Ok(())
}

/// Everything a hostile datagram can reach on the receive path.
fn exercise(bytes: &[u8], receiver: &mut StreamReceiver, now: Instant) {
    if let Ok(compound) = Compound::parse(bytes) {
        for packet in compound.packets().flatten() {
            let _ = packet.ssrc();
            if let Packet::SourceDescription(description) = packet {
                for chunk in description.chunks() {
                    let _ = chunk.items().count();
                }
            }
            if let Packet::SenderReport(report) = packet {
                let _ = report.reports.iter().count();
            }
        }
    }
    if let Ok(packet) = RtpPacket::parse(bytes) {
        let _ = packet.csrcs().count();
        let _ = TelephoneEvent::parse(packet.payload());
        let _ = rtp::Encoding::Opus.payload_duration(packet.payload());
        receiver.receive(
            packet.ssrc(),
            packet.sequence_number(),
            packet.timestamp(),
            8_000,
            now,
        );
    }
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let directory = workspace_file("fuzz/corpus/rtp_packet");
    let entries = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("corpus {} missing: {error}", directory.display()));
    let now = SystemClock.monotonic();
    let mut receiver = StreamReceiver::new(rtp::ReceiveConfig::default());
    let mut replayed = 0;
    for entry in entries.flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        exercise(&bytes, &mut receiver, now);
        replayed += 1;
    }
    assert!(replayed >= 5, "only {replayed} corpus files");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut receiver = StreamReceiver::new(rtp::ReceiveConfig::default());
        exercise(&bytes, &mut receiver, SystemClock.monotonic());
    }

    #[test]
    fn random_rtcp_shaped_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        count in 0u8..32,
        packet_type in 200u8..=204,
        words in 0u16..60,
    ) {
        let mut bytes = vec![0x80 | count, packet_type];
        bytes.extend_from_slice(&words.to_be_bytes());
        bytes.extend_from_slice(&body);
        let mut receiver = StreamReceiver::new(rtp::ReceiveConfig::default());
        exercise(&bytes, &mut receiver, SystemClock.monotonic());
    }

    #[test]
    fn random_sequences_keep_counters_consistent(
        packets in proptest::collection::vec((any::<u16>(), any::<u32>(), 0u32..3), 1..200),
    ) {
        let now = SystemClock.monotonic();
        let mut receiver = StreamReceiver::new(rtp::ReceiveConfig::default());
        for (sequence, timestamp, ssrc) in packets {
            receiver.receive(ssrc, sequence, timestamp, 8_000, now);
        }
        let statistics = receiver.statistics();
        prop_assert!(statistics.received <= statistics.expected.max(1));
    }
}
