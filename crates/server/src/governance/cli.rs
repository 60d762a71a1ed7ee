//! The governance commands' edge: arguments in, text or JSON out, exit codes.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use catalog::RecordingDetail;
use model::TenantId;
use serde_json::{Value, json};

use super::{Target, bundle, erase, hold, subject_access};
use crate::app::{App, cli_actor};
use crate::cli::{HoldCommand, print_json};
use crate::datadir::DataDir;
use crate::nodekey::{self, NodeKey};

fn keyring_root(data_dir: &DataDir) -> std::path::PathBuf {
    data_dir.root().join("keyring")
}

pub async fn hold(data_dir: DataDir, command: HoldCommand) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    let mut out = std::io::stdout().lock();
    match command {
        HoldCommand::Set(args) | HoldCommand::Release(args) if args.reason.trim().is_empty() => {
            bail!("--reason must not be empty")
        }
        HoldCommand::Set(args) => {
            let scope = hold::scope_from_args(
                args.recording.as_deref(),
                args.participant.as_deref(),
                args.from.as_deref(),
                args.before.as_deref(),
                args.tag,
            )?;
            let tenant = TenantId::new(&args.tenant).map_err(|e| anyhow!("--tenant: {e}"))?;
            let placed = hold::set(&app, tenant, scope, args.reason).await?;
            if args.json {
                print_json(&hold::hold_json(&placed))?;
            } else {
                writeln!(out, "placed hold {} ({})", placed.id, placed.scope.kind())?;
            }
        }
        HoldCommand::Release(args) => {
            let scope = hold::scope_from_args(
                args.recording.as_deref(),
                args.participant.as_deref(),
                args.from.as_deref(),
                args.before.as_deref(),
                args.tag,
            )?;
            let tenant = TenantId::new(&args.tenant).map_err(|e| anyhow!("--tenant: {e}"))?;
            let released = hold::release(&app, tenant, scope, args.reason).await?;
            if args.json {
                print_json(&released.iter().map(hold::hold_json).collect::<Vec<_>>())?;
            } else {
                for hold in &released {
                    writeln!(out, "released hold {}", hold.id)?;
                }
            }
        }
        HoldCommand::List { tenant, all, json } => {
            let tenant = tenant
                .as_deref()
                .map(TenantId::new)
                .transpose()
                .map_err(|e| anyhow!("--tenant: {e}"))?;
            let holds = app.catalog.holds(tenant.as_ref(), all).await?;
            if json {
                print_json(&holds.iter().map(hold::hold_json).collect::<Vec<_>>())?;
            } else {
                for hold in &holds {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        hold.id,
                        hold.tenant,
                        hold.scope.kind(),
                        if hold.is_active() {
                            "active"
                        } else {
                            "released"
                        },
                        hold.holder,
                        hold.reason
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn erase(
    data_dir: DataDir,
    tenant: TenantId,
    recording: Option<&str>,
    participant: Option<&str>,
    reason: &str,
    json: bool,
) -> Result<ExitCode> {
    let target = Target::from_args(recording, participant)?;
    let app = App::open(data_dir, cli_actor()).await?;
    app.tenant_config(&tenant)?;
    let node = NodeKey::load_or_create(&keyring_root(&app.data_dir))?;
    let ids = erase::resolve(&app, &tenant, &target).await?;
    let floors = app.catalog.retention_floors(Some(&tenant)).await?;
    let rule = |detail: &RecordingDetail, now| {
        super::retention::minimum_retention_reasons(&floors, detail, now)
    };
    let report = erase::erase(&app, &node, &ids, reason, &rule).await?;
    if json {
        print_json(&report)?;
    } else {
        let mut out = std::io::stdout().lock();
        for receipt in &report.receipts {
            writeln!(
                out,
                "erased {} (sealed key sha256 {})",
                receipt["body"]["recording"].as_str().unwrap_or_default(),
                receipt["body"]["sealed_key_sha256"]
                    .as_str()
                    .unwrap_or_default()
            )?;
        }
        for id in &report.already_erased {
            writeln!(out, "already erased {id}")?;
        }
    }
    let mut err = std::io::stderr().lock();
    for blocked in &report.blocked {
        let reasons: Vec<String> = blocked.reasons.iter().map(describe_reason).collect();
        writeln!(err, "blocked {}: {}", blocked.recording, reasons.join("; "))?;
    }
    if ids.is_empty() {
        writeln!(err, "no recording of tenant {tenant} matches")?;
    }
    Ok(if report.blocked.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) fn describe_reason(reason: &Value) -> String {
    match reason["kind"].as_str() {
        Some("legal-hold") => format!(
            "legal hold {} ({}) by {}: {}",
            reason["hold"],
            reason["scope"].as_str().unwrap_or("?"),
            reason["holder"].as_str().unwrap_or("?"),
            reason["reason"].as_str().unwrap_or("?")
        ),
        Some("minimum-retention") => format!(
            "minimum retention of {} days ({}) runs until {}",
            reason["minimum_retention_days"],
            reason["scope"].as_str().unwrap_or("tenant"),
            reason["until"].as_str().unwrap_or("?")
        ),
        _ => reason.to_string(),
    }
}

/// Reads a receipt file: either the receipt itself or `erase --json` output (every receipt in
/// it is checked).
pub fn verify_receipt(
    data_dir: DataDir,
    file: &Path,
    public_key: Option<&str>,
) -> Result<ExitCode> {
    let key = nodekey::verification_key(&data_dir, public_key)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let document: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let receipts: Vec<&Value> = match document.get("receipts").and_then(Value::as_array) {
        Some(receipts) => receipts.iter().collect(),
        None => vec![&document],
    };
    if receipts.is_empty() {
        bail!("{} holds no receipt", file.display());
    }
    let mut out = std::io::stdout().lock();
    for receipt in receipts {
        let body = nodekey::verify(receipt, erase::RECEIPT_KIND, &key)
            .map_err(|error| anyhow!("receipt does not verify: {error}"))?;
        writeln!(
            out,
            "receipt verifies: recording {} erased at {} by {}",
            body["recording"].as_str().unwrap_or("?"),
            body["erased_at"].as_str().unwrap_or("?"),
            body["erased_by"].as_str().unwrap_or("?")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds the holds covering a recording to `show`'s view.
pub async fn annotate_show(app: &App, detail: &RecordingDetail, value: &mut Value) -> Result<()> {
    let holds = app.catalog.holds_covering(&detail.recording.id).await?;
    value["holds"] = json!(holds.iter().map(hold::hold_json).collect::<Vec<_>>());
    value["under_legal_hold"] = json!(!holds.is_empty());
    Ok(())
}

/// `onrecord export --tenant ID --participant ADDRESS --out FILE.zip`: the bundle is written to
/// a temporary file beside FILE and renamed into place once complete and audited, so a failed
/// export leaves nothing behind; an existing FILE is never overwritten.
pub async fn subject_access(
    data_dir: DataDir,
    tenant: TenantId,
    participant: &str,
    file: &Path,
    json: bool,
) -> Result<ExitCode> {
    if participant.trim().is_empty() {
        bail!("--participant must not be empty");
    }
    if file.exists() {
        bail!("{} exists; refusing to overwrite", file.display());
    }
    let app = App::open(data_dir, cli_actor()).await?;
    let node = NodeKey::load_or_create(&keyring_root(&app.data_dir))?;
    let request = subject_access::SubjectAccessRequest {
        tenant: tenant.clone(),
        participant: model::Pii::new(participant.to_owned()),
        actor: app.actor.clone(),
        via: "cli",
    };
    let plan = subject_access::plan(&app, &node, &request).await?;
    let private_key = app.private_key(&tenant)?;
    let folder = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let partial = tempfile::Builder::new()
        .prefix(".onrecord-subject-access-")
        .suffix(".partial")
        .tempfile_in(&folder)
        .with_context(|| format!("cannot create a file in {}", folder.display()))?;
    let (partial, summary) =
        subject_access::export(&app, &node, &private_key, &request, &plan, partial).await?;
    partial
        .as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", partial.path().display()))?;
    partial
        .persist_noclobber(file)
        .map_err(|error| anyhow!("cannot create {}: {}", file.display(), error.error))?;
    if json {
        let mut value = serde_json::to_value(&summary)?;
        value["file"] = json!(file.display().to_string());
        print_json(&value)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "exported {} recordings ({} erased and {} in progress listed without content) to {}: {} files, manifest sha256 {}",
            summary.recordings.len(),
            summary.erased.len(),
            summary.in_progress.len(),
            file.display(),
            summary.files,
            summary.manifest_sha256,
        )?;
        writeln!(
            out,
            "verify offline: onrecord audit verify-bundle {} --public-key {}",
            file.display(),
            summary.node_public_key
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `onrecord audit verify-bundle FILE.zip [--public-key HEX]`: needs no data dir with a key.
pub fn verify_bundle(data_dir: DataDir, file: &Path, public_key: Option<&str>) -> Result<ExitCode> {
    let key = nodekey::verification_key(&data_dir, public_key)?;
    let reader = std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let verified = bundle::verify(reader, &key)
        .map_err(|problem| anyhow!("{} does not verify: {problem}", file.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "bundle verifies: tenant {}, {} recordings, {} erased, {} files ({} bytes), generated at {} by {}, signed by node key {}",
        verified.tenant,
        verified.recordings.len(),
        verified.erased.len(),
        verified.files,
        verified.bytes,
        verified.generated_at,
        verified.generated_by,
        hex::encode(key.as_bytes()),
    )?;
    Ok(ExitCode::SUCCESS)
}
