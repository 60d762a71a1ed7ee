//! SIP messages as received: a start line, the header fields kept raw and in order (name as
//! received plus value), and the body bytes. Typed views of single header fields live in
//! [`crate::headers`] and are computed on demand.

use std::fmt;

/// A SIP method. RFC 3261 §7.1: "The method names are case-sensitive", so `invite` is an
/// unknown method, not `INVITE`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Update,
    Info,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// Any other token.
    Other(String),
}

impl Method {
    pub fn parse(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "UPDATE" => Method::Update,
            "INFO" => Method::Info,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Update => "UPDATE",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compact header names (RFC 3261 §7.3.3 and the IANA registry) and their long forms.
const COMPACT_FORMS: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

/// The long form of a header name: compact forms expanded, everything else unchanged.
pub fn long_header_name(name: &str) -> &str {
    if name.len() == 1 {
        for (compact, long) in COMPACT_FORMS {
            if name.eq_ignore_ascii_case(compact) {
                return long;
            }
        }
    }
    name
}

/// RFC 3261 §7.3.1: header names are case-insensitive and a compact form equals its long form.
pub fn header_names_equal(left: &str, right: &str) -> bool {
    long_header_name(left).eq_ignore_ascii_case(long_header_name(right))
}

/// Header fields whose values carry no personal data and may appear in `Debug` output.
const PRINTABLE_HEADERS: &[&str] = &[
    "Call-ID",
    "CSeq",
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
    "Max-Forwards",
    "Require",
    "Supported",
    "Allow",
    "Accept",
    "Unsupported",
    "Retry-After",
];

/// One header field line, unfolded: the name as received and the trimmed value.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    name: String,
    value: String,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The name exactly as received (may be a compact form such as `i`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether this field is `name` (case-insensitive, compact forms equal long forms).
    pub fn is(&self, name: &str) -> bool {
        header_names_equal(&self.name, name)
    }

    pub(crate) fn value_mut(&mut self) -> &mut String {
        &mut self.value
    }
}

impl fmt::Debug for Header {
    /// Values of headers that may hold personal data (From, To, Contact, Via, ...) are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if PRINTABLE_HEADERS.iter().any(|printable| self.is(printable)) {
            write!(f, "{}: {}", self.name, self.value)
        } else {
            write!(f, "{}: <redacted {} bytes>", self.name, self.value.len())
        }
    }
}

/// The header fields of a message, in the order received.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    list: Vec<Header>,
}

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.list.push(Header::new(name, value));
    }

    /// Builder-style [`Headers::push`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Headers {
        self.push(name, value);
        self
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The value of the first field called `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|header| header.is(name))
            .map(Header::value)
    }

    /// The values of every field called `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.list
            .iter()
            .filter(move |header| header.is(name))
            .map(Header::value)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.list.iter().any(|header| header.is(name))
    }

    /// Removes every field called `name`.
    pub fn remove_all(&mut self, name: &str) {
        self.list.retain(|header| !header.is(name));
    }

    /// The comma-separated elements of every field called `name` (RFC 3261 §7.3.1), split
    /// outside quoted strings and angle brackets, trimmed, empty elements dropped.
    pub fn list_values<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.all(name).flat_map(split_list).collect()
    }

    pub(crate) fn first_mut(&mut self, name: &str) -> Option<&mut Header> {
        self.list.iter_mut().find(|header| header.is(name))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.list.iter()).finish()
    }
}

/// Splits a header value at commas that are outside quoted strings and angle brackets.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut angle_depth = 0usize;
    for (index, byte) in value.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match byte {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b'<' if !in_quotes => angle_depth += 1,
            b'>' if !in_quotes => angle_depth = angle_depth.saturating_sub(1),
            b',' if !in_quotes && angle_depth == 0 => {
                parts.push(value[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.retain(|part| !part.is_empty());
    parts
}

/// A SIP request.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The Request-URI as received.
    pub uri: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &"<redacted>")
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// The reason phrase we send with `status` (RFC 3261 §21 and the extensions we use).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        606 => "Not Acceptable",
        _ => class_phrase(status),
    }
}

fn class_phrase(status: u16) -> &'static str {
    match status / 100 {
        1 => "Provisional",
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        5 => "Server Error",
        _ => "Global Failure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_long_names_match_case_insensitively() {
        assert!(header_names_equal("i", "Call-ID"));
        assert!(header_names_equal("CALL-id", "call-ID"));
        assert!(header_names_equal("m", "contact"));
        assert!(!header_names_equal("m", "Max-Forwards"));
    }

    #[test]
    fn list_split_ignores_commas_in_quotes_and_brackets() {
        let parts = split_list(r#""Doe, John" <sip:a@b;x=1,2>;tag=1, <sip:c@d> ,"#);
        assert_eq!(
            parts,
            vec![r#""Doe, John" <sip:a@b;x=1,2>;tag=1"#, "<sip:c@d>"]
        );
    }

    #[test]
    fn debug_redacts_personal_header_values() {
        let mut headers = Headers::new();
        headers.push("From", "\"Alice\" <sip:+441632960001@example.com>");
        headers.push("Call-ID", "abc");
        let text = format!("{headers:?}");
        assert!(!text.contains("1632"));
        assert!(text.contains("abc"));
    }
}
