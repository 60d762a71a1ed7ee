//! Where each chunk sits in a sealed object, computed from the header and the object length
//! alone, so a range request fetches only the chunks it needs.
//!
//! Every chunk but the last holds exactly `chunk_size` plaintext bytes; the last holds fewer
//! (possibly none, so an empty stream is one empty last chunk, and a stream that is an exact
//! multiple of the chunk size ends with an empty last chunk). Each chunk is its ciphertext
//! followed by a 16-byte tag. Hence chunk `i` starts at `header_len + i * (chunk_size + 16)`
//! and an object's length alone says how many chunks it has.

use std::ops::{Range, RangeInclusive};

use crate::{ContainerHeader, SealError};

/// AES-256-GCM tag length, stored after every chunk.
pub const TAG_LEN: usize = 16;
/// At most this many chunks per container: the chunk counter is 32 bits of the nonce.
pub const MAX_CHUNK_COUNT: u64 = 1 << 32;

/// The chunk layout of one sealed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerLayout {
    header_len: u64,
    chunk_size: u64,
    chunk_count: u64,
    last_chunk_plaintext_len: u64,
}

impl ContainerLayout {
    /// The layout of an object of `object_len` bytes whose header (already parsed) is
    /// `header_len` bytes long. Fails with [`SealError::Integrity`] naming the last chunk when
    /// the length cannot be a whole container (truncated mid-chunk, cut at a chunk boundary,
    /// or extended).
    pub fn new(
        header: &ContainerHeader,
        header_len: usize,
        object_len: u64,
    ) -> Result<ContainerLayout, SealError> {
        let header_len = header_len as u64;
        let chunk_size = u64::from(header.chunk_size());
        let stride = chunk_size + TAG_LEN as u64;
        let body_len = object_len
            .checked_sub(header_len)
            .ok_or(SealError::Integrity { chunk: 0 })?;
        let full_chunks = body_len / stride;
        let remainder = body_len % stride;
        if remainder < TAG_LEN as u64 {
            return Err(SealError::Integrity { chunk: full_chunks });
        }
        let chunk_count = full_chunks + 1;
        if chunk_count > MAX_CHUNK_COUNT {
            return Err(SealError::TooLong);
        }
        Ok(ContainerLayout {
            header_len,
            chunk_size,
            chunk_count,
            last_chunk_plaintext_len: remainder - TAG_LEN as u64,
        })
    }

    /// The layout a container of `plaintext_len` bytes will have.
    pub(crate) fn for_plaintext(
        header_len: usize,
        chunk_size: u32,
        plaintext_len: u64,
    ) -> Result<ContainerLayout, SealError> {
        let chunk_size = u64::from(chunk_size);
        let chunk_count = plaintext_len / chunk_size + 1;
        if chunk_count > MAX_CHUNK_COUNT {
            return Err(SealError::TooLong);
        }
        Ok(ContainerLayout {
            header_len: header_len as u64,
            chunk_size,
            chunk_count,
            last_chunk_plaintext_len: plaintext_len % chunk_size,
        })
    }

    pub fn header_len(&self) -> u64 {
        self.header_len
    }

    pub fn chunk_count(&self) -> u64 {
        self.chunk_count
    }

    /// Index of the last chunk.
    pub fn last_chunk(&self) -> u64 {
        self.chunk_count - 1
    }

    pub fn is_last(&self, index: u64) -> bool {
        index == self.last_chunk()
    }

    /// Plaintext bytes in the whole container.
    pub fn plaintext_len(&self) -> u64 {
        self.last_chunk() * self.chunk_size + self.last_chunk_plaintext_len
    }

    /// Length of the whole sealed object.
    pub fn object_len(&self) -> u64 {
        self.header_len + self.plaintext_len() + self.chunk_count * TAG_LEN as u64
    }

    /// Byte range of sealed chunk `index` (ciphertext and tag) in the object; `None` past the
    /// last chunk.
    pub fn chunk_range(&self, index: u64) -> Option<Range<u64>> {
        let plaintext = self.chunk_plaintext_range(index)?;
        let start = self.header_len + plaintext.start + index * TAG_LEN as u64;
        Some(start..start + (plaintext.end - plaintext.start) + TAG_LEN as u64)
    }

    /// Plaintext range that chunk `index` holds; `None` past the last chunk.
    pub fn chunk_plaintext_range(&self, index: u64) -> Option<Range<u64>> {
        if index >= self.chunk_count {
            return None;
        }
        let start = index * self.chunk_size;
        let length = if self.is_last(index) {
            self.last_chunk_plaintext_len
        } else {
            self.chunk_size
        };
        Some(start..start + length)
    }

    /// The chunks holding the plaintext bytes `range` (clamped to the plaintext length);
    /// `None` when nothing of the range is inside the plaintext.
    pub fn chunks_for_plaintext(&self, range: Range<u64>) -> Option<RangeInclusive<u64>> {
        let range = self.clamp(range)?;
        Some(range.start / self.chunk_size..=(range.end - 1) / self.chunk_size)
    }

    /// The one contiguous byte range of the object to fetch for the plaintext bytes `range`
    /// (clamped); feed the fetched bytes to [`open_plaintext_range`](crate::open_plaintext_range).
    pub fn object_range_for_plaintext(&self, range: Range<u64>) -> Option<Range<u64>> {
        let chunks = self.chunks_for_plaintext(range)?;
        let first = self.chunk_range(*chunks.start())?;
        let last = self.chunk_range(*chunks.end())?;
        Some(first.start..last.end)
    }

    /// `range` cut to the plaintext; `None` if that leaves nothing.
    pub fn clamp(&self, range: Range<u64>) -> Option<Range<u64>> {
        let end = range.end.min(self.plaintext_len());
        (range.start < end).then_some(range.start..end)
    }
}

#[cfg(test)]
mod tests {
    use model::{RecordingId, StreamLabel};

    use super::*;

    fn header(chunk_size: u32) -> ContainerHeader {
        let stream = StreamLabel::new("s").unwrap_or_else(|error| panic!("{error}"));
        ContainerHeader::new(
            RecordingId::from_parts(1, [0; 10]),
            stream,
            "audio/wav",
            chunk_size,
        )
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn layout_from_length_matches_layout_from_plaintext() -> Result<(), SealError> {
        let header = header(1024);
        for plaintext_len in [0u64, 1, 1023, 1024, 1025, 2048, 5000] {
            let planned = ContainerLayout::for_plaintext(50, 1024, plaintext_len)?;
            let measured = ContainerLayout::new(&header, 50, planned.object_len())?;
            assert_eq!(planned, measured, "plaintext length {plaintext_len}");
            assert_eq!(measured.plaintext_len(), plaintext_len);
        }
        Ok(())
    }

    #[test]
    fn chunks_sit_at_computable_offsets() -> Result<(), SealError> {
        let layout = ContainerLayout::for_plaintext(40, 1024, 2500)?;
        assert_eq!(layout.chunk_count(), 3);
        assert_eq!(layout.chunk_range(0), Some(40..40 + 1040));
        assert_eq!(layout.chunk_range(1), Some(1080..1080 + 1040));
        assert_eq!(layout.chunk_range(2), Some(2120..2120 + 452 + 16));
        assert_eq!(layout.chunk_range(3), None);
        assert_eq!(layout.object_len(), 2120 + 468);
        Ok(())
    }

    #[test]
    fn impossible_lengths_are_integrity_failures() {
        let header = header(1024);
        assert_eq!(
            ContainerLayout::new(&header, 50, 49),
            Err(SealError::Integrity { chunk: 0 })
        );
        // Header only: the (possibly empty) last chunk is missing.
        assert_eq!(
            ContainerLayout::new(&header, 50, 50),
            Err(SealError::Integrity { chunk: 0 })
        );
        // Cut exactly after a full chunk.
        assert_eq!(
            ContainerLayout::new(&header, 50, 50 + 1040),
            Err(SealError::Integrity { chunk: 1 })
        );
        // A last chunk shorter than a tag.
        assert_eq!(
            ContainerLayout::new(&header, 50, 50 + 1040 + 15),
            Err(SealError::Integrity { chunk: 1 })
        );
    }

    #[test]
    fn plaintext_ranges_map_to_chunks() -> Result<(), SealError> {
        let layout = ContainerLayout::for_plaintext(40, 1024, 2500)?;
        assert_eq!(layout.chunks_for_plaintext(0..1), Some(0..=0));
        assert_eq!(layout.chunks_for_plaintext(1023..1025), Some(0..=1));
        assert_eq!(layout.chunks_for_plaintext(2048..9999), Some(2..=2));
        assert_eq!(layout.chunks_for_plaintext(2500..2600), None);
        assert_eq!(layout.chunks_for_plaintext(5..5), None);
        assert_eq!(
            layout.object_range_for_plaintext(1023..1025),
            Some(40..2120)
        );
        let empty = ContainerLayout::for_plaintext(40, 1024, 0)?;
        assert_eq!(empty.chunks_for_plaintext(0..10), None);
        Ok(())
    }
}
