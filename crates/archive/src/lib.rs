//! Region-pinned object storage of sealed recordings.
//!
//! Owns: the object-key scheme (ids only, never personal data), one store per region behind
//! the `object_store` abstraction (local filesystem by default, in-memory twin for tests, S3 and
//! Azure Blob later), the rule that a tenant's objects go only to its own region's store, the
//! on-disk spool that live streams are staged in, and the durability barrier that makes a batch
//! of published objects durable with one sync.
//!
//! Never does: encrypt or decrypt (the write API takes only `seal::SealedBytes`, which only the
//! `seal` crate can make, so plaintext at rest cannot be written by mistake), and never touches
//! the catalog: callers publish objects first and flip the catalog last (STYLE.md §7).

mod key;
mod spool;
mod store;

pub use key::{ObjectKey, ObjectKeyError};
pub use spool::{Spool, SpoolError, SpooledStream};
pub use store::{
    Archive, ArchiveError, Placement, RegionStore, StoreLocation, StoredObject, sha256,
};
