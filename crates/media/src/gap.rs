//! The gap map: where a stream has no audio and why, for the catalog (serde JSON).

use rtp::Encoding;

use crate::MediaError;
use crate::format::{GapReason, Record, StreamHeader, StreamReader};

/// One interval without audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gap {
    pub reason: GapReason,
    /// Stream timeline ticks (at the map's clock rate) since the stream's start.
    pub start: u64,
    pub end: u64,
    /// The same interval in milliseconds since the stream's start.
    pub start_ms: u64,
    pub end_ms: u64,
    /// The same interval on the wall clock, milliseconds since the Unix epoch.
    pub start_unix_ms: i64,
    pub end_unix_ms: i64,
    /// Packets known lost in the interval (loss gaps only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_packets: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// All gaps of one stream, in order of their start.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct GapMap {
    pub clock_rate: u32,
    pub start_unix_ms: i64,
    /// Where the stream's timeline ends (the end record, or the last record seen).
    pub end: u64,
    pub gaps: Vec<Gap>,
}

impl GapMap {
    /// Reads a stored stream and builds its gap map. A stream cut inside its last record
    /// (a crash) still yields the map of what was read.
    pub fn from_stream(bytes: &[u8]) -> Result<GapMap, MediaError> {
        let reader = StreamReader::open(bytes)?;
        let mut builder = GapMapBuilder::new(reader.header());
        for record in reader.records() {
            match record {
                Ok(record) => builder.observe(&record),
                Err(MediaError::TruncatedRecord { .. }) => break,
                Err(error) => return Err(error),
            }
        }
        Ok(builder.finish())
    }

    /// Total length of gaps with `reason`, in milliseconds.
    pub fn total_ms(&self, reason: GapReason) -> u64 {
        self.gaps
            .iter()
            .filter(|gap| gap.reason == reason)
            .map(|gap| gap.end_ms - gap.start_ms)
            .sum()
    }
}

/// Builds a [`GapMap`] from records in stored order (the writer's or a reader's).
#[derive(Debug, Clone)]
pub struct GapMapBuilder {
    map: GapMap,
    encoding: Option<Encoding>,
    encoding_clock_rate: u32,
    /// Open signalled gaps: reason and start time.
    open: Vec<(GapReason, u64)>,
}

/// Loss gaps this far back are checked against late packets.
const LATE_LOOKBACK: usize = 4;

impl GapMapBuilder {
    pub fn new(header: &StreamHeader) -> GapMapBuilder {
        let primary = header.primary();
        GapMapBuilder {
            map: GapMap {
                clock_rate: header.clock_rate,
                start_unix_ms: header.start_unix_ms,
                end: 0,
                gaps: Vec::new(),
            },
            encoding: primary.map(|format| format.encoding),
            encoding_clock_rate: primary.map_or(header.clock_rate, |format| format.clock_rate),
            open: Vec::new(),
        }
    }

    fn gap(&self, reason: GapReason, start: u64, end: u64, lost_packets: u32) -> Gap {
        let rate = u64::from(self.map.clock_rate.max(1));
        let start_ms = start.saturating_mul(1_000) / rate;
        let end_ms = end.max(start).saturating_mul(1_000) / rate;
        let wall = |ms: u64| {
            self.map
                .start_unix_ms
                .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX))
        };
        Gap {
            reason,
            start,
            end: end.max(start),
            start_ms,
            end_ms,
            start_unix_ms: wall(start_ms),
            end_unix_ms: wall(end_ms),
            lost_packets,
        }
    }

    fn push(&mut self, gap: Gap) {
        self.map.gaps.push(gap);
    }

    /// A late packet that landed inside a loss gap shortens or splits it.
    fn fill_loss(&mut self, time: u64, duration: u64) {
        let end = time.saturating_add(duration);
        let first = self.map.gaps.len().saturating_sub(LATE_LOOKBACK);
        let Some(index) = (first..self.map.gaps.len()).rev().find(|&index| {
            let gap = self.map.gaps[index];
            gap.reason == GapReason::Loss && gap.start < end && time < gap.end
        }) else {
            return;
        };
        let gap = self.map.gaps.remove(index);
        let lost = gap.lost_packets.saturating_sub(1);
        let before = (gap.start < time).then(|| self.gap(GapReason::Loss, gap.start, time, lost));
        let after = (end < gap.end).then(|| self.gap(GapReason::Loss, end, gap.end, lost));
        for piece in [before, after].into_iter().flatten() {
            self.push(piece);
        }
    }

    pub fn observe(&mut self, record: &Record<'_>) {
        match *record {
            Record::Audio { time, payload, .. } => {
                let duration = self
                    .encoding
                    .and_then(|encoding| encoding.payload_duration(payload))
                    .map_or(0, |ticks| {
                        u64::from(ticks) * u64::from(self.map.clock_rate)
                            / u64::from(self.encoding_clock_rate.max(1))
                    });
                if time < self.map.end {
                    self.fill_loss(time, duration);
                }
                self.map.end = self.map.end.max(time.saturating_add(duration));
            }
            Record::Gap {
                reason,
                start,
                end,
                lost_packets,
                ..
            } => {
                self.push(self.gap(reason, start, end, lost_packets));
                self.map.end = self.map.end.max(end);
            }
            Record::GapStart { reason, time, .. } => {
                if !self.open.iter().any(|(open, _)| *open == reason) {
                    self.open.push((reason, time));
                }
                self.map.end = self.map.end.max(time);
            }
            Record::GapEnd { reason, time, .. } => {
                if let Some(index) = self.open.iter().position(|(open, _)| *open == reason) {
                    let (_, start) = self.open.remove(index);
                    self.push(self.gap(reason, start, time, 0));
                }
                self.map.end = self.map.end.max(time);
            }
            Record::CodecChange {
                encoding,
                clock_rate,
                time,
                ..
            } => {
                self.encoding = Some(encoding);
                self.encoding_clock_rate = clock_rate;
                self.map.end = self.map.end.max(time);
            }
            Record::TelephoneEvent { time, .. }
            | Record::Source { time, .. }
            | Record::End { time, .. } => {
                self.map.end = self.map.end.max(time);
            }
        }
    }

    /// Closes signalled gaps still open at the end of the stream and returns the map.
    pub fn finish(mut self) -> GapMap {
        let end = self.map.end;
        for (reason, start) in std::mem::take(&mut self.open) {
            self.push(self.gap(reason, start, end, 0));
        }
        // Records arrive nearly in order; a stable sort keeps equal starts as written.
        self.map.gaps.sort_by_key(|gap| gap.start);
        self.map
    }
}
