//! One stream's recorder: RTP datagrams in, stored-stream records out (the hot path).

use std::time::Instant;

use rtp::{
    Encoding, PayloadTypeMap, ReceiveConfig, ReceiveStatistics, RtpPacket, SequenceOutcome,
    SourceEvent, StreamReceiver, TelephoneEvent, TelephoneEventOutcome, TelephoneEventTracker,
};

use crate::MediaError;
use crate::format::{GapReason, Record, SourceCause, StreamHeader};
use crate::gap::{GapMap, GapMapBuilder};
use crate::writer::{ChunkReady, MAX_AUDIO_PAYLOAD_LEN, StreamWriter, WriterConfig};

/// How a recorder behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    pub header: StreamHeader,
    pub writer: WriterConfig,
    pub receive: ReceiveConfig,
    /// A silence (no packets, sequence numbers contiguous) at least this long is written as
    /// an inactivity gap; shorter ones (silence suppression between words) are only
    /// visible as timestamps that jump.
    pub inactivity_threshold_ms: u32,
}

impl RecorderConfig {
    pub fn new(header: StreamHeader) -> RecorderConfig {
        RecorderConfig {
            header,
            writer: WriterConfig::default(),
            receive: ReceiveConfig::default(),
            inactivity_threshold_ms: 1_000,
        }
    }
}

/// What happened to the packets of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderStatistics {
    pub audio_records: u64,
    pub telephone_events: u64,
    /// Datagrams that are not valid RTP (or a malformed telephone-event payload).
    pub malformed: u64,
    pub unknown_payload_type: u64,
    /// Packets refused while recording is paused or a participant lacks consent.
    pub dropped_while_paused: u64,
    pub payload_too_large: u64,
    /// Packets that would sit before the stream's start.
    pub before_start: u64,
    /// Duplicates, too-late, probation and jump packets (details in `receive`).
    pub not_delivered: u64,
    pub loss_gaps: u64,
    pub inactivity_gaps: u64,
    /// Times a new SSRC replaced the current one (RFC 3550 §8.2), from the receiver.
    pub ssrc_changes: u64,
    /// Arrival of the first and the last stored audio packet, in milliseconds since the
    /// stream's start (a late start or an early end of the media shows here).
    pub first_audio_ms: Option<u32>,
    pub last_audio_ms: Option<u32>,
    /// Summed over every source of the stream.
    pub receive: ReceiveStatistics,
}

/// Where a source's timestamps sit on the stream timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    time: u64,
    source_timestamp: i64,
    clock_rate: u32,
}

/// Gap reasons as bits, for the signalled gaps that are open.
fn reason_bit(reason: GapReason) -> u8 {
    1 << (reason as u8)
}

/// Signalled gaps during which arriving audio must not be stored.
const SUPPRESSING: u8 = (1 << GapReason::Pause as u8) | (1 << GapReason::NoConsent as u8);

/// Records one media stream. Holds the receive state, the anchor of the timeline and the
/// writer with its open chunk; no heap besides the writer's buffer.
#[derive(Debug)]
pub struct StreamRecorder {
    writer: StreamWriter,
    receiver: StreamReceiver,
    payload_types: PayloadTypeMap,
    telephone_events: TelephoneEventTracker,
    start: Instant,
    timeline_rate: u32,
    inactivity_threshold_ms: u32,
    current_payload_type: u8,
    anchor: Option<Anchor>,
    reanchor: bool,
    /// End of the newest audio on the timeline (or of the last signalled gap).
    end_time: u64,
    open_gaps: u8,
    statistics: RecorderStatistics,
    /// The gap map, kept as records are written, so a finished stream's gaps are known
    /// without reading its (sealed) bytes back.
    gaps: GapMapBuilder,
}

impl StreamRecorder {
    /// Starts recording a stream whose time 0 is `start` (the header's wall-clock start).
    /// `buffer` is reused storage for the open chunk (from a pool; any content is dropped).
    pub fn new(
        config: RecorderConfig,
        start: Instant,
        buffer: Vec<u8>,
    ) -> Result<StreamRecorder, MediaError> {
        let header = config.header;
        Ok(StreamRecorder {
            writer: StreamWriter::new(&header, config.writer, buffer)?,
            gaps: GapMapBuilder::new(&header),
            receiver: StreamReceiver::new(config.receive),
            payload_types: header.payload_types,
            telephone_events: TelephoneEventTracker::new(),
            start,
            timeline_rate: header.clock_rate,
            inactivity_threshold_ms: config.inactivity_threshold_ms,
            current_payload_type: header.primary_payload_type,
            anchor: None,
            reanchor: false,
            end_time: 0,
            open_gaps: 0,
            statistics: RecorderStatistics::default(),
        })
    }

    fn arrival_ms(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.start);
        let ms = elapsed
            .as_secs()
            .saturating_mul(1_000)
            .saturating_add(u64::from(elapsed.subsec_millis()));
        u32::try_from(ms).unwrap_or(u32::MAX)
    }

    fn ms_to_ticks(&self, ms: u32) -> u64 {
        u64::from(ms) * u64::from(self.timeline_rate) / 1_000
    }

    /// Feeds one datagram received on the stream's RTP port at `now`. Returns `Some` when
    /// a chunk is ready to seal. Packets that are not kept (duplicates, unknown payload
    /// types, paused) return `Ok(None)` and are counted; only malformed datagrams and
    /// use after [`StreamRecorder::finish`] are errors.
    pub fn on_rtp(
        &mut self,
        now: Instant,
        datagram: &[u8],
    ) -> Result<Option<ChunkReady>, MediaError> {
        if self.writer.is_finished() {
            return Err(MediaError::Finished);
        }
        let packet = RtpPacket::parse(datagram).map_err(|error| {
            self.statistics.malformed += 1;
            MediaError::Rtp(error)
        })?;
        let Some(format) = self.payload_types.lookup(packet.payload_type()) else {
            self.statistics.unknown_payload_type += 1;
            return Ok(None);
        };
        let arrival_ms = self.arrival_ms(now);
        let received = self.receiver.receive(
            packet.ssrc(),
            packet.sequence_number(),
            packet.timestamp(),
            format.clock_rate,
            now,
        );
        if self.open_gaps & SUPPRESSING != 0 {
            self.statistics.dropped_while_paused += 1;
            return Ok(None);
        }
        let Some((extended_sequence, extended_timestamp)) = received.sequence.delivered() else {
            self.statistics.not_delivered += 1;
            return Ok(None);
        };
        let payload = packet.payload();
        if payload.len() > MAX_AUDIO_PAYLOAD_LEN {
            self.statistics.payload_too_large += 1;
            return Ok(None);
        }

        let source = match (received.source, received.sequence) {
            (SourceEvent::First { ssrc }, _) => Some((SourceCause::First, 0, ssrc)),
            (
                SourceEvent::Changed {
                    previous_ssrc,
                    ssrc,
                },
                _,
            ) => Some((SourceCause::SsrcChange, previous_ssrc, ssrc)),
            (SourceEvent::Same, SequenceOutcome::Restarted { .. }) => {
                Some((SourceCause::Restart, packet.ssrc(), packet.ssrc()))
            }
            (SourceEvent::Same, _) => None,
        };
        let arrival_time = self.ms_to_ticks(arrival_ms);
        if let Some((cause, previous_ssrc, ssrc)) = source {
            self.write_record(&Record::Source {
                cause,
                previous_ssrc,
                ssrc,
                time: arrival_time.max(self.end_time),
                arrival_ms,
            })?;
            self.reanchor = true;
        }
        let needs_anchor = self.reanchor
            || self
                .anchor
                .is_none_or(|anchor| anchor.clock_rate != format.clock_rate);
        if needs_anchor {
            self.anchor_at(
                arrival_time,
                extended_timestamp,
                format.clock_rate,
                arrival_ms,
            )?;
        }
        let Some(time) = self.timeline(extended_timestamp) else {
            self.statistics.before_start += 1;
            return Ok(None);
        };

        if format.encoding == Encoding::TelephoneEvent {
            return self.telephone_event(packet.timestamp(), payload, time, arrival_ms);
        }
        if format.payload_type != self.current_payload_type {
            self.write_record(&Record::CodecChange {
                payload_type: format.payload_type,
                encoding: format.encoding,
                clock_rate: format.clock_rate,
                time,
                arrival_ms,
            })?;
            self.current_payload_type = format.payload_type;
        }
        let duration = format
            .encoding
            .payload_duration(payload)
            .map_or(0, |ticks| {
                scale(i64::from(ticks), format.clock_rate, self.timeline_rate)
            });
        let duration = u64::try_from(duration).unwrap_or(0);
        if let SequenceOutcome::InOrder { skipped, .. } = received.sequence
            && !needs_anchor
        {
            self.detect_gap(time, skipped, arrival_ms)?;
        }
        self.end_time = self.end_time.max(time.saturating_add(duration));
        self.statistics.audio_records += 1;
        self.statistics.first_audio_ms.get_or_insert(arrival_ms);
        self.statistics.last_audio_ms = Some(arrival_ms);
        self.write_record(&Record::Audio {
            time,
            sequence: extended_sequence as u32,
            arrival_ms,
            payload,
        })
    }

    /// Places a source's timestamps on the timeline at the packet's arrival (or after the
    /// newest audio, so that sources never overlap). Silence before it long enough to
    /// matter becomes an inactivity gap.
    fn anchor_at(
        &mut self,
        arrival_time: u64,
        source_timestamp: i64,
        clock_rate: u32,
        arrival_ms: u32,
    ) -> Result<(), MediaError> {
        let time = arrival_time.max(self.end_time);
        if time - self.end_time >= self.ms_to_ticks(self.inactivity_threshold_ms) {
            self.write_gap(GapReason::Inactivity, self.end_time, time, arrival_ms, 0)?;
        }
        self.anchor = Some(Anchor {
            time,
            source_timestamp,
            clock_rate,
        });
        self.reanchor = false;
        Ok(())
    }

    /// Timeline position of an extended timestamp of the current source.
    fn timeline(&self, extended_timestamp: i64) -> Option<u64> {
        let anchor = self.anchor?;
        let offset = scale(
            extended_timestamp.saturating_sub(anchor.source_timestamp),
            anchor.clock_rate,
            self.timeline_rate,
        );
        u64::try_from(i128::from(anchor.time) + offset).ok()
    }

    /// Skipped sequence numbers are a loss gap; a silent jump in time with contiguous
    /// numbers is inactivity (when long enough).
    fn detect_gap(&mut self, time: u64, skipped: u64, arrival_ms: u32) -> Result<(), MediaError> {
        if skipped > 0 {
            let lost = u32::try_from(skipped).unwrap_or(u32::MAX);
            return self.write_gap(
                GapReason::Loss,
                self.end_time.min(time),
                time,
                arrival_ms,
                lost,
            );
        }
        let silent = time.saturating_sub(self.end_time);
        if silent > 0 && silent >= self.ms_to_ticks(self.inactivity_threshold_ms) {
            return self.write_gap(GapReason::Inactivity, self.end_time, time, arrival_ms, 0);
        }
        Ok(())
    }

    fn write_gap(
        &mut self,
        reason: GapReason,
        start: u64,
        end: u64,
        arrival_ms: u32,
        lost_packets: u32,
    ) -> Result<(), MediaError> {
        match reason {
            GapReason::Loss => self.statistics.loss_gaps += 1,
            _ => self.statistics.inactivity_gaps += 1,
        }
        self.write_record(&Record::Gap {
            reason,
            start,
            end,
            arrival_ms,
            lost_packets,
        })?;
        Ok(())
    }

    fn telephone_event(
        &mut self,
        rtp_timestamp: u32,
        payload: &[u8],
        time: u64,
        arrival_ms: u32,
    ) -> Result<Option<ChunkReady>, MediaError> {
        let Ok(event) = TelephoneEvent::parse(payload) else {
            self.statistics.malformed += 1;
            return Ok(None);
        };
        let kept = match self.telephone_events.on_packet(rtp_timestamp, event) {
            TelephoneEventOutcome::Began(event) | TelephoneEventOutcome::Ended(event) => event,
            TelephoneEventOutcome::Continued | TelephoneEventOutcome::Repeated => {
                return Ok(None);
            }
        };
        self.statistics.telephone_events += 1;
        self.write_record(&Record::TelephoneEvent {
            time,
            arrival_ms,
            event: kept.event,
            end: kept.end,
            volume: kept.volume,
            duration: kept.duration,
        })
    }

    /// A signalled gap begins (pause, hold, no consent). While a pause or no-consent gap is
    /// open, arriving audio is dropped: RFC 7866 §8.2 pause, and no recording without
    /// consent. Starting a gap that is already open does nothing.
    pub fn start_gap(
        &mut self,
        now: Instant,
        reason: GapReason,
    ) -> Result<Option<ChunkReady>, MediaError> {
        if self.open_gaps & reason_bit(reason) != 0 {
            return Ok(None);
        }
        let arrival_ms = self.arrival_ms(now);
        let time = self.ms_to_ticks(arrival_ms).max(self.end_time);
        let ready = self.write_record(&Record::GapStart {
            reason,
            time,
            arrival_ms,
        })?;
        self.open_gaps |= reason_bit(reason);
        Ok(ready)
    }

    /// A signalled gap ends; the next packet is placed by its arrival time again.
    pub fn end_gap(
        &mut self,
        now: Instant,
        reason: GapReason,
    ) -> Result<Option<ChunkReady>, MediaError> {
        if self.open_gaps & reason_bit(reason) == 0 {
            return Ok(None);
        }
        let arrival_ms = self.arrival_ms(now);
        let time = self.ms_to_ticks(arrival_ms).max(self.end_time);
        let ready = self.write_record(&Record::GapEnd {
            reason,
            time,
            arrival_ms,
        })?;
        self.open_gaps &= !reason_bit(reason);
        self.end_time = time;
        self.reanchor = true;
        Ok(ready)
    }

    fn write_record(&mut self, record: &Record<'_>) -> Result<Option<ChunkReady>, MediaError> {
        let ready = self.writer.write(record)?;
        self.gaps.observe(record);
        Ok(ready)
    }

    /// The stream's gaps so far (pauses, holds, losses, inactivity, no consent); after
    /// [`StreamRecorder::finish`], the complete map.
    pub fn gap_map(&self) -> GapMap {
        self.gaps.clone().finish()
    }

    /// Whether arriving audio is being dropped (pause or no consent open).
    pub fn is_suppressed(&self) -> bool {
        self.open_gaps & SUPPRESSING != 0
    }

    /// Ends the stream at `now` (BYE): writes the end record. Then release the full chunks
    /// that remain and seal [`StreamRecorder::last_chunk`] as the last chunk.
    pub fn finish(&mut self, now: Instant) -> Result<Option<ChunkReady>, MediaError> {
        let arrival_ms = self.arrival_ms(now);
        let time = self.ms_to_ticks(arrival_ms).max(self.end_time);
        let ready = self.write_record(&Record::End { time, arrival_ms })?;
        self.writer.finish();
        Ok(ready)
    }

    /// The next full chunk to seal.
    pub fn full_chunk(&self) -> Option<&[u8]> {
        self.writer.full_chunk()
    }

    /// Drops the sealed chunk; returns whether another is ready.
    pub fn release_chunk(&mut self) -> Option<ChunkReady> {
        self.writer.release_chunk()
    }

    /// After [`StreamRecorder::finish`] and the last release: the last chunk's bytes.
    pub fn last_chunk(&self) -> Option<&[u8]> {
        self.writer.last_chunk()
    }

    pub fn writer(&self) -> &StreamWriter {
        &self.writer
    }

    pub fn statistics(&self) -> RecorderStatistics {
        RecorderStatistics {
            receive: self.receiver.total_statistics(),
            ssrc_changes: u64::from(self.receiver.ssrc_changes()),
            ..self.statistics
        }
    }

    /// Gives the buffer back for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.writer.into_buffer()
    }
}

/// Converts ticks between clock rates, rounding towards zero.
fn scale(ticks: i64, from: u32, to: u32) -> i128 {
    if from == to {
        return i128::from(ticks);
    }
    i128::from(ticks) * i128::from(to) / i128::from(from.max(1))
}
