//! RTP and RTCP parsing plus the receive state on hostile datagrams: nothing may panic.
//! Seed corpus: `fuzz/corpus/rtp_packet/` (also replayed by `crates/rtp/tests/wire.rs`).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use onrecord_rtp::rtcp::{Compound, Packet};
use onrecord_rtp::{Encoding, ReceiveConfig, RtpPacket, StreamReceiver, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
    if let Ok(compound) = Compound::parse(data) {
        for packet in compound.packets().flatten() {
            let _ = packet.ssrc();
            match packet {
                Packet::SenderReport(report) => {
                    let _ = report.reports.iter().count();
                }
                Packet::SourceDescription(description) => {
                    for chunk in description.chunks() {
                        let _ = chunk.items().count();
                    }
                }
                Packet::Goodbye(goodbye) => {
                    let _ = goodbye.ssrcs().count();
                }
                _ => {}
            }
        }
    }
    // The same bytes as a run of RTP packets: split into 24-byte datagrams so that one
    // input drives the receive state through many packets.
    #[allow(clippy::disallowed_methods)] // the fuzzer has no clock to be handed
    let start = Instant::now();
    let mut receiver = StreamReceiver::new(ReceiveConfig::default());
    for (index, datagram) in std::iter::once(data).chain(data.chunks(24)).enumerate() {
        let Ok(packet) = RtpPacket::parse(datagram) else {
            continue;
        };
        let _ = packet.csrcs().count();
        let _ = TelephoneEvent::parse(packet.payload());
        let _ = Encoding::Opus.payload_duration(packet.payload());
        receiver.receive(
            packet.ssrc(),
            packet.sequence_number(),
            packet.timestamp(),
            8_000,
            start + Duration::from_millis(index as u64 * 20),
        );
    }
    let _ = receiver.total_statistics();
});
