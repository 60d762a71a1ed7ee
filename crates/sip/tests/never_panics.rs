//! Hostile bytes never panic: random bytes, mutated corpus messages, and the fuzz corpus
//! (`fuzz/corpus/sip_message/`), through the parser, the typed views, the stream framer and
//! the endpoint.

mod common;

use std::path::PathBuf;

use common::{Harness, messages_from_rfc_text, messages_from_sipp, read_corpus};
use onrecord_sip::{Limits, Message, StreamFramer, Transport, parse_message};
use proptest::prelude::*;

/// Parses and exercises every typed view, as an application would.
fn exercise(bytes: &[u8]) {
    let Ok(message) = parse_message(bytes, &Limits::default()) else {
        return;
    };
    let headers = match &message {
        Message::Request(request) => &request.headers,
        Message::Response(response) => &response.headers,
    };
    let _ = headers.vias();
    let _ = headers.top_via();
    let _ = headers.from();
    let _ = headers.to();
    let _ = headers.call_id();
    let _ = headers.cseq();
    let _ = headers.contacts();
    let _ = headers.record_routes();
    let _ = headers
        .content_type()
        .map(|content_type| content_type.map(|value| value.boundary().map(str::len)));
    let _ = headers.content_length();
    let _ = headers.max_forwards();
    let _ = headers.require();
    let _ = headers.supported();
    let _ = headers.allow();
    let _ = headers.warnings();
    if let Message::Request(request) = &message {
        let _ = onrecord_sip::SipUri::parse(&request.uri).map(|uri| uri.socket_addr());
        let _ = request.to_bytes();
        let _ = format!("{request:?}");
    }
}

fn feed_everywhere(bytes: &[u8]) {
    exercise(bytes);
    let mut harness = Harness::new();
    harness.input(Transport::Udp, bytes);
    harness.input(Transport::Tcp, bytes);
    harness.input(Transport::Tcp, bytes);
    let _ = harness.transmits();
    let _ = harness.events();
    harness.advance_to(std::time::Duration::from_secs(40));
    let mut framer = StreamFramer::new(Limits::default());
    for chunk in bytes.chunks(7) {
        if framer.push(chunk).is_err() {
            break;
        }
        while framer.next_frame().is_some() {}
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = messages_from_rfc_text(&read_corpus("rfc/rfc7866-fig12-rs-invite.txt"));
    seeds.extend(messages_from_rfc_text(&read_corpus(
        "rfc/rfc8068-3.2.4-call-disconnect.txt",
    )));
    seeds.extend(messages_from_sipp(
        &read_corpus("sipp/drachtio_uac_siprec_pcap.xml"),
        Some("t"),
    ));
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, length: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"\r\n".to_vec(),
        b"\r\n\r\n".to_vec(),
        b":".to_vec(),
        b";".to_vec(),
        b",".to_vec(),
        b"<".to_vec(),
        b"\"".to_vec(),
        b" \t".to_vec(),
        b"[".to_vec(),
        b"\xff\xfe".to_vec(),
        b"Content-Length: 99999999999999999999\r\n".to_vec(),
        b"\r\n ".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (
            any::<usize>(),
            prop_oneof![interesting, prop::collection::vec(any::<u8>(), 0..16)]
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 0usize..64).prop_map(|(at, length)| Mutation::Delete { at, length }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let length = bytes.len().max(1);
        match mutation {
            Mutation::Flip { at, byte } => {
                if let Some(slot) = bytes.get_mut(at % length) {
                    *slot = *byte;
                }
            }
            Mutation::Insert {
                at,
                bytes: inserted,
            } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, inserted.iter().copied());
            }
            Mutation::Delete { at, length: count } => {
                let at = at % length;
                let end = (at + count).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Truncate { at } => bytes.truncate(at % length),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        feed_everywhere(&bytes);
    }

    #[test]
    fn random_sip_shaped_text_never_panics(text in "(INVITE|SIP/2.0|ACK|BYE) [ -~]{0,40}\r\n([A-Za-z-]{1,12} ?:[ -~]{0,60}\r\n){0,12}\r\n[ -~]{0,40}") {
        feed_everywhere(text.as_bytes());
    }

    #[test]
    fn mutated_corpus_messages_never_panic(
        seed in 0usize..64,
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let seeds = seeds();
        let original = seeds[seed % seeds.len()].clone();
        feed_everywhere(&apply(original, &mutations));
    }
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sip_message");
    let entries = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("fuzz corpus {} unreadable: {error}", directory.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap_or_else(|error| panic!("{error}")).path();
        let bytes =
            std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        feed_everywhere(&bytes);
        count += 1;
    }
    assert!(
        count >= 5,
        "the seed corpus has at least five inputs, found {count}"
    );
}
