//! A small built-in SIPREC recording client (RFC 7866 SRC), for the demo and tests: INVITE
//! over UDP with an SDP offer of two labelled `sendonly` G.711 µ-law streams and RFC 7865
//! metadata carrying onrecord's consent extension, ACK, real-time RTP of synthesised two-party
//! audio (each party its own pitch and speaking rhythm), BYE. One call at a time per value;
//! not a general SIP stack (no authentication, no re-INVITE, no TCP).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rand::RngCore;
use tokio::net::UdpSocket;

use crate::synth::mulaw_encode;

const RATE: u32 = 8_000;
/// 20 ms of 8 kHz G.711 per RTP packet.
const FRAME: usize = 160;
const BOUNDARY: &str = "onrecord-demo-boundary";
const CONSENT_NS: &str = "urn:onrecord:params:xml:ns:consent:1";

/// One party of a demo call.
#[derive(Debug, Clone)]
pub struct Party {
    pub address: String,
    pub name: String,
    /// Voice pitch in Hz.
    pub pitch: f32,
    /// Syllables per second (the rhythm of the voice's loudness).
    pub syllables: f32,
    /// The consent evidence the client reports for this party, if any.
    pub consent: Option<&'static str>,
}

/// What to place.
#[derive(Debug, Clone)]
pub struct Call {
    pub parties: [Party; 2],
    pub seconds: u32,
    /// Packets never sent, as if lost on the way (tests of loss accounting).
    pub lost: Option<LostPackets>,
}

/// A run of packets of one stream that the client does not send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostPackets {
    /// The stream's position in the offer (0 or 1).
    pub stream: usize,
    /// Packet numbers (from 0, one per 20 ms).
    pub packets: std::ops::Range<u64>,
}

/// How the recording server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 OK, media streamed, BYE answered.
    Recorded { call_id: String },
    /// A final error response, with its status and Warning text.
    Refused { status: u16, warning: String },
}

/// A response as far as this client cares.
struct Response {
    status: u16,
    to: String,
    warning: String,
    body: String,
}

fn parse_response(bytes: &[u8]) -> Option<Response> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()?
        .strip_prefix("SIP/2.0 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let mut to = String::new();
    let mut warning = String::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "to" | "t" => to = value.trim().to_owned(),
            "warning" => warning = value.trim().to_owned(),
            _ => {}
        }
    }
    Some(Response {
        status,
        to,
        warning,
        body: body.to_owned(),
    })
}

/// The RTP destinations of an SDP answer, in m-line order.
fn answer_ports(sdp: &str, server: SocketAddr) -> Vec<SocketAddr> {
    let mut address = server.ip();
    let mut ports = Vec::new();
    for line in sdp.lines() {
        if let Some(rest) = line.trim().strip_prefix("c=IN IP4 ")
            && let Ok(ip) = rest.trim().parse()
        {
            address = ip;
        }
        if let Some(rest) = line.trim().strip_prefix("m=audio ")
            && let Some(port) = rest.split(' ').next().and_then(|p| p.parse().ok())
        {
            ports.push(port);
        }
    }
    ports
        .into_iter()
        .map(|port| SocketAddr::new(address, port))
        .collect()
}

fn token() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn metadata(call: &Call, at: &str) -> String {
    let session = "c2Vzc2lvbi1kZW1vLTAwMQ==";
    let participant_ids = ["cGFydHktMDAwMDAwMDAwMQ==", "cGFydHktMDAwMDAwMDAwMg=="];
    let stream_ids = ["c3RyZWFtLTAwMDAwMDAwMQ==", "c3RyZWFtLTAwMDAwMDAwMg=="];
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<recording xmlns='urn:ietf:params:xml:ns:recording:1'>\r\n<datamode>complete</datamode>\r\n<session session_id=\"{session}\"><sipSessionID>{}</sipSessionID></session>\r\n",
        token()
    );
    for (index, party) in call.parties.iter().enumerate() {
        let consent = party
            .consent
            .map(|reference| {
                format!(
                    "<consent xmlns=\"{CONSENT_NS}\" kind=\"announcement\" at=\"{at}\" reference=\"{reference}\"/>"
                )
            })
            .unwrap_or_default();
        xml.push_str(&format!(
            "<participant participant_id=\"{}\"><nameID aor=\"{}\"><name xml:lang=\"en\">{}</name></nameID>{consent}</participant>\r\n",
            participant_ids[index],
            xml_escape(&party.address),
            xml_escape(&party.name)
        ));
    }
    for (index, stream) in stream_ids.iter().enumerate() {
        xml.push_str(&format!(
            "<stream stream_id=\"{stream}\" session_id=\"{session}\"><label>{}</label></stream>\r\n",
            index + 1
        ));
    }
    for (index, participant) in participant_ids.iter().enumerate() {
        xml.push_str(&format!(
            "<participantsessionassoc participant_id=\"{participant}\" session_id=\"{session}\"/>\r\n<participantstreamassoc participant_id=\"{participant}\"><send>{}</send><recv>{}</recv></participantstreamassoc>\r\n",
            stream_ids[index],
            stream_ids[1 - index]
        ));
    }
    xml.push_str("</recording>\r\n");
    xml
}

/// Synthesised speech-like audio of one party: bursts of its own pitch and syllable rhythm
/// while it holds the floor (turns of 3 seconds), silence otherwise.
fn frame(party: &Party, index: usize, frame_number: u64) -> [u8; FRAME] {
    let mut out = [0xffu8; FRAME];
    for (offset, byte) in out.iter_mut().enumerate() {
        let sample_number = frame_number * FRAME as u64 + offset as u64;
        let time = sample_number as f32 / RATE as f32;
        let turn = ((sample_number / u64::from(3 * RATE)) % 2) as usize;
        let value = if turn == index {
            let syllable = (std::f32::consts::PI * party.syllables * time).sin().abs();
            let voice = (2.0 * std::f32::consts::PI * party.pitch * time).sin()
                + 0.4 * (4.0 * std::f32::consts::PI * party.pitch * time).sin();
            (voice * syllable * 7_000.0) as i16
        } else {
            0
        };
        *byte = mulaw_encode(value);
    }
    out
}

async fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    request: &str,
    method: &str,
) -> Result<Response> {
    let mut buffer = vec![0u8; 65_535];
    for _ in 0..10 {
        socket.send_to(request.as_bytes(), server).await?;
        let deadline = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                received = socket.recv_from(&mut buffer) => {
                    let (len, _) = received?;
                    let Some(response) = parse_response(&buffer[..len]) else { continue };
                    if response.status >= 200 {
                        return Ok(response);
                    }
                }
            }
        }
    }
    bail!("no final answer to {method} from {server}")
}

/// Places one call at the recording server at `server` (SIP over UDP).
pub async fn place(server: SocketAddr, call: &Call, at: &str) -> Result<Outcome> {
    let socket = UdpSocket::bind((server.ip(), 0)).await?;
    let local = socket.local_addr()?;
    let rtp = [
        UdpSocket::bind((server.ip(), 0)).await?,
        UdpSocket::bind((server.ip(), 0)).await?,
    ];
    let call_id = format!("{}@onrecord-demo", token());
    let from_tag = token();
    let ip = local.ip();
    let mut sdp = format!("v=0\r\no=src 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
    for (index, socket) in rtp.iter().enumerate() {
        sdp.push_str(&format!(
            "m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\na=label:{}\r\n",
            socket.local_addr()?.port(),
            index + 1
        ));
    }
    let body = format!(
        "--{BOUNDARY}\r\nContent-Type: application/sdp\r\n\r\n{sdp}\r\n--{BOUNDARY}\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n{}\r\n--{BOUNDARY}--\r\n",
        metadata(call, at)
    );
    let common = |method: &str, cseq: u32, to: &str| {
        format!(
            "{method} sip:srs@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{}\r\nFrom: <sip:src@{local}>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:src@{local}>;+sip.src\r\nMax-Forwards: 70\r\n",
            token()
        )
    };
    let invite = format!(
        "{}Require: siprec\r\nAccept: application/sdp, application/rs-metadata\r\nContent-Type: multipart/mixed;boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n{body}",
        common("INVITE", 1, &format!("<sip:srs@{server}>")),
        body.len()
    );
    let answer = exchange(&socket, server, &invite, "INVITE").await?;
    let ack = format!("{}Content-Length: 0\r\n\r\n", common("ACK", 1, &answer.to));
    if answer.status != 200 {
        socket.send_to(ack.as_bytes(), server).await?;
        return Ok(Outcome::Refused {
            status: answer.status,
            warning: answer.warning,
        });
    }
    socket.send_to(ack.as_bytes(), server).await?;
    let targets = answer_ports(&answer.body, server);
    if targets.len() != 2 {
        bail!("the SDP answer has {} audio streams, not 2", targets.len());
    }

    let ssrcs = [rand::rng().next_u32(), rand::rng().next_u32()];
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let frames = u64::from(call.seconds) * u64::from(RATE) / FRAME as u64;
    for number in 0..frames {
        ticker.tick().await;
        for (index, socket) in rtp.iter().enumerate() {
            if call
                .lost
                .as_ref()
                .is_some_and(|lost| lost.stream == index && lost.packets.contains(&number))
            {
                continue;
            }
            let mut packet = Vec::with_capacity(12 + FRAME);
            packet.push(0x80);
            packet.push(if number == 0 { 0x80 } else { 0x00 });
            packet.extend_from_slice(&(number as u16).to_be_bytes());
            packet.extend_from_slice(&((number * FRAME as u64) as u32).to_be_bytes());
            packet.extend_from_slice(&ssrcs[index].to_be_bytes());
            packet.extend_from_slice(&frame(&call.parties[index], index, number));
            socket
                .send_to(&packet, targets[index])
                .await
                .with_context(|| format!("cannot send RTP to {}", targets[index]))?;
        }
    }
    let bye = format!("{}Content-Length: 0\r\n\r\n", common("BYE", 2, &answer.to));
    let ended = exchange(&socket, server, &bye, "BYE").await?;
    if ended.status != 200 {
        return Err(anyhow!("BYE answered {}", ended.status));
    }
    Ok(Outcome::Recorded { call_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_ports_follow_the_m_lines() {
        let server: SocketAddr = ([127, 0, 0, 1], 5060).into();
        let sdp =
            "v=0\r\nc=IN IP4 127.0.0.2\r\nm=audio 40000 RTP/AVP 0\r\nm=audio 40002 RTP/AVP 0\r\n";
        assert_eq!(
            answer_ports(sdp, server),
            vec![
                SocketAddr::from(([127, 0, 0, 2], 40000)),
                SocketAddr::from(([127, 0, 0, 2], 40002))
            ]
        );
    }

    #[test]
    fn parties_take_turns_with_their_own_voice() {
        let party = |pitch| Party {
            address: "tel:+1".into(),
            name: "x".into(),
            pitch,
            syllables: 4.0,
            consent: None,
        };
        // Frame 10 (0.2 s) is in party 0's turn: party 0 is loud, party 1 silent.
        let loud = frame(&party(200.0), 0, 10);
        let quiet = frame(&party(300.0), 1, 10);
        assert!(loud.iter().any(|&b| b != 0xff));
        assert!(quiet.iter().all(|&b| b == 0xff));
        // Frame 160 (3.2 s): the floor has passed to party 1.
        assert!(frame(&party(300.0), 1, 160).iter().any(|&b| b != 0xff));
        assert!(frame(&party(200.0), 0, 160).iter().all(|&b| b == 0xff));
    }
}
