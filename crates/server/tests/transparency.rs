//! Signed audit checkpoints and the content-blind transparency log, through the real binary.

mod support;

use catalog::SqliteCatalog;
use catalog::audit::{AuditFields, chain_hash};
use serde_json::{Value, json};
use sqlx::Row;
use support::{Sandbox, TestResult, stderr};

/// Participants no output of the transparency report may name.
const CUSTOMER_ADDRESS: &str = "tel:+15550199871";
const CUSTOMER_NAME: &str = "Philomena Quartermaine";
const AGENT_ADDRESS: &str = "sip:zebulon.agent@contact.example.com";
const AGENT_NAME: &str = "Zebulon Ashcroft";

/// A call of the distinctive participants into `folder`.
fn distinctive_call(sandbox: &Sandbox, folder: &str, name: &str, seed: u64, evidence: bool) {
    let dir = sandbox.path(folder);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let consent = if evidence {
        json!([{ "kind": "announcement", "at": "2026-11-28T10:00:00Z", "reference": "prompt-recording-notice-v2" }])
    } else {
        json!([])
    };
    let sidecar = json!({
        "external_id": name,
        "started_at": "2026-11-28T10:00:00Z",
        "direction": "inbound",
        "participants": [
            { "address": CUSTOMER_ADDRESS, "name": CUSTOMER_NAME, "role": "customer", "consent": consent },
            { "address": AGENT_ADDRESS, "name": AGENT_NAME, "role": "agent", "consent": [] }
        ],
        "tags": ["qa"]
    });
    let audio = onrecord::synth::two_party_mulaw_wav(2, seed);
    onrecord::synth::write_call(&dir, name, &audio, &sidecar).unwrap_or_else(|e| panic!("{e}"));
}

fn import(sandbox: &Sandbox, folder: &str) -> Value {
    let output = sandbox.run(&[
        "import",
        "--tenant",
        "acme",
        sandbox.path(folder).to_str().unwrap_or_default(),
        "--json",
    ]);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("import printed no JSON: {e}"))
}

/// A tenant with `calls` imported calls of the distinctive participants; ids, oldest first.
fn archive(sandbox: &Sandbox, calls: u64) -> Vec<String> {
    sandbox.create_tenant("acme", "all-party");
    for seed in 1..=calls {
        distinctive_call(sandbox, "in", &format!("call-{seed}"), seed, true);
    }
    let summary = import(sandbox, "in");
    let mut ids: Vec<String> = summary["imported"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["recording"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    assert_eq!(ids.len() as u64, calls, "{summary}");
    ids
}

fn path_text(sandbox: &Sandbox, name: &str) -> String {
    sandbox.path(name).to_string_lossy().into_owned()
}

fn write_json(sandbox: &Sandbox, name: &str, value: &Value) -> String {
    let path = sandbox.path(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    path.to_string_lossy().into_owned()
}

/// Runs `onrecord` and insists on failure; returns stderr.
fn fails(sandbox: &Sandbox, args: &[&str]) -> String {
    let output = sandbox.run(args);
    assert!(
        !output.status.success(),
        "onrecord {args:?} should have failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr(&output)
}

fn with_pool<T>(
    sandbox: &Sandbox,
    work: impl AsyncFnOnce(&sqlx::SqlitePool) -> Result<T, Box<dyn std::error::Error>>,
) -> Result<T, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let catalog = SqliteCatalog::open(sandbox.data_dir().join("catalog.sqlite")).await?;
        work(catalog.pool()).await
    })
}

fn checkpoint_file(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.data_dir().join("audit/checkpoints.jsonl")
}

#[test]
fn a_tampered_checkpoint_is_named_by_audit_verify() -> TestResult {
    let sandbox = Sandbox::new();
    let ids = archive(&sandbox, 1);
    let first = sandbox.json(&["audit", "checkpoint", "--json"]);
    sandbox.ok(&[
        "hold",
        "set",
        "--tenant",
        "acme",
        "--recording",
        &ids[0],
        "--reason",
        "case 7",
    ]);
    let second = sandbox.json(&["audit", "checkpoint", "--json"]);
    assert!(second["body"]["seq"].as_u64() > first["body"]["seq"].as_u64());
    let verified = sandbox.json(&["audit", "verify", "--json"]);
    assert_eq!(verified["intact"], true);
    assert_eq!(verified["checkpoints"], 2);
    assert_eq!(verified["entries_after_last_checkpoint"], 0);
    assert_eq!(verified["last_checkpoint"]["seq"], second["body"]["seq"]);

    let path = checkpoint_file(&sandbox);
    let original = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), 2);
    let edit =
        |line: usize, change: &dyn Fn(&mut Value)| -> Result<(), Box<dyn std::error::Error>> {
            let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            let mut document: Value = serde_json::from_str(lines[line])?;
            change(&mut document);
            edited[line] = document.to_string();
            std::fs::write(&path, edited.join("\n") + "\n")?;
            Ok(())
        };

    // A changed seq, a changed hash, a forged signature: each named by its checkpoint.
    edit(0, &|doc| doc["body"]["seq"] = json!(1))?;
    let error = fails(&sandbox, &["audit", "verify"]);
    assert!(error.contains("checkpoint 1 (line 1"), "{error}");
    assert!(error.contains("does not verify"), "{error}");
    edit(1, &|doc| {
        doc["body"]["hash"] = json!(hex::encode([7u8; 32]))
    })?;
    let error = fails(&sandbox, &["audit", "verify"]);
    assert!(error.contains("checkpoint 2 (line 2"), "{error}");
    edit(1, &|doc| {
        let mut signature = doc["signature"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let flipped = if signature.starts_with('0') { "1" } else { "0" };
        signature.replace_range(0..1, flipped);
        doc["signature"]["value"] = json!(signature);
    })?;
    let error = fails(&sandbox, &["audit", "verify"]);
    assert!(error.contains("checkpoint 2 (line 2"), "{error}");
    let json_failure: Value =
        serde_json::from_slice(&sandbox.run(&["audit", "verify", "--json"]).stdout)?;
    assert_eq!(json_failure["intact"], false);

    // A checkpoint cut from the file is still in the catalog's mirror.
    std::fs::write(&path, format!("{}\n", lines[0]))?;
    let error = fails(&sandbox, &["audit", "verify"]);
    assert!(error.contains("missing from"), "{error}");

    std::fs::write(&path, &original)?;
    sandbox.ok(&["audit", "verify"]);
    Ok(())
}

#[test]
fn a_cut_off_audit_tail_and_a_rewritten_history_are_reported_against_the_checkpoint() -> TestResult
{
    let sandbox = Sandbox::new();
    let ids = archive(&sandbox, 2);
    sandbox.ok(&[
        "hold",
        "set",
        "--tenant",
        "acme",
        "--recording",
        &ids[1],
        "--reason",
        "case 8",
    ]);
    let checkpoint = sandbox.json(&["audit", "checkpoint", "--json"]);
    let pinned = checkpoint["body"]["seq"].as_i64().ok_or("no seq")?;
    // One more entry after the checkpoint: verify says it is not covered yet.
    sandbox.ok(&[
        "hold",
        "release",
        "--tenant",
        "acme",
        "--recording",
        &ids[1],
        "--reason",
        "closed",
    ]);
    let verified = sandbox.json(&["audit", "verify", "--json"]);
    assert_eq!(verified["entries_after_last_checkpoint"], 1);
    let text = sandbox.ok(&["audit", "verify"]);
    assert!(text.contains("1 entries after it"), "{text}");

    // Delete the last two rows straight from the SQLite file: the chain alone still verifies.
    let saved: Vec<(i64, Vec<u8>)> = with_pool(&sandbox, async |pool| {
        let rows = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq")
            .fetch_all(pool)
            .await?;
        sqlx::query("DELETE FROM audit_log WHERE seq >= $1")
            .bind(pinned)
            .execute(pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("seq"), row.get("hash")))
            .collect())
    })?;
    assert!(saved.len() as i64 > pinned);
    let error = fails(&sandbox, &["audit", "verify"]);
    assert!(error.contains("truncation"), "{error}");
    assert!(error.contains(&format!("seq {pinned}")), "{error}");
    assert!(error.contains("checkpoint 1 (line 1"), "{error}");
    Ok(())
}

#[test]
fn a_history_rewritten_with_recomputed_hashes_contradicts_the_checkpoint() -> TestResult {
    let sandbox = Sandbox::new();
    archive(&sandbox, 2);
    sandbox.ok(&["audit", "checkpoint"]);
    // Rewrite entry 2's details and recompute every hash after it, as someone with write
    // access to the database (but not the node key) could.
    with_pool(&sandbox, async |pool| {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, tenant_id, recording_id, details FROM audit_log ORDER BY seq",
        )
        .fetch_all(pool)
        .await?;
        let mut previous = catalog::audit::GENESIS_HASH;
        for row in &rows {
            let seq: i64 = row.get("seq");
            let mut details: String = row.get("details");
            if seq == 2 {
                details = "{\"rewritten\":true}".into();
            }
            let tenant: Option<String> = row.get("tenant_id");
            let recording: Option<String> = row.get("recording_id");
            let actor: String = row.get("actor");
            let action: String = row.get("action");
            let hash = chain_hash(
                &previous,
                &AuditFields {
                    seq: seq as u64,
                    at_millis: row.get("at"),
                    actor: &actor,
                    action: &action,
                    tenant: tenant.as_deref(),
                    recording: recording.as_deref(),
                    details: &details,
                },
            );
            sqlx::query(
                "UPDATE audit_log SET details = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
            )
            .bind(&details)
            .bind(previous.as_slice())
            .bind(hash.as_slice())
            .bind(seq)
            .execute(pool)
            .await?;
            previous = hash;
        }
        Ok(())
    })?;
    let error = fails(&sandbox, &["audit", "verify"]);
    assert!(error.contains("rewritten"), "{error}");
    assert!(error.contains("checkpoint 1"), "{error}");
    // A checkpoint is refused over a chain that contradicts one.
    let error = fails(&sandbox, &["audit", "checkpoint"]);
    assert!(error.contains("not signing"), "{error}");
    Ok(())
}

#[test]
fn an_exported_excerpt_verifies_offline_and_an_edited_entry_fails() -> TestResult {
    let sandbox = Sandbox::new();
    archive(&sandbox, 3);
    let public_key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let out = path_text(&sandbox, "excerpt.json");
    sandbox.ok(&["audit", "export", "--from", "2", "--to", "3", "--out", &out]);
    let excerpt: Value = serde_json::from_slice(&std::fs::read(&out)?)?;
    assert_eq!(excerpt["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(excerpt["checkpoint"]["body"]["seq"], 3);
    // The checkpoint made for the excerpt is kept like any other.
    sandbox.ok(&["audit", "verify"]);

    let elsewhere = Sandbox::new();
    let verified = elsewhere.ok(&["audit", "verify-excerpt", &out, "--public-key", &public_key]);
    assert!(verified.contains("entries 2 to 3"), "{verified}");

    let mut edited = excerpt.clone();
    edited["entries"][1]["details"] = json!("{\"edited\":true}");
    let file = write_json(&sandbox, "edited.json", &edited);
    let error = fails(
        &elsewhere,
        &[
            "audit",
            "verify-excerpt",
            &file,
            "--public-key",
            &public_key,
        ],
    );
    assert!(error.contains("entry 3"), "{error}");

    let mut unpinned = excerpt.clone();
    unpinned["entries"].as_array_mut().ok_or("entries")?.pop();
    unpinned["to"] = json!(2);
    let file = write_json(&sandbox, "unpinned.json", &unpinned);
    let error = fails(
        &elsewhere,
        &[
            "audit",
            "verify-excerpt",
            &file,
            "--public-key",
            &public_key,
        ],
    );
    assert!(error.contains("pins entry 3"), "{error}");

    let other_key = Sandbox::new();
    let wrong_key = other_key.ok(&["audit", "node-key"]).trim().to_owned();
    fails(
        &elsewhere,
        &["audit", "verify-excerpt", &out, "--public-key", &wrong_key],
    );
    // The whole chain exports too, with --to defaulting to the head.
    let whole = path_text(&sandbox, "whole.json");
    sandbox.ok(&["audit", "export", "--from", "1", "--out", &whole]);
    elsewhere.ok(&[
        "audit",
        "verify-excerpt",
        &whole,
        "--public-key",
        &public_key,
    ]);
    fails(
        &sandbox,
        &["audit", "export", "--from", "9", "--out", &whole],
    );
    Ok(())
}

#[test]
fn inclusion_and_consistency_proofs_verify_offline_and_modified_ones_fail() -> TestResult {
    let sandbox = Sandbox::new();
    let ids = archive(&sandbox, 2);
    let public_key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let old_report = sandbox.json(&["report", "transparency", "--json"]);
    assert_eq!(old_report["tree_head"]["body"]["tree_size"], 2);
    let old_file = write_json(&sandbox, "old-report.json", &old_report);

    sandbox.ok(&[
        "hold",
        "set",
        "--tenant",
        "acme",
        "--recording",
        &ids[0],
        "--reason",
        "case 9",
    ]);
    sandbox.ok(&["erase", "--tenant", "acme", "--recording", &ids[1]]);

    let proof = sandbox.json(&["report", "transparency", "--prove", &ids[0], "--json"]);
    let events: Vec<&str> = proof["leaves"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|leaf| leaf["event"].as_str())
        .collect();
    assert_eq!(events, vec!["committed", "hold.placed"]);
    assert_eq!(proof["leaves"][1]["manifest"]["hold"]["held"], true);
    assert_eq!(proof["leaves"][0]["manifest"]["hold"]["held"], false);
    let proof_file = write_json(&sandbox, "inclusion.json", &proof);
    let elsewhere = Sandbox::new();
    let verified = elsewhere.ok(&[
        "report",
        "verify-transparency",
        "--public-key",
        &public_key,
        "--inclusion",
        &proof_file,
    ]);
    assert_eq!(verified.lines().count(), 2, "{verified}");

    // A modified manifest is not the leaf that was logged.
    let mut modified = proof.clone();
    modified["leaves"][0]["manifest"]["evidence"]["covered"] = json!(0);
    let file = write_json(&sandbox, "modified-manifest.json", &modified);
    let error = fails(
        &elsewhere,
        &[
            "report",
            "verify-transparency",
            "--public-key",
            &public_key,
            "--inclusion",
            &file,
        ],
    );
    assert!(error.contains("not in the log"), "{error}");
    // A modified proof or tree head fails too.
    let mut modified = proof.clone();
    let first = modified["leaves"][0]["inclusion_proof"][0]
        .as_str()
        .ok_or("proof")?;
    let flipped = format!(
        "{}{}",
        if first.starts_with('0') { "1" } else { "0" },
        &first[1..]
    );
    modified["leaves"][0]["inclusion_proof"][0] = json!(flipped);
    let file = write_json(&sandbox, "modified-proof.json", &modified);
    fails(
        &elsewhere,
        &[
            "report",
            "verify-transparency",
            "--public-key",
            &public_key,
            "--inclusion",
            &file,
        ],
    );
    let mut modified = proof.clone();
    modified["tree_head"]["body"]["tree_size"] = json!(3);
    let file = write_json(&sandbox, "modified-head.json", &modified);
    let error = fails(
        &elsewhere,
        &[
            "report",
            "verify-transparency",
            "--public-key",
            &public_key,
            "--inclusion",
            &file,
        ],
    );
    assert!(error.contains("tree head does not verify"), "{error}");

    // Consistency from the old report's tree head to now.
    let consistency = sandbox.json(&[
        "report",
        "transparency",
        "--consistency-from",
        &old_file,
        "--json",
    ]);
    assert_eq!(consistency["old_tree_head"]["body"]["tree_size"], 2);
    assert_eq!(consistency["tree_head"]["body"]["tree_size"], 4);
    let file = write_json(&sandbox, "consistency.json", &consistency);
    let verified = elsewhere.ok(&[
        "report",
        "verify-transparency",
        "--public-key",
        &public_key,
        "--consistency",
        &file,
    ]);
    assert!(
        verified.contains("extends the log of 2 leaves"),
        "{verified}"
    );
    let mut modified = consistency.clone();
    let first = modified["consistency_proof"][0].as_str().ok_or("proof")?;
    let flipped = format!(
        "{}{}",
        if first.starts_with('0') { "1" } else { "0" },
        &first[1..]
    );
    modified["consistency_proof"][0] = json!(flipped);
    let file = write_json(&sandbox, "modified-consistency.json", &modified);
    let error = fails(
        &elsewhere,
        &[
            "report",
            "verify-transparency",
            "--public-key",
            &public_key,
            "--consistency",
            &file,
        ],
    );
    assert!(error.contains("not consistent"), "{error}");

    // A log rewritten under an old tree head is refused a consistency proof.
    with_pool(&sandbox, async |pool| {
        sqlx::query("UPDATE transparency_leaves SET manifest = manifest || ' ' WHERE idx = 0")
            .execute(pool)
            .await?;
        Ok(())
    })?;
    let error = fails(
        &sandbox,
        &[
            "report",
            "transparency",
            "--consistency-from",
            &old_file,
            "--json",
        ],
    );
    assert!(error.contains("rewritten"), "{error}");
    Ok(())
}

#[test]
fn the_transparency_report_counts_events_and_names_no_participant() -> TestResult {
    let sandbox = Sandbox::new();
    let ids = archive(&sandbox, 3);
    // A refused call (no consent evidence), a participant hold, an erasure.
    distinctive_call(&sandbox, "refused", "call-refused", 40, false);
    import(&sandbox, "refused");
    sandbox.ok(&[
        "hold",
        "set",
        "--tenant",
        "acme",
        "--recording",
        &ids[2],
        "--reason",
        "case 10",
    ]);
    sandbox.ok(&["erase", "--tenant", "acme", "--recording", &ids[0]]);

    let report = sandbox.json(&["report", "transparency", "--json"]);
    let acme = &report["tenants"][0];
    assert_eq!(acme["tenant"], "acme");
    assert_eq!(acme["region"], "local");
    assert_eq!(acme["recordings"]["committed"], 2);
    assert_eq!(acme["recordings"]["erased"], 1);
    assert_eq!(acme["evidence"]["coverage_percent"], 100.0);
    assert_eq!(acme["evidence"]["recordings_logged"], 3);
    assert_eq!(acme["erasures"], 1);
    assert_eq!(acme["active_holds"], 1);
    let refusals = acme["refusals"].as_object().ok_or("refusals")?;
    assert_eq!(refusals.values().filter_map(Value::as_u64).sum::<u64>(), 1);
    // committed ×3, hold.placed ×1, erased ×1.
    assert_eq!(report["tree_head"]["body"]["tree_size"], 5);

    let text = sandbox.ok(&["report", "transparency"]);
    assert!(text.contains("tenant acme (region local"), "{text}");
    assert!(text.contains("100.0%"), "{text}");
    let filtered = sandbox.json(&["report", "transparency", "--tenant", "acme", "--json"]);
    assert_eq!(filtered["tenants"].as_array().map(Vec::len), Some(1));
    fails(&sandbox, &["report", "transparency", "--tenant", "nobody"]);

    // Nothing the operator sees names a participant: not the report, not a proof.
    let mut outputs = vec![serde_json::to_string(&report)?, text];
    for id in &ids {
        outputs.push(sandbox.ok(&["report", "transparency", "--prove", id, "--json"]));
    }
    let digits = CUSTOMER_ADDRESS.trim_start_matches("tel:+");
    for output in &outputs {
        for personal in [
            CUSTOMER_ADDRESS,
            CUSTOMER_NAME,
            AGENT_ADDRESS,
            AGENT_NAME,
            digits,
            "Philomena",
            "Quartermaine",
            "zebulon",
            "Zebulon",
        ] {
            assert!(
                !output.contains(personal),
                "{personal:?} appears in a transparency output: {output}"
            );
        }
    }
    // The leaves themselves (the log's stored manifests) hold none of it either.
    let manifests: Vec<String> = with_pool(&sandbox, async |pool| {
        Ok(
            sqlx::query_scalar("SELECT manifest FROM transparency_leaves")
                .fetch_all(pool)
                .await?,
        )
    })?;
    assert_eq!(manifests.len(), 5);
    for manifest in &manifests {
        for personal in [
            CUSTOMER_ADDRESS,
            CUSTOMER_NAME,
            AGENT_ADDRESS,
            AGENT_NAME,
            digits,
        ] {
            assert!(!manifest.contains(personal), "{manifest}");
        }
    }
    Ok(())
}

#[test]
fn serve_signs_checkpoints_periodically_and_at_shutdown_and_folds_calls_into_the_log() -> TestResult
{
    use std::time::Duration;
    use support::serve::Server;

    let sandbox = Sandbox::new();
    archive(&sandbox, 1);
    let count_leaves = |sandbox: &Sandbox| {
        with_pool(sandbox, async |pool| {
            Ok(
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM transparency_leaves")
                    .fetch_one(pool)
                    .await?,
            )
        })
    };
    // Only at shutdown.
    let server = Server::start(&sandbox, &["--checkpoint-interval", "0"]);
    assert!(server.stop().success());
    let lines = std::fs::read_to_string(checkpoint_file(&sandbox))?;
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert_eq!(count_leaves(&sandbox)?, 1);
    let verified = sandbox.json(&["audit", "verify", "--json"]);
    assert_eq!(verified["entries_after_last_checkpoint"], 0);

    // Periodically, once the chain grew.
    sandbox.ok(&[
        "hold", "set", "--tenant", "acme", "--tag", "qa", "--reason", "case 11",
    ]);
    let mut server = Server::start(&sandbox, &["--checkpoint-interval", "1"]);
    let signed = server.wait_for("audit checkpoint signed", Duration::from_secs(30));
    assert!(signed.is_some(), "no periodic checkpoint");
    assert!(server.stop().success());
    let lines = std::fs::read_to_string(checkpoint_file(&sandbox))?;
    assert_eq!(
        lines.lines().count(),
        2,
        "the chain did not grow after that: {lines}"
    );
    // The tag hold covers the imported call: one hold.placed leaf more.
    assert_eq!(count_leaves(&sandbox)?, 2);
    sandbox.ok(&["audit", "verify"]);
    Ok(())
}
