//! Our per-call consent evidence extension, a child of `<participant>` (RFC 7865 allows
//! children from other namespaces; DESIGN.md "Consent evidence"):
//! `<consent xmlns="urn:onrecord:params:xml:ns:consent:1" kind="verbal"
//! at="2026-11-28T10:00:05Z" reference="ivr-consent-7"/>`.

use model::{ConsentEvidence, ConsentKind, EvidenceSource};
use serde::{Deserialize, Serialize};

use super::time::MetadataTime;
use super::xml::Element;

/// The namespace of the consent extension.
pub const CONSENT_NAMESPACE: &str = "urn:onrecord:params:xml:ns:consent:1";

/// Longest `reference` accepted.
const MAX_REFERENCE_CHARS: usize = 256;

/// One `<consent>` element as read: valid evidence, or the reason it is not. Invalid claims
/// are kept, so a refusal can say what was wrong instead of "no evidence".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ConsentClaim {
    Valid { evidence: ConsentEvidence },
    Invalid { reason: String },
}

pub(crate) fn read_claim(element: &Element) -> ConsentClaim {
    match read_evidence(element) {
        Ok(evidence) => ConsentClaim::Valid { evidence },
        Err(reason) => ConsentClaim::Invalid { reason },
    }
}

fn read_evidence(element: &Element) -> Result<ConsentEvidence, String> {
    let kind = element
        .attribute(&["kind"])
        .ok_or_else(|| "consent has no kind".to_owned())?
        .trim()
        .parse::<ConsentKind>()?;
    let at = match element.attribute(&["at"]) {
        None => None,
        Some(text) => {
            let time = MetadataTime::parse(text);
            Some(
                time.utc
                    .ok_or_else(|| format!("consent time {:?} is not a timestamp", time.raw))?,
            )
        }
    };
    let reference = element
        .attribute(&["reference"])
        .map(str::trim)
        .filter(|reference| !reference.is_empty())
        .ok_or_else(|| "consent has no reference".to_owned())?;
    if reference.chars().count() > MAX_REFERENCE_CHARS {
        return Err(format!(
            "consent reference is longer than {MAX_REFERENCE_CHARS} characters"
        ));
    }
    Ok(ConsentEvidence {
        kind,
        at,
        reference: reference.to_owned(),
        source: EvidenceSource::CallMetadata,
    })
}
