//! Off the hot path: a stored stream back to 16-bit PCM WAV on the wall-clock timeline, and
//! the payloads exactly as received.

use std::io::Write;

use rtp::Encoding;

use crate::MediaError;
use crate::codec::{Decoder, sample_rate};
use crate::format::{Record, StreamReader};

/// Limits on rendering (hostile or damaged streams cannot ask for unbounded output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Longest timeline rendered; longer streams are refused with [`MediaError::TooLong`].
    pub max_seconds: u32,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions {
            max_seconds: 24 * 3_600,
        }
    }
}

/// What a rendering produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderSummary {
    pub sample_rate: u32,
    pub samples: u64,
    pub audio_records: u64,
    /// Samples dropped because two records covered the same time (e.g. overlap after an
    /// SSRC change).
    pub overlapping_samples: u64,
    /// The stream ended inside its last record (a crash before the last chunk was sealed).
    pub truncated: bool,
}

const WAV_HEADER_LEN: usize = 44;

/// The 44-byte header of a mono 16-bit PCM WAV file (RIFF `WAVE`, `fmt ` chunk of 16 bytes
/// with format 1, `data` chunk). `samples` must fit the 32-bit RIFF sizes.
pub fn wav_header(sample_rate: u32, samples: u32) -> [u8; WAV_HEADER_LEN] {
    let data_len = samples.saturating_mul(2);
    let mut header = [0u8; WAV_HEADER_LEN];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &data_len.saturating_add(36).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &sample_rate.to_le_bytes(),
        &sample_rate.saturating_mul(2).to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data_len.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// One audio record, for sorting.
struct Placed<'a> {
    time: u64,
    encoding: Encoding,
    payload: &'a [u8],
}

/// Renders a stored stream as mono 16-bit PCM WAV at the codec's sample rate (8 kHz for
/// G.711, 16 kHz for G.722). Audio is placed by its timeline position, from the stream's
/// start to its end record, and everything between is silence (losses, gaps, pauses),
/// so the audio matches wall time. Opus is rendered at 16 kHz.
pub fn render_wav<W: Write>(
    stream: &[u8],
    options: &RenderOptions,
    out: &mut W,
) -> Result<RenderSummary, MediaError> {
    let reader = StreamReader::open(stream)?;
    let header = *reader.header();
    let primary = header
        .primary()
        .ok_or(MediaError::PrimaryPayloadType(header.primary_payload_type))?;
    let mut encoding = primary.encoding;
    let mut placed = Vec::new();
    let mut timeline_end = 0u64;
    let mut truncated = false;
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(MediaError::TruncatedRecord { .. }) => {
                truncated = true;
                break;
            }
            Err(error) => return Err(error),
        };
        match record {
            Record::Audio { time, payload, .. } => placed.push(Placed {
                time,
                encoding,
                payload,
            }),
            Record::CodecChange {
                encoding: changed,
                time,
                ..
            } => {
                encoding = changed;
                timeline_end = timeline_end.max(time);
            }
            Record::Gap { end: time, .. }
            | Record::GapStart { time, .. }
            | Record::GapEnd { time, .. }
            | Record::Source { time, .. }
            | Record::TelephoneEvent { time, .. }
            | Record::End { time, .. } => timeline_end = timeline_end.max(time),
        }
    }

    let rate = match placed.first() {
        Some(first) => sample_rate(first.encoding)?,
        None => sample_rate(primary.encoding)?,
    };
    let mut decoders: [Option<Decoder>; 4] = [None, None, None, None];
    for record in &placed {
        let record_rate = sample_rate(record.encoding)?;
        if record_rate != rate {
            return Err(MediaError::MixedSampleRates {
                first: rate,
                second: record_rate,
            });
        }
        let slot = &mut decoders[usize::from(record.encoding.code()) % 4];
        if slot.is_none() {
            *slot = Some(Decoder::new(record.encoding)?);
        }
    }
    placed.sort_by_key(|record| record.time);

    let clock = u128::from(header.clock_rate.max(1));
    let to_samples = |time: u64| -> u128 { u128::from(time) * u128::from(rate) / clock };
    let mut total = to_samples(timeline_end);
    for record in &placed {
        let length = decoders[usize::from(record.encoding.code()) % 4]
            .as_ref()
            .map_or(record.payload.len(), |decoder| {
                decoder.decoded_len(record.payload)
            });
        total = total.max(to_samples(record.time) + length as u128);
    }
    let limit = u128::from(options.max_seconds) * u128::from(rate);
    let riff_limit = u128::from((u32::MAX - 36) / 2);
    if total > limit || total > riff_limit {
        return Err(MediaError::TooLong {
            seconds: u64::try_from(total / u128::from(rate)).unwrap_or(u64::MAX),
            limit: options.max_seconds,
        });
    }
    let total = total as u64;
    out.write_all(&wav_header(rate, total as u32))?;

    let mut cursor = 0u64;
    let mut overlapping = 0u64;
    let mut samples = Vec::new();
    let mut bytes = Vec::new();
    for record in &placed {
        let Some(decoder) = decoders[usize::from(record.encoding.code()) % 4].as_mut() else {
            continue;
        };
        samples.clear();
        decoder.decode(record.payload, &mut samples);
        let position = to_samples(record.time) as u64;
        if position > cursor {
            write_silence(out, position - cursor)?;
            cursor = position;
        }
        let skip = usize::try_from(cursor - position).unwrap_or(usize::MAX);
        overlapping += skip.min(samples.len()) as u64;
        let fresh = samples.get(skip..).unwrap_or(&[]);
        bytes.clear();
        bytes.extend(fresh.iter().flat_map(|sample| sample.to_le_bytes()));
        out.write_all(&bytes)?;
        cursor += fresh.len() as u64;
    }
    write_silence(out, total - cursor)?;
    Ok(RenderSummary {
        sample_rate: rate,
        samples: total,
        audio_records: placed.len() as u64,
        overlapping_samples: overlapping,
        truncated,
    })
}

fn write_silence<W: Write>(out: &mut W, samples: u64) -> Result<(), MediaError> {
    const ZEROS: [u8; 4_096] = [0; 4_096];
    let mut remaining = samples.saturating_mul(2);
    while remaining > 0 {
        let step = remaining.min(ZEROS.len() as u64) as usize;
        out.write_all(&ZEROS[..step])?;
        remaining -= step as u64;
    }
    Ok(())
}

/// The order of extracted payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadOrder {
    /// As stored, i.e. as the packets arrived (the order of a capture on the wire).
    Arrival,
    /// By source, then by extended sequence number: the sender's order, late packets put
    /// back in place.
    Sequence,
}

/// The audio payloads of a stream, concatenated byte for byte as received (telephone
/// events are not audio and are not included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayloads {
    pub bytes: Vec<u8>,
    pub packets: u64,
    pub truncated: bool,
}

pub fn raw_payloads(stream: &[u8], order: PayloadOrder) -> Result<RawPayloads, MediaError> {
    let reader = StreamReader::open(stream)?;
    let mut source = 0u32;
    let mut payloads = Vec::new();
    let mut truncated = false;
    for record in reader.records() {
        match record {
            Ok(Record::Audio {
                sequence, payload, ..
            }) => payloads.push((source, sequence, payload)),
            Ok(Record::Source { .. }) => source += 1,
            Ok(_) => {}
            Err(MediaError::TruncatedRecord { .. }) => {
                truncated = true;
                break;
            }
            Err(error) => return Err(error),
        }
    }
    if order == PayloadOrder::Sequence {
        payloads.sort_by_key(|&(source, sequence, _)| (source, sequence));
    }
    let mut bytes = Vec::with_capacity(payloads.iter().map(|(_, _, payload)| payload.len()).sum());
    for (_, _, payload) in &payloads {
        bytes.extend_from_slice(payload);
    }
    Ok(RawPayloads {
        bytes,
        packets: payloads.len() as u64,
        truncated,
    })
}
