//! `config.toml`: regions, tenants and (later) the server's listeners and recording clients.
//!
//! Parsed raw with serde, then validated into typed values (ripgrep style): a typo or a bad
//! value is one error that names the key and the line.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use archive::StoreLocation;
use consent::StaffPatterns;
use model::{ConsentPolicy, RegionId, TenantId};
use serde::Deserialize;

pub mod retention;

pub use retention::{RetentionSettings, TenantRetention};

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub regions: BTreeMap<RegionId, RegionConfig>,
    pub tenants: BTreeMap<TenantId, TenantConfig>,
    pub server: ServerSettings,
    pub srcs: Vec<SrcConfig>,
    /// `[transcription]`: the speech-to-text worker of `onrecord serve`.
    pub transcription: TranscriptionSettings,
    /// `[retention]`: the retention sweeper of `onrecord serve`.
    pub retention: RetentionSettings,
}

/// `[transcription]`. `model` is a Whisper model directory (see `scripts/fetch-models.sh`);
/// without it `serve` runs no transcription worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscriptionSettings {
    pub model: Option<std::path::PathBuf>,
}

/// `[server]`: where `onrecord serve` listens. Command-line flags override these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSettings {
    /// SIP over UDP and TCP, e.g. `0.0.0.0:5060`.
    pub sip: Option<SocketAddr>,
    /// Even RTP ports are taken from this range, RTCP on the odd port above.
    pub rtp_ports: Option<(u16, u16)>,
    /// The address put in SDP answers (default: the SIP address when it is not a wildcard).
    pub media_address: Option<IpAddr>,
    /// HTTP API and web UI.
    pub http: Option<SocketAddr>,
}

/// `[[srcs]]`: one recording client (SBC/PBX) allowed to send calls, and for which tenant.
#[derive(Debug, Clone)]
pub struct SrcConfig {
    pub name: String,
    /// Matched against the source address of SIP requests.
    pub network: Network,
    pub tenant: TenantId,
    /// What the client attests for every call (e.g. it plays a recording notice to all).
    pub attests: Option<consent::Attestation>,
    /// Accept sessions without `+sip.src`/`Require: siprec` (legacy dialects, plain SDP).
    pub accept_legacy: bool,
}

/// An IP address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Network, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: prefix must be 0 to {max}"))?,
        };
        Ok(Network { address, prefix })
    }

    pub fn contains(&self, candidate: IpAddr) -> bool {
        match (self.address, candidate.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(candidate)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(candidate) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(candidate)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(candidate) & mask
            }
            _ => false,
        }
    }
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
    /// The default retention (`retention.default_days`, or the older `retention_days`).
    pub retention_days: u32,
    /// Default, per-tag retention and minimums (`[tenants.ID.retention]`).
    pub retention: TenantRetention,
    pub staff: StaffPatterns,
    pub staff_patterns: Vec<String>,
    /// Whether committed recordings are queued for transcription (`transcription`, default
    /// true).
    pub transcription: bool,
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
    #[serde(default)]
    server: Option<RawServer>,
    #[serde(default)]
    srcs: Vec<toml::Spanned<RawSrc>>,
    #[serde(default)]
    transcription: Option<RawTranscription>,
    #[serde(default)]
    retention: Option<retention::RawRetentionSettings>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTranscription {
    model: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    sip: Option<toml::Spanned<String>>,
    rtp_ports: Option<toml::Spanned<String>>,
    media_address: Option<toml::Spanned<String>>,
    http: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSrc {
    name: toml::Spanned<String>,
    address: toml::Spanned<String>,
    tenant: toml::Spanned<String>,
    attests: Option<toml::Spanned<RawAttestation>>,
    #[serde(default)]
    accept_legacy: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttestation {
    kind: String,
    reference: String,
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
    retention_days: Option<u32>,
    retention: Option<toml::Spanned<retention::RawTenantRetention>>,
    #[serde(default)]
    staff: Option<toml::Spanned<Vec<String>>>,
    #[serde(default = "default_transcription")]
    transcription: bool,
}

fn default_transcription() -> bool {
    true
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
            let retention =
                retention::tenant_retention(text, &key, tenant.retention_days, tenant.retention)?;
            tenants.insert(
                id.clone(),
                TenantConfig {
                    id,
                    region,
                    policy,
                    purpose: tenant.purpose.into_inner(),
                    legal_basis: tenant.legal_basis.into_inner(),
                    retention_days: retention.policy.default_days,
                    retention,
                    staff,
                    staff_patterns,
                    transcription: tenant.transcription,
                },
            );
        }
        if regions.is_empty() {
            return Err(
                "no region is declared: add a [regions.NAME] table with a store URL".into(),
            );
        }

        let mut server = ServerSettings::default();
        if let Some(raw) = raw.server {
            let socket = |value: &toml::Spanned<String>, key: &str| {
                value.get_ref().parse::<SocketAddr>().map_err(|_| {
                    at(
                        value.span(),
                        key,
                        format!("{:?} is not an address:port", value.get_ref()),
                    )
                })
            };
            if let Some(sip) = &raw.sip {
                server.sip = Some(socket(sip, "server.sip")?);
            }
            if let Some(http) = &raw.http {
                server.http = Some(socket(http, "server.http")?);
            }
            if let Some(range) = &raw.rtp_ports {
                server.rtp_ports = Some(
                    parse_port_range(range.get_ref())
                        .map_err(|message| at(range.span(), "server.rtp_ports", message))?,
                );
            }
            if let Some(media) = &raw.media_address {
                server.media_address = Some(media.get_ref().parse().map_err(|_| {
                    at(
                        media.span(),
                        "server.media_address",
                        format!("{:?} is not an IP address", media.get_ref()),
                    )
                })?);
            }
        }

        let mut srcs = Vec::new();
        for (index, src) in raw.srcs.into_iter().enumerate() {
            let key = format!("srcs[{index}]");
            let span = src.span();
            let src = src.into_inner();
            let network = Network::parse(src.address.get_ref())
                .map_err(|message| at(src.address.span(), &format!("{key}.address"), message))?;
            let tenant = TenantId::new(src.tenant.get_ref())
                .ok()
                .filter(|tenant| tenants.contains_key(tenant))
                .ok_or_else(|| {
                    at(
                        src.tenant.span(),
                        &format!("{key}.tenant"),
                        format!("no tenant {:?} is declared", src.tenant.get_ref()),
                    )
                })?;
            let attests = match src.attests {
                None => None,
                Some(attestation) => {
                    let span = attestation.span();
                    let attestation = attestation.into_inner();
                    let kind =
                        attestation
                            .kind
                            .parse::<model::ConsentKind>()
                            .map_err(|message| {
                                at(span.clone(), &format!("{key}.attests.kind"), message)
                            })?;
                    Some(
                        consent::Attestation::new(kind, attestation.reference).map_err(
                            |error| at(span, &format!("{key}.attests"), error.to_string()),
                        )?,
                    )
                }
            };
            if src.name.get_ref().trim().is_empty() {
                return Err(at(
                    src.name.span(),
                    &format!("{key}.name"),
                    "must not be empty".into(),
                ));
            }
            if srcs
                .iter()
                .any(|s: &SrcConfig| s.name == *src.name.get_ref())
            {
                return Err(at(
                    span,
                    &format!("{key}.name"),
                    format!("{:?} is used twice", src.name.get_ref()),
                ));
            }
            srcs.push(SrcConfig {
                name: src.name.into_inner(),
                network,
                tenant,
                attests,
                accept_legacy: src.accept_legacy,
            });
        }
        let transcription = TranscriptionSettings {
            model: raw
                .transcription
                .and_then(|raw| raw.model)
                .map(std::path::PathBuf::from),
        };
        let retention = retention::settings(text, raw.retention)?;
        Ok(Config {
            regions,
            tenants,
            server,
            srcs,
            transcription,
            retention,
        })
    }

    pub fn tenant(&self, id: &TenantId) -> Option<&TenantConfig> {
        self.tenants.get(id)
    }

    /// The recording client a source address belongs to: the most specific match.
    pub fn src_for(&self, source: IpAddr) -> Option<&SrcConfig> {
        self.srcs
            .iter()
            .filter(|src| src.network.contains(source))
            .max_by_key(|src| src.network.prefix)
    }
}

/// `LOW-HIGH`, inclusive, at least one even/odd pair above 1023.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let invalid = || format!("{text:?} is not a port range like 40000-49999");
    let (low, high) = text.split_once('-').ok_or_else(invalid)?;
    let low: u16 = low.trim().parse().map_err(|_| invalid())?;
    let high: u16 = high.trim().parse().map_err(|_| invalid())?;
    if low < 1024 || high <= low {
        return Err(format!(
            "{text:?}: the range must lie above 1023 and hold at least two ports"
        ));
    }
    Ok((low, high))
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
    fn recording_clients_match_by_most_specific_network() -> Result<(), String> {
        let text = format!(
            "{GOOD}\n[[srcs]]\nname = \"lan\"\naddress = \"10.0.0.0/8\"\ntenant = \"acme\"\n\n[[srcs]]\nname = \"cube\"\naddress = \"10.1.2.3\"\ntenant = \"acme\"\nattests = {{ kind = \"announcement\", reference = \"prompt-recording-notice-v2\" }}\naccept_legacy = true\n"
        );
        let config = Config::parse(&text)?;
        let ip = |text: &str| text.parse::<IpAddr>().map_err(|e| e.to_string());
        assert_eq!(
            config.src_for(ip("10.1.2.3")?).map(|s| s.name.as_str()),
            Some("cube")
        );
        assert_eq!(
            config.src_for(ip("10.9.9.9")?).map(|s| s.name.as_str()),
            Some("lan")
        );
        assert!(config.src_for(ip("192.0.2.1")?).is_none());
        assert!(config.srcs[1].attests.is_some() && config.srcs[1].accept_legacy);
        Ok(())
    }

    #[test]
    fn a_recording_client_of_an_unknown_tenant_names_the_key() {
        let text = format!(
            "{GOOD}\n[[srcs]]\nname = \"x\"\naddress = \"10.0.0.1\"\ntenant = \"nobody\"\n"
        );
        let error = Config::parse(&text).err().unwrap_or_default();
        assert!(error.contains("srcs[0].tenant"), "{error}");
        let text = format!("{GOOD}\n[server]\nrtp_ports = \"5-3\"\n");
        let error = Config::parse(&text).err().unwrap_or_default();
        assert!(error.contains("server.rtp_ports"), "{error}");
    }

    #[test]
    fn networks_match_ipv4_and_ipv6_blocks() -> Result<(), String> {
        let v4 = Network::parse("192.0.2.0/24")?;
        assert!(v4.contains("192.0.2.77".parse().map_err(|_| "ip")?));
        assert!(!v4.contains("192.0.3.1".parse().map_err(|_| "ip")?));
        assert!(v4.contains("::ffff:192.0.2.5".parse().map_err(|_| "ip")?));
        let v6 = Network::parse("2001:db8::/32")?;
        assert!(v6.contains("2001:db8::1".parse().map_err(|_| "ip")?));
        assert!(Network::parse("10.0.0.0/33").is_err());
        Ok(())
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
