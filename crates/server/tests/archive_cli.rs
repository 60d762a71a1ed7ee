//! The archive through the real binary: consent gate, idempotence, sealing at rest, export,
//! integrity, keys, audit chain, region pinning, configuration errors.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{Sandbox, TestResult, files_under, objects, stderr};

fn imported_ids(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .json(&["list", "--json"])
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_call_without_consent_evidence_is_refused_and_nothing_of_it_is_stored() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    sandbox.call("in", "no-consent", 1, false);
    let objects_before = objects(&sandbox.data_dir());

    let output = sandbox.run(&[
        "import",
        "--tenant",
        "acme",
        sandbox.path("in").to_str().unwrap_or_default(),
        "--json",
    ]);
    assert!(
        !output.status.success(),
        "a refused import must exit non-zero"
    );
    let summary: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(
        summary["refused"][0]["reason_code"],
        "participant-without-evidence"
    );
    assert_eq!(summary["imported"].as_array().map(Vec::len), Some(0));

    assert_eq!(
        objects(&sandbox.data_dir()),
        objects_before,
        "no object may be stored"
    );
    assert!(
        imported_ids(&sandbox).is_empty(),
        "no recording row may exist"
    );
    let spool = sandbox.data_dir().join("spool");
    assert!(
        files_under(&spool).is_empty(),
        "nothing may be left in the spool"
    );

    // The refusal itself is audited and counted, without personal data.
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        use catalog::Catalog;
        let catalog =
            catalog::SqliteCatalog::open(sandbox.data_dir().join("catalog.sqlite")).await?;
        let counts = catalog
            .refusal_counts(&model::TenantId::new("acme")?)
            .await?;
        assert_eq!(counts, vec![("participant-without-evidence".to_owned(), 1)]);
        let audit = catalog.audit_entries(0, 100).await?;
        let refusal = audit
            .iter()
            .find(|e| e.action == "import.refused")
            .ok_or("refusal not audited")?;
        assert!(
            !refusal.details.contains("+441632960001"),
            "personal data in the audit: {}",
            refusal.details
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

#[test]
fn a_one_party_tenant_records_when_one_participant_is_covered() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "one-party");
    sandbox.call("in", "agent-only", 1, false);
    let summary = sandbox.json(&[
        "import",
        "--tenant",
        "acme",
        sandbox.path("in").to_str().unwrap_or_default(),
        "--json",
    ]);
    assert_eq!(summary["imported"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[test]
fn importing_the_same_files_twice_stores_them_once() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    for seed in 1..=3 {
        sandbox.call("in", &format!("call-{seed}"), seed, true);
    }
    // The same content under another name in the same run is stored once too.
    std::fs::copy(
        sandbox.path("in/call-1.wav"),
        sandbox.path("in/copy-of-1.wav"),
    )?;
    std::fs::copy(
        sandbox.path("in/call-1.json"),
        sandbox.path("in/copy-of-1.json"),
    )?;
    let input = sandbox.path("in");
    let input = input.to_str().unwrap_or_default();

    let first = sandbox.json(&["import", "--tenant", "acme", input, "--json"]);
    assert_eq!(first["imported"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["duplicates"].as_array().map(Vec::len), Some(1));
    let stored = objects(&sandbox.data_dir());
    assert_eq!(stored.len(), 3);

    let second = sandbox.json(&["import", "--tenant", "acme", input, "--json"]);
    assert_eq!(second["imported"].as_array().map(Vec::len), Some(0));
    assert_eq!(second["duplicates"].as_array().map(Vec::len), Some(4));
    assert_eq!(objects(&sandbox.data_dir()), stored);
    assert_eq!(imported_ids(&sandbox).len(), 3);
    Ok(())
}

#[test]
fn no_plaintext_audio_is_at_rest_anywhere_under_the_data_dir() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    // A recognisable payload: a µ-law WAV whose samples spell out a canary again and again.
    let canary = b"ONRECORD-PLAINTEXT-CANARY-4f1c9e";
    let mut audio = onrecord::synth::two_party_mulaw_wav(1, 7);
    let header_len = audio.len() - 16_000;
    for (index, byte) in audio[header_len..].iter_mut().enumerate() {
        *byte = canary[index % canary.len()];
    }
    let dir = sandbox.path("in");
    std::fs::create_dir_all(&dir)?;
    onrecord::synth::write_call(
        &dir,
        "canary",
        &audio,
        &onrecord::synth::sidecar("c", "2026-11-28T10:00:00Z", true),
    )?;
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        dir.to_str().unwrap_or_default(),
    ]);
    let id = imported_ids(&sandbox).pop().ok_or("nothing imported")?;
    sandbox.ok(&["show", &id]);

    let files = files_under(&sandbox.data_dir());
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "orc")),
        "the sealed object exists"
    );
    let needle = &canary[..16];
    for file in files {
        let bytes = std::fs::read(&file)?;
        assert!(
            !bytes.windows(needle.len()).any(|window| window == needle),
            "plaintext audio found at rest in {}",
            file.display()
        );
    }
    Ok(())
}

#[test]
fn export_is_bit_exact_and_needs_the_tenants_private_key() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    sandbox.create_tenant("globex", "all-party");
    let original = sandbox.call("in", "call", 5, true);
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        original.to_str().unwrap_or_default(),
    ]);
    let id = imported_ids(&sandbox).pop().ok_or("nothing imported")?;

    let out = sandbox.path("out");
    sandbox.ok(&["export", &id, "--out", out.to_str().unwrap_or_default()]);
    assert_eq!(
        std::fs::read(out.join("original.wav"))?,
        std::fs::read(&original)?
    );
    let metadata: Value = serde_json::from_slice(&std::fs::read(out.join("metadata.json"))?)?;
    assert_eq!(metadata["participants"][0]["address"], "tel:+441632960001");
    assert_eq!(
        metadata["participants"][1]["evidence"][0]["source"],
        "staff-policy"
    );

    let keyring = sandbox.data_dir().join("keyring");
    let acme_key = keyring.join("acme.key");
    let saved = std::fs::read(&acme_key)?;

    // Missing key: a clean one-line error, nothing written.
    std::fs::remove_file(&acme_key)?;
    let output = sandbox.run(&[
        "export",
        &id,
        "--out",
        sandbox.path("out-missing").to_str().unwrap_or_default(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no private key for tenant acme"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stderr(&output).trim().lines().count(), 1);
    assert!(!sandbox.path("out-missing").exists());

    // Wrong key (another tenant's, renamed): refused, never garbage audio.
    let globex =
        std::fs::read_to_string(keyring.join("globex.key"))?.replace("\"globex\"", "\"acme\"");
    write_private(&acme_key, globex.as_bytes())?;
    let output = sandbox.run(&[
        "export",
        &id,
        "--out",
        sandbox.path("out-wrong").to_str().unwrap_or_default(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot open the data key"),
        "{}",
        stderr(&output)
    );
    assert!(!sandbox.path("out-wrong").exists());

    write_private(&acme_key, &saved)?;
    sandbox.ok(&[
        "export",
        &id,
        "--out",
        sandbox.path("out-again").to_str().unwrap_or_default(),
    ]);
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[test]
fn a_passphrase_protected_keyring_needs_the_passphrase() -> TestResult {
    let sandbox = Sandbox::new();
    let output = sandbox
        .command(&[
            "tenant",
            "create",
            "acme",
            "--policy",
            "one-party",
            "--purpose",
            "qa",
            "--legal-basis",
            "contract",
        ])
        .env(
            "ONRECORD_KEYRING_PASSPHRASE",
            "correct horse battery staple",
        )
        .output()?;
    assert!(output.status.success(), "{}", stderr(&output));
    let key_file = std::fs::read_to_string(sandbox.data_dir().join("keyring/acme.key"))?;
    assert!(key_file.contains("sealed_private_key") && !key_file.contains("\"private_key\""));
    let original = sandbox.call("in", "call", 9, true);
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        original.to_str().unwrap_or_default(),
    ]);
    let id = imported_ids(&sandbox).pop().ok_or("nothing imported")?;

    let output = sandbox.run(&[
        "export",
        &id,
        "--out",
        sandbox.path("o1").to_str().unwrap_or_default(),
    ]);
    assert!(
        stderr(&output).contains("ONRECORD_KEYRING_PASSPHRASE"),
        "{}",
        stderr(&output)
    );
    let output = sandbox
        .command(&[
            "export",
            &id,
            "--out",
            sandbox.path("o2").to_str().unwrap_or_default(),
        ])
        .env("ONRECORD_KEYRING_PASSPHRASE", "wrong")
        .output()?;
    assert!(
        stderr(&output).contains("does not open"),
        "{}",
        stderr(&output)
    );
    let output = sandbox
        .command(&[
            "export",
            &id,
            "--out",
            sandbox.path("o3").to_str().unwrap_or_default(),
        ])
        .env(
            "ONRECORD_KEYRING_PASSPHRASE",
            "correct horse battery staple",
        )
        .output()?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        std::fs::read(sandbox.path("o3/original.wav"))?,
        std::fs::read(&original)?
    );
    Ok(())
}

#[test]
fn a_tampered_or_truncated_object_fails_with_an_integrity_error() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let original = sandbox.call("in", "call", 3, true);
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        original.to_str().unwrap_or_default(),
    ]);
    let id = imported_ids(&sandbox).pop().ok_or("nothing imported")?;
    let object = objects(&sandbox.data_dir()).pop().ok_or("no object")?;
    let pristine = std::fs::read(&object)?;

    let mut flipped = pristine.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let mut cases = vec![("one flipped bit", flipped)];
    cases.push((
        "truncated mid-chunk",
        pristine[..pristine.len() - 100].to_vec(),
    ));
    cases.push((
        "last chunk dropped",
        pristine[..pristine.len() / 2].to_vec(),
    ));
    for (what, bytes) in cases {
        std::fs::write(&object, &bytes)?;
        let out = sandbox.path(&format!("out-{}", what.replace(' ', "-")));
        let output = sandbox.run(&["export", &id, "--out", out.to_str().unwrap_or_default()]);
        assert!(!output.status.success(), "{what}: export must fail");
        assert!(
            stderr(&output).contains("integrity"),
            "{what}: {}",
            stderr(&output)
        );
        assert!(!out.exists(), "{what}: nothing may be written");
    }
    std::fs::write(&object, &pristine)?;
    sandbox.ok(&[
        "export",
        &id,
        "--out",
        sandbox.path("out-ok").to_str().unwrap_or_default(),
    ]);
    Ok(())
}

async fn tamper(data_dir: &Path, sql: &'static str) -> TestResult {
    let catalog = catalog::SqliteCatalog::open(data_dir.join("catalog.sqlite")).await?;
    sqlx::query(sql).execute(catalog.pool()).await?;
    Ok(())
}

#[test]
fn audit_verify_names_the_first_changed_entry() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let original = sandbox.call("in", "call", 3, true);
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        original.to_str().unwrap_or_default(),
    ]);
    sandbox.ok(&["list"]);
    sandbox.ok(&["list"]);
    assert!(
        sandbox
            .ok(&["audit", "verify"])
            .contains("intact: 4 entries")
    );
    let runtime = tokio::runtime::Runtime::new()?;

    // One byte of one field of entry 3.
    runtime.block_on(tamper(
        &sandbox.data_dir(),
        "UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = 3",
    ))?;
    let output = sandbox.run(&["audit", "verify"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("entry 3"), "{}", stderr(&output));
    runtime.block_on(tamper(
        &sandbox.data_dir(),
        "UPDATE audit_log SET actor = 'cli:tester' WHERE seq = 3",
    ))?;
    sandbox.ok(&["audit", "verify"]);

    // Two entries swapped.
    for step in [
        "UPDATE audit_log SET seq = -2 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = -2",
    ] {
        runtime.block_on(tamper(&sandbox.data_dir(), step))?;
    }
    let output = sandbox.run(&["audit", "verify", "--json"]);
    assert!(!output.status.success());
    let verdict: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(verdict["intact"], false);
    assert_eq!(verdict["first_bad_seq"], 2);
    Ok(())
}

#[test]
fn a_tenants_objects_go_only_to_its_own_regions_store() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    // Add a second region and a tenant pinned to it.
    let eu = sandbox.path("eu-store");
    let config_path = sandbox.data_dir().join("config.toml");
    let config = std::fs::read_to_string(&config_path)?;
    std::fs::write(
        &config_path,
        format!(
            "{config}\n[regions.eu-west]\nstore = \"file://{}\"\n",
            eu.display()
        ),
    )?;
    sandbox.ok(&[
        "tenant",
        "create",
        "eurocorp",
        "--region",
        "eu-west",
        "--policy",
        "all-party",
        "--purpose",
        "qa",
        "--legal-basis",
        "contract",
        "--staff",
        "sip:*@contact.example.com",
    ]);

    let acme_call = sandbox.call("acme-in", "a", 1, true);
    let euro_call = sandbox.call("euro-in", "e", 2, true);
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        acme_call.to_str().unwrap_or_default(),
    ]);
    sandbox.ok(&[
        "import",
        "--tenant",
        "eurocorp",
        euro_call.to_str().unwrap_or_default(),
    ]);

    let local = files_under(&sandbox.data_dir().join("store/local"));
    let in_eu = files_under(&eu);
    assert_eq!(local.len(), 1);
    assert_eq!(in_eu.len(), 1);
    assert!(local[0].to_string_lossy().contains("/acme/"));
    assert!(in_eu[0].to_string_lossy().contains("/eurocorp/"));
    let listed = sandbox.json(&["list", "--json", "--tenant", "eurocorp"]);
    assert_eq!(listed[0]["streams"][0]["region"], "eu-west");
    Ok(())
}

#[test]
fn a_bad_config_is_one_error_naming_the_key_and_line() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let config_path = sandbox.data_dir().join("config.toml");
    let config = std::fs::read_to_string(&config_path)?
        .replace("policy = \"all-party\"", "policy = \"everybody\"");
    std::fs::write(&config_path, &config)?;
    let line = config
        .lines()
        .position(|l| l.contains("everybody"))
        .ok_or("edit failed")?
        + 1;
    let output = sandbox.run(&["list"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.contains(&format!("line {line}")) && message.contains("tenants.acme.policy"),
        "{message}"
    );
    Ok(())
}

#[test]
fn bench_import_reports_per_core_throughput_and_the_baseline_ratio() -> TestResult {
    let sandbox = Sandbox::new();
    let report = sandbox.json(&[
        "bench",
        "import",
        "--calls",
        "2",
        "--json",
        "--dir",
        sandbox.path("bench").to_str().unwrap_or_default(),
    ]);
    assert_eq!(report["calls"], 2);
    assert!(
        report["calls_per_sec_per_core"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    );
    assert!(
        report["ratio_to_baseline"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    );
    Ok(())
}

#[test]
fn flac_mp3_ogg_opus_and_raw_g711_import_and_export_bit_exact() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let input = sandbox.path("formats");
    std::fs::create_dir_all(&input)?;
    let fixtures = support::testdata("intake");
    let mut originals = Vec::new();
    for (index, name) in [
        "tone-8k-mono-500ms.flac",
        "tone-8k-mono-500ms.mp3",
        "tone-8k-mono-500ms.opus",
    ]
    .iter()
    .enumerate()
    {
        let target = input.join(name);
        std::fs::copy(fixtures.join(name), &target)?;
        let sidecar = onrecord::synth::sidecar(&format!("f{index}"), "2026-11-28T10:00:00Z", true);
        std::fs::write(target.with_extension("json"), serde_json::to_vec(&sidecar)?)?;
        originals.push(target);
    }
    // Raw G.711 µ-law needs the codec in its sidecar.
    let raw = input.join("call.ul");
    std::fs::write(&raw, vec![0xffu8; 8_000])?;
    let mut sidecar = onrecord::synth::sidecar("raw", "2026-11-28T10:00:00Z", true);
    sidecar["codec"] = serde_json::json!("pcmu");
    std::fs::write(raw.with_extension("json"), serde_json::to_vec(&sidecar)?)?;
    originals.push(raw);

    let summary = sandbox.json(&[
        "import",
        "--tenant",
        "acme",
        input.to_str().unwrap_or_default(),
        "--json",
    ]);
    assert_eq!(
        summary["imported"].as_array().map(Vec::len),
        Some(4),
        "{summary}"
    );
    for imported in summary["imported"].as_array().ok_or("no list")? {
        let id = imported["recording"].as_str().ok_or("no id")?;
        let file = std::path::PathBuf::from(imported["file"].as_str().ok_or("no file")?);
        let out = sandbox.path(&format!("out-{id}"));
        sandbox.ok(&["export", id, "--out", out.to_str().unwrap_or_default()]);
        let extension = file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        assert_eq!(
            std::fs::read(out.join(format!("original.{extension}")))?,
            std::fs::read(&file)?,
            "{}",
            file.display()
        );
        let expected_ms = if extension == "ul" { 1_000 } else { 500 };
        let duration = imported["duration_ms"].as_u64().unwrap_or_default();
        assert!(
            duration.abs_diff(expected_ms) <= 30,
            "{}: {duration} ms",
            file.display()
        );
    }
    Ok(())
}
