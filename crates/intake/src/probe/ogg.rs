//! Ogg/Opus: page headers are walked by hand (RFC 3533), payloads skipped, so the cost is
//! O(pages), not O(bytes). symphonia has no Opus decoder, and none is needed: the duration is
//! the last granule position minus the ID header's pre-skip, at 48 kHz (RFC 7845 §4).
//!
//! Only a single logical stream is accepted: a second serial number (multiplexed or chained
//! streams) is refused rather than guessed at.

use super::{AudioFacts, AudioFormat, Container, ProbeError, duration_ms};

const OGG: Container = Container::Ogg;
/// RFC 3533 §6: capture pattern, version, type, granule(8), serial(4), sequence(4), CRC(4),
/// segment count; then the segment table.
const PAGE_HEADER_BYTES: usize = 27;
const FLAG_CONTINUED: u8 = 0x01;
const FLAG_BEGINNING_OF_STREAM: u8 = 0x02;
/// A granule position of -1: no packet finishes on this page (RFC 3533 §6).
const GRANULE_NONE: u64 = u64::MAX;
/// Opus granule positions count 48 kHz samples whatever the input rate (RFC 7845 §4).
const OPUS_RATE: u32 = 48_000;
/// RFC 7845 §5.1: the ID header is at least 19 bytes.
const ID_HEADER_BYTES: usize = 19;

struct Page {
    header_type: u8,
    granule: u64,
    serial: u32,
    /// Offset of the page in the file and its total length (header, table and body).
    start: usize,
    length: usize,
    /// Offset of the body and the lacing values.
    body_start: usize,
    segment_count: usize,
}

pub(super) fn probe(bytes: &[u8]) -> Result<AudioFacts, ProbeError> {
    let first = page_at(bytes, 0)?;
    // RFC 7845 §3: the ID header is alone on the first page, which begins the stream.
    if first.header_type & FLAG_BEGINNING_OF_STREAM == 0 || first.header_type & FLAG_CONTINUED != 0
    {
        return Err(ProbeError::malformed(
            OGG,
            "the first page does not begin a stream",
        ));
    }
    check_crc(bytes, &first)?;
    let identification = first_packet(bytes, &first);
    if !identification.starts_with(b"OpusHead") {
        return Err(ProbeError::unsupported(
            OGG,
            "a codec other than Opus (no OpusHead on the first page)",
        ));
    }
    if identification.len() < ID_HEADER_BYTES {
        return Err(ProbeError::malformed(
            OGG,
            "the OpusHead packet is shorter than 19 bytes",
        ));
    }
    // RFC 7845 §5.1: the upper four bits of the version are the major version; a reader
    // MUST reject versions it does not know (only major 0 exists).
    if identification[8] >> 4 != 0 {
        return Err(ProbeError::unsupported(
            OGG,
            "an Opus header with major version above 0",
        ));
    }
    let channels = identification[9];
    let pre_skip = u16::from_le_bytes([identification[10], identification[11]]);
    let mapping_family = identification[18];
    // RFC 7845 §5.1: the channel count MUST NOT be zero; family 0 allows one or two.
    if channels == 0 || (mapping_family == 0 && channels > 2) {
        return Err(ProbeError::malformed(
            OGG,
            format!("{channels} channels with channel mapping family {mapping_family}"),
        ));
    }

    let mut last_timed: Option<Page> = None;
    let mut offset = first.start + first.length;
    while offset < bytes.len() {
        let page = page_at(bytes, offset)?;
        if page.serial != first.serial {
            return Err(ProbeError::unsupported(OGG, "more than one logical stream"));
        }
        if page.header_type & FLAG_BEGINNING_OF_STREAM != 0 {
            return Err(ProbeError::unsupported(OGG, "a chained stream"));
        }
        offset = page.start + page.length;
        if page.granule != GRANULE_NONE {
            last_timed = Some(page);
        }
    }

    let samples = match last_timed {
        None => 0,
        Some(page) => {
            check_crc(bytes, &page)?;
            if page.granule > i64::MAX as u64 {
                return Err(ProbeError::malformed(OGG, "a negative granule position"));
            }
            // Header pages carry granule 0; a stream of headers alone holds no audio.
            if page.granule == 0 {
                0
            } else {
                // RFC 7845 §4: the playable length is the final granule position minus the
                // pre-skip; a final position below the pre-skip is invalid.
                page.granule
                    .checked_sub(u64::from(pre_skip))
                    .ok_or_else(|| {
                        ProbeError::malformed(
                            OGG,
                            "the final granule position is below the pre-skip",
                        )
                    })?
            }
        }
    };
    Ok(AudioFacts {
        format: AudioFormat::OggOpus,
        content_tag: AudioFormat::OggOpus.content_tag(),
        sample_rate: OPUS_RATE,
        channels: u16::from(channels),
        duration_ms: duration_ms(samples, OPUS_RATE),
    })
}

/// Reads the page header at `start` and checks that the whole page is present.
fn page_at(bytes: &[u8], start: usize) -> Result<Page, ProbeError> {
    let truncated = ProbeError::Truncated {
        format: OGG,
        what: "the last page is incomplete",
    };
    let Some(header) = bytes.get(start..start.saturating_add(PAGE_HEADER_BYTES)) else {
        return Err(truncated);
    };
    if &header[..4] != b"OggS" {
        return Err(ProbeError::malformed(
            OGG,
            format!("no page capture pattern at byte {start}"),
        ));
    }
    if header[4] != 0 {
        return Err(ProbeError::unsupported(
            OGG,
            format!("page version {}", header[4]),
        ));
    }
    let mut granule = [0; 8];
    granule.copy_from_slice(&header[6..14]);
    let mut serial = [0; 4];
    serial.copy_from_slice(&header[14..18]);
    let segment_count = usize::from(header[26]);
    let table_start = start + PAGE_HEADER_BYTES;
    let Some(table) = bytes.get(table_start..table_start + segment_count) else {
        return Err(truncated);
    };
    let body_length: usize = table.iter().map(|lacing| usize::from(*lacing)).sum();
    let length = PAGE_HEADER_BYTES + segment_count + body_length;
    if start.saturating_add(length) > bytes.len() {
        return Err(truncated);
    }
    Ok(Page {
        header_type: header[5],
        granule: u64::from_le_bytes(granule),
        serial: u32::from_le_bytes(serial),
        start,
        length,
        body_start: table_start + segment_count,
        segment_count,
    })
}

/// The bytes of the first packet on `page` (up to the first lacing value below 255, or the
/// whole body when the packet continues on the next page).
fn first_packet<'b>(bytes: &'b [u8], page: &Page) -> &'b [u8] {
    let table = &bytes[page.body_start - page.segment_count..page.body_start];
    let mut length = 0;
    for lacing in table {
        length += usize::from(*lacing);
        if *lacing < 255 {
            break;
        }
    }
    &bytes[page.body_start..page.body_start + length]
}

/// RFC 3533 §6: the CRC-32 (polynomial 0x04c11db7, initial value 0, no reflection, no final
/// XOR) of the whole page with the checksum field set to zero.
fn check_crc(bytes: &[u8], page: &Page) -> Result<(), ProbeError> {
    let whole = &bytes[page.start..page.start + page.length];
    let mut stored = [0; 4];
    stored.copy_from_slice(&whole[22..26]);
    if page_crc(whole) == u32::from_le_bytes(stored) {
        Ok(())
    } else {
        Err(ProbeError::malformed(
            OGG,
            format!("page checksum mismatch at byte {}", page.start),
        ))
    }
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut index = 0;
    while index < 256 {
        let mut value = (index as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            value = if value & 0x8000_0000 != 0 {
                (value << 1) ^ 0x04C1_1DB7
            } else {
                value << 1
            };
            bit += 1;
        }
        table[index] = value;
        index += 1;
    }
    table
}

/// The checksum of a whole page, its checksum field counted as zero.
pub(super) fn page_crc(page: &[u8]) -> u32 {
    let mut crc = 0u32;
    for (index, byte) in page.iter().enumerate() {
        let byte = if (22..26).contains(&index) { 0 } else { *byte };
        crc = (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ byte)];
    }
    crc
}
