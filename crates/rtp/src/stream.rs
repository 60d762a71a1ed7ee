//! One media stream's receiver: the current source and SSRC-change detection.

use std::time::Instant;

use crate::receive::{MIN_SEQUENTIAL, ReceiveStatistics, SequenceOutcome, SourceState};

/// How a stream receiver validates sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveConfig {
    /// Sequential packets needed before the stream's first SSRC is delivered. The recorder
    /// uses 1: the port was allocated for this stream in the SDP answer and the client is
    /// allow-listed, so the first packet is audio worth keeping.
    pub first_source_probation: u8,
    /// Sequential packets needed before a different SSRC replaces the current one (RFC 3550
    /// A.1 [`MIN_SEQUENTIAL`]): one stray packet does not switch the stream. The packets of
    /// the candidate before it is confirmed are not delivered.
    pub new_source_probation: u8,
    /// Late packets up to this many sequence numbers behind the highest are accepted (1..=64).
    pub reorder_window: u16,
}

impl Default for ReceiveConfig {
    fn default() -> ReceiveConfig {
        ReceiveConfig {
            first_source_probation: 1,
            new_source_probation: MIN_SEQUENTIAL,
            reorder_window: 32,
        }
    }
}

/// Whether a packet came from the source already known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEvent {
    /// The current source.
    Same,
    /// The first source of the stream was confirmed by this packet.
    First { ssrc: u32 },
    /// A different SSRC replaced the current one (e.g. after a transfer); confirmed by this
    /// packet.
    Changed { previous_ssrc: u32, ssrc: u32 },
}

/// The result of one packet for the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub source: SourceEvent,
    pub sequence: SequenceOutcome,
}

/// A different SSRC seen while another is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate {
    ssrc: u32,
    next_sequence: u16,
    seen: u8,
}

/// Receive state for one media stream (one SIPREC participant stream). About 150 bytes.
#[derive(Debug, Clone)]
pub struct StreamReceiver {
    config: ReceiveConfig,
    current: Option<SourceState>,
    candidate: Option<Candidate>,
    ssrc_changes: u32,
    /// Statistics of sources replaced by a change, summed.
    previous_sources: ReceiveStatistics,
}

impl StreamReceiver {
    pub fn new(config: ReceiveConfig) -> StreamReceiver {
        StreamReceiver {
            config,
            current: None,
            candidate: None,
            ssrc_changes: 0,
            previous_sources: ReceiveStatistics::default(),
        }
    }

    pub fn current_ssrc(&self) -> Option<u32> {
        self.current
            .as_ref()
            .filter(|source| source.is_valid())
            .map(SourceState::ssrc)
    }

    pub fn ssrc_changes(&self) -> u32 {
        self.ssrc_changes
    }

    /// Statistics of the current source.
    pub fn statistics(&self) -> ReceiveStatistics {
        self.current
            .as_ref()
            .map(SourceState::statistics)
            .unwrap_or_default()
    }

    /// Counters summed over every source the stream has had (jitter and highest sequence are
    /// the current source's).
    pub fn total_statistics(&self) -> ReceiveStatistics {
        let current = self.statistics();
        let previous = self.previous_sources;
        ReceiveStatistics {
            received: current.received + previous.received,
            expected: current.expected + previous.expected,
            lost: current.lost + previous.lost,
            reordered: current.reordered + previous.reordered,
            duplicates: current.duplicates + previous.duplicates,
            too_late: current.too_late + previous.too_late,
            not_validated: current.not_validated + previous.not_validated,
            restarts: current.restarts + previous.restarts,
            ..current
        }
    }

    /// Feeds one packet. `clock_rate` is the RTP clock of its payload type (for jitter).
    pub fn receive(
        &mut self,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        clock_rate: u32,
        arrival: Instant,
    ) -> Received {
        let config = self.config;
        let source = self.current.get_or_insert_with(|| {
            SourceState::new(
                ssrc,
                clock_rate,
                config.first_source_probation,
                config.reorder_window,
            )
        });
        if source.ssrc() == ssrc {
            self.candidate = None;
            let was_valid = source.is_valid();
            let outcome = source.update(sequence, timestamp, arrival);
            let event = if !was_valid && source.is_valid() {
                SourceEvent::First { ssrc }
            } else {
                SourceEvent::Same
            };
            return Received {
                source: event,
                sequence: outcome,
            };
        }
        if !source.is_valid() {
            // The first source never passed probation: the newcomer simply replaces it.
            *source = SourceState::new(
                ssrc,
                clock_rate,
                config.first_source_probation,
                config.reorder_window,
            );
            let outcome = source.update(sequence, timestamp, arrival);
            let event = if source.is_valid() {
                SourceEvent::First { ssrc }
            } else {
                SourceEvent::Same
            };
            return Received {
                source: event,
                sequence: outcome,
            };
        }
        self.receive_from_candidate(ssrc, sequence, timestamp, clock_rate, arrival)
    }

    fn receive_from_candidate(
        &mut self,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        clock_rate: u32,
        arrival: Instant,
    ) -> Received {
        let seen = match self.candidate {
            Some(candidate) if candidate.ssrc == ssrc && candidate.next_sequence == sequence => {
                candidate.seen.saturating_add(1)
            }
            _ => 1,
        };
        if seen < self.config.new_source_probation.max(1) {
            self.candidate = Some(Candidate {
                ssrc,
                next_sequence: sequence.wrapping_add(1),
                seen,
            });
            if let Some(current) = self.current.as_mut() {
                current.count_not_validated();
            }
            return Received {
                source: SourceEvent::Same,
                sequence: SequenceOutcome::Probation,
            };
        }
        self.candidate = None;
        let mut replacement = SourceState::new(ssrc, clock_rate, 1, self.config.reorder_window);
        let outcome = replacement.update(sequence, timestamp, arrival);
        let previous_ssrc = match self.current.replace(replacement) {
            Some(previous) => {
                self.accumulate(previous.statistics());
                previous.ssrc()
            }
            None => ssrc,
        };
        self.ssrc_changes += 1;
        Received {
            source: SourceEvent::Changed {
                previous_ssrc,
                ssrc,
            },
            sequence: outcome,
        }
    }

    fn accumulate(&mut self, finished: ReceiveStatistics) {
        let total = &mut self.previous_sources;
        total.received += finished.received;
        total.expected += finished.expected;
        total.lost += finished.lost;
        total.reordered += finished.reordered;
        total.duplicates += finished.duplicates;
        total.too_late += finished.too_late;
        total.not_validated += finished.not_validated;
        total.restarts += finished.restarts;
    }
}
