//! The container header: what a sealed object is, readable without a key.
//!
//! Layout of format version 1 (all integers big-endian):
//!
//! | offset | size | field                                                   |
//! |-------:|-----:|---------------------------------------------------------|
//! |      0 |    4 | magic `ORCS`                                            |
//! |      4 |    2 | format version, `1`                                     |
//! |      6 |    4 | chunk size in plaintext bytes, 1 KiB to 16 MiB          |
//! |     10 |    8 | nonce prefix, random per writer                         |
//! |     18 |   16 | recording id (UUID bytes)                               |
//! |     34 |    1 | stream label length `l`, 1 to 64                        |
//! |     35 |  `l` | stream label (visible ASCII, no `/` or `\`)             |
//! | 35 + l |    1 | content type length `t`, 1 to 64                        |
//! | 36 + l |  `t` | content type such as `audio/wav` or `rtp/pcmu`          |
//!
//! The header is not sealed itself; its SHA-256 digest is part of the AAD of every chunk,
//! so any change to it fails the first chunk that is opened.

use aws_lc_rs::digest;
use model::{RecordingId, StreamLabel};
use uuid::Uuid;

use crate::{FormatError, SealError};

/// The four bytes every container starts with.
pub const CONTAINER_MAGIC: [u8; 4] = *b"ORCS";
/// The one format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest chunk size a header may declare.
pub const MIN_CHUNK_SIZE: u32 = 1024;
/// Largest chunk size a header may declare.
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// Longest stream label and longest content type, in bytes.
pub const MAX_FIELD_LEN: usize = 64;
/// Length of the random nonce prefix; the chunk counter fills the other 4 nonce bytes.
pub const NONCE_PREFIX_LEN: usize = 8;
/// The longest a header can be: fetching this many bytes (or the whole object if it is
/// shorter) is always enough for [`ContainerHeader::parse`].
pub const MAX_HEADER_LEN: usize = FIXED_LEN + 2 + 2 * MAX_FIELD_LEN;

const FIXED_LEN: usize = 4 + 2 + 4 + NONCE_PREFIX_LEN + 16;

/// The header of one sealed container: which recording and stream it holds, in what
/// content type, cut into chunks of what size, and the writer's nonce prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerHeader {
    recording: RecordingId,
    stream: StreamLabel,
    content_type: String,
    chunk_size: u32,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl ContainerHeader {
    /// A header for a new container. The nonce prefix is drawn by the writer
    /// ([`ContainerWriter::new`](crate::ContainerWriter::new),
    /// [`seal_container`](crate::seal_container)), which replaces whatever this one holds.
    ///
    /// `content_type` is 1 to 64 visible ASCII bytes (`audio/wav`, `rtp/pcmu`, ...);
    /// `chunk_size` is 1 KiB to 16 MiB ([`DEFAULT_CHUNK_SIZE`] is 64 KiB).
    pub fn new(
        recording: RecordingId,
        stream: StreamLabel,
        content_type: &str,
        chunk_size: u32,
    ) -> Result<ContainerHeader, SealError> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(SealError::Header("chunk size must be 1 KiB to 16 MiB"));
        }
        if !is_content_type(content_type.as_bytes()) {
            return Err(SealError::Header(
                "content type must be 1 to 64 visible ASCII characters",
            ));
        }
        Ok(ContainerHeader {
            recording,
            stream,
            content_type: content_type.to_owned(),
            chunk_size,
            nonce_prefix: [0; NONCE_PREFIX_LEN],
        })
    }

    pub fn recording(&self) -> RecordingId {
        self.recording
    }

    pub fn stream(&self) -> &StreamLabel {
        &self.stream
    }

    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Plaintext bytes in every chunk but the last.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    pub fn nonce_prefix(&self) -> [u8; NONCE_PREFIX_LEN] {
        self.nonce_prefix
    }

    pub(crate) fn with_nonce_prefix(mut self, nonce_prefix: [u8; NONCE_PREFIX_LEN]) -> Self {
        self.nonce_prefix = nonce_prefix;
        self
    }

    /// Length of the encoded header in bytes.
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN + 2 + self.stream.as_str().len() + self.content_type.len()
    }

    /// Appends the encoded header to `out`.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        let mut encoded = [0u8; MAX_HEADER_LEN];
        let length = self.encode_to_array(&mut encoded);
        out.extend_from_slice(&encoded[..length]);
    }

    /// The encoded header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// SHA-256 of the encoded header, bound into every chunk's AAD.
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut encoded = [0u8; MAX_HEADER_LEN];
        let length = self.encode_to_array(&mut encoded);
        let digest = digest::digest(&digest::SHA256, &encoded[..length]);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// Encodes without allocating; returns the length written.
    fn encode_to_array(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        let stream = self.stream.as_str().as_bytes();
        let content_type = self.content_type.as_bytes();
        let mut cursor = Cursor { out, position: 0 };
        cursor.put(&CONTAINER_MAGIC);
        cursor.put(&FORMAT_VERSION.to_be_bytes());
        cursor.put(&self.chunk_size.to_be_bytes());
        cursor.put(&self.nonce_prefix);
        cursor.put(self.recording.as_bytes());
        // Both lengths are at most 64 (checked by `StreamLabel` and by `new`/`parse`).
        cursor.put(&[field_len_byte(stream)]);
        cursor.put(stream);
        cursor.put(&[field_len_byte(content_type)]);
        cursor.put(content_type);
        cursor.position
    }

    /// Reads a header from the start of `bytes` (untrusted) without a key. Returns the header
    /// and its encoded length; the chunks start right after it. Only the header's shape is
    /// checked here: whether it belongs to the chunks is checked when a chunk is opened.
    pub fn parse(bytes: &[u8]) -> Result<(ContainerHeader, usize), SealError> {
        let mut reader = Reader { bytes };
        let magic = reader.take(4)?;
        if magic != CONTAINER_MAGIC {
            return Err(FormatError::Magic.into());
        }
        let version = u16::from_be_bytes(reader.array()?);
        if version != FORMAT_VERSION {
            return Err(FormatError::Version(version).into());
        }
        let chunk_size = u32::from_be_bytes(reader.array()?);
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(FormatError::ChunkSize(chunk_size).into());
        }
        let nonce_prefix: [u8; NONCE_PREFIX_LEN] = reader.array()?;
        let recording = RecordingId::from_uuid(Uuid::from_bytes(reader.array()?));
        let stream_len = usize::from(reader.array::<1>()?[0]);
        let stream = std::str::from_utf8(reader.take(stream_len)?)
            .ok()
            .and_then(|text| StreamLabel::new(text).ok())
            .ok_or(FormatError::StreamLabel)?;
        let content_type_len = usize::from(reader.array::<1>()?[0]);
        let content_type = reader.take(content_type_len)?;
        if !is_content_type(content_type) {
            return Err(FormatError::ContentType.into());
        }
        let content_type =
            String::from_utf8(content_type.to_vec()).map_err(|_| FormatError::ContentType)?;
        let header = ContainerHeader {
            recording,
            stream,
            content_type,
            chunk_size,
            nonce_prefix,
        };
        let length = bytes.len() - reader.bytes.len();
        Ok((header, length))
    }
}

fn is_content_type(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.len() <= MAX_FIELD_LEN && bytes.iter().all(u8::is_ascii_graphic)
}

fn field_len_byte(field: &[u8]) -> u8 {
    u8::try_from(field.len()).unwrap_or(u8::MAX)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], FormatError> {
        let (taken, rest) = self
            .bytes
            .split_at_checked(count)
            .ok_or(FormatError::TooShort)?;
        self.bytes = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

struct Cursor<'a> {
    out: &'a mut [u8; MAX_HEADER_LEN],
    position: usize,
}

impl Cursor<'_> {
    /// Callers never exceed `MAX_HEADER_LEN` (fields are bounded); should one ever try,
    /// the write is cut rather than panicking, and the digest would simply not match.
    fn put(&mut self, bytes: &[u8]) {
        let end = (self.position + bytes.len()).min(MAX_HEADER_LEN);
        let count = end - self.position;
        self.out[self.position..end].copy_from_slice(&bytes[..count]);
        self.position = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ContainerHeader {
        let stream = StreamLabel::new("caller").unwrap_or_else(|error| panic!("{error}"));
        ContainerHeader::new(
            RecordingId::from_parts(5, [1; 10]),
            stream,
            "rtp/pcmu",
            4096,
        )
        .unwrap_or_else(|error| panic!("{error}"))
        .with_nonce_prefix([9; NONCE_PREFIX_LEN])
    }

    #[test]
    fn header_round_trips_through_bytes() -> Result<(), SealError> {
        let header = header();
        let mut bytes = header.to_bytes();
        assert_eq!(bytes.len(), header.encoded_len());
        bytes.extend_from_slice(b"chunks follow");
        let (parsed, length) = ContainerHeader::parse(&bytes)?;
        assert_eq!(parsed, header);
        assert_eq!(length, header.encoded_len());
        Ok(())
    }

    #[test]
    fn digest_covers_the_encoded_bytes() {
        let header = header();
        let expected = digest::digest(&digest::SHA256, &header.to_bytes());
        assert_eq!(header.digest().as_slice(), expected.as_ref());
    }

    #[test]
    fn longest_header_fits_max_header_len() -> Result<(), SealError> {
        let stream = StreamLabel::new("s".repeat(64)).map_err(|_| SealError::Header("label"))?;
        let content_type = "c".repeat(64);
        let header = ContainerHeader::new(
            RecordingId::from_parts(1, [0; 10]),
            stream,
            &content_type,
            MAX_CHUNK_SIZE,
        )?;
        assert_eq!(header.encoded_len(), MAX_HEADER_LEN);
        assert_eq!(header.to_bytes().len(), MAX_HEADER_LEN);
        let (parsed, _) = ContainerHeader::parse(&header.to_bytes())?;
        assert_eq!(parsed, header);
        Ok(())
    }

    #[test]
    fn every_truncated_header_is_too_short() {
        let bytes = header().to_bytes();
        for length in 0..bytes.len() {
            assert_eq!(
                ContainerHeader::parse(&bytes[..length]).err(),
                Some(SealError::Format(FormatError::TooShort)),
                "length {length}"
            );
        }
    }

    #[test]
    fn out_of_bounds_fields_are_format_errors() {
        let good = header().to_bytes();
        let mut wrong_magic = good.clone();
        wrong_magic[0] = b'X';
        let mut wrong_version = good.clone();
        wrong_version[5] = 2;
        let mut small_chunks = good.clone();
        small_chunks[6..10].copy_from_slice(&1023u32.to_be_bytes());
        let mut huge_chunks = good.clone();
        huge_chunks[6..10].copy_from_slice(&(MAX_CHUNK_SIZE + 1).to_be_bytes());
        let mut empty_label = good.clone();
        empty_label[34] = 0;
        let mut slash_label = good.clone();
        slash_label[35] = b'/';
        let mut space_in_type = good.clone();
        let type_start = 35 + "caller".len() + 1;
        space_in_type[type_start] = b' ';
        let cases = [
            (wrong_magic, FormatError::Magic),
            (wrong_version, FormatError::Version(2)),
            (small_chunks, FormatError::ChunkSize(1023)),
            (huge_chunks, FormatError::ChunkSize(MAX_CHUNK_SIZE + 1)),
            (empty_label, FormatError::StreamLabel),
            (slash_label, FormatError::StreamLabel),
            (space_in_type, FormatError::ContentType),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                ContainerHeader::parse(&bytes).err(),
                Some(SealError::Format(expected))
            );
        }
    }

    #[test]
    fn new_rejects_bad_chunk_sizes_and_content_types() {
        let stream = || StreamLabel::new("s").unwrap_or_else(|error| panic!("{error}"));
        let recording = RecordingId::from_parts(1, [0; 10]);
        assert!(ContainerHeader::new(recording, stream(), "audio/wav", 1023).is_err());
        assert!(
            ContainerHeader::new(recording, stream(), "audio/wav", MAX_CHUNK_SIZE + 1).is_err()
        );
        assert!(ContainerHeader::new(recording, stream(), "", 4096).is_err());
        assert!(ContainerHeader::new(recording, stream(), "audio wav", 4096).is_err());
        assert!(ContainerHeader::new(recording, stream(), &"a".repeat(65), 4096).is_err());
        assert!(ContainerHeader::new(recording, stream(), "audio/wav", MIN_CHUNK_SIZE).is_ok());
    }
}
