//! Per-SSRC receive state after RFC 3550 Appendix A.1 (sequence validation), A.3 (loss)
//! and A.8 (interarrival jitter), with a reorder window and duplicate detection.

use std::time::Instant;

/// RFC 3550 A.1: a forward jump of at least this many sequence numbers is suspect.
pub const MAX_DROPOUT: u16 = 3_000;
/// RFC 3550 A.1: a packet at most this far behind the highest is reordered or duplicated;
/// further behind counts as a jump.
pub const MAX_MISORDER: u16 = 100;
/// RFC 3550 A.1: sequential packets needed before a new source is valid.
pub const MIN_SEQUENTIAL: u8 = 2;

/// Width of the duplicate/late bitmap; the reorder window can be at most this.
const WINDOW_BITS: u16 = 64;

/// What one packet means for its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceOutcome {
    /// The new highest sequence number. `skipped` sequence numbers between the previous
    /// highest and this one have not (yet) arrived; if they arrive within the reorder
    /// window they come back as [`SequenceOutcome::Late`].
    InOrder {
        extended_sequence: u64,
        extended_timestamp: i64,
        skipped: u64,
    },
    /// Behind the highest but inside the reorder window and not seen before: fills a hole.
    Late {
        extended_sequence: u64,
        extended_timestamp: i64,
    },
    /// A copy of a packet already received (within the window).
    Duplicate,
    /// Behind the reorder window (or before the source's first packet): dropped, counted.
    TooLate,
    /// The source is not yet valid (RFC 3550 A.1 probation); the packet is not delivered.
    Probation,
    /// A jump of at least [`MAX_DROPOUT`] (or far behind): the packet is not delivered; if
    /// the next one follows it, the sequence restarts (A.1 `bad_seq`).
    Jump,
    /// The source restarted its numbering (two sequential packets after a jump): the
    /// extended numbers start again from this packet, which is delivered.
    Restarted {
        extended_sequence: u64,
        extended_timestamp: i64,
    },
}

impl SequenceOutcome {
    /// Extended sequence number and timestamp when the packet is to be kept.
    pub fn delivered(self) -> Option<(u64, i64)> {
        match self {
            SequenceOutcome::InOrder {
                extended_sequence,
                extended_timestamp,
                ..
            }
            | SequenceOutcome::Late {
                extended_sequence,
                extended_timestamp,
            }
            | SequenceOutcome::Restarted {
                extended_sequence,
                extended_timestamp,
            } => Some((extended_sequence, extended_timestamp)),
            _ => None,
        }
    }
}

/// Counters of one source (RFC 3550 A.3 and A.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiveStatistics {
    /// Packets delivered (in order, late or restarted).
    pub received: u64,
    /// Highest extended sequence minus the base, plus one (A.3 `expected`).
    pub expected: u64,
    /// `expected - received` (A.3 cumulative lost, clamped at zero).
    pub lost: u64,
    /// Late packets accepted inside the reorder window.
    pub reordered: u64,
    pub duplicates: u64,
    pub too_late: u64,
    /// Packets refused while on probation or as suspect jumps.
    pub not_validated: u64,
    pub restarts: u64,
    /// Interarrival jitter in RTP clock ticks (A.8).
    pub jitter: u32,
    pub highest_extended_sequence: u64,
}

/// Receive state of one SSRC. About 120 bytes, no heap.
#[derive(Debug, Clone)]
pub struct SourceState {
    ssrc: u32,
    clock_rate: u32,
    reorder_window: u16,
    /// Remaining sequential packets before the source is valid (0 = valid).
    probation: u8,
    started: bool,
    max_sequence: u16,
    /// A.1 `bad_seq`: the sequence number that would confirm a restart.
    bad_sequence: Option<u16>,
    highest_extended: u64,
    base_extended: u64,
    /// Bit `i` set: `highest_extended - i` was received.
    window: u64,
    highest_timestamp: u32,
    highest_extended_timestamp: i64,
    reference: Option<Instant>,
    last_transit: Option<i64>,
    /// A.8 jitter scaled by 16.
    jitter_scaled: u64,
    statistics: ReceiveStatistics,
}

impl SourceState {
    /// `probation` is the number of sequential packets needed before packets are delivered
    /// (RFC 3550 A.1 uses [`MIN_SEQUENTIAL`]; 1 accepts the first packet).
    /// `reorder_window` is clamped to 1..=64.
    pub fn new(ssrc: u32, clock_rate: u32, probation: u8, reorder_window: u16) -> SourceState {
        SourceState {
            ssrc,
            clock_rate: clock_rate.max(1),
            reorder_window: reorder_window.clamp(1, WINDOW_BITS),
            probation: probation.max(1),
            started: false,
            max_sequence: 0,
            bad_sequence: None,
            highest_extended: 0,
            base_extended: 0,
            window: 0,
            highest_timestamp: 0,
            highest_extended_timestamp: 0,
            reference: None,
            last_transit: None,
            jitter_scaled: 0,
            statistics: ReceiveStatistics::default(),
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.started && self.probation == 0
    }

    pub fn statistics(&self) -> ReceiveStatistics {
        let expected = if self.is_valid() {
            self.highest_extended - self.base_extended + 1
        } else {
            0
        };
        ReceiveStatistics {
            expected,
            lost: expected.saturating_sub(self.statistics.received),
            jitter: u32::try_from(self.jitter_scaled >> 4).unwrap_or(u32::MAX),
            highest_extended_sequence: self.highest_extended,
            ..self.statistics
        }
    }

    /// A.1 `init_seq`: this packet becomes the base of the extended numbering.
    fn init_sequence(&mut self, sequence: u16, timestamp: u32) {
        self.max_sequence = sequence;
        self.bad_sequence = None;
        self.highest_extended = u64::from(sequence);
        self.base_extended = self.highest_extended;
        self.window = 1;
        self.highest_timestamp = timestamp;
        self.highest_extended_timestamp = i64::from(timestamp);
    }

    fn extend_timestamp(&self, timestamp: u32) -> i64 {
        // Timestamps of packets near each other differ by far less than 2^31 ticks, so the
        // signed difference from the highest one unwraps them.
        let delta = timestamp.wrapping_sub(self.highest_timestamp) as i32;
        self.highest_extended_timestamp + i64::from(delta)
    }

    /// A.8: J += (|D| - J) / 16, with D the change in transit time, all in RTP ticks.
    fn update_jitter(&mut self, arrival: Instant, extended_timestamp: i64) {
        let reference = *self.reference.get_or_insert(arrival);
        // 64-bit arithmetic (128-bit division costs more than the rest of the packet path):
        // microseconds × clock rate overflows u64 only after 12,000 years at 48 kHz.
        let elapsed = arrival.saturating_duration_since(reference);
        let micros = elapsed
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(elapsed.subsec_micros()));
        let arrival_ticks = micros.saturating_mul(u64::from(self.clock_rate)) / 1_000_000;
        let arrival_ticks = i64::try_from(arrival_ticks).unwrap_or(i64::MAX);
        let transit = arrival_ticks.saturating_sub(extended_timestamp);
        if let Some(last) = self.last_transit {
            let change = transit.saturating_sub(last).unsigned_abs();
            let scaled = self.jitter_scaled;
            self.jitter_scaled = scaled
                .saturating_add(change)
                .saturating_sub((scaled + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Updates the state with one packet of this source (A.1 `update_seq`, extended with
    /// the reorder window). `arrival` feeds the jitter estimate only.
    pub fn update(&mut self, sequence: u16, timestamp: u32, arrival: Instant) -> SequenceOutcome {
        if !self.started {
            self.started = true;
            // A.1: "init_seq(s, seq); s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL".
            self.max_sequence = sequence.wrapping_sub(1);
        }
        if self.probation > 0 {
            // A.1: "packet is in sequence" → one step closer to valid; otherwise restart.
            if sequence == self.max_sequence.wrapping_add(1) {
                self.probation -= 1;
                self.max_sequence = sequence;
                if self.probation == 0 {
                    self.init_sequence(sequence, timestamp);
                    self.statistics.received += 1;
                    self.update_jitter(arrival, i64::from(timestamp));
                    return SequenceOutcome::InOrder {
                        extended_sequence: self.highest_extended,
                        extended_timestamp: self.highest_extended_timestamp,
                        skipped: 0,
                    };
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_sequence = sequence;
            }
            self.statistics.not_validated += 1;
            return SequenceOutcome::Probation;
        }

        let ahead = sequence.wrapping_sub(self.max_sequence);
        if ahead == 0 {
            self.statistics.duplicates += 1;
            return SequenceOutcome::Duplicate;
        }
        if ahead < MAX_DROPOUT {
            // In order, with permissible gap; a smaller number than before means a wrap.
            let steps = u64::from(ahead);
            self.highest_extended += steps;
            self.window = if steps >= u64::from(WINDOW_BITS) {
                1
            } else {
                (self.window << steps) | 1
            };
            self.max_sequence = sequence;
            self.bad_sequence = None;
            let extended_timestamp = self.extend_timestamp(timestamp);
            self.highest_timestamp = timestamp;
            self.highest_extended_timestamp = extended_timestamp;
            self.statistics.received += 1;
            self.update_jitter(arrival, extended_timestamp);
            return SequenceOutcome::InOrder {
                extended_sequence: self.highest_extended,
                extended_timestamp,
                skipped: steps - 1,
            };
        }
        if ahead <= u16::MAX - MAX_MISORDER {
            // A.1: "the sequence number made a very large jump".
            if Some(sequence) == self.bad_sequence {
                // "Two sequential packets -- assume that the other side restarted without
                // telling us so just re-sync".
                self.init_sequence(sequence, timestamp);
                self.last_transit = None;
                self.statistics.received += 1;
                self.statistics.restarts += 1;
                self.received_base_reset();
                return SequenceOutcome::Restarted {
                    extended_sequence: self.highest_extended,
                    extended_timestamp: self.highest_extended_timestamp,
                };
            }
            self.bad_sequence = Some(sequence.wrapping_add(1));
            self.statistics.not_validated += 1;
            return SequenceOutcome::Jump;
        }

        // Behind the highest by 1..=MAX_MISORDER: duplicate or reordered.
        let behind = self.max_sequence.wrapping_sub(sequence);
        let Some(extended_sequence) = self.highest_extended.checked_sub(u64::from(behind)) else {
            self.statistics.too_late += 1;
            return SequenceOutcome::TooLate;
        };
        if behind >= self.reorder_window || extended_sequence < self.base_extended {
            self.statistics.too_late += 1;
            return SequenceOutcome::TooLate;
        }
        let bit = 1u64 << behind;
        if self.window & bit != 0 {
            self.statistics.duplicates += 1;
            return SequenceOutcome::Duplicate;
        }
        self.window |= bit;
        self.statistics.received += 1;
        self.statistics.reordered += 1;
        let extended_timestamp = self.extend_timestamp(timestamp);
        self.update_jitter(arrival, extended_timestamp);
        SequenceOutcome::Late {
            extended_sequence,
            extended_timestamp,
        }
    }

    /// Counts a packet of another SSRC refused while this source is current.
    pub(crate) fn count_not_validated(&mut self) {
        self.statistics.not_validated += 1;
    }

    /// After a restart the counting starts again from the new base: the old numbering's
    /// expected/received no longer compare (A.3 computes both from the same base).
    fn received_base_reset(&mut self) {
        self.statistics.received = 1;
    }
}
