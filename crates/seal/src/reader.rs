//! Opening containers: whole objects, single chunks and plaintext ranges. Input is untrusted
//! (a tampered store, a truncated upload); every failure is an error, never a panic.

use std::ops::Range;

use crate::container::ChunkCipher;
use crate::layout::TAG_LEN;
use crate::{ContainerHeader, ContainerLayout, DataKey, SealError};

/// Opens a whole container. Returns its header and the plaintext; fails on any change to the
/// header or a chunk, truncation, extension, reordering, duplication or the wrong key.
pub fn open_container(
    data_key: &DataKey,
    object: &[u8],
) -> Result<(ContainerHeader, Vec<u8>), SealError> {
    let (header, header_len) = ContainerHeader::parse(object)?;
    let layout = ContainerLayout::new(&header, header_len, object.len() as u64)?;
    let reader = ContainerReader::new(data_key, &header)?;
    // The plaintext is shorter than the object, which is already in memory.
    let mut plaintext =
        vec![0u8; usize::try_from(layout.plaintext_len()).map_err(|_| SealError::TooLong)?];
    for index in 0..layout.chunk_count() {
        let sealed = slice(object, layout.chunk_range(index), index)?;
        let plain = slice_mut(&mut plaintext, layout.chunk_plaintext_range(index), index)?;
        reader
            .cipher
            .open_into(index, layout.is_last(index), sealed, plain)?;
    }
    Ok((header, plaintext))
}

/// Opens chunk `index` of a container on its own (for range reads). `sealed_chunk` is the
/// object's bytes in [`ContainerLayout::chunk_range`]; `is_last` is
/// [`ContainerLayout::is_last`]. For several chunks of one container, a [`ContainerReader`]
/// saves setting up the key each time.
pub fn open_chunk(
    data_key: &DataKey,
    header: &ContainerHeader,
    index: u64,
    is_last: bool,
    sealed_chunk: &[u8],
) -> Result<Vec<u8>, SealError> {
    ContainerReader::new(data_key, header)?.open_chunk(index, is_last, sealed_chunk)
}

/// Opens the plaintext bytes `range` (clamped to the plaintext) from `fetched`, the object's
/// bytes in [`ContainerLayout::object_range_for_plaintext`] for the same range. Returns
/// exactly the requested plaintext slice; empty when the range holds nothing.
pub fn open_plaintext_range(
    data_key: &DataKey,
    header: &ContainerHeader,
    layout: &ContainerLayout,
    range: Range<u64>,
    fetched: &[u8],
) -> Result<Vec<u8>, SealError> {
    let (Some(range), Some(chunks), Some(object_range)) = (
        layout.clamp(range.clone()),
        layout.chunks_for_plaintext(range.clone()),
        layout.object_range_for_plaintext(range),
    ) else {
        return Ok(Vec::new());
    };
    let first_chunk = *chunks.start();
    let last_chunk = *chunks.end();
    if fetched.len() as u64 != object_range.end - object_range.start {
        return Err(SealError::Integrity { chunk: last_chunk });
    }
    let reader = ContainerReader::new(data_key, header)?;
    let mut plaintext = Vec::new();
    for index in chunks {
        let Some(chunk_range) = layout.chunk_range(index) else {
            return Err(SealError::Integrity { chunk: index });
        };
        let relative = chunk_range.start - object_range.start..chunk_range.end - object_range.start;
        let sealed = slice(fetched, Some(relative), index)?;
        reader.open_chunk_into(index, layout.is_last(index), sealed, &mut plaintext)?;
    }
    let chunks_start = first_chunk * u64::from(header.chunk_size());
    let skip = usize::try_from(range.start - chunks_start).map_err(|_| SealError::TooLong)?;
    let keep = usize::try_from(range.end - range.start).map_err(|_| SealError::TooLong)?;
    plaintext.truncate(skip + keep);
    plaintext.drain(..skip.min(plaintext.len()));
    Ok(plaintext)
}

/// Opens chunks of one container, one at a time, with the key set up once.
pub struct ContainerReader {
    cipher: ChunkCipher,
    chunk_size: usize,
}

impl ContainerReader {
    pub fn new(data_key: &DataKey, header: &ContainerHeader) -> Result<ContainerReader, SealError> {
        Ok(ContainerReader {
            cipher: ChunkCipher::new(data_key, header)?,
            chunk_size: header.chunk_size() as usize,
        })
    }

    /// Opens one sealed chunk (ciphertext ‖ tag) and returns its plaintext.
    pub fn open_chunk(
        &self,
        index: u64,
        is_last: bool,
        sealed_chunk: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let mut plaintext = Vec::new();
        self.open_chunk_into(index, is_last, sealed_chunk, &mut plaintext)?;
        Ok(plaintext)
    }

    /// Opens one sealed chunk and appends its plaintext to `out`. On failure `out` is left as
    /// it was.
    pub fn open_chunk_into(
        &self,
        index: u64,
        is_last: bool,
        sealed_chunk: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SealError> {
        // All chunks but the last are full; the last is shorter (a format v1 invariant,
        // see `layout`). A wrong length is tampering, reported like any other.
        let full = self.chunk_size + TAG_LEN;
        let well_sized = if is_last {
            (TAG_LEN..full).contains(&sealed_chunk.len())
        } else {
            sealed_chunk.len() == full
        };
        if !well_sized {
            return Err(SealError::Integrity { chunk: index });
        }
        let start = out.len();
        out.resize(start + sealed_chunk.len() - TAG_LEN, 0);
        let opened = self
            .cipher
            .open_into(index, is_last, sealed_chunk, &mut out[start..]);
        if opened.is_err() {
            out.truncate(start);
        }
        opened
    }
}

impl std::fmt::Debug for ContainerReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerReader")
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

fn slice(bytes: &[u8], range: Option<Range<u64>>, chunk: u64) -> Result<&[u8], SealError> {
    range
        .and_then(|range| {
            let start = usize::try_from(range.start).ok()?;
            let end = usize::try_from(range.end).ok()?;
            bytes.get(start..end)
        })
        .ok_or(SealError::Integrity { chunk })
}

fn slice_mut(
    bytes: &mut [u8],
    range: Option<Range<u64>>,
    chunk: u64,
) -> Result<&mut [u8], SealError> {
    range
        .and_then(|range| {
            let start = usize::try_from(range.start).ok()?;
            let end = usize::try_from(range.end).ok()?;
            bytes.get_mut(start..end)
        })
        .ok_or(SealError::Integrity { chunk })
}
