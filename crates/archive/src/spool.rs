use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use seal::SealedBytes;

use crate::{ArchiveError, ObjectKey, Placement, RegionStore, StoredObject};

/// A local folder where streams still being recorded are staged, already sealed, until they
/// are published to their region's store. Only sealed bytes are ever appended, so the spool
/// holds no plaintext either; a crash loses at most the chunk that was still open in memory.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Spool {
    pub fn open(root: impl Into<PathBuf>) -> Result<Spool, SpoolError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(Spool { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts staging one stream. The spool file name is the object key with `/` replaced,
    /// so a restart can tell which object each leftover file was meant to become.
    pub fn create_stream(&self, key: &ObjectKey) -> Result<SpooledStream, SpoolError> {
        let path = self
            .root
            .join(format!("{}.part", key.as_str().replace('/', "~")));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(SpooledStream {
            file,
            path,
            key: key.clone(),
            written: 0,
        })
    }

    /// Spool files left behind by a crash, with the object key each was staging.
    pub fn leftovers(&self) -> Result<Vec<(PathBuf, ObjectKey)>, SpoolError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let entry = entry.map_err(io(&self.root))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".part")) else {
                continue;
            };
            if let Ok(key) = ObjectKey::parse(&stem.replace('~', "/")) {
                found.push((entry.path(), key));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}

/// One stream being staged.
#[derive(Debug)]
pub struct SpooledStream {
    file: File,
    path: PathBuf,
    key: ObjectKey,
    written: u64,
}

impl SpooledStream {
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn append(&mut self, sealed: &SealedBytes) -> Result<(), SpoolError> {
        if sealed.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(sealed.as_bytes())
            .map_err(io(&self.path))?;
        self.written += sealed.len() as u64;
        Ok(())
    }

    /// Publishes the staged stream to the tenant's region store, then removes the spool file.
    /// Returns the object and the BLAKE3 digest of its sealed bytes.
    pub async fn publish(
        self,
        store: &RegionStore,
        placement: &Placement,
    ) -> Result<(StoredObject, [u8; 32]), SpoolError> {
        store.check_placement(placement, &self.key)?;
        drop(self.file);
        let bytes = tokio::fs::read(&self.path).await.map_err(io(&self.path))?;
        let size = bytes.len() as u64;
        let digest = *blake3::hash(&bytes).as_bytes();
        store
            .raw_store()
            .put(
                &StorePath::from(self.key.as_str()),
                PutPayload::from_bytes(Bytes::from(bytes)),
            )
            .await
            .map_err(|source| ArchiveError::Store {
                region: store.region().clone(),
                source,
            })?;
        tokio::fs::remove_file(&self.path)
            .await
            .map_err(io(&self.path))?;
        Ok((
            StoredObject {
                key: self.key,
                region: store.region().clone(),
                size,
            },
            digest,
        ))
    }
}
