//! Stored stream format v1: the plaintext that the `seal` crate encrypts chunk by chunk.
//!
//! All integers little-endian. A header, then records until the end of the stream.
//!
//! ```text
//! header   magic "ORMS" | version u8 = 1 | flags u8 = 0 | primary payload type u8
//!          | format count u8 (1..=8) | timeline clock rate u32 | start, unix ms i64
//!          | count × (payload type u8 | encoding u8 | clock rate u32)
//! record   kind u8 | body (by kind):
//!   0x01 audio            time u64 | sequence u32 | arrival ms u32 | length u16 | payload
//!   0x02 telephone event  time u64 | arrival ms u32 | event u8 | end u8 (0/1) | volume u8
//!                         | duration u16
//!   0x03 gap start        reason u8 | time u64 | arrival ms u32
//!   0x04 gap end          reason u8 | time u64 | arrival ms u32
//!   0x05 gap (detected)   reason u8 | start u64 | end u64 | arrival ms u32 | lost packets u32
//!   0x06 source           cause u8 | previous ssrc u32 | ssrc u32 | time u64 | arrival ms u32
//!   0x07 codec change     payload type u8 | encoding u8 | clock rate u32 | time u64
//!                         | arrival ms u32
//!   0x08 end              time u64 | arrival ms u32
//! ```
//!
//! `time` is the stream timeline in ticks of the header's clock rate since the stream's
//! start (the wall-clock instant in the header): the first packet sits at its arrival
//! offset and later ones follow their extended RTP timestamps, so every stream of one
//! recording shares one origin. `sequence` is the source's extended RTP sequence number
//! (modulo 2^32), `arrival ms` the arrival offset from the start. Audio payloads are
//! stored exactly as received; the encoding of audio records is the primary payload type
//! until a codec-change record says otherwise. Readers reject unknown kinds: a new kind
//! means a new version.

use rtp::{Encoding, MAX_PAYLOAD_FORMATS, PayloadFormat, PayloadTypeMap};

use crate::MediaError;

pub const MAGIC: [u8; 4] = *b"ORMS";
pub const VERSION: u8 = 1;
/// Header bytes before the payload format list.
const HEADER_FIXED_LEN: usize = 20;
const FORMAT_ENTRY_LEN: usize = 6;
/// The longest non-audio record.
pub const MAX_EVENT_RECORD_LEN: usize = 26;
/// Audio record bytes before the payload.
pub const AUDIO_RECORD_OVERHEAD: usize = 19;

const KIND_AUDIO: u8 = 0x01;
const KIND_TELEPHONE_EVENT: u8 = 0x02;
const KIND_GAP_START: u8 = 0x03;
const KIND_GAP_END: u8 = 0x04;
const KIND_GAP: u8 = 0x05;
const KIND_SOURCE: u8 = 0x06;
const KIND_CODEC_CHANGE: u8 = 0x07;
const KIND_END: u8 = 0x08;

/// The stream header: what every record is interpreted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader {
    /// Payload type of the encoding audio records start in.
    pub primary_payload_type: u8,
    pub payload_types: PayloadTypeMap,
    /// Ticks per second of the record timeline (the primary format's RTP clock).
    pub clock_rate: u32,
    /// Wall-clock time of the stream's start (time 0), in milliseconds since the Unix epoch.
    pub start_unix_ms: i64,
}

impl StreamHeader {
    /// A header whose timeline runs at the primary payload type's clock.
    pub fn new(
        payload_types: PayloadTypeMap,
        primary_payload_type: u8,
        start_unix_ms: i64,
    ) -> Result<StreamHeader, MediaError> {
        let primary = payload_types
            .lookup(primary_payload_type)
            .filter(|format| format.encoding.is_audio())
            .ok_or(MediaError::PrimaryPayloadType(primary_payload_type))?;
        Ok(StreamHeader {
            primary_payload_type,
            payload_types,
            clock_rate: primary.clock_rate,
            start_unix_ms,
        })
    }

    /// The primary audio format.
    pub fn primary(&self) -> Option<PayloadFormat> {
        self.payload_types.lookup(self.primary_payload_type)
    }

    pub fn encoded_len(&self) -> usize {
        HEADER_FIXED_LEN + FORMAT_ENTRY_LEN * self.payload_types.len()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(0);
        out.push(self.primary_payload_type);
        out.push(self.payload_types.len() as u8);
        out.extend_from_slice(&self.clock_rate.to_le_bytes());
        out.extend_from_slice(&self.start_unix_ms.to_le_bytes());
        for format in self.payload_types.iter() {
            out.push(format.payload_type);
            out.push(format.encoding.code());
            out.extend_from_slice(&format.clock_rate.to_le_bytes());
        }
    }

    /// Reads a header; returns it and the bytes after it.
    pub fn decode(bytes: &[u8]) -> Result<(StreamHeader, &[u8]), MediaError> {
        let mut cursor = Cursor::new(bytes);
        if cursor.take(4)? != MAGIC {
            return Err(MediaError::Magic);
        }
        let version = cursor.u8()?;
        if version != VERSION {
            return Err(MediaError::Version(version));
        }
        let flags = cursor.u8()?;
        if flags != 0 {
            return Err(MediaError::Malformed("header flags are not zero"));
        }
        let primary_payload_type = cursor.u8()?;
        let count = usize::from(cursor.u8()?);
        if count == 0 || count > MAX_PAYLOAD_FORMATS {
            return Err(MediaError::Malformed("payload format count outside 1..=8"));
        }
        let clock_rate = cursor.u32()?;
        if clock_rate == 0 {
            return Err(MediaError::Malformed("timeline clock rate is zero"));
        }
        let start_unix_ms = cursor.i64()?;
        let mut payload_types = PayloadTypeMap::new();
        for _ in 0..count {
            let payload_type = cursor.u8()?;
            let encoding = Encoding::from_code(cursor.u8()?)
                .ok_or(MediaError::Malformed("unknown encoding code"))?;
            let clock_rate = cursor.u32()?;
            let format = PayloadFormat::new(payload_type, encoding, clock_rate)
                .map_err(|_| MediaError::Malformed("invalid payload format"))?;
            payload_types
                .insert(format)
                .map_err(|_| MediaError::Malformed("payload format table overflows"))?;
        }
        if payload_types.len() != count {
            return Err(MediaError::Malformed("payload type listed twice"));
        }
        let header = StreamHeader {
            primary_payload_type,
            payload_types,
            clock_rate,
            start_unix_ms,
        };
        if header
            .primary()
            .is_none_or(|format| !format.encoding.is_audio())
        {
            return Err(MediaError::PrimaryPayloadType(primary_payload_type));
        }
        Ok((header, cursor.rest()))
    }
}

/// Why the stream has no audio for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum GapReason {
    /// The recording client paused recording (RFC 7866 §8.2 pause).
    Pause = 1,
    /// The call was on hold.
    Hold = 2,
    /// Packets were lost on the way (sequence numbers skipped).
    Loss = 3,
    /// The sender sent nothing (silence suppression, a dead source) for a while.
    Inactivity = 4,
    /// A participant without consent evidence is in the call: nothing is recorded.
    NoConsent = 5,
}

impl GapReason {
    pub fn from_code(code: u8) -> Option<GapReason> {
        match code {
            1 => Some(GapReason::Pause),
            2 => Some(GapReason::Hold),
            3 => Some(GapReason::Loss),
            4 => Some(GapReason::Inactivity),
            5 => Some(GapReason::NoConsent),
            _ => None,
        }
    }
}

/// Why a source record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SourceCause {
    /// The stream's first source.
    First = 1,
    /// A different SSRC replaced the previous one.
    SsrcChange = 2,
    /// The same SSRC restarted its sequence numbers (RFC 3550 A.1).
    Restart = 3,
}

impl SourceCause {
    pub fn from_code(code: u8) -> Option<SourceCause> {
        match code {
            1 => Some(SourceCause::First),
            2 => Some(SourceCause::SsrcChange),
            3 => Some(SourceCause::Restart),
            _ => None,
        }
    }
}

/// One record of the stored stream, borrowing audio payloads from the stream bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    Audio {
        time: u64,
        sequence: u32,
        arrival_ms: u32,
        payload: &'a [u8],
    },
    TelephoneEvent {
        time: u64,
        arrival_ms: u32,
        event: u8,
        end: bool,
        volume: u8,
        duration: u16,
    },
    GapStart {
        reason: GapReason,
        time: u64,
        arrival_ms: u32,
    },
    GapEnd {
        reason: GapReason,
        time: u64,
        arrival_ms: u32,
    },
    Gap {
        reason: GapReason,
        start: u64,
        end: u64,
        arrival_ms: u32,
        lost_packets: u32,
    },
    Source {
        cause: SourceCause,
        previous_ssrc: u32,
        ssrc: u32,
        time: u64,
        arrival_ms: u32,
    },
    CodecChange {
        payload_type: u8,
        encoding: Encoding,
        clock_rate: u32,
        time: u64,
        arrival_ms: u32,
    },
    End {
        time: u64,
        arrival_ms: u32,
    },
}

impl Record<'_> {
    /// Bytes this record takes when encoded.
    pub fn encoded_len(&self) -> usize {
        match self {
            Record::Audio { payload, .. } => AUDIO_RECORD_OVERHEAD + payload.len(),
            Record::TelephoneEvent { .. } => 18,
            Record::GapStart { .. } | Record::GapEnd { .. } => 14,
            Record::Gap { .. } => MAX_EVENT_RECORD_LEN,
            Record::Source { .. } => 22,
            Record::CodecChange { .. } => 19,
            Record::End { .. } => 13,
        }
    }

    /// Appends the record. Audio payloads longer than `u16::MAX` are the caller's bug; the
    /// writer refuses them before calling this.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Record::Audio {
                time,
                sequence,
                arrival_ms,
                payload,
            } => {
                let mut head = [0u8; AUDIO_RECORD_OVERHEAD];
                head[0] = KIND_AUDIO;
                head[1..9].copy_from_slice(&time.to_le_bytes());
                head[9..13].copy_from_slice(&sequence.to_le_bytes());
                head[13..17].copy_from_slice(&arrival_ms.to_le_bytes());
                let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
                head[17..19].copy_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&head);
                out.extend_from_slice(payload.get(..usize::from(len)).unwrap_or(payload));
            }
            Record::TelephoneEvent {
                time,
                arrival_ms,
                event,
                end,
                volume,
                duration,
            } => {
                out.push(KIND_TELEPHONE_EVENT);
                out.extend_from_slice(&time.to_le_bytes());
                out.extend_from_slice(&arrival_ms.to_le_bytes());
                out.extend_from_slice(&[event, u8::from(end), volume]);
                out.extend_from_slice(&duration.to_le_bytes());
            }
            Record::GapStart {
                reason,
                time,
                arrival_ms,
            }
            | Record::GapEnd {
                reason,
                time,
                arrival_ms,
            } => {
                let kind = if matches!(self, Record::GapStart { .. }) {
                    KIND_GAP_START
                } else {
                    KIND_GAP_END
                };
                out.extend_from_slice(&[kind, reason as u8]);
                out.extend_from_slice(&time.to_le_bytes());
                out.extend_from_slice(&arrival_ms.to_le_bytes());
            }
            Record::Gap {
                reason,
                start,
                end,
                arrival_ms,
                lost_packets,
            } => {
                out.extend_from_slice(&[KIND_GAP, reason as u8]);
                out.extend_from_slice(&start.to_le_bytes());
                out.extend_from_slice(&end.to_le_bytes());
                out.extend_from_slice(&arrival_ms.to_le_bytes());
                out.extend_from_slice(&lost_packets.to_le_bytes());
            }
            Record::Source {
                cause,
                previous_ssrc,
                ssrc,
                time,
                arrival_ms,
            } => {
                out.extend_from_slice(&[KIND_SOURCE, cause as u8]);
                out.extend_from_slice(&previous_ssrc.to_le_bytes());
                out.extend_from_slice(&ssrc.to_le_bytes());
                out.extend_from_slice(&time.to_le_bytes());
                out.extend_from_slice(&arrival_ms.to_le_bytes());
            }
            Record::CodecChange {
                payload_type,
                encoding,
                clock_rate,
                time,
                arrival_ms,
            } => {
                out.extend_from_slice(&[KIND_CODEC_CHANGE, payload_type, encoding.code()]);
                out.extend_from_slice(&clock_rate.to_le_bytes());
                out.extend_from_slice(&time.to_le_bytes());
                out.extend_from_slice(&arrival_ms.to_le_bytes());
            }
            Record::End { time, arrival_ms } => {
                out.push(KIND_END);
                out.extend_from_slice(&time.to_le_bytes());
                out.extend_from_slice(&arrival_ms.to_le_bytes());
            }
        }
    }
}

/// Reads a stored stream: the header, then records one at a time.
#[derive(Debug, Clone)]
pub struct StreamReader<'a> {
    header: StreamHeader,
    records: &'a [u8],
}

impl<'a> StreamReader<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<StreamReader<'a>, MediaError> {
        let (header, records) = StreamHeader::decode(bytes)?;
        Ok(StreamReader { header, records })
    }

    pub fn header(&self) -> &StreamHeader {
        &self.header
    }

    /// The records in stored order. Ends after the first error; a stream cut inside its
    /// last record (a crash before the open chunk was sealed) ends with
    /// [`MediaError::TruncatedRecord`].
    pub fn records(&self) -> Records<'a> {
        Records {
            cursor: Cursor::new(self.records),
            failed: false,
        }
    }
}

/// Iterator over the records of a stream.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    cursor: Cursor<'a>,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.cursor.rest().is_empty() {
            return None;
        }
        let offset = self.cursor.position;
        let mut attempt = self.cursor.clone();
        match decode_record(&mut attempt) {
            Ok(record) => {
                self.cursor = attempt;
                Some(Ok(record))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(match error {
                    MediaError::Truncated => MediaError::TruncatedRecord { offset },
                    other => other,
                }))
            }
        }
    }
}

fn decode_record<'a>(cursor: &mut Cursor<'a>) -> Result<Record<'a>, MediaError> {
    let kind = cursor.u8()?;
    let reason = |code: u8| GapReason::from_code(code).ok_or(MediaError::Malformed("gap reason"));
    let record = match kind {
        KIND_AUDIO => {
            let time = cursor.u64()?;
            let sequence = cursor.u32()?;
            let arrival_ms = cursor.u32()?;
            let len = cursor.u16()?;
            let payload = cursor.take(usize::from(len))?;
            Record::Audio {
                time,
                sequence,
                arrival_ms,
                payload,
            }
        }
        KIND_TELEPHONE_EVENT => Record::TelephoneEvent {
            time: cursor.u64()?,
            arrival_ms: cursor.u32()?,
            event: cursor.u8()?,
            end: match cursor.u8()? {
                0 => false,
                1 => true,
                _ => return Err(MediaError::Malformed("telephone event end flag")),
            },
            volume: cursor.u8()?,
            duration: cursor.u16()?,
        },
        KIND_GAP_START => Record::GapStart {
            reason: reason(cursor.u8()?)?,
            time: cursor.u64()?,
            arrival_ms: cursor.u32()?,
        },
        KIND_GAP_END => Record::GapEnd {
            reason: reason(cursor.u8()?)?,
            time: cursor.u64()?,
            arrival_ms: cursor.u32()?,
        },
        KIND_GAP => Record::Gap {
            reason: reason(cursor.u8()?)?,
            start: cursor.u64()?,
            end: cursor.u64()?,
            arrival_ms: cursor.u32()?,
            lost_packets: cursor.u32()?,
        },
        KIND_SOURCE => Record::Source {
            cause: SourceCause::from_code(cursor.u8()?)
                .ok_or(MediaError::Malformed("source cause"))?,
            previous_ssrc: cursor.u32()?,
            ssrc: cursor.u32()?,
            time: cursor.u64()?,
            arrival_ms: cursor.u32()?,
        },
        KIND_CODEC_CHANGE => {
            let payload_type = cursor.u8()?;
            let encoding = Encoding::from_code(cursor.u8()?)
                .ok_or(MediaError::Malformed("unknown encoding code"))?;
            let clock_rate = cursor.u32()?;
            if clock_rate == 0 {
                return Err(MediaError::Malformed("codec clock rate is zero"));
            }
            Record::CodecChange {
                payload_type,
                encoding,
                clock_rate,
                time: cursor.u64()?,
                arrival_ms: cursor.u32()?,
            }
        }
        KIND_END => Record::End {
            time: cursor.u64()?,
            arrival_ms: cursor.u32()?,
        },
        _ => return Err(MediaError::UnknownRecordKind(kind)),
    };
    Ok(record)
}

/// A bounds-checked little-endian reader.
#[derive(Debug, Clone)]
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, position: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or(&[])
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], MediaError> {
        let end = self
            .position
            .checked_add(len)
            .ok_or(MediaError::Truncated)?;
        let taken = self
            .bytes
            .get(self.position..end)
            .ok_or(MediaError::Truncated)?;
        self.position = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MediaError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn u8(&mut self) -> Result<u8, MediaError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, MediaError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, MediaError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, MediaError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, MediaError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
}
