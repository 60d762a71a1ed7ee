//! A minimal SIPREC recording client (the SRC side of RFC 7866), for `onrecord bench rtp` and
//! the demo: places recording sessions over UDP with an SDP offer of two labelled `sendonly`
//! G.711 streams and RFC 7865 metadata carrying onrecord's consent extension, reads the
//! answers' RTP ports, ACKs, and later ends the sessions with BYE. It is a test driver for
//! our own server on loopback, not a general user agent.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use model::clock::Clock;

use anyhow::{Context, Result, anyhow, bail};
use rand::RngCore;
use sip::{Limits, Message, parse_message};

/// One established recording session.
#[derive(Debug, Clone)]
pub struct ClientCall {
    pub call_id: String,
    from_tag: String,
    to_tag: String,
    /// Where the server wants RTP for each offered stream, in offer order.
    pub streams: Vec<SocketAddr>,
}

#[derive(Debug)]
pub struct RecordingClient {
    socket: UdpSocket,
    local: SocketAddr,
    server: SocketAddr,
    run: String,
    /// Whether the metadata carries consent evidence for the customer.
    pub with_evidence: bool,
}

fn token() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl RecordingClient {
    pub fn new(server: SocketAddr) -> Result<RecordingClient> {
        let socket = UdpSocket::bind(SocketAddr::new(server.ip(), 0))?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let local = socket.local_addr()?;
        Ok(RecordingClient {
            socket,
            local,
            server,
            run: token(),
            with_evidence: true,
        })
    }

    fn invite(&self, index: usize, media_port: u16) -> (String, String, Vec<u8>) {
        let call_id = format!("{}-{index}@onrecord-client", self.run);
        let from_tag = format!("t{index}{}", &self.run[..6]);
        let local = self.local;
        let host = local.ip();
        let sdp = format!(
            "v=0\r\no=src {index} 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n\
             m=audio {media_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\na=label:1\r\n\
             m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\na=label:2\r\n",
            media_port + 2
        );
        let consent = if self.with_evidence {
            "<consent xmlns=\"urn:onrecord:params:xml:ns:consent:1\" kind=\"announcement\" at=\"2026-01-01T00:00:00Z\" reference=\"prompt-recording-notice-v2\"/>"
        } else {
            ""
        };
        let metadata = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<recording xmlns='urn:ietf:params:xml:ns:recording:1'>\r\n\
             <datamode>complete</datamode>\r\n<session session_id=\"s{index}\"><sipSessionID>cs-{index}</sipSessionID></session>\r\n\
             <participant participant_id=\"p{index}a\"><nameID aor=\"tel:+44163296{:04}\"/>{consent}</participant>\r\n\
             <participant participant_id=\"p{index}b\"><nameID aor=\"sip:agent{}@contact.example.com\"/></participant>\r\n\
             <stream stream_id=\"st{index}a\" session_id=\"s{index}\"><label>1</label></stream>\r\n\
             <stream stream_id=\"st{index}b\" session_id=\"s{index}\"><label>2</label></stream>\r\n\
             <participantsessionassoc participant_id=\"p{index}a\" session_id=\"s{index}\"/>\r\n\
             <participantsessionassoc participant_id=\"p{index}b\" session_id=\"s{index}\"/>\r\n\
             <participantstreamassoc participant_id=\"p{index}a\"><send>st{index}a</send></participantstreamassoc>\r\n\
             <participantstreamassoc participant_id=\"p{index}b\"><send>st{index}b</send></participantstreamassoc>\r\n\
             </recording>\r\n",
            index % 10_000,
            index % 100
        );
        let body = format!(
            "--onrecord-boundary\r\nContent-Type: application/sdp\r\n\r\n{sdp}\r\n\
             --onrecord-boundary\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n{metadata}\r\n\
             --onrecord-boundary--\r\n"
        );
        let message = format!(
            "INVITE sip:srs@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{}\r\n\
             From: <sip:src@{local}>;tag={from_tag}\r\nTo: <sip:srs@{server}>\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:src@{local}>;+sip.src\r\nRequire: siprec\r\nMax-Forwards: 70\r\n\
             Content-Type: multipart/mixed;boundary=onrecord-boundary\r\nContent-Length: {}\r\n\r\n{body}",
            token(),
            body.len(),
            server = self.server
        );
        (call_id, from_tag, message.into_bytes())
    }

    fn in_dialog(&self, method: &str, call: &ClientCall, cseq: u32) -> Vec<u8> {
        let (local, server) = (self.local, self.server);
        format!(
            "{method} sip:srs@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{}\r\n\
             From: <sip:src@{local}>;tag={}\r\nTo: <sip:srs@{server}>;tag={}\r\nCall-ID: {}\r\n\
             CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            token(),
            call.from_tag,
            call.to_tag,
            call.call_id
        )
        .into_bytes()
    }

    /// Places `count` sessions, `window` outstanding at a time; returns the established ones
    /// and the final statuses of those refused (e.g. 403 without consent evidence).
    pub fn place(&self, count: usize, window: usize) -> Result<(Vec<ClientCall>, Vec<u16>)> {
        // Call-ID → (From tag, INVITE bytes, when last sent): INVITEs lost in a full socket
        // buffer are sent again after 500 ms (RFC 3261 §17.1.1.2, Timer A).
        let mut pending: HashMap<String, (String, Vec<u8>, std::time::Instant)> = HashMap::new();
        let clock = model::clock::SystemClock;
        let mut established = Vec::new();
        let mut refused = Vec::new();
        let mut next = 0;
        let mut idle_rounds = 0;
        let mut buffer = vec![0u8; 65_536];
        while established.len() + refused.len() < count {
            while next < count && pending.len() < window.max(1) {
                let (call_id, from_tag, bytes) =
                    self.invite(next, 9_000 + ((next as u16 % 1_000) * 4));
                self.socket.send_to(&bytes, self.server)?;
                pending.insert(call_id, (from_tag, bytes, clock.monotonic()));
                next += 1;
            }
            let now = clock.monotonic();
            for (_, bytes, sent) in pending.values_mut() {
                if now.duration_since(*sent) >= Duration::from_millis(500) {
                    self.socket.send_to(bytes, self.server)?;
                    *sent = now;
                }
            }
            let length = match self.socket.recv_from(&mut buffer) {
                Ok((length, _)) => length,
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    idle_rounds += 1;
                    if idle_rounds > 50 {
                        bail!(
                            "the server stopped answering ({} calls still pending)",
                            pending.len()
                        );
                    }
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            idle_rounds = 0;
            let Ok(Message::Response(response)) =
                parse_message(&buffer[..length], &Limits::default())
            else {
                continue;
            };
            let Ok(call_id) = response.headers.call_id().map(str::to_owned) else {
                continue;
            };
            if response.status < 200 {
                continue;
            }
            let Some((from_tag, _, _)) = pending.remove(&call_id) else {
                continue;
            };
            if response.status >= 300 {
                refused.push(response.status);
                // RFC 3261 §17.1.1.3: the ACK of a non-2xx answer is the transaction's own;
                // the server retransmits until Timer H otherwise, which is harmless here.
                continue;
            }
            let to_tag = response
                .headers
                .to()
                .ok()
                .and_then(|to| to.tag().map(str::to_owned))
                .context("200 OK without a To tag")?;
            let answer = sdp::SessionDescription::parse(&response.body)
                .map_err(|error| anyhow!("unreadable SDP answer: {error}"))?;
            let streams = answer
                .media
                .iter()
                .map(|media| SocketAddr::new(self.server.ip(), media.port))
                .collect();
            let call = ClientCall {
                call_id,
                from_tag,
                to_tag,
                streams,
            };
            self.socket
                .send_to(&self.in_dialog("ACK", &call, 1), self.server)?;
            established.push(call);
        }
        Ok((established, refused))
    }

    /// Ends every call with BYE; returns how many were answered 200.
    pub fn hang_up(&self, calls: &[ClientCall]) -> Result<usize> {
        let mut open: HashMap<&str, &ClientCall> =
            calls.iter().map(|c| (c.call_id.as_str(), c)).collect();
        for call in calls {
            self.socket
                .send_to(&self.in_dialog("BYE", call, 2), self.server)?;
        }
        let mut answered = 0;
        let mut idle_rounds = 0;
        let mut buffer = vec![0u8; 65_536];
        while !open.is_empty() && idle_rounds < 50 {
            let length = match self.socket.recv_from(&mut buffer) {
                Ok((length, _)) => length,
                Err(_) => {
                    idle_rounds += 1;
                    continue;
                }
            };
            let Ok(Message::Response(response)) =
                parse_message(&buffer[..length], &Limits::default())
            else {
                continue;
            };
            let Ok(cseq) = response.headers.cseq() else {
                continue;
            };
            if !cseq.method.as_str().eq_ignore_ascii_case("BYE") || response.status < 200 {
                continue;
            }
            if let Ok(call_id) = response.headers.call_id()
                && open.remove(call_id).is_some()
                && response.status == 200
            {
                answered += 1;
            }
        }
        Ok(answered)
    }
}

/// A 172-byte RTP packet (12-byte header + 20 ms of G.711 µ-law) for one stream.
pub fn rtp_packet(
    buffer: &mut [u8; 172],
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    payload_seed: u8,
) {
    buffer[0] = 0x80;
    buffer[1] = 0; // PCMU
    buffer[2..4].copy_from_slice(&sequence.to_be_bytes());
    buffer[4..8].copy_from_slice(&timestamp.to_be_bytes());
    buffer[8..12].copy_from_slice(&ssrc.to_be_bytes());
    for (index, byte) in buffer[12..].iter_mut().enumerate() {
        *byte = payload_seed.wrapping_add(index as u8) | 0x10;
    }
}
