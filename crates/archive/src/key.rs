use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use model::{RecordingId, StreamLabel, TenantId};

/// Where one sealed stream lives inside a region's store:
/// `{tenant}/{yyyy}/{mm}/{dd}/{recording}/{stream}.orc`.
///
/// Only ids go into keys — never phone numbers or names (DESIGN.md "Storage layout and keys") —
/// and every component is restricted to a path-safe alphabet by its type, so a key cannot
/// escape its tenant's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    tenant: TenantId,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an onrecord object key: {0:?}")]
pub struct ObjectKeyError(String);

impl ObjectKey {
    pub const EXTENSION: &'static str = "orc";

    pub fn for_stream(
        tenant: &TenantId,
        started_at: DateTime<Utc>,
        recording: RecordingId,
        stream: &StreamLabel,
    ) -> ObjectKey {
        let text = format!(
            "{tenant}/{:04}/{:02}/{:02}/{recording}/{stream}.{}",
            started_at.year(),
            started_at.month(),
            started_at.day(),
            Self::EXTENSION
        );
        ObjectKey {
            tenant: tenant.clone(),
            text,
        }
    }

    /// Reads a key back from the catalog, checking its shape.
    pub fn parse(text: &str) -> Result<ObjectKey, ObjectKeyError> {
        let invalid = || ObjectKeyError(text.to_owned());
        let parts: Vec<&str> = text.split('/').collect();
        let [tenant, year, month, day, recording, file] = parts.as_slice() else {
            return Err(invalid());
        };
        let tenant = TenantId::new(*tenant).map_err(|_| invalid())?;
        let numeric =
            |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !numeric(year, 4) || !numeric(month, 2) || !numeric(day, 2) {
            return Err(invalid());
        }
        recording.parse::<RecordingId>().map_err(|_| invalid())?;
        let stream = file.strip_suffix(".orc").ok_or_else(invalid)?;
        StreamLabel::new(stream).map_err(|_| invalid())?;
        Ok(ObjectKey {
            tenant,
            text: text.to_owned(),
        })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_ids_and_date_only_and_parse_back() -> Result<(), Box<dyn std::error::Error>> {
        let tenant = TenantId::new("acme")?;
        let recording = RecordingId::from_parts(1_764_324_000_000, [7; 10]);
        let started: DateTime<Utc> = "2026-11-28T10:00:00Z".parse()?;
        let key = ObjectKey::for_stream(&tenant, started, recording, &StreamLabel::new("mixed")?);
        assert_eq!(
            key.as_str(),
            format!("acme/2026/11/28/{recording}/mixed.orc")
        );
        assert_eq!(ObjectKey::parse(key.as_str())?, key);
        Ok(())
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in [
            "",
            "acme/2026/11/28/x/mixed.orc",
            "../2026/11/28/0190d4a0-0000-7000-8000-000000000000/a.orc",
            "acme/2026/11/28/0190d4a0-0000-7000-8000-000000000000/a.wav",
            "acme/26/11/28/0190d4a0-0000-7000-8000-000000000000/a.orc",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
