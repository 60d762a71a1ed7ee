//! Drives the real `onrecord` binary against a temporary data dir.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub struct Sandbox {
    pub root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            root: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_onrecord"));
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("ONRECORD_KEYRING_PASSPHRASE")
            .env("USER", "tester");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run onrecord: {e}"))
    }

    /// Runs and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "onrecord {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("onrecord {args:?} printed no JSON ({e}): {text}"))
    }

    pub fn create_tenant(&self, id: &str, policy: &str) {
        self.ok(&[
            "tenant",
            "create",
            id,
            "--policy",
            policy,
            "--purpose",
            "quality assurance",
            "--legal-basis",
            "legitimate interests",
            "--staff",
            "sip:*@contact.example.com",
        ]);
    }

    /// Writes a synthetic call (stereo µ-law WAV + sidecar) into `folder`.
    pub fn call(&self, folder: &str, name: &str, seed: u64, customer_evidence: bool) -> PathBuf {
        let dir = self.path(folder);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let audio = onrecord::synth::two_party_mulaw_wav(2, seed);
        let sidecar = onrecord::synth::sidecar(name, "2026-11-28T10:00:00Z", customer_evidence);
        onrecord::synth::write_call(&dir, name, &audio, &sidecar).unwrap_or_else(|e| panic!("{e}"))
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every regular file under a folder, recursively.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

pub fn objects(data_dir: &Path) -> Vec<PathBuf> {
    files_under(&data_dir.join("store"))
}

pub mod serve;

/// `../shared/siprec-corpus/…` from the workspace root; fails loudly when missing.
pub fn corpus(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/siprec-corpus")
        .join(relative);
    assert!(
        path.exists(),
        "SIPREC corpus file missing: {} (the tests need ../shared beside the checkout)",
        path.display()
    );
    path
}

/// `testdata/…` of the workspace.
pub fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(relative)
}

/// The RTP payloads of a pcap of Ethernet/IPv4/UDP/RTP packets, concatenated.
pub fn pcap_rtp_payloads(pcap: &[u8]) -> Vec<u8> {
    let mut payloads = Vec::new();
    let mut offset = 24;
    while offset + 16 <= pcap.len() {
        let included = u32::from_le_bytes([
            pcap[offset + 8],
            pcap[offset + 9],
            pcap[offset + 10],
            pcap[offset + 11],
        ]) as usize;
        offset += 16;
        let Some(packet) = pcap.get(offset..offset + included) else {
            break;
        };
        offset += included;
        let ip = &packet[14..];
        let header = usize::from(ip[0] & 0x0f) * 4;
        let rtp = &ip[header + 8..];
        let csrc = usize::from(rtp[0] & 0x0f) * 4;
        payloads.extend_from_slice(&rtp[12 + csrc..]);
    }
    payloads
}
