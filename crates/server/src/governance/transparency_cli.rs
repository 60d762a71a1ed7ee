//! The edge of the accountability commands: `audit verify|checkpoint|export|verify-excerpt`,
//! `report transparency`, `report verify-transparency`, and the periodic work in `serve`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use model::TenantId;
use serde_json::{Value, json};

use super::checkpoint;
use super::{transparency, transparency_report as report};
use crate::app::{App, cli_actor};
use crate::cli::print_json;
use crate::datadir::DataDir;
use crate::nodekey::verification_key;

fn read_json(file: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

/// `audit verify`: the chain and every signed checkpoint.
pub async fn audit_verify(data_dir: DataDir, json: bool) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    // A data dir that never signed anything gets its node key now (as `audit node-key` does).
    let key =
        crate::nodekey::NodeKey::load_or_create(&app.data_dir.root().join("keyring"))?.public_key();
    let mut out = std::io::stdout().lock();
    match checkpoint::verify(&app, &key).await? {
        Ok(verified) => {
            if json {
                print_json(&verified)?;
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(out, "audit chain intact: {} entries", verified.entries)?;
            match &verified.last_checkpoint {
                Some(last) => writeln!(
                    out,
                    "{} signed checkpoints verify; the last pins entry {} (signed {}); {} entries after it are not yet covered",
                    verified.checkpoints,
                    last["seq"],
                    last["at"].as_str().unwrap_or("?"),
                    verified.entries_after_last_checkpoint
                )?,
                None => writeln!(
                    out,
                    "no signed checkpoint yet: a cut-off tail would not be detected (run `onrecord audit checkpoint`)"
                )?,
            }
            for note in &verified.notes {
                writeln!(out, "note: {note}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if json {
                print_json(&json!({
                    "intact": false,
                    "first_bad_seq": failure.first_bad_seq,
                    "reason": failure.reason,
                }))?;
            }
            bail!("{failure}")
        }
    }
}

/// `audit checkpoint`: sign the chain's head now.
pub async fn audit_checkpoint(data_dir: DataDir, json: bool) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    let made = checkpoint::make(&app)
        .await?
        .ok_or_else(|| anyhow!("the audit chain is empty: nothing to checkpoint"))?;
    if json {
        print_json(&made.document())?;
    } else {
        writeln!(
            std::io::stdout().lock(),
            "checkpoint signed: entry {} hash {} at {} (appended to {})",
            made.seq,
            hex::encode(made.hash),
            made.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            checkpoint::file_path(&app.data_dir).display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `audit export --from --to --out`.
pub async fn audit_export(
    data_dir: DataDir,
    from: u64,
    to: Option<u64>,
    out: &Path,
) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    let excerpt = checkpoint::export(&app, from, to).await?;
    std::fs::write(out, serde_json::to_vec_pretty(&excerpt)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "wrote entries {} to {} with a signed checkpoint to {}",
        excerpt["from"],
        excerpt["to"],
        out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `audit verify-excerpt FILE [--public-key HEX]`: offline.
pub fn audit_verify_excerpt(
    data_dir: DataDir,
    file: &Path,
    public_key: Option<&str>,
) -> Result<ExitCode> {
    let key = verification_key(&data_dir, public_key)?;
    let verified = checkpoint::verify_excerpt(&read_json(file)?, &key)?;
    writeln!(
        std::io::stdout().lock(),
        "excerpt verifies: entries {} to {}, pinned by a checkpoint signed at {}",
        verified.from,
        verified.to,
        verified
            .checkpoint_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `report transparency [--tenant] [--json] [--prove ID | --consistency-from FILE]`.
pub async fn report_transparency(
    data_dir: DataDir,
    tenant: Option<&str>,
    prove: Option<&str>,
    consistency_from: Option<&Path>,
    json: bool,
) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    let mut out = std::io::stdout().lock();
    if let Some(id) = prove {
        let id = id.parse().map_err(|e| anyhow!("--prove: {e}"))?;
        let proof = report::prove(&app, &id).await?;
        if json {
            print_json(&proof)?;
        } else {
            let key = verification_key(&app.data_dir, None)?;
            for line in report::verify_inclusion_document(&proof, &key)? {
                writeln!(out, "{line}")?;
            }
            writeln!(
                out,
                "(add --json to save the proof for `report verify-transparency`)"
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(file) = consistency_from {
        let proof = report::consistency(&app, &read_json(file)?).await?;
        if json {
            print_json(&proof)?;
        } else {
            let key = verification_key(&app.data_dir, None)?;
            writeln!(
                out,
                "{}",
                report::verify_consistency_document(&proof, &key)?
            )?;
            writeln!(
                out,
                "(add --json to save the proof for `report verify-transparency`)"
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let tenant = tenant
        .map(TenantId::new)
        .transpose()
        .map_err(|e| anyhow!("--tenant: {e}"))?;
    if let Some(tenant) = &tenant {
        app.catalog
            .tenant(tenant)
            .await?
            .ok_or_else(|| anyhow!("no tenant {tenant} in the catalog"))?;
    }
    let value = report::report(&app, tenant.as_ref()).await?;
    if json {
        print_json(&value)?;
    } else {
        write!(out, "{}", report::report_text(&value))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `report verify-transparency (--inclusion FILE | --consistency FILE) [--public-key HEX]`.
pub fn verify_transparency(
    data_dir: DataDir,
    inclusion: Option<&Path>,
    consistency: Option<&Path>,
    public_key: Option<&str>,
) -> Result<ExitCode> {
    let key = verification_key(&data_dir, public_key)?;
    let mut out = std::io::stdout().lock();
    match (inclusion, consistency) {
        (Some(file), None) => {
            for line in report::verify_inclusion_document(&read_json(file)?, &key)? {
                writeln!(out, "{line}")?;
            }
        }
        (None, Some(file)) => {
            writeln!(
                out,
                "{}",
                report::verify_consistency_document(&read_json(file)?, &key)?
            )?;
        }
        _ => bail!("give exactly one of --inclusion FILE or --consistency FILE"),
    }
    Ok(ExitCode::SUCCESS)
}

/// One round of `serve`'s accountability work: fold new audit entries into the transparency
/// log, then sign a checkpoint if the chain grew. Failures are logged, never fatal to serving.
pub async fn periodic_round(app: &App) {
    if let Err(error) = transparency::sync(app).await {
        tracing::error!(%error, "cannot update the transparency log");
    }
    match checkpoint::make_if_grown(app).await {
        Ok(Some(made)) => tracing::info!(seq = made.seq, "audit checkpoint signed"),
        Ok(None) => {}
        Err(error) => tracing::error!(%error, "cannot sign an audit checkpoint"),
    }
}

/// `serve`'s background task: [`periodic_round`] every `interval` until stopped.
pub async fn periodic(app: App, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        periodic_round(&app).await;
    }
}
