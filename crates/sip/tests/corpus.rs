//! Golden parse tests on the SIPREC corpus: every request drawn in the RFC figures and sent
//! by the SIPp scenarios is parsed, and the typed views are compared with
//! `testdata/sip/<name>.golden` (regenerate with `UPDATE_GOLDEN=1`).

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::{messages_from_rfc_text, messages_from_sipp, parse, read_corpus};
use onrecord_sip::{Message, Request};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sip")
        .join(format!("{name}.golden"))
}

fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "golden file {} unreadable ({error}); run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn or_none<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// A canonical text dump of what the parser made of a request.
fn describe(request: &Request) -> String {
    let headers = &request.headers;
    let mut out = String::new();
    let _ = writeln!(out, "start: {} {}", request.method, request.uri);
    for (index, header) in headers.iter().enumerate() {
        let _ = writeln!(
            out,
            "header[{index}]: {} = {}",
            header.name(),
            header.value()
        );
    }
    match headers.vias() {
        Ok(vias) => {
            for (index, via) in vias.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "via[{index}]: transport={} sent-by={} branch={} rport={:?} received={}",
                    via.transport,
                    via.sent_by(),
                    or_none(via.branch()),
                    via.rport(),
                    or_none(via.received())
                );
            }
        }
        Err(error) => {
            let _ = writeln!(out, "via: error {error}");
        }
    }
    for (label, view) in [("from", headers.from()), ("to", headers.to())] {
        match view {
            Ok(name_addr) => {
                let _ = writeln!(
                    out,
                    "{label}: display={} uri={} tag={}",
                    or_none(name_addr.display_name()),
                    name_addr.uri(),
                    or_none(name_addr.tag())
                );
            }
            Err(error) => {
                let _ = writeln!(out, "{label}: error {error}");
            }
        }
    }
    let _ = writeln!(
        out,
        "call-id: {:?}",
        headers.call_id().map_err(|error| error.to_string())
    );
    let _ = writeln!(
        out,
        "cseq: {:?}",
        headers.cseq().map_err(|error| error.to_string())
    );
    match headers.contacts() {
        Ok(contacts) => {
            for (index, contact) in contacts.iter().enumerate() {
                let params: Vec<&str> = contact.params().iter().map(|(name, _)| name).collect();
                let _ = writeln!(
                    out,
                    "contact[{index}]: uri={} params={params:?}",
                    contact.uri()
                );
            }
        }
        Err(error) => {
            let _ = writeln!(out, "contact: error {error}");
        }
    }
    match headers.content_type() {
        Ok(Some(content_type)) => {
            let _ = writeln!(
                out,
                "content-type: {} boundary={}",
                content_type.essence(),
                or_none(content_type.boundary())
            );
        }
        Ok(None) => {
            let _ = writeln!(out, "content-type: -");
        }
        Err(error) => {
            let _ = writeln!(out, "content-type: error {error}");
        }
    }
    let _ = writeln!(
        out,
        "content-length: {:?}",
        headers.content_length().map_err(|error| error.to_string())
    );
    let _ = writeln!(
        out,
        "max-forwards: {:?}",
        headers.max_forwards().map_err(|error| error.to_string())
    );
    let _ = writeln!(out, "require: {:?}", headers.require());
    let _ = writeln!(out, "supported: {:?}", headers.supported());
    let _ = writeln!(out, "body-bytes: {}", request.body.len());
    out
}

fn describe_all(source: &str, messages: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for (index, bytes) in messages.iter().enumerate() {
        let Message::Request(request) = parse(bytes) else {
            panic!("{source} message {index} is not a request");
        };
        let _ = writeln!(out, "== {source} #{index}");
        out.push_str(&describe(&request));
    }
    out
}

const RFC_FILES: &[&str] = &[
    "rfc7866-fig12-rs-invite",
    "rfc7866-fig13-snapshot-request-update",
    "rfc8068-3.2.1-basic-call",
    "rfc8068-3.2.2-hold-resume",
    "rfc8068-3.2.3-transfer-reinvite-refer",
    "rfc8068-3.2.4-call-disconnect",
    "rfc8068-3.3.1-mixed-basic-call",
    "rfc8068-3.3.2-mixed-hold-resume",
    "rfc8068-3.3.3-mixed-join-drop",
    "rfc8068-3.4.1-persistent-rs-cs-disconnect",
    "rfc8068-3.5-turret-multiple-cs-single-rs",
];

#[test]
fn rfc_figures_parse_to_their_golden_views() {
    for name in RFC_FILES {
        let text = read_corpus(&format!("rfc/{name}.txt"));
        let messages = messages_from_rfc_text(&text);
        assert!(!messages.is_empty(), "{name}: no SIP request found");
        check_golden(name, &describe_all(name, &messages));
    }
}

#[test]
fn sipp_scenarios_parse_to_their_golden_views() {
    for name in ["drachtio_uac_siprec_pcap", "drachtio_uac_siprec_pcap2"] {
        let xml = read_corpus(&format!("sipp/{name}.xml"));
        let messages = messages_from_sipp(&xml, Some("srs-tag"));
        assert!(messages.len() >= 3, "{name}: expected INVITE, ACK and BYE");
        check_golden(name, &describe_all(name, &messages));
    }
}

#[test]
fn rfc7866_recording_session_invite_carries_the_siprec_markers() {
    let text = read_corpus("rfc/rfc7866-fig12-rs-invite.txt");
    let messages = messages_from_rfc_text(&text);
    let Message::Request(request) = parse(&messages[0]) else {
        panic!("not a request");
    };
    // RFC 7866 §6.2: the SRS treats the session as an RS when both are present.
    assert_eq!(request.headers.require(), vec!["siprec"]);
    let contacts = request
        .headers
        .contacts()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(contacts[0].has_param("+sip.src"));
    let content_type = request
        .headers
        .content_type()
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no Content-Type"));
    assert!(content_type.is("multipart", "mixed"));
    assert_eq!(content_type.boundary(), Some("foobar"));
    assert!(String::from_utf8_lossy(&request.body).contains("--foobar"));
}

#[test]
fn rfc_line_wraps_become_header_folding() {
    let text = read_corpus("rfc/rfc8068-3.2.1-basic-call.txt");
    let messages = messages_from_rfc_text(&text);
    let Message::Request(request) = parse(&messages[0]) else {
        panic!("not a request");
    };
    assert_eq!(
        request.headers.first("Session-ID"),
        Some("ab30317f1a784dc48ff824d0d3715d86 ;remote=00000000000000000000000000000000")
    );
    assert_eq!(
        request.headers.list_values("Accept"),
        vec![
            "application/sdp",
            "application/rs-metadata",
            "application/rs-metadata-request"
        ]
    );
}

#[test]
fn sipp_invite_without_angle_brackets_and_spaced_boundary() {
    let xml = read_corpus("sipp/drachtio_uac_siprec_pcap.xml");
    let messages = messages_from_sipp(&xml, None);
    let Message::Request(request) = parse(&messages[0]) else {
        panic!("not a request");
    };
    let to = request
        .headers
        .to()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(to.uri(), "sip:drachtio:5060");
    assert_eq!(to.tag(), None);
    let content_type = request.headers.content_type().ok().flatten();
    assert_eq!(
        content_type.as_ref().and_then(|value| value.boundary()),
        Some("690DEB64")
    );
    // SIPp sends neither Require: siprec nor +sip.src (a non-RFC client the SIPREC layer
    // must decide about by policy).
    assert!(request.headers.require().is_empty());
    assert_eq!(request.headers.cseq().map(|cseq| cseq.sequence), Ok(1));
}
