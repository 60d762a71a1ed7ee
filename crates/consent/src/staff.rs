//! Staff address patterns: the tenant's `staff = ["sip:*@contact.example.com"]`.
//!
//! A pattern is a URI with `*` wildcards. `*` matches any run of characters (including none,
//! and including `@` and `.`). Matching follows the case rules of RFC 3261 §19.1.4: the
//! scheme and the host are compared case-insensitively, the user part case-sensitively. Both
//! the pattern and the address are first split into `scheme:user@host` (or `scheme:rest` when
//! there is no `@`); the scheme and the host are lower-cased (ASCII), and anything from the
//! first `;` or `?` after the host (URI parameters and headers, RFC 3261 §19.1.1; for a `tel:`
//! URI, RFC 3966 parameters after the number) is dropped from the address before matching.
//! A pattern may therefore not contain `;` or `?`. A port is part of the host: a pattern that
//! should match `sip:pbx.example.com:5061` must say so.
//!
//! Patterns are compiled once per tenant ([`StaffPatterns::compile`]); compilation refuses
//! patterns that are empty, too long, lack a literal scheme, contain spaces, control
//! characters, `;` or `?`, or pin nothing but wildcards after the scheme (`sip:*`, `sip:*@*`,
//! `tel:*`), since such a pattern would turn every caller into staff.

use std::fmt;

/// The longest staff pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// The most staff patterns one tenant may declare.
pub const MAX_PATTERNS: usize = 1_024;
/// The longest scheme accepted (`sips`, `tel`, `urn`… are all short).
const MAX_SCHEME_BYTES: usize = 16;

/// Why a staff pattern was refused. Every variant names the pattern (by its position in the
/// tenant's list and its text: patterns are configuration, not personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("staff pattern {position} is empty")]
    Empty { position: usize },
    #[error("staff pattern {position} is {length} bytes long; the limit is {MAX_PATTERN_BYTES}")]
    TooLong { position: usize, length: usize },
    #[error("{count} staff patterns declared; the limit is {MAX_PATTERNS}")]
    TooMany { count: usize },
    #[error(
        "staff pattern {position} ({pattern:?}) must start with a literal URI scheme such as \"sip:\" or \"tel:\" (letters, digits, '+', '-', '.'; no '*')"
    )]
    Scheme { position: usize, pattern: String },
    #[error(
        "staff pattern {position} ({pattern:?}) contains {character:?}; spaces, control characters, ';' and '?' are not allowed (URI parameters are not matched)"
    )]
    Character {
        position: usize,
        pattern: String,
        character: char,
    },
    #[error(
        "staff pattern {position} ({pattern:?}) matches any address of its scheme; name at least a host or number, e.g. \"sip:*@contact.example.com\""
    )]
    MatchesEveryone { position: usize, pattern: String },
}

/// One compiled pattern: its original text (for the evidence reference) and its canonical
/// form (scheme and host lower-cased).
#[derive(Clone, PartialEq, Eq)]
struct StaffPattern {
    text: String,
    canonical: String,
}

/// The tenant's staff address patterns, compiled once. Matching an address costs one pass per
/// pattern over the address, with no allocation beyond one canonical copy of the address.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StaffPatterns {
    patterns: Vec<StaffPattern>,
}

impl fmt::Debug for StaffPatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.patterns.iter().map(|pattern| &pattern.text))
            .finish()
    }
}

impl StaffPatterns {
    /// No staff patterns: nobody is covered by the employment policy.
    pub fn none() -> StaffPatterns {
        StaffPatterns::default()
    }

    /// Checks and compiles the tenant's patterns, in order. Positions in errors are 1-based.
    pub fn compile<I, S>(patterns: I) -> Result<StaffPatterns, PatternError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut compiled = Vec::new();
        for (index, pattern) in patterns.into_iter().enumerate() {
            if index >= MAX_PATTERNS {
                return Err(PatternError::TooMany { count: index + 1 });
            }
            compiled.push(compile_one(index + 1, pattern.as_ref())?);
        }
        Ok(StaffPatterns { patterns: compiled })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// The patterns as written in the tenant's configuration.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|pattern| pattern.text.as_str())
    }

    /// The first pattern (as written) that `address` matches, if any.
    pub fn matching(&self, address: &str) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let canonical = canonical_address(address)?;
        self.patterns
            .iter()
            .find(|pattern| wildcard_match(pattern.canonical.as_bytes(), canonical.as_bytes()))
            .map(|pattern| pattern.text.as_str())
    }
}

fn compile_one(position: usize, pattern: &str) -> Result<StaffPattern, PatternError> {
    let owned = || pattern.to_owned();
    if pattern.is_empty() {
        return Err(PatternError::Empty { position });
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PatternError::TooLong {
            position,
            length: pattern.len(),
        });
    }
    if let Some(character) = pattern
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == ';' || *c == '?')
    {
        return Err(PatternError::Character {
            position,
            pattern: owned(),
            character,
        });
    }
    let Some((scheme, rest)) = split_scheme(pattern) else {
        return Err(PatternError::Scheme {
            position,
            pattern: owned(),
        });
    };
    let pins_something = rest.chars().any(|c| !matches!(c, '*' | '@' | '.'));
    if !pins_something {
        return Err(PatternError::MatchesEveryone {
            position,
            pattern: owned(),
        });
    }
    Ok(StaffPattern {
        text: owned(),
        canonical: canonical_parts(scheme, rest),
    })
}

/// Splits `scheme:rest` where the scheme is a literal RFC 3986 §3.1 scheme
/// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`).
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let mut characters = scheme.chars();
    let first_is_letter = characters.next().is_some_and(|c| c.is_ascii_alphabetic());
    let well_formed = first_is_letter
        && scheme.len() <= MAX_SCHEME_BYTES
        && characters.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    well_formed.then_some((scheme, rest))
}

/// `scheme:user@host` with the scheme and the host lower-cased; the user part is kept as is
/// (RFC 3261 §19.1.4). The host is what follows the last `@`.
fn canonical_parts(scheme: &str, rest: &str) -> String {
    let mut canonical = String::with_capacity(scheme.len() + 1 + rest.len());
    canonical.push_str(&scheme.to_ascii_lowercase());
    canonical.push(':');
    match rest.rsplit_once('@') {
        Some((user, host)) => {
            canonical.push_str(user);
            canonical.push('@');
            canonical.push_str(&host.to_ascii_lowercase());
        }
        None if scheme.eq_ignore_ascii_case("tel") => canonical.push_str(rest),
        // `sip:pbx.example.com` has no user part: all of it is host.
        None => canonical.push_str(&rest.to_ascii_lowercase()),
    }
    canonical
}

/// The canonical form of a participant's address, parameters and headers removed; `None` for
/// text that is not a URI at all (it then matches no pattern).
fn canonical_address(address: &str) -> Option<String> {
    let address = address.trim();
    let (scheme, rest) = split_scheme(address)?;
    // Parameters and headers start after the host, i.e. after the last '@' when there is one
    // (the user part may itself carry ';' in SIP, RFC 3261 §19.1.1).
    let host_start = rest.rfind('@').map_or(0, |at| at + 1);
    let end = rest[host_start..]
        .find([';', '?'])
        .map_or(rest.len(), |offset| host_start + offset);
    Some(canonical_parts(scheme, &rest[..end]))
}

/// Glob match where `*` matches any run of bytes. Linear-time greedy matching with one
/// backtrack point (the last `*`), which is exact for patterns whose only metacharacter is `*`.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(texts: &[&str]) -> StaffPatterns {
        match StaffPatterns::compile(texts) {
            Ok(compiled) => compiled,
            Err(error) => panic!("patterns {texts:?} should compile: {error}"),
        }
    }

    #[test]
    fn wildcard_user_matches_any_agent_of_the_host() {
        let staff = patterns(&["sip:*@contact.example.com"]);
        assert_eq!(
            staff.matching("sip:agent7@contact.example.com"),
            Some("sip:*@contact.example.com")
        );
        assert_eq!(
            staff.matching("sip:@contact.example.com"),
            Some("sip:*@contact.example.com")
        );
        assert_eq!(staff.matching("sip:agent7@example.com"), None);
        assert_eq!(
            staff.matching("sip:agent7@contact.example.com.evil.test"),
            None
        );
    }

    #[test]
    fn scheme_and_host_match_case_insensitively() {
        let staff = patterns(&["sip:*@Contact.Example.COM"]);
        assert!(staff.matching("SIP:agent7@CONTACT.example.com").is_some());
        assert!(staff.matching("sip:agent7@contact.EXAMPLE.com").is_some());
    }

    #[test]
    fn user_part_matches_case_sensitively() {
        let staff = patterns(&["sip:Agent*@contact.example.com"]);
        assert!(staff.matching("sip:Agent7@contact.example.com").is_some());
        assert!(staff.matching("sip:agent7@contact.example.com").is_none());
    }

    #[test]
    fn other_scheme_does_not_match() {
        let staff = patterns(&["sip:*@contact.example.com"]);
        assert!(staff.matching("sips:agent7@contact.example.com").is_none());
        assert!(staff.matching("tel:+441632960001").is_none());
    }

    #[test]
    fn uri_parameters_and_headers_are_ignored_in_the_address() {
        let staff = patterns(&["sip:*@contact.example.com"]);
        assert!(
            staff
                .matching("sip:agent7@contact.example.com;transport=tls")
                .is_some()
        );
        assert!(
            staff
                .matching("sip:agent7@contact.example.com?subject=x")
                .is_some()
        );
        assert!(
            staff
                .matching("sip:+4412;npdi@contact.example.com;user=phone")
                .is_some()
        );
    }

    #[test]
    fn telephone_number_prefix_pattern_matches_the_range() {
        let staff = patterns(&["tel:+44163296*"]);
        assert!(staff.matching("tel:+441632960001").is_some());
        assert!(staff.matching("TEL:+441632960001;ext=12").is_some());
        assert!(staff.matching("tel:+441632970001").is_none());
    }

    #[test]
    fn wildcard_inside_the_host_matches_subdomains() {
        let staff = patterns(&["sip:*@*.contact.example.com"]);
        assert!(staff.matching("sip:a@eu.contact.example.com").is_some());
        assert!(staff.matching("sip:a@contact.example.com").is_none());
    }

    #[test]
    fn first_matching_pattern_is_reported() {
        let staff = patterns(&["sip:*@pbx.example.com", "sip:*@*.example.com"]);
        assert_eq!(
            staff.matching("sip:a@b.example.com"),
            Some("sip:*@*.example.com")
        );
        assert_eq!(
            staff.matching("sip:a@pbx.example.com"),
            Some("sip:*@pbx.example.com")
        );
    }

    #[test]
    fn address_that_is_not_a_uri_matches_nothing() {
        let staff = patterns(&["sip:*@contact.example.com"]);
        assert!(staff.matching("").is_none());
        assert!(staff.matching("agent7@contact.example.com").is_none());
        assert!(staff.matching("*:x@contact.example.com").is_none());
    }

    #[test]
    fn empty_pattern_is_refused() {
        assert_eq!(
            StaffPatterns::compile(["sip:*@a.example", ""]),
            Err(PatternError::Empty { position: 2 })
        );
    }

    #[test]
    fn pattern_matching_everyone_is_refused() {
        for pattern in ["sip:*", "sip:*@*", "tel:*", "sip:*@*.*", "sip:"] {
            let result = StaffPatterns::compile([pattern]);
            assert!(
                matches!(result, Err(PatternError::MatchesEveryone { .. })),
                "{pattern:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn pattern_without_literal_scheme_is_refused() {
        for pattern in [
            "*",
            "*@contact.example.com",
            "*:a@b.example",
            "1sip:a@b",
            "contact",
        ] {
            let result = StaffPatterns::compile([pattern]);
            assert!(
                matches!(result, Err(PatternError::Scheme { .. })),
                "{pattern:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn pattern_with_spaces_or_parameters_is_refused() {
        for (pattern, bad) in [
            ("sip:* @a.example", ' '),
            ("sip:*@a.example;transport=tls", ';'),
            ("sip:*@a.example?x", '?'),
            ("sip:*@a.example\n", '\n'),
        ] {
            let result = StaffPatterns::compile([pattern]);
            assert!(
                matches!(result, Err(PatternError::Character { character, .. }) if character == bad),
                "{pattern:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn overlong_pattern_and_too_many_patterns_are_refused() {
        let long = format!("sip:*@{}.example", "a".repeat(MAX_PATTERN_BYTES));
        assert!(matches!(
            StaffPatterns::compile([long]),
            Err(PatternError::TooLong { position: 1, .. })
        ));
        let many = vec!["sip:*@a.example"; MAX_PATTERNS + 1];
        assert!(matches!(
            StaffPatterns::compile(many),
            Err(PatternError::TooMany { .. })
        ));
    }

    #[test]
    fn many_wildcards_match_in_bounded_time() {
        let staff = patterns(&["sip:*a*a*a*a*a*a*a*a*b@x.example"]);
        let address = format!("sip:{}@x.example", "a".repeat(4_000));
        assert!(staff.matching(&address).is_none());
    }

    #[test]
    fn wildcard_matcher_handles_edge_cases() {
        assert!(wildcard_match(b"", b""));
        assert!(wildcard_match(b"*", b""));
        assert!(wildcard_match(b"a*", b"a"));
        assert!(wildcard_match(b"*b", b"aab"));
        assert!(!wildcard_match(b"*b", b"aba"));
        assert!(wildcard_match(b"a**c", b"abbbc"));
        assert!(!wildcard_match(b"abc", b"ab"));
        assert!(!wildcard_match(b"ab", b"abc"));
    }
}
