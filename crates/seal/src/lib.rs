//! Sealing of recordings: the only place plaintext becomes ciphertext.
//!
//! Owns: tenant key pairs and the HPKE (RFC 9180) sealing of per-recording data keys to them
//! ([`TenantPublicKey`], [`TenantPrivateKey`], [`DataKey`], [`SealedDataKey`], bound to a
//! tenant and recording by [`KeyBinding`]); the sealed container format v1 (a header, then
//! AES-256-GCM chunks in the STREAM construction) with a one-shot sealer
//! ([`seal_container`]), a streaming writer ([`ContainerWriter`]), a whole-object reader
//! ([`open_container`]) and range reads ([`ContainerLayout`], [`open_chunk`],
//! [`open_plaintext_range`]); and [`SealedBytes`], the only type object stores accept.
//!
//! Never does: I/O of any kind (files, sockets, key stores), reading the clock, or drawing
//! randomness on its own: every random byte comes from the caller's generator. It never
//! stores a sealed data key beside the ciphertext; that is the catalog's job, so deleting the
//! key erases every copy (crypto-shredding). It rolls no cryptography of its own: AES-256-GCM
//! and SHA-256 are aws-lc-rs, HPKE is the `hpke` crate.
//!
//! The frozen v1 fixtures in `testdata/seal/v1/` are opened by the tests forever; a change
//! that breaks them is a new format version, not an edit.

mod container;
mod error;
mod header;
mod keys;
mod layout;
mod reader;
mod sealed_bytes;

pub use container::{ContainerBuffer, ContainerWriter, seal_container};
pub use error::{FormatError, SealError};
pub use header::{
    CONTAINER_MAGIC, ContainerHeader, DEFAULT_CHUNK_SIZE, FORMAT_VERSION, MAX_CHUNK_SIZE,
    MAX_FIELD_LEN, MAX_HEADER_LEN, MIN_CHUNK_SIZE, NONCE_PREFIX_LEN,
};
pub use keys::{
    DATA_KEY_LEN, DataKey, KeyBinding, SEALED_DATA_KEY_LEN, SealedDataKey, TENANT_KEY_LEN,
    TenantPrivateKey, TenantPublicKey, generate_tenant_keypair,
};
pub use layout::{ContainerLayout, MAX_CHUNK_COUNT, TAG_LEN};
pub use reader::{ContainerReader, open_chunk, open_container, open_plaintext_range};
pub use sealed_bytes::SealedBytes;
