//! Hostile bytes never panic the reader or the answer builder (STYLE.md §3). Also replays
//! the fuzz corpus, so the fuzz target's seeds run on stable in every test run.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use onrecord_sdp::{LocalPort, SdpSession, SessionDescription};
use proptest::prelude::*;

fn exercise(bytes: &[u8]) {
    if let Ok(offer) = SessionDescription::parse(bytes) {
        let _ = SessionDescription::parse(&offer.to_bytes());
        let ports: Vec<LocalPort> = (0..offer.media.len())
            .map(|index| {
                if index % 2 == 0 {
                    LocalPort::Ready(u16::MAX)
                } else {
                    LocalPort::NotReady
                }
            })
            .collect();
        let mut session = SdpSession::new(u64::MAX, IpAddr::V6(Ipv6Addr::LOCALHOST));
        let _ = session.answer(&offer, &ports);
    }
}

const SEED: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
    m=audio 4000 RTP/AVP 0 8 96 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-16\r\na=sendonly\r\na=label:1\r\na=rtcp-mux\r\na=record:on\r\n";

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_offers_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = SEED.as_bytes().to_vec();
        for (position, byte) in edits {
            let index = position.index(bytes.len());
            bytes[index] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        exercise(&bytes);
    }
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sdp");
    let entries = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("fuzz corpus {} unreadable: {error}", directory.display()));
    let mut replayed = 0;
    for entry in entries.flatten() {
        if let Ok(bytes) = std::fs::read(entry.path()) {
            exercise(&bytes);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "fuzz corpus {} is empty", directory.display());
}
