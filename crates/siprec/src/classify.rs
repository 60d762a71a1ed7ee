//! Is this INVITE a recording session? (RFC 7866 §6.1.1, §6.2)

/// The facts about a new INVITE that decide what kind of session it is. The SIP layer fills
/// them in; [`contact_has_src_feature_tag`] and [`require_lists_siprec`] read the header values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestFacts {
    /// `+sip.src` in the Contact header field (RFC 7866 §6.1.1).
    pub has_src_feature_tag: bool,
    /// `siprec` in the Require header field (RFC 7866 §6.1.1).
    pub requires_siprec: bool,
    /// The body holds a recording-metadata part.
    pub has_metadata_part: bool,
}

/// Which SIPREC tags a legacy recording client left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyReason {
    /// Neither `+sip.src` nor `Require: siprec`, but metadata (BroadWorks, Webex Calling).
    MissingSrcFeatureTagAndRequire,
    MissingSrcFeatureTag,
    MissingRequireSiprec,
}

/// What kind of session a new INVITE starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A recording session (RS) by RFC 7866 §6.2.
    Siprec,
    /// Not an RS by RFC 7866 §6.2, but a recording client's session all the same: it carries
    /// recording metadata. RFC 7866 §6.1.1 lets the server decide what to do with it; a
    /// per-client policy may accept it.
    LegacyDialect(LegacyReason),
    /// A plain session (e.g. an SDP-only INVITE). Accepted only by an explicit per-client policy.
    NotRecordingSession,
}

/// RFC 7866 §6.2: "the SRS MUST only consider the SIP session as an RS when both the
/// "+sip.src" feature tag and the "siprec" option tag are included".
pub fn classify(facts: &RequestFacts) -> SessionKind {
    match (
        facts.has_src_feature_tag,
        facts.requires_siprec,
        facts.has_metadata_part,
    ) {
        (true, true, _) => SessionKind::Siprec,
        (false, false, true) => {
            SessionKind::LegacyDialect(LegacyReason::MissingSrcFeatureTagAndRequire)
        }
        (false, true, true) => SessionKind::LegacyDialect(LegacyReason::MissingSrcFeatureTag),
        (true, false, true) => SessionKind::LegacyDialect(LegacyReason::MissingRequireSiprec),
        (_, _, false) => SessionKind::NotRecordingSession,
    }
}

/// Whether a Contact header value carries the `+sip.src` feature tag as a header parameter
/// (`<sip:2000@src.example.com>;+sip.src`). A bare `;src` (BroadWorks) does not count.
pub fn contact_has_src_feature_tag(contact: &str) -> bool {
    let parameters = match contact.rfind('>') {
        Some(end) => &contact[end + 1..],
        None => contact,
    };
    parameters.split(';').skip(1).any(|parameter| {
        let name = parameter.split('=').next().unwrap_or_default().trim();
        name.eq_ignore_ascii_case("+sip.src")
    })
}

/// Whether a Require header value lists the `siprec` option tag.
pub fn require_lists_siprec(require: &str) -> bool {
    require
        .split(',')
        .any(|tag| tag.trim().eq_ignore_ascii_case("siprec"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tags_make_a_recording_session_even_before_metadata() {
        let facts = RequestFacts {
            has_src_feature_tag: true,
            requires_siprec: true,
            has_metadata_part: false,
        };
        assert_eq!(classify(&facts), SessionKind::Siprec);
    }

    #[test]
    fn metadata_without_tags_is_a_legacy_dialect() {
        let facts = RequestFacts {
            has_metadata_part: true,
            ..RequestFacts::default()
        };
        assert_eq!(
            classify(&facts),
            SessionKind::LegacyDialect(LegacyReason::MissingSrcFeatureTagAndRequire)
        );
        let only_require = RequestFacts {
            requires_siprec: true,
            has_metadata_part: true,
            ..RequestFacts::default()
        };
        assert_eq!(
            classify(&only_require),
            SessionKind::LegacyDialect(LegacyReason::MissingSrcFeatureTag)
        );
    }

    #[test]
    fn plain_sdp_invite_is_not_a_recording_session() {
        assert_eq!(
            classify(&RequestFacts::default()),
            SessionKind::NotRecordingSession
        );
        let only_src = RequestFacts {
            has_src_feature_tag: true,
            ..RequestFacts::default()
        };
        assert_eq!(classify(&only_src), SessionKind::NotRecordingSession);
    }

    #[test]
    fn reads_feature_and_option_tags_from_header_values() {
        assert!(contact_has_src_feature_tag(
            "<sip:2000@src.example.com>;+sip.src"
        ));
        assert!(contact_has_src_feature_tag(
            "<sip:2000@src.example.com>;expires=60;+SIP.SRC"
        ));
        assert!(!contact_has_src_feature_tag(
            "<sip:2000@src.example.com;+sip.src>"
        ));
        assert!(!contact_has_src_feature_tag("<sip:bw@192.0.2.1>;src"));
        assert!(require_lists_siprec("timer, siprec"));
        assert!(!require_lists_siprec("siprecx"));
    }
}
