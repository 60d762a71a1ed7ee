//! Completeness certificates end to end through the real binary: two live SIPREC calls
//! from the built-in recording client, one losing packets on the way, one clean; the report
//! lists only the lossy one with the right finding; certificates in `show --json` verify
//! offline with the node's public key and fail once changed; imports are certified too.

mod support;

use std::time::Duration;

use onrecord::live::client::{self, Call, LostPackets, Outcome, Party};
use serde_json::{Value, json};
use support::serve::Server;
use support::{Sandbox, TestResult, stderr};

fn allow_client(sandbox: &Sandbox) {
    let path = sandbox.data_dir().join("config.toml");
    let mut config = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    config.push_str(
        "\n[[srcs]]\nname = \"test-client\"\naddress = \"127.0.0.1\"\ntenant = \"acme\"\n",
    );
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
}

fn call(customer: &str, agent: &str, lost: Option<LostPackets>) -> Call {
    let party = |address: &str, pitch, consent| Party {
        address: address.into(),
        name: "Test Party".into(),
        pitch,
        syllables: 3.0,
        consent,
    };
    Call {
        parties: [
            party(customer, 150.0, Some("prompt-recording-notice-v2")),
            // Covered by the tenant's staff pattern.
            party(agent, 240.0, None),
        ],
        seconds: 3,
        lost,
    }
}

/// Places both calls at once; returns their Call-IDs (clean, lossy).
fn place_calls(
    server: std::net::SocketAddr,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clean = call("tel:+441632960201", "sip:agent1@contact.example.com", None);
    // 25 packets (0.5 s) of the customer's stream never sent.
    let lossy = call(
        "tel:+441632960202",
        "sip:agent2@contact.example.com",
        Some(LostPackets {
            stream: 0,
            packets: 50..75,
        }),
    );
    let at = "2026-11-28T10:00:00Z";
    let (clean, lossy) = runtime.block_on(async {
        tokio::join!(
            client::place(server, &clean, at),
            client::place(server, &lossy, at)
        )
    });
    let id = |outcome: Outcome| match outcome {
        Outcome::Recorded { call_id } => Ok(call_id),
        Outcome::Refused { status, warning } => Err(format!("refused {status}: {warning}")),
    };
    Ok((id(clean?)?, id(lossy?)?))
}

fn recording_with_call_id<'a>(listed: &'a Value, call_id: &str) -> &'a Value {
    listed
        .as_array()
        .and_then(|all| all.iter().find(|r| r["external_id"] == call_id))
        .unwrap_or_else(|| panic!("no recording of call {call_id} in {listed}"))
}

#[test]
fn the_report_lists_only_the_call_that_lost_packets_and_certificates_verify() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    allow_client(&sandbox);
    let mut server = Server::start(&sandbox, &[]);
    let (clean_call, lossy_call) = place_calls(server.sip)?;
    for _ in 0..2 {
        server
            .wait_for("call archived", Duration::from_secs(15))
            .ok_or("a call was not archived")?;
    }
    assert!(server.stop().success(), "serve stops cleanly");

    let listed = sandbox.json(&["list", "--json"]);
    let clean = recording_with_call_id(&listed, &clean_call)["id"]
        .as_str()
        .ok_or("no id")?
        .to_owned();
    let lossy = recording_with_call_id(&listed, &lossy_call)["id"]
        .as_str()
        .ok_or("no id")?
        .to_owned();

    let report = sandbox.json(&["report", "completeness", "--tenant", "acme", "--json"]);
    assert_eq!(report["tenant"], "acme");
    assert_eq!(
        report["summary"],
        json!({ "calls_checked": 2, "complete": 1, "with_gaps": 1, "without_certificate": 0 })
    );
    let rows = report["recordings"].as_array().ok_or("no recordings")?;
    assert_eq!(rows.len(), 1, "only the call with gaps: {report}");
    assert_eq!(rows[0]["recording"], lossy.as_str());
    assert_eq!(rows[0]["verdict"], "gaps");
    assert_eq!(
        rows[0]["findings"],
        json!([{ "kind": "packets-lost", "stream": "1", "lost": 25, "expected": 150, "intervals": 1 }]),
        "{report}"
    );
    assert_eq!(rows[0]["gap_count"], 1);

    // --all lists the clean call too; --since after both calls lists nothing.
    let all = sandbox.json(&[
        "report",
        "completeness",
        "--tenant",
        "acme",
        "--all",
        "--json",
    ]);
    assert_eq!(all["recordings"].as_array().map(Vec::len), Some(2));
    let later = sandbox.json(&[
        "report",
        "completeness",
        "--tenant",
        "acme",
        "--since",
        "2999-01-01",
        "--json",
    ]);
    assert_eq!(later["summary"]["calls_checked"], 0);
    assert_eq!(later["recordings"], json!([]));
    let text = sandbox.ok(&["report", "completeness", "--tenant", "acme"]);
    assert!(
        text.contains(&lossy) && text.contains("gaps: 1 (packets-lost)"),
        "{text}"
    );
    assert!(!text.contains(&clean), "{text}");

    // The clean call's certificate: complete, with its figures, in `show --json`.
    let shown = sandbox.json(&["show", &clean, "--json"]);
    assert_eq!(shown["completeness"]["verdict"], "complete");
    let body = &shown["completeness"]["certificate"]["body"];
    assert_eq!(body["recording"], clean.as_str());
    assert_eq!(body["streams"], json!({ "expected": 2, "received": 2 }));
    assert_eq!(
        body["packets"],
        json!({ "expected": 300, "received": 300, "lost": 0 })
    );
    assert_eq!(body["findings"], json!([]));
    assert_eq!(body["per_stream"][0]["senders"], json!([1]));
    assert_eq!(body["per_stream"][1]["senders"], json!([2]));

    // Offline verification with the node's public key; a changed verdict fails.
    let public_key = sandbox.ok(&["audit", "node-key"]).trim().to_owned();
    let lossy_shown = sandbox.json(&["show", &lossy, "--json"]);
    let file = sandbox.path("show.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&lossy_shown)?)?;
    let verified = sandbox.ok(&[
        "audit",
        "verify-certificate",
        &file.display().to_string(),
        "--public-key",
        &public_key,
    ]);
    assert!(
        verified.contains("certificate verifies") && verified.contains("gaps"),
        "{verified}"
    );

    let mut forged = lossy_shown["completeness"]["certificate"].clone();
    forged["body"]["verdict"] = json!("complete");
    forged["body"]["findings"] = json!([]);
    std::fs::write(&file, serde_json::to_vec_pretty(&forged)?)?;
    let refused = sandbox.run(&[
        "audit",
        "verify-certificate",
        &file.display().to_string(),
        "--public-key",
        &public_key,
    ]);
    assert!(
        !refused.status.success(),
        "a forged certificate must not verify"
    );
    assert!(
        stderr(&refused).contains("does not verify"),
        "{}",
        stderr(&refused)
    );
    Ok(())
}

#[test]
fn an_imported_call_gets_a_complete_certificate_that_verifies() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    sandbox.call("incoming", "call-1", 7, true);
    sandbox.ok(&[
        "import",
        "--tenant",
        "acme",
        &sandbox.path("incoming").display().to_string(),
    ]);
    let listed = sandbox.json(&["list", "--json"]);
    let id = listed[0]["id"].as_str().ok_or("no id")?.to_owned();
    let shown = sandbox.json(&["show", &id, "--json"]);
    assert_eq!(shown["completeness"]["verdict"], "complete", "{shown}");
    assert_eq!(shown["completeness"]["gap_count"], 0);
    let body = &shown["completeness"]["certificate"]["body"];
    assert_eq!(body["source"], "import");
    assert_eq!(body["content_hash"], listed[0]["content_hash"]);
    let file = sandbox.path("certificate.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&shown["completeness"]["certificate"])?,
    )?;
    // No --public-key: the data dir's own node key.
    let verified = sandbox.ok(&["audit", "verify-certificate", &file.display().to_string()]);
    assert!(verified.contains("is complete"), "{verified}");

    let report = sandbox.json(&["report", "completeness", "--tenant", "acme", "--json"]);
    assert_eq!(report["summary"]["complete"], 1);
    assert_eq!(report["recordings"], json!([]));
    let unknown = sandbox.run(&["report", "completeness", "--tenant", "nobody", "--json"]);
    assert!(!unknown.status.success());
    Ok(())
}
