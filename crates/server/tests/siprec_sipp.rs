//! End to end with a real SIPREC recording client: SIPp (Debian `sip-tester`) places a call
//! against `onrecord serve` and plays a G.711 A-law pcap; the archived, sealed call exports the
//! same RTP payload byte for byte. A call without consent evidence is refused with 403 and a
//! Warning, and nothing of it is stored.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::serve::{Server, free_udp_port};
use support::{Sandbox, TestResult, corpus, objects, pcap_rtp_payloads, stderr, testdata};

fn sipp() -> Command {
    let found = Command::new("sipp").arg("-v").output().is_ok();
    assert!(
        found,
        "sipp is not installed: run `apt-get install sip-tester` (scripts/test.sh does)"
    );
    Command::new("sipp")
}

fn sandbox_with_client(attests: bool) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let config_path = sandbox.data_dir().join("config.toml");
    let mut config = std::fs::read_to_string(&config_path).unwrap_or_default();
    config.push_str("\n[[srcs]]\nname = \"sipp\"\naddress = \"127.0.0.1\"\ntenant = \"acme\"\n");
    if attests {
        config.push_str(
            "attests = { kind = \"announcement\", reference = \"prompt-recording-notice-v2\" }\n",
        );
    }
    std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("{e}"));
    sandbox
}

fn scenario(sandbox: &Sandbox, name: &str) -> std::path::PathBuf {
    let template = std::fs::read_to_string(testdata(&format!("sipp/{name}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let pcap = corpus("sipp/drachtio_g711a.pcap");
    let path = sandbox.path(name);
    std::fs::write(
        &path,
        template.replace("@PCAP@", &pcap.display().to_string()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    path
}

fn run_sipp(
    sandbox: &Sandbox,
    server: &Server,
    scenario: &std::path::Path,
) -> std::process::Output {
    let sip_port = free_udp_port().to_string();
    let media_port = (free_udp_port() & !1).to_string();
    sipp()
        .args([
            "-sf",
            &scenario.display().to_string(),
            "-m",
            "1",
            "-l",
            "1",
            "-i",
            "127.0.0.1",
        ])
        .args([
            "-p",
            &sip_port,
            "-mp",
            &media_port,
            "-timeout",
            "40s",
            "-timeout_error",
        ])
        .args([
            "-trace_err",
            "-error_file",
            &sandbox.path("sipp-errors.log").display().to_string(),
        ])
        .arg(server.sip.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run sipp: {e}"))
}

#[test]
fn a_sipp_siprec_call_is_archived_and_exports_the_pcap_payload_byte_for_byte() -> TestResult {
    let sandbox = sandbox_with_client(false);
    let mut server = Server::start(&sandbox, &[]);
    let output = run_sipp(
        &sandbox,
        &server,
        &scenario(&sandbox, "siprec_uac_pcap.xml"),
    );
    assert!(
        output.status.success(),
        "sipp failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        std::fs::read_to_string(sandbox.path("sipp-errors.log")).unwrap_or_default()
    );
    server
        .wait_for("call archived", Duration::from_secs(15))
        .ok_or("the call was not archived")?;
    assert!(
        server.stop().success(),
        "serve must stop cleanly on SIGTERM"
    );

    let listed = sandbox.json(&["list", "--json"]);
    let recording = &listed[0];
    assert_eq!(recording["source"], "siprec");
    assert_eq!(recording["state"], "committed");
    let participants = recording["participants"]
        .as_array()
        .ok_or("no participants")?;
    assert_eq!(participants[0]["address"], "tel:+441632960001");
    assert_eq!(participants[0]["evidence"][0]["source"], "call-metadata");
    assert_eq!(participants[1]["evidence"][0]["source"], "staff-policy");
    let id = recording["id"].as_str().ok_or("no id")?;

    let shown = sandbox.json(&["show", id, "--json"]);
    let streams = shown["streams"].as_array().ok_or("no streams")?;
    let first = streams
        .iter()
        .find(|s| s["label"] == "1")
        .ok_or("no stream 1")?;
    assert_eq!(first["codec"], "pcma");
    assert_eq!(first["statistics"]["packets"], 236);
    assert_eq!(first["statistics"]["lost"], 0);
    // SIPp plays its pcap on the first m-line only: the completeness certificate says that
    // stream 2, announced by SDP and metadata, got nothing, and that stream 1 lost nothing.
    let certificate = &shown["completeness"]["certificate"]["body"];
    assert_eq!(shown["completeness"]["verdict"], "gaps");
    assert_eq!(
        certificate["findings"],
        serde_json::json!([{ "kind": "stream-missing", "stream": "2",
            "expected_by": ["sdp", "metadata"], "why": "no RTP packet arrived" }])
    );
    assert_eq!(
        certificate["packets"],
        serde_json::json!({ "expected": 236, "received": 236, "lost": 0 })
    );

    let out = sandbox.path("export");
    sandbox.ok(&["export", id, "--out", out.to_str().unwrap_or_default()]);
    let expected = pcap_rtp_payloads(&std::fs::read(corpus("sipp/drachtio_g711a.pcap"))?);
    assert_eq!(expected.len(), 56_640);
    let exported = std::fs::read(out.join("1.payload"))?;
    assert!(
        exported == expected,
        "exported payload differs from the pcap's RTP payload"
    );
    let wav = std::fs::read(out.join("1.wav"))?;
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[34], wav[35]]), 16, "16-bit PCM");
    let timeline: Value =
        serde_json::from_slice(&std::fs::read(out.join("metadata-timeline.json"))?)?;
    assert_eq!(timeline["versions"].as_array().map(Vec::len), Some(1));
    sandbox.ok(&["audit", "verify"]);
    Ok(())
}

#[test]
fn a_call_without_consent_evidence_is_refused_with_403_and_nothing_is_stored() -> TestResult {
    let sandbox = sandbox_with_client(false);
    let server = Server::start(&sandbox, &[]);
    let output = run_sipp(
        &sandbox,
        &server,
        &scenario(&sandbox, "siprec_uac_refused.xml"),
    );
    assert!(
        output.status.success(),
        "sipp expected a 403: {}{}",
        String::from_utf8_lossy(&output.stdout),
        std::fs::read_to_string(sandbox.path("sipp-errors.log")).unwrap_or_default()
    );
    assert!(server.stop().success());
    assert!(
        objects(&sandbox.data_dir()).is_empty(),
        "nothing may be stored"
    );
    assert!(
        sandbox
            .json(&["list", "--json"])
            .as_array()
            .is_some_and(Vec::is_empty)
    );

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
        assert!(audit.iter().any(|e| e.action == "siprec.refused"));
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

#[test]
fn an_unknown_recording_client_is_refused_with_403_and_audited() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let server = Server::start(&sandbox, &[]);
    let output = run_sipp(
        &sandbox,
        &server,
        &scenario(&sandbox, "siprec_uac_refused.xml"),
    );
    assert!(
        output.status.success(),
        "sipp expected a 403: {}",
        stderr(&output)
    );
    assert!(server.stop().success());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        use catalog::Catalog;
        let catalog =
            catalog::SqliteCatalog::open(sandbox.data_dir().join("catalog.sqlite")).await?;
        let audit = catalog.audit_entries(0, 100).await?;
        let refusal = audit
            .iter()
            .find(|e| e.action == "siprec.refused")
            .ok_or("not audited")?;
        assert!(
            refusal.details.contains("client-not-allowed"),
            "{}",
            refusal.details
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(objects(&sandbox.data_dir()).is_empty());
    Ok(())
}

#[test]
fn sigterm_finalises_calls_in_progress_into_the_archive() -> TestResult {
    let sandbox = sandbox_with_client(false);
    let server = Server::start(&sandbox, &[]);
    let client = onrecord::recording_client::RecordingClient::new(server.sip)?;
    let (calls, refused) = client.place(3, 3)?;
    assert!(refused.is_empty(), "refused: {refused:?}");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let mut packet = [0u8; 172];
    for sequence in 0..50u16 {
        for (index, target) in calls
            .iter()
            .flat_map(|call| call.streams.iter())
            .enumerate()
        {
            onrecord::recording_client::rtp_packet(
                &mut packet,
                7 + index as u32,
                sequence,
                u32::from(sequence) * 160,
                3,
            );
            socket.send_to(&packet, target)?;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.stop().success(),
        "serve must exit 0 after finalising"
    );

    let listed = sandbox.json(&["list", "--json"]);
    let recordings = listed.as_array().ok_or("no list")?;
    assert_eq!(recordings.len(), 3, "every call in progress is archived");
    for recording in recordings {
        assert_eq!(recording["details"]["end_reason"], "Shutdown");
        let stream = &recording["details"]["streams"]["1"];
        assert_eq!(stream["packets"], 50, "{stream}");
    }
    Ok(())
}
