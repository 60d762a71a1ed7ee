//! Bytes that came out of sealing, and nothing else.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::{ContainerHeader, ContainerLayout, SealError};

/// Bytes produced by this crate's sealing functions: a whole container or a piece of one from
/// [`ContainerWriter`](crate::ContainerWriter). Object-store write APIs accept only this
/// type, so plaintext at rest cannot be written by mistake.
///
/// There is no public constructor from raw bytes. The only ways to get one are
/// [`seal_container`](crate::seal_container), [`ContainerWriter`](crate::ContainerWriter),
/// [`SealedBytes::concat`] of other sealed bytes, and [`SealedBytes::from_stored_container`],
/// which accepts bytes read back from a store only if they have the shape of a whole
/// container. These do not compile:
///
/// ```compile_fail
/// let plaintext = bytes::Bytes::from_static(b"hello");
/// let sealed = onrecord_seal::SealedBytes(plaintext);
/// ```
///
/// ```compile_fail
/// let sealed: onrecord_seal::SealedBytes = b"hello".to_vec().into();
/// ```
///
/// ```compile_fail
/// let sealed: onrecord_seal::SealedBytes = bytes::Bytes::from_static(b"hello").into();
/// ```
///
/// while this does:
///
/// ```
/// # use rand::SeedableRng;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use onrecord_seal::{seal_container, ContainerHeader, DataKey, DEFAULT_CHUNK_SIZE};
/// let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
/// let key = DataKey::generate(&mut rng);
/// let header = ContainerHeader::new(
///     model::RecordingId::from_parts(1, [0; 10]),
///     model::StreamLabel::new("mixed")?,
///     "audio/wav",
///     DEFAULT_CHUNK_SIZE,
/// )?;
/// let sealed = seal_container(&key, header, b"hello", &mut rng)?;
/// assert!(!sealed.as_bytes().windows(5).any(|window| window == b"hello"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SealedBytes(Bytes);

impl SealedBytes {
    pub(crate) fn from_vec(bytes: Vec<u8>) -> SealedBytes {
        SealedBytes(Bytes::from(bytes))
    }

    /// No bytes (what a writer returns when no chunk was completed).
    pub fn empty() -> SealedBytes {
        SealedBytes(Bytes::new())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The pieces one after another, e.g. every output of one [`ContainerWriter`](crate::ContainerWriter).
    pub fn concat(parts: impl IntoIterator<Item = SealedBytes>) -> SealedBytes {
        let parts: Vec<SealedBytes> = parts.into_iter().collect();
        if parts.len() == 1 {
            return parts.into_iter().next().unwrap_or_default();
        }
        let total = parts.iter().map(SealedBytes::len).sum();
        let mut joined = BytesMut::with_capacity(total);
        for part in &parts {
            joined.extend_from_slice(part.as_bytes());
        }
        SealedBytes(joined.freeze())
    }

    /// Accepts bytes read back from a store (to copy them to another store, or to recover a
    /// spool) if they have the shape of a whole container: a valid header and a length that
    /// fits its chunk layout. This checks no tag (it has no key), but plaintext does not pass
    /// it by accident.
    pub fn from_stored_container(bytes: Bytes) -> Result<SealedBytes, SealError> {
        let (header, header_len) = ContainerHeader::parse(&bytes)?;
        ContainerLayout::new(&header, header_len, bytes.len() as u64)?;
        Ok(SealedBytes(bytes))
    }
}

impl fmt::Debug for SealedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedBytes({} bytes)", self.0.len())
    }
}

impl AsRef<[u8]> for SealedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
