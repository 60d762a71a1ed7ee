//! Sealing a stream into a container: the STREAM construction (Hoang, Reyhanitabar, Rogaway,
//! Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015) over
//! AES-256-GCM from aws-lc-rs.
//!
//! Chunk `i` is sealed under the recording's data key with
//! - nonce = the header's 8-byte random nonce prefix ‖ `i` as a big-endian u32, and
//! - AAD = SHA-256(encoded header) ‖ `i` as a big-endian u64 ‖ last-chunk flag (0 or 1).
//!
//! The header digest binds the recording id, stream label, content type, chunk size and nonce
//! prefix to every chunk; the index catches reordering and duplication; the flag catches
//! truncation at a chunk boundary. A data key is shared by the streams of one recording, so
//! each writer draws its own nonce prefix.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rand_core::{CryptoRng, RngCore};

use crate::header::NONCE_PREFIX_LEN;
use crate::layout::{MAX_CHUNK_COUNT, TAG_LEN};
use crate::{ContainerHeader, ContainerLayout, DataKey, SealError, SealedBytes};

const AAD_LEN: usize = 32 + 8 + 1;

/// The per-container chunk cipher: the data key, the header digest and the nonce prefix.
pub(crate) struct ChunkCipher {
    key: LessSafeKey,
    header_digest: [u8; 32],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl ChunkCipher {
    pub(crate) fn new(data_key: &DataKey, header: &ContainerHeader) -> Result<Self, SealError> {
        let key = UnboundKey::new(&AES_256_GCM, data_key.secret_bytes())
            .map_err(|_| SealError::Crypto)?;
        Ok(ChunkCipher {
            key: LessSafeKey::new(key),
            header_digest: header.digest(),
            nonce_prefix: header.nonce_prefix(),
        })
    }

    fn nonce(&self, index: u64) -> Option<Nonce> {
        let counter = u32::try_from(index).ok()?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..NONCE_PREFIX_LEN].copy_from_slice(&self.nonce_prefix);
        nonce[NONCE_PREFIX_LEN..].copy_from_slice(&counter.to_be_bytes());
        Some(Nonce::assume_unique_for_key(nonce))
    }

    fn aad(&self, index: u64, is_last: bool) -> Aad<[u8; AAD_LEN]> {
        let mut aad = [0u8; AAD_LEN];
        aad[..32].copy_from_slice(&self.header_digest);
        aad[32..40].copy_from_slice(&index.to_be_bytes());
        aad[40] = u8::from(is_last);
        Aad::from(aad)
    }

    /// Seals `in_out` in place and returns the tag.
    pub(crate) fn seal_in_place(
        &self,
        index: u64,
        is_last: bool,
        in_out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], SealError> {
        let nonce = self.nonce(index).ok_or(SealError::TooLong)?;
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, self.aad(index, is_last), in_out)
            .map_err(|_| SealError::Crypto)?;
        tag.as_ref().try_into().map_err(|_| SealError::Crypto)
    }

    /// Seals `plaintext` into `out`, which must be exactly `plaintext.len() + TAG_LEN` long.
    pub(crate) fn seal_out_of_place(
        &self,
        index: u64,
        is_last: bool,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), SealError> {
        let nonce = self.nonce(index).ok_or(SealError::TooLong)?;
        let (ciphertext, tag) = out.split_at_mut(plaintext.len().min(out.len()));
        self.key
            .seal_out_of_place_scatter(
                nonce,
                self.aad(index, is_last),
                plaintext,
                ciphertext,
                &[],
                tag,
            )
            .map_err(|_| SealError::Crypto)
    }

    /// Opens one sealed chunk (ciphertext ‖ tag) into `out`, which must be exactly as long as
    /// the ciphertext.
    pub(crate) fn open_into(
        &self,
        index: u64,
        is_last: bool,
        sealed: &[u8],
        out: &mut [u8],
    ) -> Result<(), SealError> {
        let integrity = SealError::Integrity { chunk: index };
        let ciphertext_len = sealed.len().checked_sub(TAG_LEN).ok_or(integrity.clone())?;
        let (ciphertext, tag) = sealed.split_at(ciphertext_len);
        let nonce = self.nonce(index).ok_or(integrity.clone())?;
        if out.len() != ciphertext.len() {
            return Err(integrity);
        }
        self.key
            .open_separate_gather(nonce, self.aad(index, is_last), ciphertext, tag, out)
            .map_err(|_| integrity)
    }
}

fn random_nonce_prefix<R: RngCore + CryptoRng>(rng: &mut R) -> [u8; NONCE_PREFIX_LEN] {
    let mut prefix = [0u8; NONCE_PREFIX_LEN];
    rng.fill_bytes(&mut prefix);
    prefix
}

/// Seals a whole plaintext into one container (the import fast path). The output is
/// allocated once at its final size and each chunk is sealed straight from `plaintext` into
/// it (AES-GCM out of place), so the plaintext is read once and never copied. An import that
/// reads a file can skip even its own read buffer with [`ContainerBuffer`].
pub fn seal_container<R>(
    data_key: &DataKey,
    header: ContainerHeader,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<SealedBytes, SealError>
where
    R: RngCore + CryptoRng,
{
    let header = header.with_nonce_prefix(random_nonce_prefix(rng));
    let cipher = ChunkCipher::new(data_key, &header)?;
    let chunk_size = header.chunk_size() as usize;
    let layout = ContainerLayout::for_plaintext(
        header.encoded_len(),
        header.chunk_size(),
        plaintext.len() as u64,
    )?;
    let object_len = usize::try_from(layout.object_len()).map_err(|_| SealError::TooLong)?;
    let mut out = Vec::with_capacity(object_len);
    header.encode_into(&mut out);
    let last = layout.last_chunk();
    let mut chunks = plaintext.chunks(chunk_size);
    for index in 0..layout.chunk_count() {
        // The layout has one more chunk than `plaintext.chunks` yields when the plaintext is
        // an exact multiple of the chunk size (or empty): that last chunk is empty.
        let chunk = chunks.next().unwrap_or_default();
        let start = out.len();
        out.resize(start + chunk.len() + TAG_LEN, 0);
        cipher.seal_out_of_place(index, index == last, chunk, &mut out[start..])?;
    }
    Ok(SealedBytes::from_vec(out))
}

/// A container laid out before its plaintext arrives, for imports that read a file straight
/// into place: [`ContainerBuffer::new`] allocates the whole object once, the caller fills the
/// plaintext slots of [`ContainerBuffer::chunk_slots_mut`] (e.g. with `Read::read_exact`), and
/// [`ContainerBuffer::seal`] seals every chunk in place. No plaintext is copied by this crate.
pub struct ContainerBuffer {
    header: ContainerHeader,
    layout: ContainerLayout,
    buffer: Vec<u8>,
}

impl ContainerBuffer {
    /// Room for a container of exactly `plaintext_len` bytes, zero-filled.
    pub fn new(header: ContainerHeader, plaintext_len: u64) -> Result<ContainerBuffer, SealError> {
        let layout = ContainerLayout::for_plaintext(
            header.encoded_len(),
            header.chunk_size(),
            plaintext_len,
        )?;
        let object_len = usize::try_from(layout.object_len()).map_err(|_| SealError::TooLong)?;
        Ok(ContainerBuffer {
            header,
            layout,
            buffer: vec![0; object_len],
        })
    }

    pub fn layout(&self) -> &ContainerLayout {
        &self.layout
    }

    /// The plaintext slots, one per chunk, in order; together exactly `plaintext_len` bytes
    /// (the last slot may be empty).
    pub fn chunk_slots_mut(&mut self) -> impl Iterator<Item = &mut [u8]> {
        let header_len = self.header.encoded_len();
        let chunk_size = self.header.chunk_size() as usize;
        self.buffer
            .get_mut(header_len..)
            .unwrap_or_default()
            .chunks_mut(chunk_size + TAG_LEN)
            .map(|sealed_chunk| {
                let plaintext_len = sealed_chunk.len().saturating_sub(TAG_LEN);
                &mut sealed_chunk[..plaintext_len]
            })
    }

    /// Writes the header (with a nonce prefix drawn from `rng`) and seals every chunk in place.
    pub fn seal<R>(mut self, data_key: &DataKey, rng: &mut R) -> Result<SealedBytes, SealError>
    where
        R: RngCore + CryptoRng,
    {
        let header = self.header.with_nonce_prefix(random_nonce_prefix(rng));
        let cipher = ChunkCipher::new(data_key, &header)?;
        let mut encoded = Vec::with_capacity(header.encoded_len());
        header.encode_into(&mut encoded);
        let header_len = encoded.len().min(self.buffer.len());
        let (header_slot, body) = self.buffer.split_at_mut(header_len);
        header_slot.copy_from_slice(&encoded[..header_len]);
        let chunk_size = header.chunk_size() as usize;
        let last = self.layout.last_chunk();
        for (index, sealed_chunk) in (0u64..).zip(body.chunks_mut(chunk_size + TAG_LEN)) {
            let plaintext_len = sealed_chunk.len().saturating_sub(TAG_LEN);
            let (in_out, tag_slot) = sealed_chunk.split_at_mut(plaintext_len);
            let tag = cipher.seal_in_place(index, index == last, in_out)?;
            tag_slot.copy_from_slice(&tag);
        }
        Ok(SealedBytes::from_vec(self.buffer))
    }
}

impl std::fmt::Debug for ContainerBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerBuffer")
            .field("header", &self.header)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// Seals a stream as it arrives (live calls). Holds at most one chunk of plaintext; every
/// completed chunk is sealed and handed back at once.
pub struct ContainerWriter {
    cipher: ChunkCipher,
    header: ContainerHeader,
    header_written: bool,
    pending: Vec<u8>,
    chunk_size: usize,
    next_index: u64,
}

impl ContainerWriter {
    /// A writer for one container; draws the nonce prefix from `rng`.
    pub fn new<R>(
        data_key: &DataKey,
        header: ContainerHeader,
        rng: &mut R,
    ) -> Result<ContainerWriter, SealError>
    where
        R: RngCore + CryptoRng,
    {
        let header = header.with_nonce_prefix(random_nonce_prefix(rng));
        let cipher = ChunkCipher::new(data_key, &header)?;
        Ok(ContainerWriter {
            cipher,
            chunk_size: header.chunk_size() as usize,
            header,
            header_written: false,
            pending: Vec::new(),
            next_index: 0,
        })
    }

    /// The header as written, nonce prefix included.
    pub fn header(&self) -> &ContainerHeader {
        &self.header
    }

    /// Chunks sealed so far.
    pub fn chunks_sealed(&self) -> u64 {
        self.next_index
    }

    /// Takes more plaintext. Returns the sealed bytes of every chunk it completed, preceded by
    /// the header on the first call; empty when no chunk was completed after the first call.
    /// Fails only when the stream would exceed 2^32 chunks.
    pub fn push(&mut self, mut plaintext: &[u8]) -> Result<SealedBytes, SealError> {
        let buffered = self.pending.len() + plaintext.len();
        let completed = buffered / self.chunk_size;
        if self.next_index + completed as u64 >= MAX_CHUNK_COUNT {
            return Err(SealError::TooLong);
        }
        let header_len = if self.header_written {
            0
        } else {
            self.header.encoded_len()
        };
        let mut out = Vec::with_capacity(header_len + completed * (self.chunk_size + TAG_LEN));
        if !self.header_written {
            self.header.encode_into(&mut out);
            self.header_written = true;
        }
        for _ in 0..completed {
            let start = out.len();
            let take = self.chunk_size - self.pending.len();
            out.extend_from_slice(&self.pending);
            self.pending.clear();
            let (head, rest) = plaintext.split_at(take.min(plaintext.len()));
            out.extend_from_slice(head);
            plaintext = rest;
            let tag = self
                .cipher
                .seal_in_place(self.next_index, false, &mut out[start..])?;
            out.extend_from_slice(&tag);
            self.next_index += 1;
        }
        if !plaintext.is_empty() {
            if self.pending.capacity() == 0 {
                self.pending.reserve_exact(self.chunk_size);
            }
            self.pending.extend_from_slice(plaintext);
        }
        Ok(SealedBytes::from_vec(out))
    }

    /// Seals what is left as the last chunk (possibly empty) and returns it, preceded by the
    /// header if nothing was pushed before.
    pub fn finish(mut self) -> Result<SealedBytes, SealError> {
        let header_len = if self.header_written {
            0
        } else {
            self.header.encoded_len()
        };
        let mut out = Vec::with_capacity(header_len + self.pending.len() + TAG_LEN);
        if !self.header_written {
            self.header.encode_into(&mut out);
        }
        let start = out.len();
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        let tag = self
            .cipher
            .seal_in_place(self.next_index, true, &mut out[start..])?;
        out.extend_from_slice(&tag);
        Ok(SealedBytes::from_vec(out))
    }
}

impl std::fmt::Debug for ContainerWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerWriter")
            .field("header", &self.header)
            .field("chunks_sealed", &self.next_index)
            .field("pending_bytes", &self.pending.len())
            .finish_non_exhaustive()
    }
}
