//! What every command works with: the data dir, its configuration, the catalog, the archive,
//! the clock and who is acting.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use archive::{Archive, Placement, RegionStore};
use catalog::{Catalog, SqliteCatalog};
use model::TenantId;
use model::clock::{Clock, SystemClock};
use seal::{TenantPrivateKey, TenantPublicKey};

use crate::config::{Config, TenantConfig};
use crate::datadir::DataDir;
use crate::keyring;

#[derive(Debug, Clone)]
pub struct App {
    pub data_dir: DataDir,
    pub config: Config,
    pub catalog: Arc<dyn Catalog>,
    pub archive: Archive,
    pub clock: Arc<dyn Clock>,
    /// Who the audit log says acted, e.g. `cli:alice`.
    pub actor: String,
}

impl App {
    /// Opens an existing data dir.
    pub async fn open(data_dir: DataDir, actor: String) -> Result<App> {
        let config = data_dir.config()?;
        let catalog = SqliteCatalog::open(&data_dir.catalog_path())
            .await
            .with_context(|| {
                format!("cannot open catalog {}", data_dir.catalog_path().display())
            })?;
        let mut archive = Archive::new();
        for region in config.regions.values() {
            archive.add_region(
                RegionStore::open(region.id.clone(), region.store.clone())
                    .with_context(|| format!("cannot open the store of region {}", region.id))?,
            );
        }
        let app = App {
            data_dir,
            config,
            catalog: Arc::new(catalog),
            archive,
            clock: Arc::new(SystemClock),
            actor,
        };
        // Nothing runs on a configuration that tries to shorten minimum retention.
        crate::governance::retention::reconcile(&app).await?;
        Ok(app)
    }

    pub fn tenant_config(&self, tenant: &TenantId) -> Result<&TenantConfig> {
        self.config.tenant(tenant).ok_or_else(|| {
            anyhow!(
                "no tenant {tenant} in {} (known: {})",
                self.data_dir.config_path().display(),
                self.config
                    .tenants
                    .keys()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// Where a tenant's objects live: always its configured region.
    pub fn placement(&self, tenant: &TenantId) -> Result<Placement> {
        let config = self.tenant_config(tenant)?;
        Ok(Placement {
            tenant: tenant.clone(),
            region: config.region.clone(),
        })
    }

    /// The tenant's public key, as registered in the catalog (all a recording node needs).
    pub async fn public_key(&self, tenant: &TenantId) -> Result<TenantPublicKey> {
        let record = self
            .catalog
            .tenant(tenant)
            .await?
            .ok_or_else(|| anyhow!("tenant {tenant} is configured but not registered in the catalog; run `onrecord tenant create` for it"))?;
        TenantPublicKey::from_text(&record.public_key).map_err(|error| {
            anyhow!("the catalog's public key of tenant {tenant} is unusable: {error}")
        })
    }

    /// The tenant's private key from the keyring (reading needs it; recording never does).
    pub fn private_key(&self, tenant: &TenantId) -> Result<TenantPrivateKey> {
        let passphrase = keyring::passphrase_from_env();
        Ok(self
            .data_dir
            .keyring()
            .private_key(tenant, passphrase.as_deref())?)
    }
}

/// The actor name for commands run from a shell: `cli:<login>`.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid-{}", rustix::process::getuid().as_raw()));
    format!("cli:{user}")
}
