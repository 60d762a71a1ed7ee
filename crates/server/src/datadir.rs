//! The data directory: everything onrecord keeps lives under one folder.
//!
//! ```text
//! DIR/config.toml        regions and tenants (operator-edited; comments kept)
//! DIR/catalog.sqlite     metadata, sealed data keys, audit chain
//! DIR/keyring/           one private key file per tenant (0600), and the node key
//! DIR/audit/checkpoints.jsonl   signed audit checkpoints, append-only
//! DIR/store/local/       the default region's object store (sealed objects only)
//! DIR/spool/             live streams being recorded (sealed chunks only)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use archive::StoreLocation;

use crate::config::{Config, fresh_config_text};
use crate::keyring::Keyring;

pub const DATA_DIR_ENV: &str = "ONRECORD_DATA_DIR";
pub const DEFAULT_DATA_DIR: &str = "./onrecord-data";

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn catalog_path(&self) -> PathBuf {
        self.root.join("catalog.sqlite")
    }

    pub fn keyring(&self) -> Keyring {
        Keyring::new(self.root.join("keyring"))
    }

    pub fn spool_path(&self) -> PathBuf {
        self.root.join("spool")
    }

    pub fn exists(&self) -> bool {
        self.config_path().is_file()
    }

    /// Creates a fresh data dir (one region, `local`, stored under it) if there is none yet.
    /// Returns whether it was created.
    pub fn ensure(&self) -> Result<bool> {
        if self.exists() {
            return Ok(false);
        }
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create data dir {}", self.root.display()))?;
        let root = std::fs::canonicalize(&self.root)
            .with_context(|| format!("cannot resolve data dir {}", self.root.display()))?;
        let local = StoreLocation::LocalDir(root.join("store").join("local"));
        std::fs::write(self.config_path(), fresh_config_text(&local))
            .with_context(|| format!("cannot write {}", self.config_path().display()))?;
        Ok(true)
    }

    /// Loads the configuration; a missing data dir is an error that says how to make one.
    pub fn config(&self) -> Result<Config> {
        if !self.exists() {
            bail!(
                "no onrecord data dir at {} (no config.toml); create one with `onrecord --data-dir {} tenant create …`",
                self.root.display(),
                self.root.display()
            );
        }
        Ok(Config::load(&self.config_path())?)
    }
}
