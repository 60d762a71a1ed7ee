//! Appends records to one open chunk and hands full chunks to the caller for sealing.

use crate::MediaError;
use crate::format::{AUDIO_RECORD_OVERHEAD, MAX_EVENT_RECORD_LEN, Record, StreamHeader};

/// Chunk size for live streams: 16 KiB is 2 s of G.711, so a crash loses at most 2 s and a
/// call's two open chunks stay under the 64 KiB-per-call memory goal.
pub const LIVE_CHUNK_SIZE: usize = 16 * 1024;
/// Chunk size of the container when memory is not the constraint (imports, tests).
pub const ARCHIVE_CHUNK_SIZE: usize = 64 * 1024;
/// Smallest chunk the writer accepts.
pub const MIN_CHUNK_SIZE: usize = 1024;
/// Largest audio payload the writer stores. RTP over a 1500-byte MTU carries at most
/// 1,460; Opus at 510 kbit/s for 120 ms is about 7,650 bytes.
pub const MAX_AUDIO_PAYLOAD_LEN: usize = 8 * 1024;
/// Bytes reserved past the chunk size so that the record that crosses the boundary does
/// not reallocate for ordinary (≤ 1,460-byte) payloads.
const SLACK: usize = 1_536;

/// A full chunk is waiting in the writer: seal [`StreamWriter::full_chunk`], then call
/// [`StreamWriter::release_chunk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a full chunk must be sealed and released, or the buffer keeps growing"]
pub struct ChunkReady {
    /// Index of the chunk in the stream, from 0.
    pub index: u64,
}

/// Writer configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// Plaintext bytes per sealed chunk; must match the container's chunk size.
    pub chunk_size: usize,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            chunk_size: LIVE_CHUNK_SIZE,
        }
    }
}

/// The stream writer: the header and records go into one reusable buffer owned by the
/// writer for the stream's lifetime (taken from and returned to the caller's pool).
/// Every chunk but the last is exactly `chunk_size` bytes; records may straddle chunks.
#[derive(Debug)]
pub struct StreamWriter {
    buffer: Vec<u8>,
    chunk_size: usize,
    chunks_released: u64,
    bytes_written: u64,
    finished: bool,
}

impl StreamWriter {
    /// Starts a stream: clears `buffer`, reserves one chunk plus slack, writes the header.
    pub fn new(
        header: &StreamHeader,
        config: WriterConfig,
        mut buffer: Vec<u8>,
    ) -> Result<StreamWriter, MediaError> {
        if config.chunk_size < MIN_CHUNK_SIZE {
            return Err(MediaError::ChunkSize(config.chunk_size));
        }
        buffer.clear();
        buffer.reserve(config.chunk_size + SLACK);
        header.encode(&mut buffer);
        let bytes_written = buffer.len() as u64;
        Ok(StreamWriter {
            buffer,
            chunk_size: config.chunk_size,
            chunks_released: 0,
            bytes_written,
            finished: false,
        })
    }

    /// Appends a record. Returns `Some` when a full chunk is ready.
    pub fn write(&mut self, record: &Record<'_>) -> Result<Option<ChunkReady>, MediaError> {
        if self.finished {
            return Err(MediaError::Finished);
        }
        if let Record::Audio { payload, .. } = record
            && payload.len() > MAX_AUDIO_PAYLOAD_LEN
        {
            return Err(MediaError::PayloadTooLarge(payload.len()));
        }
        let before = self.buffer.len();
        record.encode(&mut self.buffer);
        self.bytes_written += (self.buffer.len() - before) as u64;
        Ok(self.chunk_ready())
    }

    fn chunk_ready(&self) -> Option<ChunkReady> {
        (self.buffer.len() >= self.chunk_size).then_some(ChunkReady {
            index: self.chunks_released,
        })
    }

    /// The next full chunk, if one is ready.
    pub fn full_chunk(&self) -> Option<&[u8]> {
        self.buffer.get(..self.chunk_size)
    }

    /// Drops the chunk returned by [`StreamWriter::full_chunk`] once it is sealed; the
    /// bytes after it (part of one record) move to the front. Returns whether another full
    /// chunk is ready.
    pub fn release_chunk(&mut self) -> Option<ChunkReady> {
        if self.buffer.len() < self.chunk_size {
            return None;
        }
        self.buffer.copy_within(self.chunk_size.., 0);
        self.buffer.truncate(self.buffer.len() - self.chunk_size);
        self.chunks_released += 1;
        self.chunk_ready()
    }

    /// Ends the stream: no more records. Release the full chunks that remain, then seal
    /// [`StreamWriter::last_chunk`] as the last chunk.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// After [`StreamWriter::finish`] and once every full chunk is released: the bytes of
    /// the last chunk (shorter than `chunk_size`, empty when the stream ended exactly on a
    /// chunk boundary). `None` before that.
    pub fn last_chunk(&self) -> Option<&[u8]> {
        (self.finished && self.buffer.len() < self.chunk_size).then_some(&self.buffer[..])
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Chunks sealed and released so far.
    pub fn chunks_released(&self) -> u64 {
        self.chunks_released
    }

    /// Plaintext bytes written, header included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Bytes in the open chunk.
    pub fn open_len(&self) -> usize {
        self.buffer.len()
    }

    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The largest number of bytes the buffer holds for ordinary payloads.
    pub fn buffer_capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// Gives the buffer back for reuse by another stream.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }
}

/// Upper bound of bytes one record can add (for sizing pools).
pub const MAX_RECORD_LEN: usize = AUDIO_RECORD_OVERHEAD + MAX_AUDIO_PAYLOAD_LEN;
const _: () = assert!(MAX_EVENT_RECORD_LEN < MAX_RECORD_LEN);
