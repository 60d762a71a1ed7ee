//! Payload types, encodings and RFC 4733 telephone events.

use crate::RtpError;

/// The encodings onrecord records. The mapping from payload type to encoding comes from
/// the SDP the caller negotiated (RFC 3551 §6 static types, `a=rtpmap` for dynamic ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// G.711 µ-law (RFC 3551 §4.5.14), static payload type 0.
    Pcmu = 0,
    /// G.711 A-law, static payload type 8.
    Pcma = 1,
    /// G.722 (RFC 3551 §4.5.2), static payload type 9; RTP clock 8000 although it samples
    /// at 16 kHz.
    G722 = 2,
    /// Opus (RFC 7587), dynamic payload type, RTP clock always 48000.
    Opus = 3,
    /// RFC 4733 named telephone events (DTMF), dynamic payload type.
    TelephoneEvent = 4,
}

impl Encoding {
    /// The byte that stands for this encoding in stored formats.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Encoding> {
        match code {
            0 => Some(Encoding::Pcmu),
            1 => Some(Encoding::Pcma),
            2 => Some(Encoding::G722),
            3 => Some(Encoding::Opus),
            4 => Some(Encoding::TelephoneEvent),
            _ => None,
        }
    }

    /// The encoding name as written in an SDP `a=rtpmap` line (matched case-insensitively).
    pub fn from_rtpmap_name(name: &str) -> Option<Encoding> {
        [
            ("PCMU", Encoding::Pcmu),
            ("PCMA", Encoding::Pcma),
            ("G722", Encoding::G722),
            ("opus", Encoding::Opus),
            ("telephone-event", Encoding::TelephoneEvent),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, encoding)| encoding)
    }

    pub fn rtpmap_name(self) -> &'static str {
        match self {
            Encoding::Pcmu => "PCMU",
            Encoding::Pcma => "PCMA",
            Encoding::G722 => "G722",
            Encoding::Opus => "opus",
            Encoding::TelephoneEvent => "telephone-event",
        }
    }

    /// Whether packets of this encoding carry audio (everything but telephone events).
    pub fn is_audio(self) -> bool {
        self != Encoding::TelephoneEvent
    }

    /// How many RTP clock ticks one payload covers, when the payload says so:
    /// G.711 one byte per tick, G.722 one byte per tick at its 8000 Hz RTP clock
    /// (RFC 3551 §4.5.2), Opus from the TOC byte (RFC 6716 §3.1) at 48000 Hz.
    /// `None` for telephone events and malformed Opus packets.
    pub fn payload_duration(self, payload: &[u8]) -> Option<u32> {
        match self {
            Encoding::Pcmu | Encoding::Pcma | Encoding::G722 => u32::try_from(payload.len()).ok(),
            Encoding::Opus => opus_duration(payload),
            Encoding::TelephoneEvent => None,
        }
    }
}

/// RFC 6716 §3.1: the TOC byte's configuration gives the frame size, its code the frame count
/// (code 3 carries the count in the next byte). Returns 48 kHz ticks; at most 120 ms.
fn opus_duration(payload: &[u8]) -> Option<u32> {
    let toc = *payload.first()?;
    let config = toc >> 3;
    let frame_ticks: u32 = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames: u32 = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(payload.get(1)? & 0x3f),
    };
    let ticks = frame_ticks * frames;
    // RFC 6716 §3.2.5: "the total duration contained within a packet MUST NOT exceed 120 ms".
    (frames > 0 && ticks <= 5_760).then_some(ticks)
}

/// One payload type as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadFormat {
    pub payload_type: u8,
    pub encoding: Encoding,
    pub clock_rate: u32,
}

impl PayloadFormat {
    pub fn new(
        payload_type: u8,
        encoding: Encoding,
        clock_rate: u32,
    ) -> Result<PayloadFormat, RtpError> {
        if payload_type > 127 {
            return Err(RtpError::PayloadTypeOutOfRange(payload_type));
        }
        if clock_rate == 0 {
            return Err(RtpError::ZeroClockRate);
        }
        Ok(PayloadFormat {
            payload_type,
            encoding,
            clock_rate,
        })
    }
}

/// How many payload formats one stream can map. An SDP answer rarely carries more than four.
pub const MAX_PAYLOAD_FORMATS: usize = 8;

/// Payload type → encoding for one stream, without heap: a fixed array searched linearly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PayloadTypeMap {
    formats: [Option<PayloadFormat>; MAX_PAYLOAD_FORMATS],
}

impl PayloadTypeMap {
    pub fn new() -> PayloadTypeMap {
        PayloadTypeMap::default()
    }

    /// The RFC 3551 §6 static types onrecord records: 0 PCMU, 8 PCMA, 9 G722, all at 8000.
    pub fn with_static_types() -> PayloadTypeMap {
        PayloadTypeMap {
            formats: [
                Some(PayloadFormat {
                    payload_type: 0,
                    encoding: Encoding::Pcmu,
                    clock_rate: 8_000,
                }),
                Some(PayloadFormat {
                    payload_type: 8,
                    encoding: Encoding::Pcma,
                    clock_rate: 8_000,
                }),
                Some(PayloadFormat {
                    payload_type: 9,
                    encoding: Encoding::G722,
                    clock_rate: 8_000,
                }),
                None,
                None,
                None,
                None,
                None,
            ],
        }
    }

    /// Adds or replaces the format for its payload type.
    pub fn insert(&mut self, format: PayloadFormat) -> Result<(), RtpError> {
        let checked = PayloadFormat::new(format.payload_type, format.encoding, format.clock_rate)?;
        let slot = self
            .formats
            .iter_mut()
            .find(|slot| slot.is_none_or(|known| known.payload_type == checked.payload_type))
            .ok_or(RtpError::PayloadMapFull)?;
        *slot = Some(checked);
        Ok(())
    }

    pub fn lookup(&self, payload_type: u8) -> Option<PayloadFormat> {
        self.formats
            .iter()
            .flatten()
            .find(|format| format.payload_type == payload_type)
            .copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = PayloadFormat> + '_ {
        self.formats.iter().flatten().copied()
    }

    pub fn len(&self) -> usize {
        self.formats.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One RFC 4733 §2.3 telephone-event payload block:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |     event     |E|R| volume    |          duration             |
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (RFC 4733 §3.2: 0–9 digits, 10 `*`, 11 `#`, 12–15 A–D, 16 flash).
    pub event: u8,
    /// The E bit: this packet reports the end of the event.
    pub end: bool,
    /// Power level, 0 to 63, in -dBm0 (larger is quieter).
    pub volume: u8,
    /// Duration so far in RTP clock ticks, from the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first event block of a payload. A payload may be longer (RFC 2198
    /// redundancy carries older blocks after it); only the first block is the current event.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, RtpError> {
        let &[event, flags, high, low, ..] = payload else {
            return Err(RtpError::TelephoneEventTooShort { len: payload.len() });
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([high, low]),
        })
    }
}

/// What a telephone-event packet means for the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelephoneEventOutcome {
    /// First packet seen of a new event (keyed by its RTP timestamp, RFC 4733 §2.5.1.2).
    Began(TelephoneEvent),
    /// An update of the event already begun; nothing new to keep.
    Continued,
    /// The first end packet of the event, with its final duration.
    Ended(TelephoneEvent),
    /// A retransmitted end packet (RFC 4733 §2.5.1.4 sends the end three times) or a
    /// late update of an event that already ended.
    Repeated,
}

/// Dedupes the packets of RFC 4733 events: one `Began` and one `Ended` per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TelephoneEventTracker {
    /// RTP timestamp of the current event and whether its end has been seen.
    current: Option<(u32, bool)>,
}

impl TelephoneEventTracker {
    pub fn new() -> TelephoneEventTracker {
        TelephoneEventTracker::default()
    }

    /// `timestamp` is the packet's RTP timestamp: all packets of one event carry the
    /// event's start time (RFC 4733 §2.5.1.2), so a new timestamp is a new event.
    pub fn on_packet(&mut self, timestamp: u32, event: TelephoneEvent) -> TelephoneEventOutcome {
        match self.current {
            Some((known, true)) if known == timestamp => TelephoneEventOutcome::Repeated,
            Some((known, false)) if known == timestamp => {
                if event.end {
                    self.current = Some((timestamp, true));
                    TelephoneEventOutcome::Ended(event)
                } else {
                    TelephoneEventOutcome::Continued
                }
            }
            _ => {
                self.current = Some((timestamp, event.end));
                if event.end {
                    TelephoneEventOutcome::Ended(event)
                } else {
                    TelephoneEventOutcome::Began(event)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_types_map_pcmu_pcma_g722() {
        let map = PayloadTypeMap::with_static_types();
        assert_eq!(map.lookup(0).map(|f| f.encoding), Some(Encoding::Pcmu));
        assert_eq!(map.lookup(8).map(|f| f.encoding), Some(Encoding::Pcma));
        assert_eq!(map.lookup(9).map(|f| f.encoding), Some(Encoding::G722));
        assert_eq!(map.lookup(18), None);
    }

    #[test]
    fn dynamic_opus_and_telephone_event_are_added_and_replaced() -> Result<(), RtpError> {
        let mut map = PayloadTypeMap::new();
        map.insert(PayloadFormat::new(111, Encoding::Opus, 48_000)?)?;
        map.insert(PayloadFormat::new(101, Encoding::TelephoneEvent, 8_000)?)?;
        map.insert(PayloadFormat::new(101, Encoding::TelephoneEvent, 48_000)?)?;
        assert_eq!(map.len(), 2);
        assert_eq!(map.lookup(101).map(|f| f.clock_rate), Some(48_000));
        Ok(())
    }

    #[test]
    fn ninth_format_is_refused() -> Result<(), RtpError> {
        let mut map = PayloadTypeMap::new();
        for payload_type in 96..104 {
            map.insert(PayloadFormat::new(payload_type, Encoding::Opus, 48_000)?)?;
        }
        let ninth = PayloadFormat::new(104, Encoding::Opus, 48_000)?;
        assert_eq!(map.insert(ninth), Err(RtpError::PayloadMapFull));
        assert_eq!(
            PayloadFormat::new(128, Encoding::Pcmu, 8_000),
            Err(RtpError::PayloadTypeOutOfRange(128))
        );
        Ok(())
    }

    #[test]
    fn rtpmap_names_round_trip_case_insensitively() {
        assert_eq!(Encoding::from_rtpmap_name("OPUS"), Some(Encoding::Opus));
        assert_eq!(Encoding::from_rtpmap_name("pcmu"), Some(Encoding::Pcmu));
        assert_eq!(Encoding::from_rtpmap_name("G729"), None);
        for code in 0..5 {
            let encoding = Encoding::from_code(code);
            assert_eq!(encoding.map(Encoding::code), Some(code));
        }
    }

    #[test]
    fn opus_durations_follow_the_toc_byte() {
        // config 1 (SILK NB 20 ms), code 0: one frame.
        assert_eq!(Encoding::Opus.payload_duration(&[1 << 3]), Some(960));
        // config 31 (CELT FB 20 ms), code 1: two frames.
        assert_eq!(Encoding::Opus.payload_duration(&[31 << 3 | 1]), Some(1_920));
        // config 16 (CELT 2.5 ms), code 3 with 4 frames.
        assert_eq!(
            Encoding::Opus.payload_duration(&[16 << 3 | 3, 4]),
            Some(480)
        );
        // code 3 with 0 frames, and 60 ms × 3 = 180 ms, are invalid.
        assert_eq!(Encoding::Opus.payload_duration(&[16 << 3 | 3, 0]), None);
        assert_eq!(Encoding::Opus.payload_duration(&[3 << 3 | 3, 3]), None);
        assert_eq!(Encoding::Opus.payload_duration(&[]), None);
        assert_eq!(Encoding::Pcmu.payload_duration(&[0; 160]), Some(160));
    }

    #[test]
    fn telephone_event_fields_are_read() -> Result<(), RtpError> {
        let event = TelephoneEvent::parse(&[11, 0x80 | 10, 0x03, 0x20])?;
        assert_eq!(
            event,
            TelephoneEvent {
                event: 11,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(RtpError::TelephoneEventTooShort { len: 3 })
        );
        Ok(())
    }

    #[test]
    fn three_end_packets_give_one_ended_event() {
        let mut tracker = TelephoneEventTracker::new();
        let update = |duration, end| TelephoneEvent {
            event: 5,
            end,
            volume: 10,
            duration,
        };
        assert_eq!(
            tracker.on_packet(1_000, update(160, false)),
            TelephoneEventOutcome::Began(update(160, false))
        );
        assert_eq!(
            tracker.on_packet(1_000, update(320, false)),
            TelephoneEventOutcome::Continued
        );
        assert_eq!(
            tracker.on_packet(1_000, update(480, true)),
            TelephoneEventOutcome::Ended(update(480, true))
        );
        assert_eq!(
            tracker.on_packet(1_000, update(480, true)),
            TelephoneEventOutcome::Repeated
        );
        assert_eq!(
            tracker.on_packet(1_000, update(480, true)),
            TelephoneEventOutcome::Repeated
        );
        assert_eq!(
            tracker.on_packet(2_000, update(160, false)),
            TelephoneEventOutcome::Began(update(160, false))
        );
    }
}
