//! Hostile bytes never panic the recording server (STYLE.md §3): random datagrams, and
//! valid INVITEs and re-INVITEs with bytes flipped, on UDP and TCP.

#[path = "session_harness.rs"]
mod harness;

use harness::*;
use model::ConsentPolicy;
use proptest::prelude::*;
use sip::Transport;

fn valid_invite() -> Vec<u8> {
    let (content_type, body) = multipart(
        &two_stream_sdp("sendonly"),
        &two_party_metadata(Some(&consent_element("verbal", "ivr-1")), None),
    );
    invite("call-fuzz", SIPREC, &content_type, &body)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2_048)) {
        let mut harness = Harness::new(Some(client(ConsentPolicy::OneParty, true, true)));
        harness.udp(&bytes);
        harness.input(Transport::Tcp, &bytes);
        harness.messages();
        harness.events();
    }

    #[test]
    fn flipped_invites_and_reinvites_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
        reinvite_flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
    ) {
        let mut harness = Harness::new(Some(client(ConsentPolicy::OneParty, true, true)));
        let mut invite = valid_invite();
        let length = invite.len();
        for (position, byte) in &flips {
            invite[position % length] = *byte;
        }
        harness.udp(&invite);
        let tag = harness
            .responses()
            .iter()
            .find(|response| response.status == 200)
            .map(to_tag);
        harness.events();
        if let Some(tag) = tag {
            let (content_type, body) = multipart(&two_stream_sdp("inactive"), &partial(""));
            let mut reinvite =
                request("INVITE", "call-fuzz", 2, Some(&tag), SIPREC, Some(&content_type), &body);
            let length = reinvite.len();
            for (position, byte) in &reinvite_flips {
                reinvite[position % length] = *byte;
            }
            harness.udp(&reinvite);
            harness.messages();
            harness.events();
        }
    }
}
