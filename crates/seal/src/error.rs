//! The one error type of the crate.

/// Why sealing or opening failed.
///
/// Who caused it: [`SealError::Integrity`], [`SealError::Format`] and [`SealError::Key`] come
/// from the stored bytes or the key material the caller handed in (a tampered or truncated
/// object, a wrong key); [`SealError::Header`], [`SealError::KeyEncoding`],
/// [`SealError::ChunkOutOfRange`] and [`SealError::TooLong`] from the caller's arguments;
/// [`SealError::Crypto`] from the cryptographic library itself.
///
/// The messages are safe to log but say nothing that would help an attacker: an integrity
/// failure names the chunk and nothing else (not whether the key, the tag or the length
/// was wrong).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Tampering, truncation, extension, reordering, duplication, a header from another
    /// object or the wrong data key. Every such case looks the same from outside.
    #[error("integrity check failed for chunk {chunk}")]
    Integrity { chunk: u64 },
    /// The bytes are not a sealed container this version understands.
    #[error("not a sealed container: {0}")]
    Format(#[from] FormatError),
    /// A sealed data key cannot be opened with this tenant key and binding (wrong tenant key,
    /// wrong recording or tenant, or tampered bytes).
    #[error("the sealed data key cannot be opened with this tenant key for this recording")]
    Key,
    /// Key material in the wrong shape (length, prefix, hex, version byte).
    #[error("invalid key encoding: {0}")]
    KeyEncoding(&'static str),
    /// The caller asked for a header this format cannot hold.
    #[error("invalid container header: {0}")]
    Header(&'static str),
    /// The caller asked for a chunk the container does not have.
    #[error("chunk {index} is out of range: the container has {count} chunks")]
    ChunkOutOfRange { index: u64, count: u64 },
    /// A stream longer than one container can hold (2^32 chunks).
    #[error("stream too long for one container (at most 2^32 chunks)")]
    TooLong,
    /// The cryptographic library reported a failure while sealing.
    #[error("the cryptographic library failed to seal")]
    Crypto,
}

/// Why bytes are not a readable container header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("too short for a container header")]
    TooShort,
    #[error("wrong magic bytes")]
    Magic,
    #[error("unsupported format version {0}")]
    Version(u16),
    #[error("chunk size {0} outside 1 KiB to 16 MiB")]
    ChunkSize(u32),
    #[error("invalid stream label")]
    StreamLabel,
    #[error("invalid content type")]
    ContentType,
}
