//! The completeness commands' edge: `report completeness`, `audit verify-certificate`, and
//! the certificate in `show`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use catalog::{
    CertificateQuery, CompletenessVerdict, NewAuditEntry, RecordingDetail, RecordingFilter,
    StoredCertificate,
};
use chrono::{DateTime, SecondsFormat, Utc};
use model::TenantId;
use serde_json::{Value, json};

use super::CERTIFICATE_KIND;
use crate::app::{App, cli_actor};
use crate::cli::print_json;
use crate::datadir::DataDir;
use crate::nodekey;

/// Certificates read per catalog call while reporting.
const PAGE: u32 = 1_000;

/// A stored certificate as shown by `show`, the API and reports: the verdict, the number of
/// findings and the signed document itself (verifiable offline).
pub fn certificate_json(stored: &StoredCertificate) -> Value {
    let document: Value = serde_json::from_str(&stored.document).unwrap_or(Value::Null);
    json!({
        "verdict": stored.verdict.as_str(),
        "gap_count": stored.gap_count,
        "certificate": document,
    })
}

/// Adds the completeness certificate to `show`'s view (`null` for a recording committed
/// before certificates existed).
pub async fn annotate_show(app: &App, detail: &RecordingDetail, value: &mut Value) -> Result<()> {
    let stored = app
        .catalog
        .completeness_certificate(&detail.recording.id)
        .await?;
    value["completeness"] = stored.as_ref().map_or(Value::Null, certificate_json);
    Ok(())
}

/// One line for people: `complete`, or `gaps: N (kind, kind…)`.
pub fn summary_line(stored: &StoredCertificate) -> String {
    if stored.verdict == CompletenessVerdict::Complete {
        return "complete".into();
    }
    let document: Value = serde_json::from_str(&stored.document).unwrap_or(Value::Null);
    let mut kinds: Vec<&str> = document["body"]["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter_map(|finding| finding["kind"].as_str())
                .collect()
        })
        .unwrap_or_default();
    kinds.sort_unstable();
    kinds.dedup();
    format!("gaps: {} ({})", stored.gap_count, kinds.join(", "))
}

/// `onrecord report completeness`: the tenant's calls with gaps (every certified call with
/// `all`), with a summary.
pub async fn report(
    data_dir: DataDir,
    tenant: TenantId,
    since: Option<DateTime<Utc>>,
    all: bool,
    json: bool,
) -> Result<ExitCode> {
    let app = App::open(data_dir, cli_actor()).await?;
    app.tenant_config(&tenant)?;
    let mut listed = Vec::new();
    let mut query = CertificateQuery {
        tenant: tenant.clone(),
        started_from: since,
        verdict: (!all).then_some(CompletenessVerdict::Gaps),
        after: None,
        limit: PAGE,
    };
    loop {
        let page = app.catalog.completeness_certificates(&query).await?;
        let full = page.len() == PAGE as usize;
        query.after = page.last().map(|last| (last.started_at, last.recording));
        listed.extend(page);
        if !full {
            break;
        }
    }
    let counts = app.catalog.completeness_counts(&tenant, since).await?;
    let recordings = app
        .catalog
        .count_recordings(&RecordingFilter {
            tenant: Some(tenant.clone()),
            started_from: since,
            ..Default::default()
        })
        .await?;
    let checked = counts.complete + counts.gaps;
    let summary = json!({
        "calls_checked": checked,
        "complete": counts.complete,
        "with_gaps": counts.gaps,
        // Recordings committed before certificates existed (or by a tool that certifies none).
        "without_certificate": recordings.saturating_sub(checked),
    });
    // A report reads no content, but who looked at which tenant's gaps is audited like
    // every other read.
    app.catalog
        .append_audit(&[NewAuditEntry {
            at: app.clock.wall(),
            actor: app.actor.clone(),
            action: "completeness.reported".into(),
            tenant: Some(tenant.clone()),
            recording: None,
            details: json!({ "since": since, "all": all, "listed": listed.len() }),
        }])
        .await?;

    let rows: Vec<Value> = listed
        .iter()
        .map(|stored| {
            let document: Value = serde_json::from_str(&stored.document).unwrap_or(Value::Null);
            json!({
                "recording": stored.recording,
                "started_at": stored.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "verdict": stored.verdict.as_str(),
                "gap_count": stored.gap_count,
                "findings": document["body"]["findings"],
                "findings_omitted": document["body"]["findings_omitted"],
            })
        })
        .collect();
    if json {
        print_json(&json!({
            "tenant": tenant,
            "since": since.map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true)),
            "summary": summary,
            "recordings": rows,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for stored in &listed {
            writeln!(
                out,
                "{}  {}  {}",
                stored.recording,
                stored.started_at.format("%Y-%m-%d %H:%M:%S"),
                summary_line(stored)
            )?;
        }
        writeln!(
            out,
            "checked {checked} calls: {} complete, {} with gaps ({} recordings without a certificate)",
            counts.complete,
            counts.gaps,
            recordings.saturating_sub(checked)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The certificate in a file: a certificate itself, `show --json` output, or the
/// `completeness` object of either.
fn certificate_in(document: &Value) -> Option<&Value> {
    if document.get("kind").is_some() {
        return Some(document);
    }
    let completeness = document.get("completeness").unwrap_or(document);
    completeness.get("certificate").filter(|c| c.is_object())
}

/// `onrecord audit verify-certificate FILE [--public-key HEX]`, offline.
pub fn verify_certificate(
    data_dir: DataDir,
    file: &Path,
    public_key: Option<&str>,
) -> Result<ExitCode> {
    let key = nodekey::verification_key(&data_dir, public_key)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let document: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let Some(certificate) = certificate_in(&document) else {
        bail!("{} holds no completeness certificate", file.display());
    };
    let body = nodekey::verify(certificate, CERTIFICATE_KIND, &key)
        .map_err(|error| anyhow!("certificate does not verify: {error}"))?;
    writeln!(
        std::io::stdout().lock(),
        "certificate verifies: recording {} is {} ({} findings)",
        body["recording"].as_str().unwrap_or("?"),
        body["verdict"].as_str().unwrap_or("?"),
        body["gap_count"]
    )?;
    Ok(ExitCode::SUCCESS)
}
