//! `onrecord tenant create|list`.

use anyhow::{Context, Result, bail};
use catalog::{AuditNote, Tenant};
use serde_json::json;

use crate::app::App;
use crate::config::{Config, add_tenant_to_text};
use crate::datadir::DataDir;
use crate::keyring;

pub use crate::config::TenantDeclaration as NewTenant;

/// Declares the tenant in `config.toml`, creates its key pair (private key into the keyring,
/// public key into the catalog) and audits it. Refuses an existing tenant.
pub async fn create(data_dir: &DataDir, actor: String, tenant: NewTenant) -> Result<Tenant> {
    data_dir.ensure()?;
    let config_path = data_dir.config_path();
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let updated = add_tenant_to_text(&text, &tenant).map_err(anyhow::Error::msg)?;
    // Validate the whole new configuration before anything is written.
    Config::parse(&updated)
        .map_err(|message| anyhow::anyhow!("{}: {message}", config_path.display()))?;

    let keyring = data_dir.keyring();
    if keyring.has(&tenant.id) {
        bail!(
            "the keyring already holds a key for tenant {}; refusing to replace it",
            tenant.id
        );
    }
    let (private, public) = seal::generate_tenant_keypair(&mut rand::rng());
    keyring.store(
        &tenant.id,
        &public,
        &private,
        keyring::passphrase_from_env().as_deref(),
    )?;
    let temporary = config_path.with_extension("toml.new");
    std::fs::write(&temporary, &updated)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, &config_path)
        .with_context(|| format!("cannot replace {}", config_path.display()))?;

    let app = App::open(data_dir.clone(), actor).await?;
    let record = Tenant {
        id: tenant.id.clone(),
        region: tenant.region.clone(),
        consent_policy: tenant.policy,
        purpose: tenant.purpose.clone(),
        legal_basis: tenant.legal_basis.clone(),
        retention_days: tenant.retention_days,
        public_key: public.to_text(),
        created_at: app.clock.wall(),
    };
    app.catalog
        .register_tenant(
            &record,
            &AuditNote::new(
                app.actor.clone(),
                "tenant.created",
                json!({
                    "region": tenant.region.as_str(),
                    "policy": tenant.policy.as_str(),
                    "retention_days": tenant.retention_days,
                }),
            ),
        )
        .await?;
    crate::governance::retention::reconcile(&app).await?;
    Ok(record)
}
