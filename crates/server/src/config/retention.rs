//! Retention settings of `config.toml`: per tenant `[tenants.ID.retention]` (a default, a
//! minimum, and rules per tag) and the server-wide `[retention]` (the sweeper's schedule).
//!
//! ```toml
//! [tenants.acme.retention]
//! default_days = 365          # the older `tenants.acme.retention_days` still works
//! minimum_days = 30           # a floor nobody can shorten once stored
//! [tenants.acme.retention.tags]
//! mifid = { days = 2555, minimum_days = 2555 }
//! qa = { days = 90 }
//!
//! [retention]
//! sweep_interval = "1h"       # or "off"
//! sweep_delay = "1m"          # the first sweep after start
//! ```
//!
//! What the values mean (one rule each, in `catalog::retention`): a recording is kept for the
//! longest `days` among its tags that have a rule (`default_days` when none has), and never
//! less than the longest minimum covering it (the tenant's, or one of its tags').

use std::collections::BTreeMap;
use std::time::Duration;

use catalog::retention::{FloorScope, MAX_RETENTION_DAYS, RetentionPolicy};
use serde::Deserialize;

use super::line_of;

/// Days a tenant keeps recordings when the configuration says nothing.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// How often `serve` sweeps by default, and how long after start it first does.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
pub const DEFAULT_SWEEP_DELAY: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenantRetention {
    default_days: Option<u32>,
    minimum_days: Option<u32>,
    #[serde(default)]
    tags: BTreeMap<String, toml::Spanned<RawTagRetention>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTagRetention {
    days: Option<u32>,
    minimum_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetentionSettings {
    sweep_interval: Option<toml::Spanned<String>>,
    sweep_delay: Option<toml::Spanned<String>>,
}

/// A tenant's retention, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRetention {
    pub policy: RetentionPolicy,
    /// The minimums this file asks for. The catalog stores them on start (raising only);
    /// what the catalog stores is what erasure enforces.
    pub minimums: BTreeMap<FloorScope, u32>,
}

impl TenantRetention {
    /// The config key that sets a scope's minimum, for messages.
    pub fn minimum_key(tenant: &model::TenantId, scope: &FloorScope) -> String {
        match scope {
            FloorScope::Tenant => format!("tenants.{tenant}.retention.minimum_days"),
            FloorScope::Tag(tag) => format!("tenants.{tenant}.retention.tags.{tag}.minimum_days"),
        }
    }
}

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSettings {
    /// `None`: `serve` runs no sweeper (`sweep_interval = "off"`).
    pub sweep_interval: Option<Duration>,
    pub sweep_delay: Duration,
}

impl Default for RetentionSettings {
    fn default() -> RetentionSettings {
        RetentionSettings {
            sweep_interval: Some(DEFAULT_SWEEP_INTERVAL),
            sweep_delay: DEFAULT_SWEEP_DELAY,
        }
    }
}

fn check_days(key: &str, days: u32) -> Result<u32, String> {
    if days == 0 || days > MAX_RETENTION_DAYS {
        return Err(format!(
            "{key}: {days} is not 1 to {MAX_RETENTION_DAYS} days"
        ));
    }
    Ok(days)
}

/// Validates a tenant's retention. `legacy_days` is `tenants.ID.retention_days`.
pub(super) fn tenant_retention(
    text: &str,
    key: &str,
    legacy_days: Option<u32>,
    raw: Option<toml::Spanned<RawTenantRetention>>,
) -> Result<TenantRetention, String> {
    let Some(raw) = raw else {
        let days = legacy_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        return Ok(TenantRetention {
            policy: RetentionPolicy {
                default_days: check_days(&format!("{key}.retention_days"), days)?,
                tags: BTreeMap::new(),
            },
            minimums: BTreeMap::new(),
        });
    };
    let line = line_of(text, raw.span().start);
    let at = |message: String| format!("line {line}: {message}");
    let raw = raw.into_inner();
    let default_days = match (legacy_days, raw.default_days) {
        (Some(legacy), Some(days)) if legacy != days => {
            return Err(at(format!(
                "{key}.retention_days = {legacy} and {key}.retention.default_days = {days} disagree; keep one"
            )));
        }
        (_, Some(days)) | (Some(days), None) => days,
        (None, None) => DEFAULT_RETENTION_DAYS,
    };
    let mut policy = RetentionPolicy {
        default_days: check_days(&format!("{key}.retention.default_days"), default_days)
            .map_err(at)?,
        tags: BTreeMap::new(),
    };
    let mut minimums = BTreeMap::new();
    if let Some(days) = raw.minimum_days {
        minimums.insert(
            FloorScope::Tenant,
            check_days(&format!("{key}.retention.minimum_days"), days).map_err(at)?,
        );
    }
    for (tag, rule) in raw.tags {
        let tag_key = format!("{key}.retention.tags.{tag}");
        let at = |message: String| format!("line {}: {message}", line_of(text, rule.span().start));
        if tag.is_empty() || tag.len() > catalog::MAX_TAG_BYTES {
            return Err(at(format!(
                "{tag_key}: a tag is 1 to {} bytes",
                catalog::MAX_TAG_BYTES
            )));
        }
        let rule = rule.get_ref();
        if rule.days.is_none() && rule.minimum_days.is_none() {
            return Err(at(format!("{tag_key}: give days, minimum_days or both")));
        }
        if let Some(days) = rule.days {
            let days = check_days(&format!("{tag_key}.days"), days).map_err(at)?;
            policy.tags.insert(tag.clone(), days);
        }
        if let Some(days) = rule.minimum_days {
            let days = check_days(&format!("{tag_key}.minimum_days"), days).map_err(at)?;
            minimums.insert(FloorScope::Tag(tag.clone()), days);
        }
    }
    Ok(TenantRetention { policy, minimums })
}

/// `90s`, `15m`, `1h`, `2d`; `off` is `None`.
pub fn parse_interval(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text == "off" {
        return Ok(None);
    }
    let invalid = || format!("{text:?} is not a duration like 90s, 15m, 1h, 1d (or off)");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        "d" => number.saturating_mul(86_400),
        _ => return Err(invalid()),
    };
    if seconds == 0 {
        return Err(format!("{text:?}: must be more than zero (or off)"));
    }
    Ok(Some(Duration::from_secs(seconds)))
}

pub(super) fn settings(
    text: &str,
    raw: Option<RawRetentionSettings>,
) -> Result<RetentionSettings, String> {
    let mut settings = RetentionSettings::default();
    let Some(raw) = raw else {
        return Ok(settings);
    };
    let at = |value: &toml::Spanned<String>, key: &str, message: String| {
        format!(
            "line {}: {key}: {message}",
            line_of(text, value.span().start)
        )
    };
    if let Some(value) = &raw.sweep_interval {
        settings.sweep_interval = parse_interval(value.get_ref())
            .map_err(|message| at(value, "retention.sweep_interval", message))?;
    }
    if let Some(value) = &raw.sweep_delay {
        settings.sweep_delay = parse_interval(value.get_ref())
            .map_err(|message| at(value, "retention.sweep_delay", message))?
            .ok_or_else(|| {
                at(
                    value,
                    "retention.sweep_delay",
                    "off is for sweep_interval".into(),
                )
            })?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const BASE: &str = "[regions.local]\nstore = \"memory:\"\n\n[tenants.acme]\nregion = \"local\"\npolicy = \"all-party\"\npurpose = \"qa\"\nlegal_basis = \"contract\"\n";

    fn acme(text: &str) -> Result<TenantRetention, String> {
        let config = Config::parse(text)?;
        let tenant = model::TenantId::new("acme").map_err(|e| e.to_string())?;
        Ok(config.tenant(&tenant).ok_or("no acme")?.retention.clone())
    }

    #[test]
    fn the_legacy_retention_days_key_is_the_default() -> Result<(), String> {
        let retention = acme(&format!("{BASE}retention_days = 90\n"))?;
        assert_eq!(retention.policy.default_days, 90);
        assert!(retention.minimums.is_empty());
        assert_eq!(acme(BASE)?.policy.default_days, DEFAULT_RETENTION_DAYS);
        Ok(())
    }

    #[test]
    fn tag_rules_and_minimums_parse() -> Result<(), String> {
        let text = format!(
            "{BASE}\n[tenants.acme.retention]\ndefault_days = 365\nminimum_days = 30\n\n[tenants.acme.retention.tags]\nmifid = {{ days = 2555, minimum_days = 2555 }}\nqa = {{ days = 90 }}\n"
        );
        let retention = acme(&text)?;
        assert_eq!(retention.policy.default_days, 365);
        assert_eq!(retention.policy.tags.get("qa"), Some(&90));
        assert_eq!(retention.policy.tags.get("mifid"), Some(&2555));
        assert_eq!(retention.minimums.get(&FloorScope::Tenant), Some(&30));
        assert_eq!(
            retention.minimums.get(&FloorScope::Tag("mifid".into())),
            Some(&2555)
        );
        Ok(())
    }

    #[test]
    fn bad_retention_values_name_the_key() {
        let both =
            format!("{BASE}retention_days = 90\n[tenants.acme.retention]\ndefault_days = 30\n");
        let error = acme(&both).err().unwrap_or_default();
        assert!(error.contains("disagree"), "{error}");
        let zero = format!("{BASE}[tenants.acme.retention.tags]\nqa = {{ days = 0 }}\n");
        let error = acme(&zero).err().unwrap_or_default();
        assert!(
            error.contains("tenants.acme.retention.tags.qa.days"),
            "{error}"
        );
        let empty = format!("{BASE}[tenants.acme.retention.tags]\nqa = {{}}\n");
        assert!(acme(&empty).is_err());
        let typo = format!("{BASE}[tenants.acme.retention]\nminimum = 30\n");
        assert!(acme(&typo).is_err());
    }

    #[test]
    fn sweep_intervals_parse() -> Result<(), String> {
        assert_eq!(parse_interval("90s")?, Some(Duration::from_secs(90)));
        assert_eq!(parse_interval("1h")?, Some(Duration::from_secs(3600)));
        assert_eq!(parse_interval("off")?, None);
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("1w").is_err());
        let config = Config::parse(&format!(
            "{BASE}\n[retention]\nsweep_interval = \"off\"\nsweep_delay = \"5s\"\n"
        ))?;
        assert_eq!(config.retention.sweep_interval, None);
        assert_eq!(config.retention.sweep_delay, Duration::from_secs(5));
        Ok(())
    }
}
