//! Typed views of header fields, computed on demand from the raw values kept in
//! [`Headers`]. Parsing is tolerant of linear white space and of case, and never panics.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::message::{Headers, Method, split_list};

/// A header field that a message needs is absent or cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("missing {name} header field")]
    Missing { name: &'static str },
    #[error("malformed {name} header field")]
    Malformed { name: &'static str },
}

/// `;name=value` parameters in order; names compare case-insensitively (RFC 3261 §7.3.1).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    list: Vec<(String, Option<String>)>,
}

impl Params {
    /// Parses `;a=1;b;c="x;y"` (a leading `;` is optional).
    pub fn parse(text: &str) -> Params {
        let mut list = Vec::new();
        for part in split_outside_quotes(text, b';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            match part.split_once('=') {
                Some((name, value)) => {
                    list.push((name.trim().to_owned(), Some(value.trim().to_owned())));
                }
                None => list.push((part.to_owned(), None)),
            }
        }
        Params { list }
    }

    /// `Some(value)` for `name=value`, `Some("")` for a bare `name`, `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_deref().unwrap_or(""))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces the value of `name` (keeping its position) or appends it.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .list
            .iter_mut()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
        {
            Some(entry) => entry.1 = value,
            None => self.list.push((name.to_owned(), value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.list
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_deref()))
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.list {
            match value {
                Some(value) => write!(f, ";{name}={value}")?,
                None => write!(f, ";{name}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|(name, _)| name))
            .finish()
    }
}

/// Splits at `separator` outside double-quoted strings.
fn split_outside_quotes(text: &str, separator: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, byte) in text.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match byte {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            _ if byte == separator && !in_quotes => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Splits `host[:port]` where host may be a bracketed IPv6 reference.
fn split_host_port(text: &str) -> Option<(String, Option<u16>)> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.trim().parse().ok()?),
            None if after.trim().is_empty() => None,
            None => return None,
        };
        return Some((format!("[{host}]"), port));
    }
    if text.matches(':').count() > 1 {
        // A bare IPv6 address without brackets and without a port.
        return Some((text.to_owned(), None));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host.trim().to_owned(), Some(port.trim().parse().ok()?))),
        None => Some((text.to_owned(), None)),
    }
    .filter(|(host, _)| !host.is_empty() && !host.contains(char::is_whitespace))
}

/// Parses a host (IPv4, bracketed or bare IPv6) as an IP address.
pub fn host_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// One Via value (RFC 3261 §20.42), e.g. `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport`.
#[derive(Clone, PartialEq, Eq)]
pub struct Via {
    /// `SIP/2.0/UDP` as received.
    pub protocol: String,
    /// The transport token, upper-cased (`UDP`, `TCP`, `TLS`, ...).
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn parse(value: &str) -> Result<Via, HeaderError> {
        let malformed = HeaderError::Malformed { name: "Via" };
        let (head, params) = match value.split_once(';') {
            Some((head, params)) => (head, Params::parse(params)),
            None => (value, Params::default()),
        };
        // LWS is allowed around the slashes of sent-protocol (RFC 3261 §25.1).
        let mut slash_parts = head.trim().splitn(3, '/');
        let name = slash_parts.next().ok_or(malformed.clone())?.trim();
        let version = slash_parts.next().ok_or(malformed.clone())?.trim();
        let rest = slash_parts.next().ok_or(malformed.clone())?.trim_start();
        let split_at = rest.find(char::is_whitespace).ok_or(malformed.clone())?;
        let (transport, sent_by) = rest.split_at(split_at);
        let (host, port) = split_host_port(sent_by).ok_or(malformed.clone())?;
        if name.is_empty() || version.is_empty() || transport.is_empty() {
            return Err(malformed);
        }
        Ok(Via {
            protocol: format!("{name}/{version}/{transport}"),
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<&str> {
        self.params
            .get("branch")
            .filter(|branch| !branch.is_empty())
    }

    /// RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with the magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|branch| branch.starts_with("z9hG4bK"))
    }

    pub fn received(&self) -> Option<&str> {
        self.params
            .get("received")
            .filter(|value| !value.is_empty())
    }

    /// RFC 3581: `None` when absent, `Some(None)` for a bare `rport`, `Some(Some(port))`.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|value| value.parse().ok())
    }

    /// `host[:port]`, the sent-by part.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", self.protocol, self.sent_by(), self.params)
    }
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Via")
            .field("transport", &self.transport)
            .field("branch", &self.branch())
            .finish_non_exhaustive()
    }
}

/// A name-addr or addr-spec with header parameters: From, To, Contact, Route, Record-Route
/// (RFC 3261 §20.10, §25.1).
#[derive(Clone, PartialEq, Eq)]
pub struct NameAddr {
    display_name: Option<String>,
    uri: String,
    params: Params,
}

impl NameAddr {
    pub fn parse(value: &str, name: &'static str) -> Result<NameAddr, HeaderError> {
        let malformed = HeaderError::Malformed { name };
        let value = value.trim();
        if value == "*" {
            return Ok(NameAddr {
                display_name: None,
                uri: "*".to_owned(),
                params: Params::default(),
            });
        }
        let open = find_outside_quotes(value, b'<');
        let Some(open) = open else {
            // addr-spec form: RFC 3261 §20.10, parameters after the URI are header
            // parameters, not URI parameters.
            let (uri, params) = match value.split_once(';') {
                Some((uri, params)) => (uri.trim(), Params::parse(params)),
                None => (value, Params::default()),
            };
            if uri.is_empty() || !uri.contains(':') || uri.contains(char::is_whitespace) {
                return Err(malformed);
            }
            return Ok(NameAddr {
                display_name: None,
                uri: uri.to_owned(),
                params,
            });
        };
        let close = value[open..].find('>').map(|offset| open + offset);
        let close = close.ok_or(malformed.clone())?;
        let display = value[..open].trim();
        let display_name = if display.is_empty() {
            None
        } else {
            let unquoted = display
                .strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(display);
            Some(unquoted.to_owned())
        };
        let uri = value[open + 1..close].trim();
        if uri.is_empty() {
            return Err(malformed);
        }
        Ok(NameAddr {
            display_name,
            uri: uri.to_owned(),
            params: Params::parse(&value[close + 1..]),
        })
    }

    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").filter(|tag| !tag.is_empty())
    }

    /// Whether a header parameter or feature tag (`+sip.src`, `src`, `lr`) is present.
    pub fn has_param(&self, name: &str) -> bool {
        self.params.contains(name)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.uri == "*" {
            return f.write_str("*");
        }
        if let Some(display) = &self.display_name {
            write!(f, "\"{display}\" ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

impl fmt::Debug for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameAddr")
            .field("uri", &"<redacted>")
            .field("params", &self.params)
            .finish()
    }
}

fn find_outside_quotes(text: &str, wanted: u8) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, byte) in text.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match byte {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            _ if byte == wanted && !in_quotes => return Some(index),
            _ => {}
        }
    }
    None
}

/// The parts of a `sip:`/`sips:` URI we route on (RFC 3261 §19.1.1).
#[derive(Clone, PartialEq, Eq)]
pub struct SipUri {
    /// Lower-cased scheme: `sip`, `sips`, `tel`, ...
    pub scheme: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl SipUri {
    pub fn parse(text: &str) -> Option<SipUri> {
        let (scheme, rest) = text.trim().split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty() || !scheme.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return None;
        }
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        let (address, params) = match rest.split_once(';') {
            Some((address, params)) => (address, Params::parse(params)),
            None => (rest, Params::default()),
        };
        let (user, host_port) = match address.rsplit_once('@') {
            Some((user, host_port)) => (Some(user.to_owned()), host_port),
            None => (None, address),
        };
        let (host, port) = split_host_port(host_port)?;
        Some(SipUri {
            scheme,
            user,
            host,
            port,
            params,
        })
    }

    /// The address to send to when the host is an IP literal; the port defaults to 5060
    /// (5061 for `sips`), RFC 3261 §19.1.2.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip = host_ip(&self.host)?;
        let default_port = if self.scheme == "sips" { 5061 } else { 5060 };
        Some(SocketAddr::new(ip, self.port.unwrap_or(default_port)))
    }
}

impl fmt::Debug for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipUri")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// CSeq (RFC 3261 §20.16).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CSeq {
    pub sequence: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(value: &str) -> Result<CSeq, HeaderError> {
        let malformed = HeaderError::Malformed { name: "CSeq" };
        let mut words = value.split_whitespace();
        let sequence = words.next().ok_or(malformed.clone())?;
        let method = words.next().ok_or(malformed.clone())?;
        if words.next().is_some() {
            return Err(malformed);
        }
        // RFC 3261 §8.1.1.5: the sequence number MUST be expressible as a 32-bit integer.
        let sequence = sequence.parse().map_err(|_| malformed)?;
        Ok(CSeq {
            sequence,
            method: Method::parse(method),
        })
    }
}

/// Content-Type (RFC 3261 §20.15, RFC 2045): `type/subtype;params`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ContentType {
    /// Lower-cased.
    pub media_type: String,
    /// Lower-cased.
    pub subtype: String,
    pub params: Params,
}

impl ContentType {
    pub fn parse(value: &str) -> Result<ContentType, HeaderError> {
        let malformed = HeaderError::Malformed {
            name: "Content-Type",
        };
        let (essence, params) = match value.split_once(';') {
            Some((essence, params)) => (essence, Params::parse(params)),
            None => (value, Params::default()),
        };
        let (media_type, subtype) = essence.split_once('/').ok_or(malformed.clone())?;
        let (media_type, subtype) = (media_type.trim(), subtype.trim());
        if media_type.is_empty() || subtype.is_empty() {
            return Err(malformed);
        }
        Ok(ContentType {
            media_type: media_type.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            params,
        })
    }

    /// `type/subtype`, lower-cased.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.media_type, self.subtype)
    }

    pub fn is(&self, media_type: &str, subtype: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
            && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The multipart boundary, unquoted.
    pub fn boundary(&self) -> Option<&str> {
        self.params
            .get("boundary")
            .map(unquote)
            .filter(|value| !value.is_empty())
    }

    pub fn charset(&self) -> Option<&str> {
        self.params.get("charset").map(unquote)
    }
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// Warning (RFC 3261 §20.43): `code agent "text"`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Warning {
    pub code: u16,
    pub agent: String,
    pub text: String,
}

impl Warning {
    pub fn parse(value: &str) -> Result<Warning, HeaderError> {
        let malformed = HeaderError::Malformed { name: "Warning" };
        let value = value.trim();
        let (code, rest) = value
            .split_once(char::is_whitespace)
            .ok_or(malformed.clone())?;
        let code: u16 = code.parse().map_err(|_| malformed.clone())?;
        let (agent, text) = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .ok_or(malformed.clone())?;
        let text = text.trim();
        if !(100..=999).contains(&code) || !text.starts_with('"') {
            return Err(malformed);
        }
        Ok(Warning {
            code,
            agent: agent.to_owned(),
            text: unquote(text).replace("\\\"", "\""),
        })
    }

    /// Serializes as a header value, escaping quotes in the text.
    pub fn to_value(&self) -> String {
        let text = self.text.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{} {} \"{}\"", self.code, self.agent, text)
    }
}

/// Typed views over the raw header list.
impl Headers {
    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.first("Call-ID")
            .filter(|value| !value.is_empty())
            .ok_or(HeaderError::Missing { name: "Call-ID" })
    }

    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        CSeq::parse(
            self.first("CSeq")
                .ok_or(HeaderError::Missing { name: "CSeq" })?,
        )
    }

    /// Every Via value, topmost first.
    pub fn vias(&self) -> Result<Vec<Via>, HeaderError> {
        self.list_values("Via")
            .into_iter()
            .map(Via::parse)
            .collect()
    }

    pub fn top_via(&self) -> Result<Via, HeaderError> {
        let first = self
            .first("Via")
            .ok_or(HeaderError::Missing { name: "Via" })?;
        let top = split_list(first)
            .into_iter()
            .next()
            .ok_or(HeaderError::Malformed { name: "Via" })?;
        Via::parse(top)
    }

    pub fn from(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse(
            self.first("From")
                .ok_or(HeaderError::Missing { name: "From" })?,
            "From",
        )
    }

    pub fn to(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse(
            self.first("To")
                .ok_or(HeaderError::Missing { name: "To" })?,
            "To",
        )
    }

    /// Every Contact value (empty when absent).
    pub fn contacts(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.list_values("Contact")
            .into_iter()
            .map(|value| NameAddr::parse(value, "Contact"))
            .collect()
    }

    /// Every Record-Route value, in order (empty when absent).
    pub fn record_routes(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.list_values("Record-Route")
            .into_iter()
            .map(|value| NameAddr::parse(value, "Record-Route"))
            .collect()
    }

    pub fn content_type(&self) -> Result<Option<ContentType>, HeaderError> {
        self.first("Content-Type")
            .map(ContentType::parse)
            .transpose()
    }

    pub fn content_length(&self) -> Result<Option<usize>, HeaderError> {
        self.first("Content-Length")
            .map(|value| {
                value.trim().parse().map_err(|_| HeaderError::Malformed {
                    name: "Content-Length",
                })
            })
            .transpose()
    }

    pub fn max_forwards(&self) -> Result<Option<u32>, HeaderError> {
        self.first("Max-Forwards")
            .map(|value| {
                value.trim().parse().map_err(|_| HeaderError::Malformed {
                    name: "Max-Forwards",
                })
            })
            .transpose()
    }

    /// Option tags in Require.
    pub fn require(&self) -> Vec<&str> {
        self.list_values("Require")
    }

    /// Option tags in Supported.
    pub fn supported(&self) -> Vec<&str> {
        self.list_values("Supported")
    }

    pub fn allow(&self) -> Vec<Method> {
        self.list_values("Allow")
            .into_iter()
            .map(Method::parse)
            .collect()
    }

    pub fn warnings(&self) -> Result<Vec<Warning>, HeaderError> {
        self.list_values("Warning")
            .into_iter()
            .map(Warning::parse)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_rport_received_and_ipv6() {
        let via =
            Via::parse("SIP/2.0/udp [2001:db8::1]:5062;branch=z9hG4bKx;rport;received=192.0.2.1")
                .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(via.transport, "UDP");
        assert_eq!(via.host, "[2001:db8::1]");
        assert_eq!(via.port, Some(5062));
        assert_eq!(via.branch(), Some("z9hG4bKx"));
        assert_eq!(via.rport(), Some(None));
        assert_eq!(via.received(), Some("192.0.2.1"));
        assert!(via.has_rfc3261_branch());
    }

    #[test]
    fn via_tolerates_spaces_around_slashes() {
        let via = Via::parse("SIP / 2.0 / TCP host.example.com ;branch=z9hG4bK1")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(via.protocol, "SIP/2.0/TCP");
        assert_eq!(via.host, "host.example.com");
        assert_eq!(via.port, None);
    }

    #[test]
    fn name_addr_forms() {
        let quoted = NameAddr::parse(
            r#""Doe; J" <sip:j@example.com;transport=tcp>;tag=9"#,
            "From",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(quoted.display_name(), Some("Doe; J"));
        assert_eq!(quoted.uri(), "sip:j@example.com;transport=tcp");
        assert_eq!(quoted.tag(), Some("9"));
        let bare = NameAddr::parse("sip:drachtio:5060;tag=abc", "To")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(bare.uri(), "sip:drachtio:5060");
        assert_eq!(bare.tag(), Some("abc"));
        let feature = NameAddr::parse("<sip:2000@src.example.com>;+sip.src", "Contact")
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(feature.has_param("+sip.src"));
        assert!(NameAddr::parse("<sip:broken", "To").is_err());
    }

    #[test]
    fn sip_uri_socket_addresses() {
        let uri = SipUri::parse("sip:user@192.0.2.7:5070;transport=udp")
            .unwrap_or_else(|| panic!("parse"));
        assert_eq!(
            uri.socket_addr(),
            Some("192.0.2.7:5070".parse().unwrap_or_else(|_| panic!()))
        );
        let secure = SipUri::parse("sips:[2001:db8::2]").unwrap_or_else(|| panic!("parse"));
        assert_eq!(
            secure.socket_addr().map(|address| address.port()),
            Some(5061)
        );
        let named = SipUri::parse("sip:src.example.com").unwrap_or_else(|| panic!("parse"));
        assert_eq!(named.socket_addr(), None);
    }

    #[test]
    fn content_type_boundary_with_and_without_space() {
        for value in [
            "multipart/mixed;boundary=foobar",
            "Multipart/Mixed; boundary=\"foobar\"",
        ] {
            let content_type = ContentType::parse(value).unwrap_or_else(|error| panic!("{error}"));
            assert!(content_type.is("multipart", "mixed"));
            assert_eq!(content_type.boundary(), Some("foobar"));
        }
    }

    #[test]
    fn warning_round_trip() {
        let warning = Warning::parse(r#"399 srs.example.com "no \"consent\" evidence""#)
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(warning.code, 399);
        assert_eq!(warning.text, "no \"consent\" evidence");
        assert_eq!(
            warning.to_value(),
            r#"399 srs.example.com "no \"consent\" evidence""#
        );
    }

    #[test]
    fn cseq_rejects_overflow_and_garbage() {
        assert!(CSeq::parse("4294967296 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("1 INVITE extra").is_err());
        assert_eq!(
            CSeq::parse(" 101   INVITE ").map(|cseq| cseq.sequence),
            Ok(101)
        );
    }
}
