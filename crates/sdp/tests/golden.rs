//! Golden tests: corpus offers (RFC 7866 Figure 5, bare vendor SDPs) → recording-server
//! answers in `testdata/sdp/*.answer.sdp`. Regenerate with `ONRECORD_UPDATE_GOLDEN=1`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use onrecord_sdp::{LocalPort, MediaDirection, SdpSession, SessionDescription};

fn corpus(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/siprec-corpus")
        .join(relative)
}

fn read_corpus(relative: &str) -> String {
    let path = corpus(relative);
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => panic!(
            "corpus file {} is missing ({error}); the SIPREC corpus must be at ../shared",
            path.display()
        ),
    }
}

/// Compares `actual` with the golden file, or rewrites it under `ONRECORD_UPDATE_GOLDEN=1`.
fn check_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sdp")
        .join(name);
    if std::env::var_os("ONRECORD_UPDATE_GOLDEN").is_some_and(|value| value == "1") {
        if let Err(error) = std::fs::write(&path, actual) {
            panic!("cannot write {}: {error}", path.display());
        }
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "golden {} unreadable ({error}); run with ONRECORD_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "answer differs from golden {}",
        path.display()
    );
}

/// RFC 8792-style `<allOneLine>` folding in the RFC figures: join the folded lines.
fn unfold_all_one_line(text: &str) -> String {
    let mut out = String::new();
    let mut folding = false;
    for line in text.lines() {
        match line.trim() {
            "<allOneLine>" => folding = true,
            "</allOneLine>" => {
                folding = false;
                out.push('\n');
            }
            trimmed if folding => out.push_str(trimmed),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn recording_server() -> SdpSession {
    SdpSession::new(0, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20)))
}

fn ready_ports(count: usize) -> Vec<LocalPort> {
    (0..count)
        .map(|index| LocalPort::Ready(10_000 + 2 * index as u16))
        .collect()
}

#[test]
fn rfc7866_figure5_offer_is_answered_like_figure6() -> Result<(), Box<dyn std::error::Error>> {
    let offer = SessionDescription::parse(
        unfold_all_one_line(&read_corpus("rfc/rfc7866-fig05-src-sdp-offer.txt")).as_bytes(),
    )?;
    let figure6 = SessionDescription::parse(
        unfold_all_one_line(&read_corpus("rfc/rfc7866-fig06-srs-sdp-answer.txt")).as_bytes(),
    )?;
    let answer = recording_server().answer(&offer, &ready_ports(offer.media.len()))?;
    let ours = &answer.description;
    assert_eq!(ours.media.len(), figure6.media.len());
    for (index, (our_media, their_media)) in ours.media.iter().zip(&figure6.media).enumerate() {
        assert_eq!(
            our_media.label(),
            their_media.label(),
            "label of m-line {index}"
        );
        if our_media.media == "audio" {
            // Figure 6 records every stream recvonly on the ports we also allocate.
            assert_eq!(our_media.port, their_media.port);
            assert_eq!(ours.media_direction(index), MediaDirection::ReceiveOnly);
            assert!(our_media.formats.contains(&"0".to_owned()));
        } else {
            // We record audio only: video is rejected with port 0.
            assert_eq!(our_media.port, 0);
        }
    }
    check_golden("rfc7866-fig05-src-sdp-offer.answer.sdp", &ours.to_string());
    Ok(())
}

#[test]
fn rfc7866_figure6_answer_round_trips_through_the_writer() -> Result<(), Box<dyn std::error::Error>>
{
    let figure6 = SessionDescription::parse(
        unfold_all_one_line(&read_corpus("rfc/rfc7866-fig06-srs-sdp-answer.txt")).as_bytes(),
    )?;
    let reparsed = SessionDescription::parse(&figure6.to_bytes())?;
    assert_eq!(reparsed, figure6);
    Ok(())
}

#[test]
fn bare_vendor_sdps_are_answered_like_their_goldens() -> Result<(), Box<dyn std::error::Error>> {
    for name in [
        "sample-sdps",
        "sample-sdp2",
        "sample-sdp3",
        "non-siprec-payload",
    ] {
        let text = read_corpus(&format!("vendors/{name}.txt"));
        for (index, part) in text.split("__split_here__").enumerate() {
            let offer = SessionDescription::parse(part.as_bytes())?;
            let reparsed = SessionDescription::parse(&offer.to_bytes())?;
            assert_eq!(reparsed, offer, "{name} part {index} does not round-trip");
            let answer = recording_server().answer(&offer, &ready_ports(offer.media.len()))?;
            check_golden(
                &format!("{name}-{}.answer.sdp", index + 1),
                &answer.description.to_string(),
            );
        }
    }
    Ok(())
}
