//! Subject access through the real binary: `export --tenant --participant --out FILE.zip`
//! bundles exactly the address's calls (audio bit-exact, vCon, transcript), `audit
//! verify-bundle` checks it offline with no data dir, and every kind of tampering is named.

mod support;

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use catalog::{Catalog, SqliteCatalog};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use support::{Sandbox, TestResult, stderr};

const ANN: &str = "tel:+441632960001";
const BOB: &str = "tel:+441632960002";
const AGENT: &str = "sip:agent7@contact.example.com";

/// Writes a call whose customers are `customers` (each heard the notice) plus the agent.
fn call(sandbox: &Sandbox, name: &str, seed: u64, customers: &[&str]) -> PathBuf {
    let dir = sandbox.path("in");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let audio = onrecord::synth::two_party_mulaw_wav(2, seed);
    let mut sidecar = onrecord::synth::sidecar(name, "2026-11-28T10:00:00Z", true);
    let customer = sidecar["participants"][0].clone();
    let agent = sidecar["participants"][1].clone();
    let mut participants: Vec<Value> = customers
        .iter()
        .enumerate()
        .map(|(index, address)| {
            let mut party = customer.clone();
            party["address"] = json!(address);
            party["name"] = json!(format!("Customer {index}"));
            party
        })
        .collect();
    participants.push(agent);
    sidecar["participants"] = json!(participants);
    onrecord::synth::write_call(&dir, name, &audio, &sidecar).unwrap_or_else(|e| panic!("{e}"))
}

/// Values by a call's external id.
type ByName<T> = Vec<(String, T)>;

/// acme with four calls: Ann alone twice, Bob alone, Ann and Bob together. Returns
/// (external id → recording id, external id → original file).
fn archive(sandbox: &Sandbox) -> (ByName<String>, ByName<PathBuf>) {
    sandbox.create_tenant("acme", "all-party");
    let files = vec![
        ("ann-1".to_owned(), call(sandbox, "ann-1", 1, &[ANN])),
        ("ann-2".to_owned(), call(sandbox, "ann-2", 2, &[ANN])),
        ("bob-1".to_owned(), call(sandbox, "bob-1", 3, &[BOB])),
        (
            "ann-bob".to_owned(),
            call(sandbox, "ann-bob", 4, &[ANN, BOB]),
        ),
    ];
    let input = sandbox.path("in");
    sandbox.ok(&["import", "--tenant", "acme", path(&input), "--json"]);
    let listed = sandbox.json(&["list", "--json"]);
    let ids = listed
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    (
                        item["external_id"].as_str().unwrap_or_default().to_owned(),
                        item["id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (ids, files)
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

fn id_of<'a>(ids: &'a [(String, String)], external: &str) -> &'a str {
    ids.iter()
        .find(|(name, _)| name == external)
        .map(|(_, id)| id.as_str())
        .unwrap_or_else(|| panic!("no recording {external}"))
}

/// Every entry of a zip: name → bytes.
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).unwrap_or_else(|e| panic!("not a zip: {e}"));
    (0..archive.len())
        .map(|index| {
            let mut entry = archive.by_index(index).unwrap_or_else(|e| panic!("{e}"));
            let name = entry.name().unwrap_or_else(|e| panic!("{e}")).into_owned();
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .unwrap_or_else(|e| panic!("{e}"));
            (name, bytes)
        })
        .collect()
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        writer.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    writer
        .finish()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
}

fn folders(entries: &[(String, Vec<u8>)]) -> BTreeSet<String> {
    entries
        .iter()
        .filter_map(|(name, _)| name.split_once('/').map(|(folder, _)| folder.to_owned()))
        .collect()
}

fn id_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().or(item["id"].as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `audit verify-bundle FILE --public-key KEY` run with a data dir that does not exist.
fn verify_offline(sandbox: &Sandbox, file: &Path, key: &str) -> std::process::Output {
    let nowhere = sandbox.path("no-data-dir-here");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_onrecord"))
        .arg("--data-dir")
        .arg(&nowhere)
        .args(["audit", "verify-bundle", path(file), "--public-key", key])
        .output()
        .unwrap_or_else(|e| panic!("cannot run onrecord: {e}"));
    assert!(!nowhere.exists(), "verify-bundle touched the data dir");
    output
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn a_bundle_holds_exactly_the_subjects_calls_and_verifies_offline() -> TestResult {
    let sandbox = Sandbox::new();
    let (ids, files) = archive(&sandbox);
    let bob_calls = set(&[id_of(&ids, "bob-1"), id_of(&ids, "ann-bob")]);
    // One call has a transcript (synthetic tones: possibly no words, still a transcript).
    sandbox.ok(&[
        "transcribe",
        id_of(&ids, "ann-bob"),
        "--model",
        path(&tiny_en()),
    ]);

    let bundle = sandbox.path("out/bob.zip");
    let summary = sandbox.json(&[
        "export",
        "--tenant",
        "acme",
        "--participant",
        BOB,
        "--out",
        path(&bundle),
        "--json",
    ]);
    assert_eq!(id_set(&summary["recordings"]), bob_calls);
    assert_eq!(summary["erased"], json!([]));
    let zip = std::fs::read(&bundle)?;
    let contents = entries(&zip);
    assert_eq!(folders(&contents), bob_calls);

    for external in ["bob-1", "ann-bob"] {
        let id = id_of(&ids, external);
        let original = std::fs::read(&files.iter().find(|(n, _)| n == external).ok_or("file")?.1)?;
        let audio = contents
            .iter()
            .find(|(name, _)| *name == format!("{id}/original.wav"))
            .ok_or("no audio in the bundle")?;
        assert!(audio.1 == original, "{external}: audio is not bit-exact");
        let vcon: Value = serde_json::from_slice(
            &contents
                .iter()
                .find(|(name, _)| *name == format!("{id}/vcon.json"))
                .ok_or("no vcon.json")?
                .1,
        )?;
        assert_eq!(vcon["vcon"], "0.4.0");
        assert_eq!(vcon["uuid"], id);
        let subjects: Vec<&Value> = vcon["parties"]
            .as_array()
            .ok_or("no parties")?
            .iter()
            .filter(|party| party["data_subject"] == true)
            .collect();
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0]["tel"], BOB);
        let agent = vcon["parties"]
            .as_array()
            .ok_or("no parties")?
            .iter()
            .find(|party| party["sip"] == AGENT)
            .ok_or("no agent party")?;
        assert_eq!(agent["role"], "agent");
        assert!(agent.get("data_subject").is_none());
        let dialog = &vcon["dialog"][0];
        assert_eq!(dialog["type"], "recording");
        assert_eq!(dialog["filename"], "original.wav");
        assert_eq!(dialog["mediatype"], "audio/x-wav");
        let hash = base64_url(&Sha512::digest(&original));
        assert_eq!(dialog["content_hash"], format!("sha512-{hash}"));
        // Stereo import: channel 0 is the first participant, channel 1 the second.
        assert_eq!(dialog["parties"], json!([0, 1]));
        let consent = vcon["attachments"]
            .as_array()
            .ok_or("no attachments")?
            .iter()
            .filter(|a| a["purpose"] == "consent-evidence")
            .count();
        assert_eq!(consent + 1, vcon["parties"].as_array().map_or(0, Vec::len));
        let has_transcript = contents
            .iter()
            .any(|(name, _)| *name == format!("{id}/transcript.json"));
        assert_eq!(has_transcript, external == "ann-bob", "{external}");
        assert_eq!(
            vcon["analysis"].as_array().map(Vec::len),
            Some(usize::from(has_transcript))
        );
    }
    let manifest: Value = serde_json::from_slice(
        &contents
            .iter()
            .find(|(name, _)| name == "manifest.json")
            .ok_or("no manifest")?
            .1,
    )?;
    assert_eq!(manifest["kind"], "onrecord.subject-access-manifest.v1");
    assert_eq!(manifest["body"]["data_subject"]["address"], BOB);
    assert_eq!(manifest["body"]["tenant"], "acme");
    assert_eq!(manifest["body"]["generated_by"], "cli:tester");
    assert!(contents.iter().any(|(name, _)| name == "VERIFY.txt"));

    let key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let output = verify_offline(&sandbox, &bundle, &key);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("2 recordings"), "{said}");

    // The export is audited without the address.
    let entries = audit_entries(&sandbox)?;
    let exported = entries
        .iter()
        .find(|entry| entry.action == "subject-access.exported")
        .ok_or("no subject-access.exported entry")?;
    assert!(
        !exported.details.contains("1632960002"),
        "{}",
        exported.details
    );
    let details: Value = serde_json::from_str(&exported.details)?;
    assert_eq!(id_set(&details["recordings"]), bob_calls);
    assert_eq!(
        details["manifest_sha256"],
        hex::encode(sha2::Sha256::digest(
            &contents
                .iter()
                .find(|(n, _)| n == "manifest.json")
                .ok_or("m")?
                .1
        ))
    );
    sandbox.ok(&["audit", "verify"]);

    // Ann's bundle: her three calls, not Bob's own.
    let ann = sandbox.path("out/ann.zip");
    let summary = sandbox.json(&[
        "export",
        "--tenant",
        "acme",
        "--participant",
        ANN,
        "--out",
        path(&ann),
        "--json",
    ]);
    assert_eq!(
        id_set(&summary["recordings"]),
        set(&[
            id_of(&ids, "ann-1"),
            id_of(&ids, "ann-2"),
            id_of(&ids, "ann-bob")
        ])
    );
    Ok(())
}

#[test]
fn a_modified_removed_or_added_file_or_a_forged_signature_fails_verification() -> TestResult {
    let sandbox = Sandbox::new();
    let (ids, _) = archive(&sandbox);
    let bundle = sandbox.path("bob.zip");
    sandbox.ok(&[
        "export",
        "--tenant",
        "acme",
        "--participant",
        BOB,
        "--out",
        path(&bundle),
    ]);
    let key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let good = entries(&std::fs::read(&bundle)?);
    let audio = format!("{}/original.wav", id_of(&ids, "bob-1"));
    let vcon = format!("{}/vcon.json", id_of(&ids, "ann-bob"));

    let mut flipped = good.clone();
    for (name, bytes) in &mut flipped {
        if *name == audio {
            bytes[1_000] ^= 0x01;
        }
    }
    let mut removed = good.clone();
    removed.retain(|(name, _)| *name != vcon);
    let mut added = good.clone();
    added.push(("notes.txt".into(), b"not from onrecord".to_vec()));
    let mut forged = good.clone();
    for (name, bytes) in &mut forged {
        if name == "manifest.json" {
            let mut manifest: Value = serde_json::from_slice(bytes)?;
            let value = manifest["signature"]["value"].as_str().unwrap_or_default();
            let first = if value.starts_with('0') { "1" } else { "0" };
            manifest["signature"]["value"] = json!(format!("{first}{}", &value[1..]));
            *bytes = serde_json::to_vec(&manifest)?;
        }
    }
    let mut rewritten_body = good.clone();
    for (name, bytes) in &mut rewritten_body {
        if name == "manifest.json" {
            let mut manifest: Value = serde_json::from_slice(bytes)?;
            manifest["body"]["data_subject"]["address"] = json!(ANN);
            *bytes = serde_json::to_vec(&manifest)?;
        }
    }
    let cases = [
        (
            "flipped",
            flipped,
            format!("{audio} does not match its SHA-256"),
        ),
        (
            "removed",
            removed,
            format!("{vcon} is listed in the manifest but missing"),
        ),
        (
            "added",
            added,
            "notes.txt is in the zip but not listed".to_owned(),
        ),
        ("forged", forged, "signature does not verify".to_owned()),
        (
            "rewritten",
            rewritten_body,
            "signature does not verify".to_owned(),
        ),
    ];
    // A faithful re-zip (different compression) still verifies: the check is of contents.
    let rezipped = sandbox.path("rezipped.zip");
    std::fs::write(&rezipped, zip_of(&good))?;
    let output = verify_offline(&sandbox, &rezipped, &key);
    assert!(output.status.success(), "{}", stderr(&output));
    for (case, contents, expected) in cases {
        let file = sandbox.path(&format!("{case}.zip"));
        std::fs::write(&file, zip_of(&contents))?;
        let output = verify_offline(&sandbox, &file, &key);
        assert!(!output.status.success(), "{case}: verified");
        assert!(
            stderr(&output).contains(&expected),
            "{case}: {}",
            stderr(&output)
        );
    }
    // Another node's key does not verify this node's bundle.
    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let output = verify_offline(&sandbox, &bundle, other);
    assert!(!output.status.success());
    Ok(())
}

#[test]
fn an_erased_call_is_listed_as_erased_without_content() -> TestResult {
    let sandbox = Sandbox::new();
    let (ids, _) = archive(&sandbox);
    let erased = id_of(&ids, "bob-1");
    sandbox.ok(&["erase", "--tenant", "acme", "--recording", erased, "--json"]);
    let bundle = sandbox.path("bob.zip");
    let summary = sandbox.json(&[
        "export",
        "--tenant",
        "acme",
        "--participant",
        BOB,
        "--out",
        path(&bundle),
        "--json",
    ]);
    assert_eq!(
        id_set(&summary["recordings"]),
        set(&[id_of(&ids, "ann-bob")])
    );
    assert_eq!(id_set(&summary["erased"]), set(&[erased]));
    let contents = entries(&std::fs::read(&bundle)?);
    assert_eq!(folders(&contents), set(&[id_of(&ids, "ann-bob")]));
    let manifest: Value = serde_json::from_slice(
        &contents
            .iter()
            .find(|(name, _)| name == "manifest.json")
            .ok_or("no manifest")?
            .1,
    )?;
    let listed = &manifest["body"]["erased"][0];
    assert_eq!(listed["id"], erased);
    assert!(
        listed["erased_at"]
            .as_str()
            .is_some_and(|at| at.starts_with("20")),
        "{listed}"
    );
    let key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let output = verify_offline(&sandbox, &bundle, &key);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 erased"));
    Ok(())
}

#[test]
fn an_unknown_address_is_a_clear_error_and_leaves_no_file() -> TestResult {
    let sandbox = Sandbox::new();
    archive(&sandbox);
    let out = sandbox.path("out");
    std::fs::create_dir_all(&out)?;
    let bundle = out.join("nobody.zip");
    let output = sandbox.run(&[
        "export",
        "--tenant",
        "acme",
        "--participant",
        "tel:+15550000000",
        "--out",
        path(&bundle),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no recording of tenant acme has a participant at this address"),
        "{}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains("15550000000"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read_dir(&out)?.count(),
        0,
        "something was left behind"
    );

    // The two forms of export do not mix, and one of them is needed.
    for args in [
        vec!["export", "--out", "x"],
        vec![
            "export",
            "some-id",
            "--participant",
            ANN,
            "--tenant",
            "acme",
            "--out",
            "x",
        ],
        vec!["export", "--participant", ANN, "--out", "x.zip"],
    ] {
        let output = sandbox.run(&args);
        assert!(!output.status.success(), "{args:?}");
    }
    // The existing file is never overwritten.
    std::fs::write(&bundle, b"mine")?;
    let output = sandbox.run(&[
        "export",
        "--tenant",
        "acme",
        "--participant",
        ANN,
        "--out",
        path(&bundle),
    ]);
    assert!(!output.status.success());
    assert_eq!(std::fs::read(&bundle)?, b"mine");
    Ok(())
}

fn audit_entries(
    sandbox: &Sandbox,
) -> Result<Vec<catalog::AuditEntry>, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let catalog = SqliteCatalog::open(sandbox.data_dir().join("catalog.sqlite")).await?;
        Ok(catalog.audit_entries(0, 10_000).await?)
    })
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let value = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for position in 0..=chunk.len() {
            text.push(char::from(
                ALPHABET[(value >> (18 - 6 * position) & 63) as usize],
            ));
        }
    }
    text
}

fn tiny_en() -> PathBuf {
    let root = match std::env::var_os("ONRECORD_MODELS") {
        Some(directory) => PathBuf::from(directory),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models"),
    };
    let directory = root.join("tiny.en");
    assert!(
        directory.join("model.bin").is_file(),
        "Whisper tiny.en weights are missing in {}: run `scripts/fetch-models.sh target/models`",
        directory.display()
    );
    directory
}

#[test]
fn a_live_call_exports_each_stream_as_wav_with_its_siprec_metadata() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let config_path = sandbox.data_dir().join("config.toml");
    let mut config = std::fs::read_to_string(&config_path)?;
    config.push_str("\n[[srcs]]\nname = \"client\"\naddress = \"127.0.0.1\"\ntenant = \"acme\"\n");
    std::fs::write(&config_path, config)?;
    let server = support::serve::Server::start(&sandbox, &[]);
    let client = onrecord::recording_client::RecordingClient::new(server.sip)?;
    let (calls, refused) = client.place(1, 1)?;
    assert!(refused.is_empty(), "refused: {refused:?}");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let mut packet = [0u8; 172];
    for sequence in 0..50u16 {
        for (index, target) in calls[0].streams.iter().enumerate() {
            onrecord::recording_client::rtp_packet(
                &mut packet,
                7 + index as u32,
                sequence,
                u32::from(sequence) * 160,
                3,
            );
            socket.send_to(&packet, target)?;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(server.stop().success());
    let listed = sandbox.json(&["list", "--json"]);
    let id = listed[0]["id"]
        .as_str()
        .ok_or("no live recording")?
        .to_owned();

    // The built-in client's first call: customer tel:+441632960000 sends on stream 1.
    let bundle = sandbox.path("live.zip");
    sandbox.ok(&[
        "export",
        "--tenant",
        "acme",
        "--participant",
        "tel:+441632960000",
        "--out",
        path(&bundle),
    ]);
    let contents = entries(&std::fs::read(&bundle)?);
    let names: BTreeSet<String> = contents.iter().map(|(name, _)| name.clone()).collect();
    for file in ["1.wav", "2.wav", "metadata-timeline.json", "vcon.json"] {
        assert!(names.contains(&format!("{id}/{file}")), "{file}: {names:?}");
    }
    // The same WAV the single-recording export renders.
    let folder = sandbox.path("one");
    sandbox.ok(&["export", &id, "--out", path(&folder)]);
    let wav = &contents
        .iter()
        .find(|(name, _)| *name == format!("{id}/1.wav"))
        .ok_or("no 1.wav")?
        .1;
    assert!(*wav == std::fs::read(folder.join("1.wav"))?);

    let vcon: Value = serde_json::from_slice(
        &contents
            .iter()
            .find(|(name, _)| *name == format!("{id}/vcon.json"))
            .ok_or("no vcon")?
            .1,
    )?;
    let dialog = vcon["dialog"].as_array().ok_or("no dialog")?;
    assert_eq!(dialog.len(), 2);
    assert_eq!(dialog[0]["filename"], "1.wav");
    assert_eq!(dialog[0]["parties"], json!([0]));
    assert_eq!(dialog[1]["parties"], json!([1]));
    assert_eq!(vcon["parties"][0]["data_subject"], true);
    assert!(
        vcon["attachments"]
            .as_array()
            .ok_or("no attachments")?
            .iter()
            .any(|a| a["purpose"] == "siprec-metadata" && a["filename"] == "metadata-timeline.json")
    );
    let key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let output = verify_offline(&sandbox, &bundle, &key);
    assert!(output.status.success(), "{}", stderr(&output));
    Ok(())
}
