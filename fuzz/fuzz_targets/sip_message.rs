//! Fuzzes the SIP parser, its typed header views, the stream framer and the UAS endpoint
//! with arbitrary bytes. Nothing here may panic.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use onrecord_sip::{Endpoint, EndpointConfig, Limits, Message, StreamFramer, Transport, parse_message};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse_message(data, &Limits::default()) {
        let headers = match &message {
            Message::Request(request) => &request.headers,
            Message::Response(response) => &response.headers,
        };
        let _ = headers.vias();
        let _ = headers.from();
        let _ = headers.to();
        let _ = headers.cseq();
        let _ = headers.contacts();
        let _ = headers.record_routes();
        let _ = headers.content_type();
        let _ = headers.content_length();
        let _ = headers.warnings();
        let _ = headers.allow();
        if let Message::Request(request) = &message {
            let _ = request.to_bytes();
        }
    }

    let mut framer = StreamFramer::new(Limits::default());
    for chunk in data.chunks(13) {
        if framer.push(chunk).is_err() {
            break;
        }
        while framer.next_frame().is_some() {}
    }

    // Time is only an input; any instant will do as the start of the virtual clock.
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let config = EndpointConfig::new("192.0.2.20:5060", "<sip:srs@192.0.2.20>", [1; 32]);
    let mut endpoint = Endpoint::new(config);
    let from = std::net::SocketAddr::from(([192, 0, 2, 10], 5062));
    endpoint.handle_input(start, from, Transport::Udp, data);
    endpoint.handle_input(start, from, Transport::Tcp, data);
    while let Some(event) = endpoint.poll_event() {
        if let onrecord_sip::Event::IncomingInvite { transaction, .. } = event {
            let _ = endpoint.respond(start, transaction, 200, Default::default(), Vec::new());
        }
    }
    endpoint.handle_input(start, from, Transport::Udp, data);
    endpoint.handle_timeout(start + Duration::from_secs(40));
    while endpoint.poll_transmit().is_some() {}
});
