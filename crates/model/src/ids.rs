use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "{kind} must be 1 to {max} characters of a-z, 0-9 and '-', starting with a letter or digit; got {value:?}"
    )]
    Slug {
        kind: &'static str,
        max: usize,
        value: String,
    },
    #[error("recording id must be a UUID; got {0:?}")]
    Recording(String),
    #[error("stream label must be 1 to 64 visible ASCII characters without '/'; got {0:?}")]
    StreamLabel(String),
}

/// Tenant and region ids appear in object keys and file paths, so they are restricted to a
/// path-safe alphabet: `[a-z0-9][a-z0-9-]{0,62}`.
fn check_slug(kind: &'static str, value: &str) -> Result<(), IdError> {
    const MAX: usize = 63;
    let bytes = value.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.len() <= MAX
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if well_formed {
        Ok(())
    } else {
        Err(IdError::Slug {
            kind,
            max: MAX,
            value: value.to_owned(),
        })
    }
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_slug($kind, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

slug_id!(
    /// A tenant: one organisation whose recordings are isolated from every other's.
    TenantId,
    "tenant id"
);
slug_id!(
    /// A storage region a tenant is pinned to.
    RegionId,
    "region id"
);

/// A recording (one call, or one imported file set). UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(Uuid);

impl RecordingId {
    /// A new id whose leading bits are the given Unix time in milliseconds (UUIDv7) and
    /// whose remaining bits are the given random bytes. Time and randomness are inputs.
    pub fn from_parts(unix_millis: u64, random: [u8; 10]) -> RecordingId {
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&unix_millis.to_be_bytes()[2..]);
        bytes[6..].copy_from_slice(&random);
        // Version 7 and RFC 9562 variant bits.
        bytes[6] = (bytes[6] & 0x0f) | 0x70;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        RecordingId(Uuid::from_bytes(bytes))
    }

    pub fn from_uuid(uuid: Uuid) -> RecordingId {
        RecordingId(uuid)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for RecordingId {
    type Err = IdError;
    fn from_str(value: &str) -> Result<Self, IdError> {
        Uuid::parse_str(value)
            .map(RecordingId)
            .map_err(|_| IdError::Recording(value.to_owned()))
    }
}

impl Serialize for RecordingId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordingId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(serde::de::Error::custom)
    }
}

/// The label of one media stream within a recording: the SIPREC `a=label` value for live
/// calls, a name such as `mixed` or `left` for imports. Appears in object keys, so it is
/// restricted to visible ASCII without `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamLabel(String);

impl StreamLabel {
    pub fn new(value: impl Into<String>) -> Result<StreamLabel, IdError> {
        let value = value.into();
        let well_formed = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\')
            && value != "."
            && value != "..";
        if well_formed {
            Ok(StreamLabel(value))
        } else {
            Err(IdError::StreamLabel(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StreamLabel {
    type Err = IdError;
    fn from_str(value: &str) -> Result<Self, IdError> {
        StreamLabel::new(value)
    }
}

impl Serialize for StreamLabel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StreamLabel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        StreamLabel::new(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_path_safe_slugs() {
        assert!(TenantId::new("acme-contact-1").is_ok());
        for bad in ["", "Acme", "-acme", "acme/../x", "acme_1", &"a".repeat(64)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn recording_ids_are_uuid_v7_ordered_by_time() {
        let earlier = RecordingId::from_parts(1_000, [0xff; 10]);
        let later = RecordingId::from_parts(1_001, [0x00; 10]);
        assert!(earlier < later);
        assert_eq!(earlier.as_uuid().get_version_num(), 7);
        let text = earlier.to_string();
        assert_eq!(text.parse::<RecordingId>(), Ok(earlier));
    }

    #[test]
    fn stream_labels_reject_path_separators() {
        assert!(StreamLabel::new("1").is_ok());
        assert!(StreamLabel::new("caller-leg").is_ok());
        for bad in ["", "a/b", "..", "a b", "a\\b"] {
            assert!(StreamLabel::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
