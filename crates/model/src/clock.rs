//! The one place where time enters onrecord (STYLE.md §2). Everything else takes `now` as an
//! argument or holds a `&dyn Clock`, so tests run on a virtual clock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A source of wall-clock time (for records) and monotonic time (for timers).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn wall(&self) -> DateTime<Utc>;
    fn monotonic(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the wall clock
    fn wall(&self) -> DateTime<Utc> {
        Utc::now()
    }

    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the monotonic clock
    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to. For tests and simulations.
#[derive(Debug)]
pub struct VirtualClock {
    state: Mutex<(DateTime<Utc>, Instant)>,
}

impl VirtualClock {
    pub fn new(start: DateTime<Utc>) -> VirtualClock {
        VirtualClock {
            state: Mutex::new((start, SystemClock.monotonic())),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.0 += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        state.1 += by;
    }
}

impl Clock for VirtualClock {
    fn wall(&self) -> DateTime<Utc> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }

    fn monotonic(&self) -> Instant {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let clock = VirtualClock::new(start);
        let before = clock.monotonic();
        assert_eq!(clock.wall(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.monotonic() - before, Duration::from_secs(5));
        assert_eq!((clock.wall() - start).num_seconds(), 5);
    }
}
