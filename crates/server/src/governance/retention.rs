//! Retention: the configured minimums reconciled with the catalog's floors (which can only
//! be raised), the minimum-retention rule of erasure, and the sweeper that erases recordings
//! whose retention has run out (`onrecord retention run`, and periodically inside `serve`).
//!
//! The catalog owns the rules (`catalog::retention`): it stores the floors, refuses and
//! audits any attempt to lower one, refuses to erase inside a floor, and finds expired
//! recordings. This module feeds it the configuration and erases what it finds through the
//! same path as `onrecord erase` (crypto-shred, objects deleted, signed receipts).

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use catalog::RecordingDetail;
use catalog::retention::{
    ExpiryQuery, FloorChange, FloorOutcome, FloorScope, RetentionFloor, days_after, floor_of,
};
use chrono::{DateTime, SecondsFormat, Utc};
use model::{RecordingId, TenantId};
use serde::Serialize;
use serde_json::{Value, json};

use super::erase::{self, Blocked};
use crate::app::App;
use crate::config::TenantRetention;
use crate::nodekey::NodeKey;

/// The reason erasure receipts of the sweeper give.
pub const SWEEP_REASON: &str = "retention expired";
/// Expired recordings erased per round (one catalog transaction per erase batch inside).
const PAGE: u32 = 1_000;

fn millis(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Stores the minimums `config.toml` asks for: new and higher ones are stored (audited
/// `retention.minimum-set` / `retention.minimum-raised`); a lower one is refused, the refusal
/// audited (`retention.shorten-refused`), and then this fails naming every such key, so
/// nothing starts on a configuration that tries to shorten minimum retention. Tenants not yet
/// registered in the catalog are skipped (`tenant create` reconciles after registering).
pub async fn reconcile(app: &App) -> Result<()> {
    let registered: HashSet<TenantId> = app
        .catalog
        .tenants()
        .await?
        .into_iter()
        .map(|tenant| tenant.id)
        .collect();
    let mut refusals = Vec::new();
    for (tenant, config) in &app.config.tenants {
        if !registered.contains(tenant) {
            continue;
        }
        for (scope, days) in &config.retention.minimums {
            let outcome = app
                .catalog
                .set_retention_floor(&FloorChange {
                    tenant: tenant.clone(),
                    scope: scope.clone(),
                    minimum_days: *days,
                    at: app.clock.wall(),
                    actor: app.actor.clone(),
                    via: "config.toml".into(),
                })
                .await
                .with_context(|| format!("storing the minimum retention of tenant {tenant}"))?;
            if let FloorOutcome::Refused { stored, .. } = outcome {
                refusals.push(format!(
                    "{} = {days} would shorten the stored minimum retention of {} days (set {} by {}); \
                     minimum retention can only be raised: set it to {} or more, or remove the key \
                     (the stored minimum stays in force)",
                    TenantRetention::minimum_key(tenant, scope),
                    stored.minimum_days,
                    millis(&stored.set_at),
                    stored.set_by,
                    stored.minimum_days,
                ));
            }
        }
    }
    if !refusals.is_empty() {
        bail!(
            "{}: refused (audited as retention.shorten-refused): {}",
            app.data_dir.config_path().display(),
            refusals.join("; ")
        );
    }
    Ok(())
}

/// What `retention set` and the API did.
#[derive(Debug, Clone, Serialize)]
pub struct MinimumChange {
    pub tenant: TenantId,
    pub scope: String,
    pub minimum_days: u32,
    /// `set`, `raised` or `unchanged`.
    pub outcome: &'static str,
    pub previous_minimum_days: Option<u32>,
    pub audit_seq: Option<u64>,
}

/// A refused attempt to shorten a floor (already audited by the catalog).
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "refused: minimum retention of tenant {tenant} ({scope}) is {stored} days and cannot be shortened to {requested} days (the refusal is audited as retention.shorten-refused, seq {audit_seq})"
)]
pub struct ShortenRefused {
    pub tenant: TenantId,
    pub scope: String,
    pub stored: u32,
    pub requested: u32,
    pub audit_seq: u64,
}

/// Sets or raises a floor for `retention set` and the API. A lower value is refused (and
/// audited). When `config.toml` states a lower minimum for the scope, the file is raised to
/// match, so it never asks for less than the catalog holds (which would stop the next start).
pub async fn set_minimum(
    app: &App,
    tenant: &TenantId,
    scope: FloorScope,
    minimum_days: u32,
    actor: &str,
    via: &str,
) -> Result<MinimumChange> {
    app.tenant_config(tenant)?;
    let outcome = app
        .catalog
        .set_retention_floor(&FloorChange {
            tenant: tenant.clone(),
            scope: scope.clone(),
            minimum_days,
            at: app.clock.wall(),
            actor: actor.into(),
            via: via.into(),
        })
        .await
        .context("cannot set the minimum retention")?;
    let change = |outcome, previous, seq| MinimumChange {
        tenant: tenant.clone(),
        scope: scope.label(),
        minimum_days,
        outcome,
        previous_minimum_days: previous,
        audit_seq: seq,
    };
    let change = match outcome {
        FloorOutcome::Refused { stored, entry } => {
            return Err(ShortenRefused {
                tenant: tenant.clone(),
                scope: scope.label(),
                stored: stored.minimum_days,
                requested: minimum_days,
                audit_seq: entry.seq,
            }
            .into());
        }
        FloorOutcome::Unchanged => change("unchanged", Some(minimum_days), None),
        FloorOutcome::Set { entry } => change("set", None, Some(entry.seq)),
        FloorOutcome::Raised { previous, entry } => {
            change("raised", Some(previous), Some(entry.seq))
        }
    };
    raise_in_config_file(app, tenant, &scope, minimum_days)?;
    Ok(change)
}

/// Raises the minimum `config.toml` states for the scope to `days`, if it states a lower one.
fn raise_in_config_file(app: &App, tenant: &TenantId, scope: &FloorScope, days: u32) -> Result<()> {
    let path = app.data_dir.config_path();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not TOML", path.display()))?;
    let retention = &mut document["tenants"][tenant.as_str()]["retention"];
    let slot = match scope {
        FloorScope::Tenant => &mut retention["minimum_days"],
        FloorScope::Tag(tag) => &mut retention["tags"][tag.as_str()]["minimum_days"],
    };
    let stated = slot.as_integer();
    if stated.is_none_or(|stated| stated >= i64::from(days)) {
        return Ok(());
    }
    *slot = toml_edit::value(i64::from(days));
    let temporary = path.with_extension("toml.new");
    std::fs::write(&temporary, document.to_string())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The minimum-retention rule of erasure, over a tenant's stored floors: a recording inside
/// the longest floor covering it is blocked, naming the floor and the day it ends. The
/// catalog enforces the same floors inside the erasing transaction; this names them first.
pub fn minimum_retention_reasons(
    floors: &[RetentionFloor],
    detail: &RecordingDetail,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let Some(floor) = floor_of(floors, &detail.recording) else {
        return Vec::new();
    };
    let until = days_after(detail.recording.started_at, floor.minimum_days);
    if now >= until {
        return Vec::new();
    }
    vec![json!({
        "kind": "minimum-retention",
        "minimum_retention_days": floor.minimum_days,
        "scope": floor.scope.label(),
        "until": millis(&until),
    })]
}

/// One recording the sweeper erased or would erase.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    pub recording: RecordingId,
    pub started_at: String,
    pub retain_until: String,
    /// `tenant` (the default) or `tag:NAME`: the rule that gave the retention.
    pub rule: String,
    pub retention_days: u32,
    pub minimum_days: Option<u32>,
}

/// What one sweep did for one tenant.
#[derive(Debug, Default, Serialize)]
pub struct TenantSweep {
    pub tenant: String,
    /// Expired recordings found.
    pub expired: usize,
    /// Erased now (or, with `--dry-run`, those that would be).
    pub erased: Vec<Due>,
    /// Expired but under legal hold: kept, and named with the hold.
    pub held: Vec<Blocked>,
    /// Expired but refused for another reason (a floor raised meanwhile).
    pub blocked: Vec<Blocked>,
    /// The signed receipts of the erased recordings (none on a dry run).
    pub receipts: Vec<Value>,
}

#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub dry_run: bool,
    pub at: String,
    pub tenants: Vec<TenantSweep>,
}

impl SweepReport {
    pub fn erased(&self) -> usize {
        self.tenants.iter().map(|t| t.erased.len()).sum()
    }

    pub fn held(&self) -> usize {
        self.tenants.iter().map(|t| t.held.len()).sum()
    }

    pub fn blocked(&self) -> usize {
        self.tenants.iter().map(|t| t.blocked.len()).sum()
    }
}

/// Finds the expired recordings of each configured tenant (or one) and erases those not
/// held, with receipts giving the reason [`SWEEP_REASON`]. A dry run changes nothing.
pub async fn sweep(
    app: &App,
    node: &NodeKey,
    only: Option<&TenantId>,
    dry_run: bool,
) -> Result<SweepReport> {
    if let Some(tenant) = only {
        app.tenant_config(tenant)?;
    }
    let now = app.clock.wall();
    let registered: HashSet<TenantId> = app
        .catalog
        .tenants()
        .await?
        .into_iter()
        .map(|tenant| tenant.id)
        .collect();
    let mut report = SweepReport {
        dry_run,
        at: millis(&now),
        tenants: Vec::new(),
    };
    for (tenant, config) in &app.config.tenants {
        if only.is_some_and(|only| only != tenant) || !registered.contains(tenant) {
            continue;
        }
        report
            .tenants
            .push(sweep_tenant(app, node, tenant, &config.retention, now, dry_run).await?);
    }
    Ok(report)
}

async fn sweep_tenant(
    app: &App,
    node: &NodeKey,
    tenant: &TenantId,
    retention: &TenantRetention,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<TenantSweep> {
    let floors = app.catalog.retention_floors(Some(tenant)).await?;
    let rule = |detail: &RecordingDetail, at: DateTime<Utc>| {
        minimum_retention_reasons(&floors, detail, at)
    };
    let mut sweep = TenantSweep {
        tenant: tenant.to_string(),
        ..TenantSweep::default()
    };
    let mut query = ExpiryQuery {
        tenant: tenant.clone(),
        policy: retention.policy.clone(),
        now,
        after: None,
        limit: PAGE,
    };
    loop {
        let page = app.catalog.expired_recordings(&query).await?;
        sweep.expired += page.items.len();
        let due: Vec<Due> = page
            .items
            .iter()
            .map(|item| Due {
                recording: item.recording.id,
                started_at: millis(&item.recording.started_at),
                retain_until: millis(&item.retain_until.until),
                rule: item.retain_until.rule.label(),
                retention_days: item.retain_until.retention_days,
                minimum_days: item.retain_until.minimum_days,
            })
            .collect();
        if dry_run {
            for due in due {
                let holds = app.catalog.holds_covering(&due.recording).await?;
                if holds.is_empty() {
                    sweep.erased.push(due);
                } else {
                    sweep.held.push(Blocked {
                        recording: due.recording,
                        reasons: holds.iter().map(erase::hold_reason).collect(),
                    });
                }
            }
        } else {
            let ids: Vec<RecordingId> = due.iter().map(|due| due.recording).collect();
            let erased = erase::erase(app, node, &ids, SWEEP_REASON, &rule).await?;
            let done: HashSet<&str> = erased
                .receipts
                .iter()
                .filter_map(|receipt| receipt["body"]["recording"].as_str())
                .collect();
            sweep.erased.extend(
                due.into_iter()
                    .filter(|due| done.contains(due.recording.to_string().as_str())),
            );
            for blocked in erased.blocked {
                let held = blocked
                    .reasons
                    .iter()
                    .any(|reason| reason["kind"] == "legal-hold");
                if held {
                    sweep.held.push(blocked);
                } else {
                    sweep.blocked.push(blocked);
                }
            }
            sweep.receipts.extend(erased.receipts);
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    Ok(sweep)
}

/// The sweeper of `onrecord serve`: first after `delay`, then every `interval`, logging
/// counts only (never participants). A failed sweep is logged and tried again next time.
/// `stop` ends it while it waits; a sweep in progress is finished first, so no recording is
/// left with its key destroyed and no receipt.
pub async fn sweeper(
    app: App,
    interval: Duration,
    delay: Duration,
    stop: impl Future<Output = ()> + Send,
) {
    tokio::pin!(stop);
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = &mut stop => return,
    }
    let node = match NodeKey::load_or_create(&app.data_dir.root().join("keyring")) {
        Ok(node) => node,
        Err(error) => {
            tracing::error!(%error, "retention sweeper off: no node key");
            return;
        }
    };
    loop {
        match sweep(&app, &node, None, false).await {
            Ok(report) => tracing::info!(
                erased = report.erased(),
                held = report.held(),
                blocked = report.blocked(),
                tenants = report.tenants.len(),
                "retention sweep done"
            ),
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "retention sweep failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stop => return,
        }
    }
}
