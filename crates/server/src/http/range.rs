//! HTTP `Range` requests (RFC 9110 §14): one byte range per request, as media players send.
//! A header this module cannot satisfy is an unsatisfiable range (416); a header it does not
//! understand at all (another unit, several ranges) is ignored and the whole body is sent,
//! as §14.2 allows.

use std::ops::Range;

/// What to send for a body of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No usable `Range` header: 200 with the whole body.
    Whole,
    /// 206 with these bytes.
    Partial(Range<u64>),
    /// 416: the range starts past the end, or is backwards.
    Unsatisfiable,
}

/// Interprets a `Range` header value against a body of `len` bytes.
pub fn answer(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(header) = header else {
        return RangeAnswer::Whole;
    };
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Unsatisfiable;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix: the last N bytes (§14.1.1).
        let Ok(suffix) = last.parse::<u64>() else {
            return RangeAnswer::Unsatisfiable;
        };
        if suffix == 0 || len == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        return RangeAnswer::Partial(len.saturating_sub(suffix)..len);
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeAnswer::Unsatisfiable;
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    let end = if last.is_empty() {
        len
    } else {
        match last.parse::<u64>() {
            Ok(last) if last >= start => last.saturating_add(1).min(len),
            _ => return RangeAnswer::Unsatisfiable,
        }
    };
    RangeAnswer::Partial(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_foreign_headers_send_the_whole_body() {
        assert_eq!(answer(None, 100), RangeAnswer::Whole);
        assert_eq!(answer(Some("items=0-1"), 100), RangeAnswer::Whole);
        assert_eq!(answer(Some("bytes=0-1,5-6"), 100), RangeAnswer::Whole);
    }

    #[test]
    fn first_middle_open_and_suffix_ranges() {
        assert_eq!(answer(Some("bytes=0-9"), 100), RangeAnswer::Partial(0..10));
        assert_eq!(
            answer(Some("bytes=40-59"), 100),
            RangeAnswer::Partial(40..60)
        );
        assert_eq!(
            answer(Some("bytes=90-"), 100),
            RangeAnswer::Partial(90..100)
        );
        assert_eq!(
            answer(Some("bytes=-10"), 100),
            RangeAnswer::Partial(90..100)
        );
        assert_eq!(
            answer(Some("bytes=-500"), 100),
            RangeAnswer::Partial(0..100)
        );
        assert_eq!(
            answer(Some("bytes=95-500"), 100),
            RangeAnswer::Partial(95..100)
        );
    }

    #[test]
    fn past_the_end_backwards_and_garbage_are_unsatisfiable() {
        for header in [
            "bytes=100-",
            "bytes=200-300",
            "bytes=9-3",
            "bytes=-0",
            "bytes=x-1",
            "bytes=5",
        ] {
            assert_eq!(
                answer(Some(header), 100),
                RangeAnswer::Unsatisfiable,
                "{header}"
            );
        }
        assert_eq!(answer(Some("bytes=-5"), 0), RangeAnswer::Unsatisfiable);
    }
}
