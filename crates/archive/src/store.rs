use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use model::{RegionId, TenantId};
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use seal::SealedBytes;

use crate::ObjectKey;

/// Where a region keeps its objects, as written in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `file:///absolute/path`: a folder on a local filesystem (the default).
    LocalDir(PathBuf),
    /// `memory:`: the in-memory twin, for tests and benchmarks; forgets everything on exit.
    Memory,
}

impl StoreLocation {
    /// Parses a region's store URL. S3 (`s3://`) and Azure Blob (`az://`) are recognised and
    /// refused with a clear message until the scale-out backends are built in.
    pub fn parse(text: &str) -> Result<StoreLocation, ArchiveError> {
        let unsupported = |why: &str| ArchiveError::UnsupportedStore {
            url: text.to_owned(),
            why: why.to_owned(),
        };
        if text == "memory:" || text == "memory://" {
            return Ok(StoreLocation::Memory);
        }
        let url = url::Url::parse(text).map_err(|error| unsupported(&error.to_string()))?;
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| unsupported("a file URL needs an absolute path: file:///…"))?;
                Ok(StoreLocation::LocalDir(path))
            }
            "s3" | "s3a" | "az" | "azure" | "abfs" | "gs" => Err(unsupported(
                "this build stores to the local filesystem (file:///…) only; object-store backends for S3, Azure Blob and GCS come with the scale-out build",
            )),
            other => Err(unsupported(&format!("unknown scheme {other:?}"))),
        }
    }

    pub fn to_url(&self) -> String {
        match self {
            StoreLocation::Memory => "memory:".to_owned(),
            StoreLocation::LocalDir(path) => url::Url::from_directory_path(path)
                .map(|url| url.to_string().trim_end_matches('/').to_owned())
                .unwrap_or_else(|()| format!("file://{}", path.display())),
        }
    }
}

/// The tenant a write or read is for, and the region that tenant is pinned to (from the
/// tenant's configuration, never from the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub tenant: TenantId,
    pub region: RegionId,
}

/// What was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: ObjectKey,
    pub region: RegionId,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A tenant's data was about to be written to, or read from, another region's store.
    #[error(
        "tenant {tenant} is pinned to region {pinned}; refusing to use the store of region {store}"
    )]
    RegionMismatch {
        tenant: TenantId,
        pinned: RegionId,
        store: RegionId,
    },
    /// An object key outside the tenant's own prefix.
    #[error("object key {key} does not belong to tenant {tenant}")]
    TenantMismatch { tenant: TenantId, key: String },
    #[error("no store is configured for region {0}")]
    UnknownRegion(RegionId),
    #[error("store URL {url:?} cannot be used: {why}")]
    UnsupportedStore { url: String, why: String },
    #[error("object {key} not found in region {region}")]
    NotFound { region: RegionId, key: String },
    #[error("object store of region {region}: {source}")]
    Store {
        region: RegionId,
        #[source]
        source: object_store::Error,
    },
    #[error("local store of region {region} at {path}: {source}")]
    Io {
        region: RegionId,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One region's object store. Every write and read names the tenant's [`Placement`], and the
/// store refuses placements pinned to another region: this is the single choke point through
/// which sealed objects reach storage, so region pinning cannot be bypassed by a caller that
/// picked the wrong store.
#[derive(Clone)]
pub struct RegionStore {
    region: RegionId,
    location: StoreLocation,
    store: Arc<dyn ObjectStore>,
}

impl fmt::Debug for RegionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegionStore")
            .field("region", &self.region)
            .field("location", &self.location)
            .finish()
    }
}

impl RegionStore {
    pub fn open(region: RegionId, location: StoreLocation) -> Result<RegionStore, ArchiveError> {
        let store: Arc<dyn ObjectStore> = match &location {
            StoreLocation::Memory => Arc::new(InMemory::new()),
            StoreLocation::LocalDir(path) => {
                std::fs::create_dir_all(path).map_err(|source| ArchiveError::Io {
                    region: region.clone(),
                    path: path.clone(),
                    source,
                })?;
                let local = object_store::local::LocalFileSystem::new_with_prefix(path)
                    .map_err(|source| ArchiveError::Store {
                        region: region.clone(),
                        source,
                    })?
                    .with_automatic_cleanup(true);
                Arc::new(local)
            }
        };
        Ok(RegionStore {
            region,
            location,
            store,
        })
    }

    pub fn in_memory(region: RegionId) -> RegionStore {
        RegionStore {
            region,
            location: StoreLocation::Memory,
            store: Arc::new(InMemory::new()),
        }
    }

    pub fn region(&self) -> &RegionId {
        &self.region
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The folder of a local store, for tools that scan it (tests, `doctor`).
    pub fn local_root(&self) -> Option<&Path> {
        match &self.location {
            StoreLocation::LocalDir(path) => Some(path),
            StoreLocation::Memory => None,
        }
    }

    /// The spool publishes through the raw store after checking the placement itself; nothing
    /// outside this crate can reach it, so only sealed bytes get in.
    pub(crate) fn raw_store(&self) -> &dyn ObjectStore {
        self.store.as_ref()
    }

    pub(crate) fn check_placement(
        &self,
        placement: &Placement,
        key: &ObjectKey,
    ) -> Result<(), ArchiveError> {
        self.check(placement, key).map(|_| ())
    }

    fn check(&self, placement: &Placement, key: &ObjectKey) -> Result<StorePath, ArchiveError> {
        if placement.region != self.region {
            return Err(ArchiveError::RegionMismatch {
                tenant: placement.tenant.clone(),
                pinned: placement.region.clone(),
                store: self.region.clone(),
            });
        }
        if key.tenant() != &placement.tenant {
            return Err(ArchiveError::TenantMismatch {
                tenant: placement.tenant.clone(),
                key: key.to_string(),
            });
        }
        Ok(StorePath::from(key.as_str()))
    }

    fn store_error(&self, key: &ObjectKey, source: object_store::Error) -> ArchiveError {
        match source {
            object_store::Error::NotFound { .. } => ArchiveError::NotFound {
                region: self.region.clone(),
                key: key.to_string(),
            },
            source => ArchiveError::Store {
                region: self.region.clone(),
                source,
            },
        }
    }

    /// Publishes one sealed object. Atomic: readers see the whole object or none of it. Not yet
    /// durable on a local store until [`RegionStore::make_durable`] (group commit).
    pub async fn put(
        &self,
        placement: &Placement,
        key: &ObjectKey,
        sealed: SealedBytes,
    ) -> Result<StoredObject, ArchiveError> {
        let path = self.check(placement, key)?;
        let bytes = sealed.into_bytes();
        let size = bytes.len() as u64;
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map_err(|source| self.store_error(key, source))?;
        Ok(StoredObject {
            key: key.clone(),
            region: self.region.clone(),
            size,
        })
    }

    pub async fn get(&self, placement: &Placement, key: &ObjectKey) -> Result<Bytes, ArchiveError> {
        let path = self.check(placement, key)?;
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|source| self.store_error(key, source))?;
        result
            .bytes()
            .await
            .map_err(|source| self.store_error(key, source))
    }

    pub async fn get_range(
        &self,
        placement: &Placement,
        key: &ObjectKey,
        range: Range<u64>,
    ) -> Result<Bytes, ArchiveError> {
        let path = self.check(placement, key)?;
        self.store
            .get_range(&path, range)
            .await
            .map_err(|source| self.store_error(key, source))
    }

    pub async fn size(&self, placement: &Placement, key: &ObjectKey) -> Result<u64, ArchiveError> {
        let path = self.check(placement, key)?;
        let meta = self
            .store
            .head(&path)
            .await
            .map_err(|source| self.store_error(key, source))?;
        Ok(meta.size)
    }

    /// Deletes an object; deleting a missing object is not an error (erasure is idempotent).
    pub async fn delete(&self, placement: &Placement, key: &ObjectKey) -> Result<(), ArchiveError> {
        let path = self.check(placement, key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.store_error(key, source)),
        }
    }

    /// Makes every object published so far durable. On a local store this is one `syncfs`
    /// for the whole filesystem — a group commit whose cost is per batch, not per object
    /// (DESIGN.md "Durability by group commit"). Remote stores are durable when `put` returns.
    pub async fn make_durable(&self) -> Result<(), ArchiveError> {
        let StoreLocation::LocalDir(root) = &self.location else {
            return Ok(());
        };
        let root = root.clone();
        let region = self.region.clone();
        let io_error = |source: std::io::Error, path: PathBuf| ArchiveError::Io {
            region: region.clone(),
            path,
            source,
        };
        let outcome =
            tokio::task::spawn_blocking(move || -> Result<(), (std::io::Error, PathBuf)> {
                let directory = std::fs::File::open(&root).map_err(|e| (e, root.clone()))?;
                rustix::fs::syncfs(&directory).map_err(|e| (std::io::Error::from(e), root.clone()))
            })
            .await;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err((source, path))) => Err(io_error(source, path)),
            Err(join) => Err(io_error(
                std::io::Error::other(join.to_string()),
                PathBuf::new(),
            )),
        }
    }
}

/// Every region's store, looked up by the tenant's pinned region.
#[derive(Debug, Clone, Default)]
pub struct Archive {
    regions: BTreeMap<RegionId, RegionStore>,
}

impl Archive {
    pub fn new() -> Archive {
        Archive::default()
    }

    pub fn add_region(&mut self, store: RegionStore) {
        self.regions.insert(store.region().clone(), store);
    }

    pub fn region(&self, region: &RegionId) -> Result<&RegionStore, ArchiveError> {
        self.regions
            .get(region)
            .ok_or_else(|| ArchiveError::UnknownRegion(region.clone()))
    }

    /// The store of the region the tenant is pinned to.
    pub fn for_placement(&self, placement: &Placement) -> Result<&RegionStore, ArchiveError> {
        self.region(&placement.region)
    }

    pub fn regions(&self) -> impl Iterator<Item = &RegionStore> {
        self.regions.values()
    }
}

/// SHA-256 of some bytes (hardware-accelerated through aws-lc-rs).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
