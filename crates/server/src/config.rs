//! `config.toml`: regions, tenants and (later) the server's listeners and recording clients.
//!
//! Parsed raw with serde, then validated into typed values (ripgrep style): a typo or a bad
//! value is one error that names the key and the line.

use std::collections::BTreeMap;
use std::path::Path;

use archive::StoreLocation;
use consent::StaffPatterns;
use model::{ConsentPolicy, RegionId, TenantId};
use serde::Deserialize;

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub regions: BTreeMap<RegionId, RegionConfig>,
    pub tenants: BTreeMap<TenantId, TenantConfig>,
}

#[derive(Debug, Clone)]
pub struct RegionConfig {
    pub id: RegionId,
    pub store: StoreLocation,
}

#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub id: TenantId,
    pub region: RegionId,
    pub policy: ConsentPolicy,
    pub purpose: String,
    pub legal_basis: String,
    pub retention_days: u32,
    pub staff: StaffPatterns,
    pub staff_patterns: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    regions: BTreeMap<String, toml::Spanned<RawRegion>>,
    #[serde(default)]
    tenants: BTreeMap<String, toml::Spanned<RawTenant>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    store: toml::Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    region: toml::Spanned<String>,
    policy: toml::Spanned<String>,
    purpose: toml::Spanned<String>,
    legal_basis: toml::Spanned<String>,
    #[serde(default = "default_retention_days")]
    retention_days: u32,
    #[serde(default)]
    staff: Option<toml::Spanned<Vec<String>>>,
}

fn default_retention_days() -> u32 {
    365
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and validates. The error names the key and the line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| {
            let line = error.span().map(|span| line_of(text, span.start));
            let message = error.message().trim().to_owned();
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })?;
        let at = |span: std::ops::Range<usize>, key: &str, message: String| {
            format!("line {}: {key}: {message}", line_of(text, span.start))
        };

        let mut regions = BTreeMap::new();
        for (name, region) in raw.regions {
            let id = RegionId::new(&name).map_err(|error| {
                at(region.span(), &format!("regions.{name}"), error.to_string())
            })?;
            let region = region.into_inner();
            let store = StoreLocation::parse(region.store.get_ref()).map_err(|error| {
                at(
                    region.store.span(),
                    &format!("regions.{name}.store"),
                    error.to_string(),
                )
            })?;
            regions.insert(id.clone(), RegionConfig { id, store });
        }

        let mut tenants = BTreeMap::new();
        for (name, tenant) in raw.tenants {
            let key = format!("tenants.{name}");
            let id =
                TenantId::new(&name).map_err(|error| at(tenant.span(), &key, error.to_string()))?;
            let tenant = tenant.into_inner();
            let region = RegionId::new(tenant.region.get_ref())
                .ok()
                .filter(|region| regions.contains_key(region))
                .ok_or_else(|| {
                    at(
                        tenant.region.span(),
                        &format!("{key}.region"),
                        format!(
                            "no region {:?} is declared (declared: {})",
                            tenant.region.get_ref(),
                            regions
                                .keys()
                                .map(|r| r.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            let policy = tenant
                .policy
                .get_ref()
                .parse::<ConsentPolicy>()
                .map_err(|message| at(tenant.policy.span(), &format!("{key}.policy"), message))?;
            for (field, value) in [
                ("purpose", &tenant.purpose),
                ("legal_basis", &tenant.legal_basis),
            ] {
                if value.get_ref().trim().is_empty() {
                    return Err(at(
                        value.span(),
                        &format!("{key}.{field}"),
                        "must not be empty".into(),
                    ));
                }
            }
            let (staff_patterns, staff) = match tenant.staff {
                None => (Vec::new(), StaffPatterns::none()),
                Some(patterns) => {
                    let staff = StaffPatterns::compile(patterns.get_ref()).map_err(|error| {
                        at(patterns.span(), &format!("{key}.staff"), error.to_string())
                    })?;
                    (patterns.into_inner(), staff)
                }
            };
            tenants.insert(
                id.clone(),
                TenantConfig {
                    id,
                    region,
                    policy,
                    purpose: tenant.purpose.into_inner(),
                    legal_basis: tenant.legal_basis.into_inner(),
                    retention_days: tenant.retention_days,
                    staff,
                    staff_patterns,
                },
            );
        }
        if regions.is_empty() {
            return Err(
                "no region is declared: add a [regions.NAME] table with a store URL".into(),
            );
        }
        Ok(Config { regions, tenants })
    }

    pub fn tenant(&self, id: &TenantId) -> Option<&TenantConfig> {
        self.tenants.get(id)
    }
}

/// The configuration of a fresh data dir: one region, `local`, stored under the data dir.
pub fn fresh_config_text(local_store: &StoreLocation) -> String {
    format!(
        "# onrecord configuration. See docs/configuration.md.\n\
         # Tenants are added by `onrecord tenant create`, which keeps these comments.\n\n\
         # Regions: where each tenant's sealed recordings are stored. A tenant is pinned to one.\n\
         [regions.local]\n\
         store = \"{}\"\n",
        local_store.to_url()
    )
}

/// A tenant as `onrecord tenant create` declares it.
#[derive(Debug, Clone)]
pub struct TenantDeclaration {
    pub id: TenantId,
    pub region: RegionId,
    pub policy: ConsentPolicy,
    pub purpose: String,
    pub legal_basis: String,
    pub retention_days: u32,
    pub staff: Vec<String>,
}

/// Adds a tenant table to the configuration text, keeping the operator's comments and layout.
pub fn add_tenant_to_text(text: &str, tenant: &TenantDeclaration) -> Result<String, String> {
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|error: toml_edit::TomlError| error.to_string())?;
    let tenants = document
        .entry("tenants")
        .or_insert_with(|| {
            let mut table = toml_edit::Table::new();
            table.set_implicit(true);
            toml_edit::Item::Table(table)
        })
        .as_table_mut()
        .ok_or("`tenants` in config.toml is not a table")?;
    if tenants.contains_key(tenant.id.as_str()) {
        return Err(format!("tenant {} already exists", tenant.id));
    }
    let mut table = toml_edit::Table::new();
    table["region"] = toml_edit::value(tenant.region.as_str());
    table["policy"] = toml_edit::value(tenant.policy.as_str());
    table["purpose"] = toml_edit::value(tenant.purpose.as_str());
    table["legal_basis"] = toml_edit::value(tenant.legal_basis.as_str());
    table["retention_days"] = toml_edit::value(i64::from(tenant.retention_days));
    let mut patterns = toml_edit::Array::new();
    for pattern in &tenant.staff {
        patterns.push(pattern.as_str());
    }
    table["staff"] = toml_edit::value(patterns);
    tenants.insert(tenant.id.as_str(), toml_edit::Item::Table(table));
    Ok(document.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[regions.local]
store = "memory:"

[tenants.acme]
region = "local"
policy = "all-party"
purpose = "quality assurance"
legal_basis = "legitimate interests"
staff = ["sip:*@contact.example.com"]
"#;

    #[test]
    fn a_valid_config_parses_into_typed_values() -> Result<(), String> {
        let config = Config::parse(GOOD)?;
        let acme = TenantId::new("acme").map_err(|e| e.to_string())?;
        let tenant = config.tenant(&acme).ok_or("tenant missing")?;
        assert_eq!(tenant.policy, ConsentPolicy::AllParty);
        assert_eq!(tenant.retention_days, 365);
        Ok(())
    }

    #[test]
    fn a_bad_policy_names_the_key_and_line() {
        let text = GOOD.replace("all-party", "everyone");
        let error = Config::parse(&text).err().unwrap_or_default();
        assert!(error.contains("line 7"), "{error}");
        assert!(error.contains("tenants.acme.policy"), "{error}");
    }

    #[test]
    fn an_unknown_key_names_the_line() {
        let text = GOOD.replace("purpose =", "porpose =");
        let error = Config::parse(&text).err().unwrap_or_default();
        assert!(error.contains("line 8"), "{error}");
        assert!(error.contains("porpose"), "{error}");
    }

    #[test]
    fn a_tenant_in_an_undeclared_region_is_refused() {
        let text = GOOD.replace("region = \"local\"", "region = \"mars\"");
        let error = Config::parse(&text).err().unwrap_or_default();
        assert!(error.contains("tenants.acme.region"), "{error}");
    }

    #[test]
    fn adding_a_tenant_keeps_comments() -> Result<(), String> {
        let fresh = fresh_config_text(&StoreLocation::Memory);
        let tenant = TenantDeclaration {
            id: TenantId::new("acme").map_err(|e| e.to_string())?,
            region: RegionId::new("local").map_err(|e| e.to_string())?,
            policy: ConsentPolicy::OneParty,
            purpose: "qa".into(),
            legal_basis: "contract".into(),
            retention_days: 90,
            staff: vec![],
        };
        let text = add_tenant_to_text(&fresh, &tenant)?;
        assert!(text.contains("# Regions:"));
        let config = Config::parse(&text)?;
        assert_eq!(config.tenants.len(), 1);
        assert!(add_tenant_to_text(&text, &tenant).is_err());
        Ok(())
    }
}
