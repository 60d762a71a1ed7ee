//! Governance through the real binary: legal holds, erasure that erases, signed receipts.

mod support;

use std::path::PathBuf;

use catalog::{Catalog, Governance, SqliteCatalog};
use model::{Pii, RecordingId, TenantId};
use serde_json::Value;
use support::{Sandbox, TestResult, objects, stderr};

const CUSTOMER: &str = "tel:+441632960001";

fn import(sandbox: &Sandbox, folder: &str) {
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        sandbox.path(folder).to_str().unwrap_or_default(),
        "--json",
    ]);
}

/// A tenant with `calls` imported calls (all with the same customer); their ids, oldest first.
fn archive_with_calls(sandbox: &Sandbox, calls: u64) -> Vec<String> {
    sandbox.create_tenant("acme", "all-party");
    for seed in 1..=calls {
        sandbox.call("in", &format!("call-{seed}"), seed, true);
    }
    import(sandbox, "in");
    let mut ids: Vec<String> = sandbox
        .json(&["list", "--json"])
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    assert_eq!(ids.len() as u64, calls);
    ids
}

fn run_catalog<T>(
    sandbox: &Sandbox,
    work: impl AsyncFnOnce(SqliteCatalog) -> Result<T, Box<dyn std::error::Error>>,
) -> Result<T, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let catalog = SqliteCatalog::open(sandbox.data_dir().join("catalog.sqlite")).await?;
        work(catalog).await
    })
}

#[test]
fn a_held_recording_cannot_be_erased_until_the_hold_is_released() -> TestResult {
    let sandbox = Sandbox::new();
    let ids = archive_with_calls(&sandbox, 2);
    let held = ids[0].as_str();
    let placed = sandbox.json(&[
        "hold",
        "set",
        "--tenant",
        "acme",
        "--recording",
        held,
        "--reason",
        "case 2026-114",
        "--json",
    ]);
    assert_eq!(placed["holder"], "cli:tester");
    let shown = sandbox.json(&["show", held, "--json"]);
    assert_eq!(shown["under_legal_hold"], true);
    assert_eq!(shown["holds"][0]["reason"], "case 2026-114");

    let output = sandbox.run(&["erase", "--tenant", "acme", "--recording", held, "--json"]);
    assert!(
        !output.status.success(),
        "erasing a held recording must fail"
    );
    let report: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(report["receipts"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["blocked"][0]["recording"], held);
    assert_eq!(report["blocked"][0]["reasons"][0]["kind"], "legal-hold");
    assert!(
        stderr(&output).contains("case 2026-114"),
        "{}",
        stderr(&output)
    );
    // Nothing of it was erased: it still exports.
    sandbox.ok(&[
        "export",
        held,
        "--out",
        sandbox.path("still-there").to_str().unwrap_or_default(),
    ]);

    let listed = sandbox.json(&["hold", "list", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    sandbox.ok(&[
        "hold",
        "release",
        "--tenant",
        "acme",
        "--recording",
        held,
        "--reason",
        "case closed",
    ]);
    assert_eq!(
        sandbox
            .json(&["hold", "list", "--json"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let erased = sandbox.json(&["erase", "--tenant", "acme", "--recording", held, "--json"]);
    assert_eq!(erased["receipts"].as_array().map(Vec::len), Some(1));
    let actions: Vec<String> = run_catalog(&sandbox, async |catalog| {
        let id: RecordingId = held.parse()?;
        Ok(catalog
            .audit_for_recording(&id)
            .await?
            .into_iter()
            .map(|entry| entry.action)
            .collect())
    })?;
    for action in [
        "hold.placed",
        "hold.released",
        "recording.erased",
        "erasure.receipt",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not audited: {actions:?}"
        );
    }
    Ok(())
}

#[test]
fn a_participant_hold_covers_their_later_recordings_and_blocks_erasing_them() -> TestResult {
    let sandbox = Sandbox::new();
    let ids = archive_with_calls(&sandbox, 1);
    sandbox.ok(&[
        "hold",
        "set",
        "--tenant",
        "acme",
        "--participant",
        CUSTOMER,
        "--reason",
        "regulator request",
    ]);
    // A call of the same customer imported after the hold.
    sandbox.call("later", "call-later", 99, true);
    import(&sandbox, "later");
    let output = sandbox.run(&[
        "erase",
        "--tenant",
        "acme",
        "--participant",
        CUSTOMER,
        "--json",
    ]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout)?;
    let blocked: Vec<&str> = report["blocked"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|b| b["recording"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(blocked.len(), 2, "both calls are held: {report}");
    assert!(blocked.contains(&ids[0].as_str()));
    // The hold list shows the address to the operator; the audit chain does not hold it.
    let audit_text: String = run_catalog(&sandbox, async |catalog| {
        Ok(catalog
            .audit_entries(0, 10_000)
            .await?
            .into_iter()
            .filter(|entry| entry.action.starts_with("hold."))
            .map(|entry| entry.details)
            .collect())
    })?;
    assert!(
        !audit_text.is_empty() && !audit_text.contains(CUSTOMER),
        "{audit_text}"
    );
    Ok(())
}

#[test]
fn erasure_leaves_no_readable_byte_and_the_signed_receipt_verifies_offline() -> TestResult {
    let sandbox = Sandbox::new();
    let ids = archive_with_calls(&sandbox, 2);
    let (victim, survivor) = (ids[0].as_str(), ids[1].as_str());
    let victim_id: RecordingId = victim.parse()?;
    let survivor_id: RecordingId = survivor.parse()?;
    let tenant = TenantId::new("acme")?;

    // Keep a copy of the victim's ciphertext and of its sealed key from before erasure.
    let victim_objects: Vec<PathBuf> = objects(&sandbox.data_dir())
        .into_iter()
        .filter(|path| path.to_string_lossy().contains(victim))
        .collect();
    assert!(!victim_objects.is_empty());
    let ciphertexts: Vec<Vec<u8>> = victim_objects
        .iter()
        .map(std::fs::read)
        .collect::<Result<_, _>>()?;
    let sealed_key_copy = run_catalog(&sandbox, async |catalog| {
        Ok(catalog
            .sealed_key(&victim_id)
            .await?
            .ok_or("no sealed key")?)
    })?;

    let report = sandbox.json(&["erase", "--tenant", "acme", "--recording", victim, "--json"]);
    let receipt = &report["receipts"][0];
    let body = &receipt["body"];
    assert_eq!(body["recording"], victim);
    assert_eq!(body["erased_by"], "cli:tester");
    use sha2::Digest;
    assert_eq!(
        body["sealed_key_sha256"],
        hex::encode(sha2::Sha256::digest(&sealed_key_copy)),
        "the receipt names the destroyed key"
    );
    for ciphertext in &ciphertexts {
        let digest = blake3::hash(ciphertext).to_hex().to_string();
        assert!(
            body["objects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|o| o["blake3"] == digest.as_str() && o["deleted"] == true),
            "object digest {digest} missing from the receipt ({body})"
        );
    }

    // The objects are gone from the store, the sealed key from the catalog.
    for path in &victim_objects {
        assert!(!path.exists(), "{} still in the store", path.display());
    }
    let (sealed_after, survivor_key, by_address, participants) =
        run_catalog(&sandbox, async |catalog| {
            let detail = catalog.recording(None, &victim_id).await?.ok_or("gone")?;
            Ok((
                catalog.sealed_key(&victim_id).await?,
                catalog
                    .sealed_key(&survivor_id)
                    .await?
                    .ok_or("survivor key")?,
                catalog
                    .recordings_with_participant(&tenant, &Pii::new(CUSTOMER.to_owned()))
                    .await?,
                detail.participants,
            ))
        })?;
    assert_eq!(sealed_after, None, "the sealed key must be destroyed");
    assert_eq!(
        by_address,
        vec![survivor_id],
        "the index no longer finds the erased call"
    );
    for participant in &participants {
        assert!(
            participant
                .address
                .dangerous_reveal()
                .starts_with("erased:")
        );
        assert_eq!(participant.name, None);
    }

    // With everything the system still holds (the tenant's private key, every remaining
    // sealed key) the saved ciphertext cannot be opened.
    let private_key = onrecord::keyring::Keyring::new(sandbox.data_dir().join("keyring"))
        .private_key(&tenant, None)?;
    let survivor_data_key = seal::SealedDataKey::from_bytes(&survivor_key)?.open(
        &private_key,
        &seal::KeyBinding {
            tenant: tenant.clone(),
            recording: survivor_id,
        },
    )?;
    for ciphertext in &ciphertexts {
        assert!(seal::open_container(&survivor_data_key, ciphertext).is_err());
    }
    let export = sandbox.run(&[
        "export",
        victim,
        "--out",
        sandbox.path("x").to_str().unwrap_or_default(),
    ]);
    assert!(!export.status.success());
    assert!(stderr(&export).contains("erased"), "{}", stderr(&export));
    let shown = sandbox.ok(&["show", victim, "--json"]);
    assert!(
        !shown.contains(CUSTOMER) && !shown.contains("Ann Customer"),
        "{shown}"
    );

    // The receipt verifies offline with the node's public key, and fails once changed.
    let public_key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let receipt_file = sandbox.path("receipt.json");
    std::fs::write(&receipt_file, serde_json::to_vec_pretty(receipt)?)?;
    let elsewhere = Sandbox::new();
    let verified = elsewhere.ok(&[
        "audit",
        "verify-receipt",
        receipt_file.to_str().unwrap_or_default(),
        "--public-key",
        &public_key,
    ]);
    assert!(verified.contains("receipt verifies"), "{verified}");
    let mut forged = receipt.clone();
    forged["body"]["erased_by"] = Value::from("cli:someone-else");
    std::fs::write(&receipt_file, serde_json::to_vec_pretty(&forged)?)?;
    let output = sandbox.run(&[
        "audit",
        "verify-receipt",
        receipt_file.to_str().unwrap_or_default(),
    ]);
    assert!(
        !output.status.success(),
        "a changed receipt must not verify"
    );

    // The receipt is in the audit chain, and the chain is intact.
    let in_chain = run_catalog(&sandbox, async |catalog| {
        let entries = catalog.audit_for_recording(&victim_id).await?;
        Ok(entries
            .into_iter()
            .find(|e| e.action == "erasure.receipt")
            .map(|e| e.details))
    })?
    .ok_or("no receipt in the audit chain")?;
    assert_eq!(serde_json::from_str::<Value>(&in_chain)?, *receipt);
    sandbox.ok(&["audit", "verify"]);
    let node_key = sandbox.data_dir().join("keyring/node.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(node_key)?.permissions().mode() & 0o777,
        0o600
    );
    Ok(())
}
