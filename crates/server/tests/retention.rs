//! Retention through the real binary: per-tag retention, minimum retention that can only be
//! raised (config, CLI and API), erasure blocked inside it, and the sweeper (`retention run`
//! and inside `serve`). The binary has no virtual clock, so calls are imported with old
//! `started_at` times in their sidecars to be expired already.

mod support;

use catalog::{Catalog, SqliteCatalog};
use serde_json::{Value, json};
use support::{Sandbox, TestResult, stderr};

const OLD: &str = "2024-01-10T09:00:00Z";
const RECENT: &str = "2026-07-01T09:00:00Z";

/// A call with this start time and tags, in its own folder, imported into acme; its id.
fn import_call(
    sandbox: &Sandbox,
    name: &str,
    seed: u64,
    started_at: &str,
    tags: &[&str],
) -> String {
    let folder = format!("in-{name}");
    let dir = sandbox.path(&folder);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let audio = onrecord::synth::two_party_mulaw_wav(1, seed);
    let mut sidecar = onrecord::synth::sidecar(name, started_at, true);
    sidecar["tags"] = json!(tags);
    onrecord::synth::write_call(&dir, name, &audio, &sidecar).unwrap_or_else(|e| panic!("{e}"));
    let summary = sandbox.json(&[
        "import",
        "--tenant",
        "acme",
        dir.to_str().unwrap_or_default(),
        "--json",
    ]);
    summary["imported"][0]["recording"]
        .as_str()
        .unwrap_or_else(|| panic!("not imported: {summary}"))
        .to_owned()
}

fn append_config(sandbox: &Sandbox, text: &str) {
    let path = sandbox.data_dir().join("config.toml");
    let mut config = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    config.push_str(text);
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
}

fn replace_config(sandbox: &Sandbox, from: &str, to: &str) {
    let path = sandbox.data_dir().join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.contains(from), "{config}");
    std::fs::write(&path, config.replace(from, to)).unwrap_or_else(|e| panic!("{e}"));
}

/// The audit entries with this action: their details, parsed.
fn audited(sandbox: &Sandbox, action: &str) -> Vec<Value> {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let catalog = SqliteCatalog::open(sandbox.data_dir().join("catalog.sqlite"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        catalog
            .audit_entries(0, 10_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .filter(|entry| entry.action == action)
            .map(|entry| serde_json::from_str(&entry.details).unwrap_or_default())
            .collect()
    })
}

fn state(sandbox: &Sandbox, id: &str) -> String {
    sandbox.json(&["show", id, "--json"])["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["recording"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// A log line without its ANSI colour sequences.
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut escape = false;
    for character in line.chars() {
        match (escape, character) {
            (false, '\u{1b}') => escape = true,
            (false, _) => plain.push(character),
            (true, 'm') => escape = false,
            (true, _) => {}
        }
    }
    plain
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn a_config_that_lowers_minimum_retention_is_refused_audited_and_stops_every_command() -> TestResult
{
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    append_config(
        &sandbox,
        "\n[tenants.acme.retention]\nminimum_days = 2555\n",
    );
    let shown = sandbox.json(&["retention", "show", "--json"]);
    assert_eq!(shown[0]["minimums"][0]["minimum_days"], 2555);
    assert_eq!(shown[0]["minimums"][0]["scope"], "tenant");
    assert_eq!(audited(&sandbox, "retention.minimum-set").len(), 1);

    replace_config(&sandbox, "minimum_days = 2555", "minimum_days = 365");
    for command in [&["list"][..], &["retention", "run"], &["retention", "show"]] {
        let output = sandbox.run(command);
        assert!(
            !output.status.success(),
            "{command:?} ran on a shortened minimum"
        );
        let message = stderr(&output);
        assert!(
            message.contains("tenants.acme.retention.minimum_days = 365")
                && message.contains("2555 days")
                && message.contains("retention.shorten-refused"),
            "{message}"
        );
    }
    let refusals = audited(&sandbox, "retention.shorten-refused");
    assert_eq!(refusals.len(), 3, "every refused start is audited");
    assert_eq!(refusals[0]["stored_minimum_days"], 2555);
    assert_eq!(refusals[0]["requested_minimum_days"], 365);
    assert_eq!(refusals[0]["via"], "config.toml");

    // Raising works and is audited; the stored floor follows.
    replace_config(&sandbox, "minimum_days = 365", "minimum_days = 3000");
    let shown = sandbox.json(&["retention", "show", "--json"]);
    assert_eq!(shown[0]["minimums"][0]["minimum_days"], 3000);
    let raised = audited(&sandbox, "retention.minimum-raised");
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0]["previous_minimum_days"], 2555);

    // Removing the key does not remove the floor.
    replace_config(&sandbox, "minimum_days = 3000\n", "");
    let shown = sandbox.json(&["retention", "show", "--json"]);
    assert_eq!(shown[0]["minimums"][0]["minimum_days"], 3000);
    sandbox.ok(&["audit", "verify"]);
    Ok(())
}

#[test]
fn shortening_minimum_retention_from_the_cli_is_refused_and_raising_updates_the_config()
-> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    append_config(
        &sandbox,
        "\n[tenants.acme.retention.tags]\nmifid = { days = 2555, minimum_days = 2000 }\n",
    );
    let raised = sandbox.json(&[
        "retention",
        "set",
        "--tenant",
        "acme",
        "--tag",
        "mifid",
        "--minimum-days",
        "2555",
        "--json",
    ]);
    assert_eq!(raised["outcome"], "raised");
    assert_eq!(raised["previous_minimum_days"], 2000);
    // The file no longer asks for less than the catalog holds, so the next start works.
    let config = std::fs::read_to_string(sandbox.data_dir().join("config.toml"))?;
    assert!(config.contains("minimum_days = 2555"), "{config}");

    let output = sandbox.run(&[
        "retention",
        "set",
        "--tenant",
        "acme",
        "--tag",
        "mifid",
        "--minimum-days",
        "90",
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("refused") && message.contains("2555 days") && message.contains("90 days"),
        "{message}"
    );
    let refusals = audited(&sandbox, "retention.shorten-refused");
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["scope"], "tag:mifid");
    assert_eq!(refusals[0]["via"], "cli");
    let shown = sandbox.json(&["retention", "show", "--tenant", "acme", "--json"]);
    assert_eq!(shown[0]["minimums"][0]["scope"], "tag:mifid");
    assert_eq!(shown[0]["minimums"][0]["minimum_days"], 2555);
    Ok(())
}

#[test]
fn erasure_inside_minimum_retention_is_blocked_and_names_the_day_it_ends() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let young = import_call(&sandbox, "young", 1, "2026-11-20T10:00:00Z", &[]);
    let old = import_call(&sandbox, "old", 2, OLD, &[]);
    sandbox.ok(&[
        "retention",
        "set",
        "--tenant",
        "acme",
        "--minimum-days",
        "400",
    ]);

    let output = sandbox.run(&[
        "erase",
        "--tenant",
        "acme",
        "--participant",
        "tel:+441632960001",
        "--json",
    ]);
    assert!(!output.status.success(), "a blocked erasure exits non-zero");
    let report: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(report["blocked"][0]["recording"], young.as_str());
    let reason = &report["blocked"][0]["reasons"][0];
    assert_eq!(reason["kind"], "minimum-retention");
    assert_eq!(reason["minimum_retention_days"], 400);
    assert_eq!(reason["until"], "2027-12-25T10:00:00.000Z");
    assert!(
        stderr(&output).contains(&format!(
            "blocked {young}: minimum retention of 400 days (tenant) runs until 2027-12-25T10:00:00.000Z"
        )),
        "{}",
        stderr(&output)
    );
    // The old one is past its minimum and was erased; the young one is untouched.
    assert_eq!(report["receipts"][0]["body"]["recording"], old.as_str());
    assert_eq!(state(&sandbox, &old), "erased");
    assert_eq!(state(&sandbox, &young), "committed");
    Ok(())
}

#[test]
fn retention_run_erases_expired_keeps_young_held_and_floored_and_dry_run_changes_nothing()
-> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    append_config(
        &sandbox,
        "\n[tenants.acme.retention]\ndefault_days = 365\n\n[tenants.acme.retention.tags]\nqa = { days = 90 }\nmifid = { minimum_days = 2555 }\n",
    );
    let old_plain = import_call(&sandbox, "old-plain", 1, OLD, &[]);
    let recent_qa = import_call(&sandbox, "recent-qa", 2, RECENT, &["qa"]);
    let recent_plain = import_call(&sandbox, "recent-plain", 3, RECENT, &["sales"]);
    let old_mifid = import_call(&sandbox, "old-mifid", 4, OLD, &["mifid", "qa"]);
    let old_held = import_call(&sandbox, "old-held", 5, OLD, &["qa"]);
    sandbox.ok(&[
        "hold",
        "set",
        "--tenant",
        "acme",
        "--recording",
        &old_held,
        "--reason",
        "case 2026-200",
    ]);

    let dry = sandbox.json(&["retention", "run", "--dry-run", "--json"]);
    let tenant = &dry["tenants"][0];
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        ids(&tenant["erased"]),
        sorted(vec![old_plain.clone(), recent_qa.clone()]),
        "per-tag retention: the 150-day-old qa call is due, the untagged one of the same day is not"
    );
    assert_eq!(ids(&tenant["held"]), vec![old_held.clone()]);
    assert_eq!(tenant["held"][0]["reasons"][0]["reason"], "case 2026-200");
    assert_eq!(tenant["receipts"].as_array().map(Vec::len), Some(0));
    for id in [&old_plain, &recent_qa, &recent_plain, &old_mifid, &old_held] {
        assert_eq!(state(&sandbox, id), "committed", "a dry run erased {id}");
    }
    let qa = tenant["erased"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|due| due["recording"] == recent_qa.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(qa["rule"], "tag:qa");
    assert_eq!(qa["retain_until"], "2026-09-29T09:00:00.000Z");

    let run = sandbox.run(&["retention", "run", "--json"]);
    assert!(
        run.status.success(),
        "held recordings are not an error: {}",
        stderr(&run)
    );
    let report: Value = serde_json::from_slice(&run.stdout)?;
    let tenant = &report["tenants"][0];
    assert_eq!(
        ids(&tenant["erased"]),
        sorted(vec![old_plain.clone(), recent_qa.clone()])
    );
    assert_eq!(ids(&tenant["held"]), vec![old_held.clone()]);
    let receipts = tenant["receipts"].as_array().cloned().unwrap_or_default();
    assert_eq!(receipts.len(), 2);
    assert!(
        receipts
            .iter()
            .all(|receipt| receipt["body"]["reason"] == "retention expired")
    );
    assert_eq!(state(&sandbox, &old_plain), "erased");
    assert_eq!(state(&sandbox, &recent_qa), "erased");
    assert_eq!(state(&sandbox, &recent_plain), "committed");
    assert_eq!(
        state(&sandbox, &old_mifid),
        "committed",
        "inside its tag's floor"
    );
    assert_eq!(state(&sandbox, &old_held), "committed");
    let receipt_file = sandbox.path("run.json");
    std::fs::write(&receipt_file, serde_json::to_vec(&receipts[0])?)?;
    sandbox.ok(&[
        "audit",
        "verify-receipt",
        receipt_file.to_str().unwrap_or_default(),
    ]);

    // The text form lists what was kept and why; a second run has nothing left to do.
    let again = sandbox.ok(&["retention", "run"]);
    assert!(
        again.contains(&format!("kept {old_held}: legal hold"))
            && again.contains("tenant acme: 1 expired, erased 0, held 1"),
        "{again}"
    );
    sandbox.ok(&["audit", "verify"]);
    Ok(())
}

#[test]
fn serve_sweeps_expired_recordings_shortly_after_start() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    append_config(
        &sandbox,
        "\n[retention]\nsweep_interval = \"1h\"\nsweep_delay = \"1s\"\n",
    );
    let old = import_call(&sandbox, "old", 1, OLD, &[]);
    let young = import_call(&sandbox, "young", 2, "2026-11-20T10:00:00Z", &[]);
    let mut server = support::serve::Server::start(&sandbox, &[]);
    let line = server
        .wait_for("retention sweep done", std::time::Duration::from_secs(60))
        .ok_or("no sweep was logged")?;
    let line = without_colours(&line);
    assert!(
        line.contains("erased=1") && line.contains("held=0"),
        "{line}"
    );
    assert!(!line.contains("+44"), "the log holds counts only: {line}");
    assert!(server.stop().success());
    assert_eq!(state(&sandbox, &old), "erased");
    assert_eq!(state(&sandbox, &young), "committed");
    Ok(())
}

#[test]
fn shortening_minimum_retention_through_the_api_is_refused_with_409_and_audited() -> TestResult {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    sandbox.create_tenant("globex", "all-party");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let app = onrecord::app::App::open(
            onrecord::datadir::DataDir::new(sandbox.data_dir()),
            "test".into(),
        )
        .await?;
        let token = |tenant: Option<&str>, role| {
            let app = app.clone();
            let tenant = tenant.map(|t| model::TenantId::new(t).unwrap_or_else(|e| panic!("{e}")));
            async move { onrecord::http::tokens::create(&app, tenant, role, "test".into()).await }
        };
        let admin = token(Some("acme"), catalog::TokenRole::Admin).await?;
        let viewer = token(Some("acme"), catalog::TokenRole::Viewer).await?;
        let operator = token(None, catalog::TokenRole::Operator).await?;
        let router = onrecord::http::router(onrecord::http::HttpState::new(app.clone()));
        let put = |tenant: &str, token: &str, body: Value| {
            let request = Request::put(format!("/api/v1/tenants/{tenant}/retention/minimum"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap_or_else(|e| panic!("{e}"));
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
                let status = response.status();
                let body = to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap_or_default();
                (status, String::from_utf8_lossy(&body).into_owned())
            }
        };
        let (status, body) = put("acme", &admin, json!({ "minimum_days": 400 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("\"outcome\":\"set\""), "{body}");
        let (status, body) = put("acme", &operator, json!({ "minimum_days": 500 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = put("acme", &admin, json!({ "minimum_days": 30 })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body.contains("500 days") && body.contains("30 days"),
            "{body}"
        );
        let (status, _) = put("acme", &viewer, json!({ "minimum_days": 600 })).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = put("globex", &admin, json!({ "minimum_days": 600 })).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's admin");
        let (status, _) = put("acme", &admin, json!({ "minimum_days": 0 })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    let refusals = audited(&sandbox, "retention.shorten-refused");
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["via"], "api");
    assert_eq!(refusals[0]["requested_minimum_days"], 30);
    let shown = sandbox.json(&["retention", "show", "--json"]);
    assert_eq!(shown[0]["minimums"][0]["minimum_days"], 500);
    Ok(())
}
