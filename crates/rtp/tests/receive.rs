//! Per-SSRC receive state and SSRC-change detection (RFC 3550 Appendix A.1, A.3, A.8).

use std::time::{Duration, Instant};

use model::clock::{Clock, SystemClock};
use onrecord_rtp as rtp;
use rtp::{ReceiveConfig, SequenceOutcome, SourceEvent, SourceState, StreamReceiver};

fn start() -> Instant {
    SystemClock.monotonic()
}

fn valid_source(first_sequence: u16, first_timestamp: u32) -> (SourceState, Instant) {
    let now = start();
    let mut source = SourceState::new(0x1111, 8_000, 1, 32);
    let outcome = source.update(first_sequence, first_timestamp, now);
    assert!(matches!(
        outcome,
        SequenceOutcome::InOrder { skipped: 0, .. }
    ));
    (source, now)
}

#[test]
fn sequence_wraps_from_65535_to_0_into_the_next_cycle() {
    let (mut source, now) = valid_source(65_534, 0);
    let outcomes: Vec<_> = [(65_535u16, 160u32), (0, 320), (1, 480)]
        .into_iter()
        .map(|(sequence, timestamp)| source.update(sequence, timestamp, now))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            SequenceOutcome::InOrder {
                extended_sequence: 65_535,
                extended_timestamp: 160,
                skipped: 0
            },
            SequenceOutcome::InOrder {
                extended_sequence: 65_536,
                extended_timestamp: 320,
                skipped: 0
            },
            SequenceOutcome::InOrder {
                extended_sequence: 65_537,
                extended_timestamp: 480,
                skipped: 0
            },
        ]
    );
    let statistics = source.statistics();
    assert_eq!(statistics.expected, 4);
    assert_eq!(statistics.lost, 0);
}

#[test]
fn timestamp_wraps_past_u32_max_and_keeps_increasing() {
    let (mut source, now) = valid_source(10, u32::MAX - 159);
    let outcome = source.update(11, 0, now);
    assert_eq!(
        outcome.delivered(),
        Some((11, i64::from(u32::MAX) + 1)),
        "timestamp 0 after 2^32-160 is one packet later"
    );
    let outcome = source.update(12, 160, now);
    assert_eq!(outcome.delivered(), Some((12, i64::from(u32::MAX) + 161)));
}

#[test]
fn late_packet_inside_window_fills_its_hole() {
    let (mut source, now) = valid_source(100, 0);
    let jump = source.update(103, 480, now);
    assert_eq!(
        jump,
        SequenceOutcome::InOrder {
            extended_sequence: 103,
            extended_timestamp: 480,
            skipped: 2
        }
    );
    assert_eq!(
        source.update(101, 160, now),
        SequenceOutcome::Late {
            extended_sequence: 101,
            extended_timestamp: 160
        }
    );
    let statistics = source.statistics();
    assert_eq!(statistics.reordered, 1);
    assert_eq!(statistics.received, 3);
    assert_eq!(statistics.lost, 1, "102 is still missing");
}

#[test]
fn late_packet_outside_window_is_dropped_and_counted() {
    let (mut source, now) = valid_source(100, 0);
    for sequence in 102..=140u16 {
        source.update(sequence, u32::from(sequence - 100) * 160, now);
    }
    // 101 is 39 behind the highest (140): outside the 32-packet window.
    assert_eq!(source.update(101, 160, now), SequenceOutcome::TooLate);
    assert_eq!(source.statistics().too_late, 1);
    assert_eq!(source.statistics().lost, 1);
}

#[test]
fn duplicates_of_highest_and_of_late_packets_are_detected() {
    let (mut source, now) = valid_source(7, 0);
    source.update(8, 160, now);
    assert_eq!(source.update(8, 160, now), SequenceOutcome::Duplicate);
    assert_eq!(source.update(7, 0, now), SequenceOutcome::Duplicate);
    source.update(10, 480, now);
    assert!(matches!(
        source.update(9, 320, now),
        SequenceOutcome::Late { .. }
    ));
    assert_eq!(source.update(9, 320, now), SequenceOutcome::Duplicate);
    assert_eq!(source.statistics().duplicates, 3);
    assert_eq!(source.statistics().received, 4);
}

#[test]
fn loss_counts_expected_minus_received() {
    let (mut source, now) = valid_source(0, 0);
    for sequence in [1u16, 2, 5, 6, 9] {
        source.update(sequence, u32::from(sequence) * 160, now);
    }
    let statistics = source.statistics();
    assert_eq!(statistics.expected, 10);
    assert_eq!(statistics.received, 6);
    assert_eq!(statistics.lost, 4);
}

#[test]
fn packet_before_the_first_is_too_late() {
    let (mut source, now) = valid_source(500, 0);
    assert_eq!(source.update(499, 0, now), SequenceOutcome::TooLate);
}

#[test]
fn probation_needs_two_sequential_packets() {
    let now = start();
    let mut source = SourceState::new(9, 8_000, 2, 32);
    assert_eq!(source.update(40, 0, now), SequenceOutcome::Probation);
    assert!(!source.is_valid());
    // Not sequential: probation starts again from 50.
    assert_eq!(source.update(50, 0, now), SequenceOutcome::Probation);
    assert_eq!(
        source.update(51, 160, now),
        SequenceOutcome::InOrder {
            extended_sequence: 51,
            extended_timestamp: 160,
            skipped: 0
        }
    );
    assert!(source.is_valid());
    assert_eq!(source.statistics().received, 1);
    assert_eq!(source.statistics().not_validated, 2);
}

#[test]
fn large_jump_is_held_then_restarts_on_sequential_packet() {
    let (mut source, now) = valid_source(1_000, 0);
    assert_eq!(source.update(30_000, 9_999, now), SequenceOutcome::Jump);
    assert_eq!(
        source.update(30_001, 10_159, now),
        SequenceOutcome::Restarted {
            extended_sequence: 30_001,
            extended_timestamp: 10_159
        }
    );
    assert_eq!(source.statistics().restarts, 1);
    // A single stray jump is not followed and does not move the numbering.
    assert_eq!(source.update(5, 0, now), SequenceOutcome::Jump);
    assert!(matches!(
        source.update(30_002, 10_319, now),
        SequenceOutcome::InOrder { skipped: 0, .. }
    ));
}

#[test]
fn jitter_grows_with_uneven_arrival_and_is_zero_for_even_arrival() {
    let now = start();
    let mut even = SourceState::new(1, 8_000, 1, 32);
    let mut uneven = SourceState::new(2, 8_000, 1, 32);
    for index in 0..50u16 {
        let timestamp = u32::from(index) * 160;
        let on_time = now + Duration::from_millis(u64::from(index) * 20);
        let wobble = Duration::from_millis(if index % 2 == 0 { 0 } else { 10 });
        even.update(index, timestamp, on_time);
        uneven.update(index, timestamp, on_time + wobble);
    }
    assert_eq!(even.statistics().jitter, 0);
    // Alternating 10 ms (80 ticks) of transit change converges towards 80.
    let jitter = uneven.statistics().jitter;
    assert!((60..=80).contains(&jitter), "jitter {jitter}");
}

#[test]
fn new_ssrc_on_the_stream_is_a_change_after_probation() {
    let now = start();
    let mut stream = StreamReceiver::new(ReceiveConfig::default());
    let first = stream.receive(0xaaaa, 10, 0, 8_000, now);
    assert_eq!(first.source, SourceEvent::First { ssrc: 0xaaaa });
    stream.receive(0xaaaa, 11, 160, 8_000, now);
    // A transfer: another SSRC with its own numbering.
    let candidate = stream.receive(0xbbbb, 7_000, 90_000, 8_000, now);
    assert_eq!(candidate.sequence, SequenceOutcome::Probation);
    assert_eq!(candidate.source, SourceEvent::Same);
    let confirmed = stream.receive(0xbbbb, 7_001, 90_160, 8_000, now);
    assert_eq!(
        confirmed.source,
        SourceEvent::Changed {
            previous_ssrc: 0xaaaa,
            ssrc: 0xbbbb
        }
    );
    assert_eq!(confirmed.sequence.delivered(), Some((7_001, 90_160)));
    assert_eq!(stream.current_ssrc(), Some(0xbbbb));
    assert_eq!(stream.ssrc_changes(), 1);
    assert_eq!(stream.total_statistics().received, 3);
}

#[test]
fn one_stray_packet_of_another_ssrc_does_not_switch_the_stream() {
    let now = start();
    let mut stream = StreamReceiver::new(ReceiveConfig::default());
    stream.receive(1, 10, 0, 8_000, now);
    let stray = stream.receive(2, 500, 0, 8_000, now);
    assert_eq!(stray.sequence, SequenceOutcome::Probation);
    let next = stream.receive(1, 11, 160, 8_000, now);
    assert_eq!(next.source, SourceEvent::Same);
    assert!(matches!(next.sequence, SequenceOutcome::InOrder { .. }));
    assert_eq!(stream.current_ssrc(), Some(1));
}
