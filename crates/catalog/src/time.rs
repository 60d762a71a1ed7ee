//! Times are stored as INTEGER epoch milliseconds. Both backends keep exactly that precision,
//! so what one returns the other returns too.

use chrono::{DateTime, Utc};

use crate::error::CatalogError;

pub(crate) fn to_millis(at: &DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(
    column: &'static str,
    millis: i64,
) -> Result<DateTime<Utc>, CatalogError> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| CatalogError::Corrupt {
        column,
        reason: format!("{millis} is not a representable time"),
    })
}

/// `at` with sub-millisecond precision dropped, as it reads back from storage.
pub(crate) fn truncate_millis(at: &DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(to_millis(at)).unwrap_or(*at)
}
