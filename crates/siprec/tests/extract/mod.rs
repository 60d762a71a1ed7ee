//! Lenient extraction of message bodies from the corpus files: RFC figures and RFC 8068
//! flows (indented, with `...` elisions and prose around the messages) and vendor bodies.

/// One request body as the SIP layer would hand it over.
#[derive(Debug)]
pub struct Message {
    pub content_type: String,
    pub body: Vec<u8>,
    pub has_src_feature_tag: bool,
    pub requires_siprec: bool,
    /// The request method, when the corpus shows the request (RFC flows) or names it
    /// (vendor offers are INVITE bodies).
    pub method: Option<String>,
    /// How the extraction bent the text, when it had to.
    pub note: Option<String>,
}

impl Message {
    pub fn metadata_only(body: Vec<u8>) -> Message {
        Message {
            content_type: "application/rs-metadata+xml".to_owned(),
            body,
            has_src_feature_tag: false,
            requires_siprec: false,
            method: None,
            note: None,
        }
    }

    fn sdp_only(body: &str, method: Option<&str>) -> Message {
        Message {
            content_type: "application/sdp".to_owned(),
            body: body.as_bytes().to_vec(),
            has_src_feature_tag: false,
            requires_siprec: false,
            method: method.map(str::to_owned),
            note: None,
        }
    }
}

/// RFC 8792-style `<allOneLine>` folding in RFC 7866 figures.
pub fn unfold_all_one_line(text: &str) -> String {
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

fn is_elision(line: &str) -> bool {
    line.len() >= 3 && line.bytes().all(|byte| byte == b'.')
}

fn looks_like_sdp_line(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_lowercase() && bytes[1] == b'='
}

fn is_request_line(line: &str) -> bool {
    ["INVITE sip:", "BYE sip:", "UPDATE sip:"]
        .iter()
        .any(|method| line.starts_with(method))
        && line.ends_with("SIP/2.0")
}

/// Dedents lines and drops `...` elisions. An elision right after a part header stood for
/// the blank line that ends the part's headers (and the elided `v=`/`o=` lines), so it
/// becomes an empty line.
fn clean_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let trimmed = line.trim();
        if is_elision(trimmed) {
            let after_part_header = out
                .last()
                .is_some_and(|previous| previous.to_ascii_lowercase().starts_with("content-"));
            if after_part_header {
                out.push(String::new());
            }
            continue;
        }
        out.push(trimmed.to_owned());
    }
    out
}

/// The messages of an RFC figure or RFC 8068 flow, in order.
pub fn rfc_messages(text: &str) -> Vec<Message> {
    if text.trim_start().starts_with("v=") {
        return vec![Message::sdp_only(&unfold_all_one_line(text), None)];
    }
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&index| is_request_line(lines[index].trim()))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(position, &start)| {
            let end = starts.get(position + 1).copied().unwrap_or(lines.len());
            let method = lines[start].split_whitespace().next().unwrap_or_default();
            rfc_message(method, &lines[start + 1..end])
        })
        .collect()
}

fn rfc_message(method: &str, lines: &[&str]) -> Message {
    let blank = lines
        .iter()
        .position(|line| line.trim().is_empty())
        .unwrap_or(lines.len());
    let header_block = &lines[..blank];
    // RFC 8068 §3.5 shows SDP lines straight after the headers, without a blank line.
    let sdp_start = header_block
        .iter()
        .position(|line| looks_like_sdp_line(line.trim()) || is_elision(line.trim()))
        .unwrap_or(header_block.len());
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in &header_block[..sdp_start] {
        let trimmed = line.trim();
        match trimmed.split_once(':') {
            Some((name, value)) if !trimmed.starts_with(';') && !name.contains(' ') => {
                headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
            }
            _ => {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(trimmed);
                }
            }
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(header, _)| header == name)
            .map(|(_, value)| value.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let body_lines = &lines[(blank + 1).min(lines.len())..];
    let close = body_lines
        .iter()
        .position(|line| line.contains("</recording>") || line.contains("</requestsnapshot>"))
        .map_or(body_lines.len(), |index| index + 1);
    let body = clean_lines(body_lines[..close].iter().copied()).join("\r\n");
    let content_type = header("content-type");
    let has_src_feature_tag = onrecord_siprec::contact_has_src_feature_tag(&header("contact"));
    let requires_siprec = onrecord_siprec::require_lists_siprec(&header("require"));
    let inline_sdp = clean_lines(header_block[sdp_start..].iter().copied());
    if !inline_sdp.is_empty() && !content_type.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = "extracted";
        let wrapped = format!(
            "--{boundary}\r\nContent-Type: application/sdp\r\n\r\n{}\r\n--{boundary}\r\n\
             Content-Type: application/rs-metadata\r\nContent-Disposition: recording-session\r\n\r\n{body}\r\n--{boundary}--\r\n",
            inline_sdp.join("\r\n")
        );
        return Message {
            content_type: format!("multipart/mixed;boundary={boundary}"),
            body: wrapped.into_bytes(),
            has_src_feature_tag,
            requires_siprec,
            method: Some(method.to_owned()),
            note: Some("the RFC shows SDP and metadata without a multipart body; re-wrapped as multipart/mixed".to_owned()),
        };
    }
    Message {
        content_type,
        body: body.into_bytes(),
        has_src_feature_tag,
        requires_siprec,
        method: Some(method.to_owned()),
        note: None,
    }
}

/// The bodies of a vendor file: a multipart body (the Content-Type header is not in the
/// corpus, so the boundary comes from the first delimiter line), or bare SDPs separated
/// by `__split_here__`.
pub fn vendor_messages(text: &str) -> Vec<Message> {
    if text.contains("__split_here__") {
        return text
            .split("__split_here__")
            .map(|part| Message::sdp_only(part, Some("INVITE")))
            .collect();
    }
    let first_line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    let Some(boundary) = first_line.strip_prefix("--") else {
        return vec![Message::sdp_only(text, Some("INVITE"))];
    };
    let boundary = boundary.strip_suffix("--").unwrap_or(boundary);
    vec![Message {
        content_type: format!("multipart/mixed;boundary=\"{boundary}\""),
        body: text.as_bytes().to_vec(),
        has_src_feature_tag: false,
        requires_siprec: false,
        method: Some("INVITE".to_owned()),
        note: None,
    }]
}
