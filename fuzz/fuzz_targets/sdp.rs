//! Fuzzes the SDP reader, writer and the recording server's answer builder.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use onrecord_sdp::{LocalPort, SdpSession, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = SessionDescription::parse(data) else {
        return;
    };
    let _ = SessionDescription::parse(&offer.to_bytes());
    let ports: Vec<LocalPort> = (0..offer.media.len())
        .map(|index| {
            if index % 3 == 2 {
                LocalPort::NotReady
            } else {
                LocalPort::Ready(u16::MAX - index as u16)
            }
        })
        .collect();
    let mut session = SdpSession::new(1, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let _ = session.answer(&offer, &ports);
    let _ = session.answer(&offer, &ports);
});
