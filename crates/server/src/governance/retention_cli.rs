//! `onrecord retention run|show|set`: arguments in, text or JSON out, exit codes.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use catalog::retention::{FloorScope, RetentionFloor};
use chrono::SecondsFormat;
use clap::Subcommand;
use model::TenantId;
use serde_json::{Value, json};

use super::cli::describe_reason;
use super::retention::{self, SweepReport};
use crate::app::{App, cli_actor};
use crate::cli::print_json;
use crate::datadir::DataDir;
use crate::nodekey::NodeKey;

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Erase every expired recording not under legal hold (signed receipts, reason
    /// "retention expired"); held ones are listed and kept.
    Run {
        /// Only this tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// List what would be erased; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Retention per tenant: the configured default and tag rules, and the stored minimums.
    Show {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set or raise a minimum retention (never lower it: that is refused and audited).
    Set {
        #[arg(long)]
        tenant: String,
        /// The minimum of the tenant's recordings with this tag (default: of all of them).
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        minimum_days: u32,
        #[arg(long)]
        json: bool,
    },
}

fn tenant_arg(text: Option<&str>) -> Result<Option<TenantId>> {
    text.map(TenantId::new)
        .transpose()
        .map_err(|e| anyhow!("--tenant: {e}"))
}

pub async fn run(data_dir: DataDir, command: RetentionCommand) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    match command {
        RetentionCommand::Run {
            tenant,
            dry_run,
            json,
        } => {
            let tenant = tenant_arg(tenant.as_deref())?;
            let node = NodeKey::load_or_create(&app.data_dir.root().join("keyring"))?;
            let report = retention::sweep(&app, &node, tenant.as_ref(), dry_run).await?;
            if json {
                print_json(&report)?;
            } else {
                print_sweep(&report)?;
            }
        }
        RetentionCommand::Show { tenant, json } => {
            let tenant = tenant_arg(tenant.as_deref())?;
            if let Some(tenant) = &tenant {
                app.tenant_config(tenant)?;
            }
            let floors = app.catalog.retention_floors(tenant.as_ref()).await?;
            let views: Vec<Value> = app
                .config
                .tenants
                .values()
                .filter(|config| tenant.as_ref().is_none_or(|tenant| *tenant == config.id))
                .map(|config| {
                    let stored: Vec<&RetentionFloor> = floors
                        .iter()
                        .filter(|floor| floor.tenant == config.id)
                        .collect();
                    json!({
                        "tenant": config.id,
                        "default_days": config.retention.policy.default_days,
                        "tags": config.retention.policy.tags,
                        "minimums": stored.iter().map(|floor| json!({
                            "scope": floor.scope.label(),
                            "minimum_days": floor.minimum_days,
                            "set_at": floor.set_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                            "set_by": floor.set_by,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            if json {
                print_json(&views)?;
            } else {
                let mut out = std::io::stdout().lock();
                for view in &views {
                    writeln!(
                        out,
                        "{}\tdefault {} days\ttags {}\tminimums {}",
                        view["tenant"].as_str().unwrap_or("?"),
                        view["default_days"],
                        view["tags"],
                        view["minimums"]
                    )?;
                }
            }
        }
        RetentionCommand::Set {
            tenant,
            tag,
            minimum_days,
            json,
        } => {
            let tenant = TenantId::new(&tenant).map_err(|e| anyhow!("--tenant: {e}"))?;
            let scope = match tag {
                Some(tag) => FloorScope::Tag(tag),
                None => FloorScope::Tenant,
            };
            let change =
                retention::set_minimum(&app, &tenant, scope, minimum_days, &app.actor, "cli")
                    .await?;
            if json {
                print_json(&change)?;
            } else {
                writeln!(
                    std::io::stdout().lock(),
                    "minimum retention of tenant {} ({}) {}: {} days",
                    change.tenant,
                    change.scope,
                    change.outcome,
                    change.minimum_days
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_sweep(report: &SweepReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let verb = if report.dry_run {
        "would erase"
    } else {
        "erased"
    };
    for tenant in &report.tenants {
        for due in &tenant.erased {
            writeln!(
                out,
                "{verb} {} (started {}, kept until {}, {})",
                due.recording, due.started_at, due.retain_until, due.rule
            )?;
        }
        for blocked in tenant.held.iter().chain(&tenant.blocked) {
            let reasons: Vec<String> = blocked.reasons.iter().map(describe_reason).collect();
            writeln!(out, "kept {}: {}", blocked.recording, reasons.join("; "))?;
        }
        writeln!(
            out,
            "tenant {}: {} expired, {verb} {}, held {}, blocked {}",
            tenant.tenant,
            tenant.expired,
            tenant.erased.len(),
            tenant.held.len(),
            tenant.blocked.len()
        )?;
    }
    Ok(())
}
