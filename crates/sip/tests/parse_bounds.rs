//! Parser tolerance (compact forms, folding, LWS) and bounds (message size, header count,
//! header line length, Content-Length), on datagrams and on a TCP byte stream.

use onrecord_sip::{Frame, Limits, Message, ParseErrorKind, Request, StreamFramer, parse_message};

fn request(bytes: &[u8]) -> Request {
    match parse_message(bytes, &Limits::default()) {
        Ok(Message::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn error_kind(bytes: &[u8], limits: &Limits) -> ParseErrorKind {
    match parse_message(bytes, limits) {
        Err(error) => error.kind().clone(),
        Ok(message) => panic!("accepted {message:?}"),
    }
}

const HEAD: &str = "INVITE sip:srs@192.0.2.20 SIP/2.0\r\n\
                    Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1\r\n\
                    Call-ID: bounds\r\n\
                    CSeq: 1 INVITE\r\n";

#[test]
fn compact_header_forms_are_read_as_their_long_names() {
    let parsed = request(
        b"INVITE sip:srs@192.0.2.20 SIP/2.0\r\n\
          v: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKc\r\n\
          f: <sip:a@b>;tag=1\r\n\
          t: <sip:srs@192.0.2.20>\r\n\
          i: compact\r\n\
          CSeq: 1 INVITE\r\n\
          m: <sip:a@192.0.2.10>;+sip.src\r\n\
          c: application/sdp\r\n\
          k: siprec\r\n\
          s: subject\r\n\
          e: gzip\r\n\
          o: dialog\r\n\
          u: talk\r\n\
          l: 3\r\n\r\nabc",
    );
    let headers = &parsed.headers;
    assert_eq!(headers.call_id(), Ok("compact"));
    assert!(
        headers
            .top_via()
            .is_ok_and(|via| via.branch() == Some("z9hG4bKc"))
    );
    assert!(headers.from().is_ok_and(|from| from.tag() == Some("1")));
    assert!(
        headers
            .to()
            .is_ok_and(|to| to.uri() == "sip:srs@192.0.2.20")
    );
    assert!(
        headers
            .contacts()
            .is_ok_and(|contacts| contacts[0].has_param("+sip.src"))
    );
    assert!(headers.content_type().is_ok_and(|content_type| {
        content_type.is_some_and(|value| value.is("application", "sdp"))
    }));
    assert_eq!(headers.supported(), vec!["siprec"]);
    assert_eq!(headers.first("Subject"), Some("subject"));
    assert_eq!(headers.first("Content-Encoding"), Some("gzip"));
    assert_eq!(headers.first("Event"), Some("dialog"));
    assert_eq!(headers.first("Allow-Events"), Some("talk"));
    assert_eq!(headers.content_length(), Ok(Some(3)));
    assert_eq!(parsed.body, b"abc");
    // Names as received are kept.
    assert_eq!(headers.iter().next().map(|header| header.name()), Some("v"));
}

#[test]
fn folded_and_case_varied_headers_with_lws() {
    let parsed = request(
        b"INVITE sip:srs@192.0.2.20 SIP/2.0\r\n\
          VIA :   SIP/2.0/UDP 192.0.2.10\r\n \t;branch=z9hG4bKf\r\n\
          cAlL-iD:folded\r\n\
          Require: siprec,\r\n   timer\r\n\
          cseq:  1   INVITE  \r\n\r\n",
    );
    assert_eq!(
        parsed.headers.first("Via"),
        Some("SIP/2.0/UDP 192.0.2.10 ;branch=z9hG4bKf")
    );
    assert!(
        parsed
            .headers
            .top_via()
            .is_ok_and(|via| via.branch() == Some("z9hG4bKf"))
    );
    assert_eq!(parsed.headers.call_id(), Ok("folded"));
    assert_eq!(parsed.headers.require(), vec!["siprec", "timer"]);
    assert_eq!(parsed.headers.cseq().map(|cseq| cseq.sequence), Ok(1));
}

#[test]
fn udp_without_content_length_takes_the_rest_of_the_datagram() {
    let parsed = request(format!("{HEAD}\r\nv=0\r\n").as_bytes());
    assert_eq!(parsed.body, b"v=0\r\n");
}

#[test]
fn udp_body_shorter_than_content_length_is_a_400() {
    let bytes = format!("{HEAD}Content-Length: 10\r\n\r\nabc");
    let error = parse_message(bytes.as_bytes(), &Limits::default()).err();
    let error = error.unwrap_or_else(|| panic!("accepted a truncated body"));
    assert_eq!(
        error.kind(),
        &ParseErrorKind::TruncatedBody {
            declared: 10,
            received: 3
        }
    );
    assert_eq!(error.status_code(), 400);
    assert!(error.salvaged_request().is_some());
}

#[test]
fn huge_content_length_is_rejected_with_413_and_the_head_salvaged() {
    let bytes = format!("{HEAD}Content-Length: 18446744073709551616000\r\n\r\n");
    let error = parse_message(bytes.as_bytes(), &Limits::default()).err();
    let error = error.unwrap_or_else(|| panic!("accepted"));
    assert!(
        matches!(error.kind(), ParseErrorKind::BodyTooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(error.status_code(), 413);
    let salvaged = error
        .salvaged_request()
        .unwrap_or_else(|| panic!("head not salvaged"));
    assert_eq!(salvaged.headers.call_id(), Ok("bounds"));
}

#[test]
fn ten_thousand_headers_are_rejected() {
    let mut bytes = HEAD.to_owned();
    for _ in 0..10_000 {
        bytes.push_str("X:1\r\n");
    }
    bytes.push_str("\r\n");
    assert!(
        bytes.len() < 64 * 1024,
        "stays under the size limit to reach the count limit"
    );
    let kind = error_kind(bytes.as_bytes(), &Limits::default());
    assert_eq!(kind, ParseErrorKind::TooManyHeaders { limit: 128 });
    assert_eq!(kind.status_code(), 513);
    let error = parse_message(bytes.as_bytes(), &Limits::default()).err();
    assert!(error.is_some_and(|error| error.salvaged_request().is_some()));
}

#[test]
fn one_mebibyte_header_line_is_rejected() {
    let bytes = format!("{HEAD}X-Long: {}\r\n\r\n", "a".repeat(1024 * 1024));
    assert!(matches!(
        error_kind(bytes.as_bytes(), &Limits::default()),
        ParseErrorKind::MessageTooLarge { .. }
    ));
    let roomy = Limits {
        max_message_size: 4 * 1024 * 1024,
        ..Limits::default()
    };
    assert_eq!(
        error_kind(bytes.as_bytes(), &roomy),
        ParseErrorKind::HeaderLineTooLong { limit: 8 * 1024 }
    );
    // Folding cannot be used to build a longer field out of short lines.
    let mut folded = format!("{HEAD}X-Folded: a\r\n");
    for _ in 0..2_000 {
        folded.push_str(" bbbbbbbb\r\n");
    }
    folded.push_str("\r\n");
    assert_eq!(
        error_kind(folded.as_bytes(), &Limits::default()),
        ParseErrorKind::HeaderLineTooLong { limit: 8 * 1024 }
    );
}

#[test]
fn malformed_start_lines_and_headers() {
    let limits = Limits::default();
    assert_eq!(error_kind(b"\r\n\r\n", &limits), ParseErrorKind::Empty);
    assert_eq!(
        error_kind(b"INVITE sip:a@b\r\n\r\n", &limits),
        ParseErrorKind::MalformedStartLine
    );
    assert_eq!(
        error_kind(b"SIP/2.0 99 Low\r\n\r\n", &limits),
        ParseErrorKind::MalformedStartLine
    );
    assert_eq!(
        error_kind(b"SIP/2.0 2000 OK\r\n\r\n", &limits),
        ParseErrorKind::MalformedStartLine
    );
    let no_colon = format!("{HEAD}this line has no colon\r\n\r\n");
    let error = parse_message(no_colon.as_bytes(), &limits).err();
    let error = error.unwrap_or_else(|| panic!("accepted"));
    assert_eq!(error.kind(), &ParseErrorKind::MalformedHeader { line: 5 });
    assert!(
        error.salvaged_request().is_some(),
        "Via, Call-ID and CSeq were readable"
    );
    let response = parse_message(b"SIP/2.0 200\r\nl: 0\r\n\r\n", &limits);
    assert!(
        matches!(response, Ok(Message::Response(response)) if response.status == 200 && response.reason.is_empty())
    );
}

fn framed_messages(framer: &mut StreamFramer) -> Vec<Frame> {
    std::iter::from_fn(|| framer.next_frame())
        .map(|frame| frame.unwrap_or_else(|error| panic!("{error}")))
        .collect()
}

#[test]
fn tcp_framer_finds_boundaries_across_and_within_reads() {
    let one = format!("{HEAD}Content-Length: 5\r\n\r\nhello");
    let two = format!("{HEAD}l: 0\r\n\r\n");
    let stream = format!("\r\n{one}\r\n\r\n{two}{one}");
    let mut framer = StreamFramer::new(Limits::default());
    let mut frames = Vec::new();
    for byte in stream.as_bytes() {
        framer
            .push(std::slice::from_ref(byte))
            .unwrap_or_else(|error| panic!("{error}"));
        frames.extend(framed_messages(&mut framer));
    }
    let kinds: Vec<String> = frames
        .iter()
        .map(|frame| match frame {
            Frame::KeepAlivePing => "ping".to_owned(),
            Frame::Message(Message::Request(request)) => format!("body={}", request.body.len()),
            Frame::Message(Message::Response(_)) => "response".to_owned(),
        })
        .collect();
    assert_eq!(kinds, vec!["body=5", "ping", "body=0", "body=5"]);
    assert_eq!(framer.buffered(), 0);

    let mut whole = StreamFramer::new(Limits::default());
    whole
        .push(stream.as_bytes())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(framed_messages(&mut whole).len(), 4);
}

#[test]
fn tcp_message_without_content_length_has_no_body() {
    let mut framer = StreamFramer::new(Limits::default());
    let stream = format!("{HEAD}\r\n{HEAD}\r\n");
    framer
        .push(stream.as_bytes())
        .unwrap_or_else(|error| panic!("{error}"));
    let frames = framed_messages(&mut framer);
    assert_eq!(frames.len(), 2);
}

#[test]
fn tcp_huge_content_length_breaks_the_stream_with_an_answerable_error() {
    let mut framer = StreamFramer::new(Limits::default());
    let stream = format!("{HEAD}Content-Length: 999999999\r\n\r\n");
    framer
        .push(stream.as_bytes())
        .unwrap_or_else(|error| panic!("{error}"));
    let error = match framer.next_frame() {
        Some(Err(error)) => error,
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(matches!(error.kind(), ParseErrorKind::BodyTooLarge { .. }));
    assert!(error.salvaged_request().is_some());
    assert!(framer.is_broken());
    assert!(framer.next_frame().is_none());
}

#[test]
fn tcp_endless_header_breaks_the_stream_at_the_size_limit() {
    let mut framer = StreamFramer::new(Limits::default());
    framer
        .push(HEAD.as_bytes())
        .unwrap_or_else(|error| panic!("{error}"));
    let chunk = vec![b'a'; 16 * 1024];
    let mut failure = None;
    for _ in 0..64 {
        if let Err(error) = framer.push(&chunk) {
            failure = Some(error);
            break;
        }
        if let Some(Err(error)) = framer.next_frame() {
            failure = Some(error);
            break;
        }
    }
    let failure = failure.unwrap_or_else(|| panic!("a 1 MiB header was buffered"));
    assert!(
        matches!(failure.kind(), ParseErrorKind::MessageTooLarge { .. }),
        "{failure:?}"
    );
    assert!(framer.is_broken());
    assert!(framer.buffered() <= 2 * 64 * 1024);
}
