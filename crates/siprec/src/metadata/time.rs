//! Lenient timestamps. RFC 7865 §6.9 asks for RFC 3339; clients send times without a zone,
//! zones without a colon (`+0300`) and odd years. Every form is kept as text, and read
//! into UTC where it can be, with a note saying how.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a timestamp was read, when it was not plain RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeNote {
    /// No zone given: read as UTC.
    NoZoneAssumedUtc,
    /// A zone offset without a colon (`+0300`).
    ZoneWithoutColon,
    /// Not a time we can read; only the text is kept.
    Unparseable,
}

/// A timestamp from metadata: the text as sent and, where readable, the instant in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataTime {
    pub utc: Option<DateTime<Utc>>,
    pub raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<TimeNote>,
}

/// Longest timestamp text kept.
const MAX_TIME_TEXT: usize = 64;

impl MetadataTime {
    pub fn parse(text: &str) -> MetadataTime {
        let trimmed = text.trim();
        let raw: String = trimmed.chars().take(MAX_TIME_TEXT).collect();
        let (utc, note) = read(trimmed);
        MetadataTime { utc, raw, note }
    }
}

fn read(text: &str) -> (Option<DateTime<Utc>>, Option<TimeNote>) {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return (Some(time.with_timezone(&Utc)), None);
    }
    let upper = text.to_ascii_uppercase();
    if let Ok(time) = DateTime::parse_from_str(&upper, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return (
            Some(time.with_timezone(&Utc)),
            Some(TimeNote::ZoneWithoutColon),
        );
    }
    if let Ok(time) = NaiveDateTime::parse_from_str(&upper, "%Y-%m-%dT%H:%M:%S%.f") {
        return (Some(time.and_utc()), Some(TimeNote::NoZoneAssumedUtc));
    }
    (None, Some(TimeNote::Unparseable))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }

    #[test]
    fn rfc3339_with_z_reads_without_note() {
        let time = MetadataTime::parse("2017-06-23T12:16:06.040Z");
        assert_eq!(time.utc, utc("2017-06-23T12:16:06.040Z"));
        assert_eq!(time.note, None);
    }

    #[test]
    fn time_without_zone_is_read_as_utc_and_noted() {
        let time = MetadataTime::parse("2019-03-09T16:50:20");
        assert_eq!(time.utc, utc("2019-03-09T16:50:20Z"));
        assert_eq!(time.note, Some(TimeNote::NoZoneAssumedUtc));
    }

    #[test]
    fn zone_without_colon_is_read_and_noted() {
        let time = MetadataTime::parse("2025-10-22T12:16:48+0300");
        assert_eq!(time.utc, utc("2025-10-22T09:16:48Z"));
        assert_eq!(time.note, Some(TimeNote::ZoneWithoutColon));
    }

    #[test]
    fn epoch_year_is_read_and_garbage_keeps_its_text() {
        assert_eq!(
            MetadataTime::parse("1970-05-13T03:29:05Z").utc,
            utc("1970-05-13T03:29:05Z")
        );
        let garbage = MetadataTime::parse(" yesterday ");
        assert_eq!(
            (garbage.utc, garbage.raw.as_str(), garbage.note),
            (None, "yesterday", Some(TimeNote::Unparseable))
        );
    }
}
