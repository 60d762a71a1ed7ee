//! Transcription through the real binary: a two-party call spoken by `espeak-ng`, each party
//! on its own channel of a stereo 8 kHz µ-law WAV (like a phone line), imported with a
//! sidecar, transcribed by `onrecord transcribe --pending` with Whisper tiny.en, read back
//! with `show --json` and found with `search`. Needs the Debian package `espeak-ng` and
//! `scripts/fetch-models.sh target/models` (or `ONRECORD_MODELS=DIR`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::Sandbox;

/// One turn of the call: who speaks (0: customer, 1: agent), when (ms), what.
struct Turn {
    party: usize,
    at_ms: u64,
    text: &'static str,
}

const SCRIPT: [Turn; 4] = [
    Turn {
        party: 0,
        at_ms: 500,
        text: "Hello, I would like to change the billing address on my account.",
    },
    Turn {
        party: 1,
        at_ms: 6_000,
        text: "Of course. What is your new address?",
    },
    Turn {
        party: 0,
        at_ms: 11_000,
        text: "My new address is Main Street in Springfield.",
    },
    Turn {
        party: 1,
        at_ms: 15_500,
        text: "Thank you. Your account has been updated.",
    },
];
const CALL_MS: u64 = 21_000;
const CUSTOMER: &str = "tel:+441632960001";
const AGENT: &str = "sip:agent7@contact.example.com";

fn tiny_en() -> PathBuf {
    let root = match std::env::var_os("ONRECORD_MODELS") {
        Some(directory) => PathBuf::from(directory),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models"),
    };
    let directory = root.join("tiny.en");
    assert!(
        directory.join("model.bin").is_file(),
        "Whisper tiny.en weights are missing in {}: run `scripts/fetch-models.sh target/models` \
         from the workspace root (or set ONRECORD_MODELS to the directory it filled)",
        directory.display()
    );
    directory
}

/// Speaks `text` with espeak-ng; returns mono samples and their rate.
fn speak(sandbox: &Sandbox, text: &str) -> (Vec<f32>, u32) {
    let path = sandbox.path(&format!("speech-{}.wav", text.len()));
    let status = Command::new("espeak-ng")
        .args(["-v", "en", "-s", "150", "-w"])
        .arg(&path)
        .arg(text)
        .status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "espeak-ng failed ({status:?}); install the Debian package `espeak-ng`"
    );
    let bytes = std::fs::read(&path).unwrap_or_default();
    let decoded = onrecord::transcription::audio::decode_wav(&bytes)
        .unwrap_or_else(|error| panic!("espeak-ng wrote an unreadable WAV: {error}"));
    let samples = decoded.channels[0]
        .iter()
        .map(|&sample| f32::from(sample) / 32_768.0)
        .collect();
    (samples, decoded.sample_rate)
}

/// The call's two channels at 8 kHz: channel 0 the customer, channel 1 the agent.
fn call_channels(sandbox: &Sandbox, silent_agent: bool) -> Vec<Vec<i16>> {
    let frames = (CALL_MS * 8) as usize;
    let mut channels = vec![vec![0i16; frames]; 2];
    for turn in &SCRIPT {
        if silent_agent && turn.party == 1 {
            continue;
        }
        let (speech, rate) = speak(sandbox, turn.text);
        let narrow = onrecord_transcribe::resample::resample(&speech, rate, 8_000)
            .unwrap_or_else(|error| panic!("resample: {error}"));
        let start = (turn.at_ms * 8) as usize;
        for (slot, sample) in channels[turn.party][start..].iter_mut().zip(narrow) {
            *slot = (sample * 32_767.0).clamp(-32_768.0, 32_767.0) as i16;
        }
    }
    channels
}

/// A stereo WAV header for `data_len` bytes of 8 kHz audio in format `tag` (1 PCM, 7 µ-law).
fn wav_header(tag: u16, bits: u16, data_len: u32) -> Vec<u8> {
    let block = 2 * bits / 8;
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&(4 + 26 + 8 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&18u32.to_le_bytes());
    bytes.extend_from_slice(&tag.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&8_000u32.to_le_bytes());
    bytes.extend_from_slice(&(8_000 * u32::from(block)).to_le_bytes());
    bytes.extend_from_slice(&block.to_le_bytes());
    bytes.extend_from_slice(&bits.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    bytes
}

/// A stereo 8 kHz µ-law WAV: channel 0 the customer, channel 1 the agent.
fn call_wav(sandbox: &Sandbox, silent_agent: bool) -> Vec<u8> {
    let channels = call_channels(sandbox, silent_agent);
    let mut bytes = wav_header(7, 8, (channels[0].len() * 2) as u32);
    for (customer, agent) in channels[0].iter().zip(&channels[1]) {
        bytes.push(onrecord::synth::mulaw_encode(*customer));
        bytes.push(onrecord::synth::mulaw_encode(*agent));
    }
    bytes
}

/// The same call as 16-bit PCM after a µ-law round trip (what a phone line leaves), the
/// input the FLAC, MP3 and Opus encoders take.
fn call_pcm_wav(sandbox: &Sandbox) -> Vec<u8> {
    let channels = call_channels(sandbox, false);
    let mut bytes = wav_header(1, 16, (channels[0].len() * 4) as u32);
    for (customer, agent) in channels[0].iter().zip(&channels[1]) {
        for sample in [customer, agent] {
            let line = media::mulaw_to_linear(onrecord::synth::mulaw_encode(*sample));
            bytes.extend_from_slice(&line.to_le_bytes());
        }
    }
    bytes
}

fn import_call(sandbox: &Sandbox, name: &str, silent_agent: bool) -> String {
    let folder = sandbox.path(name);
    std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
    let sidecar = onrecord::synth::sidecar(name, "2026-11-28T10:00:00Z", true);
    onrecord::synth::write_call(&folder, name, &call_wav(sandbox, silent_agent), &sidecar)
        .unwrap_or_else(|e| panic!("{e}"));
    let summary = sandbox.json(&[
        "import",
        "--tenant",
        "acme",
        folder.to_str().unwrap_or_default(),
        "--json",
    ]);
    summary["imported"][0]["recording"]
        .as_str()
        .unwrap_or_else(|| panic!("nothing imported: {summary}"))
        .to_owned()
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

/// Word error rate: word-level edit distance over the reference length.
fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let (reference, hypothesis) = (words(reference), words(hypothesis));
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, expected) in reference.iter().enumerate() {
        let mut previous_diagonal = row[0];
        row[0] = i + 1;
        for (j, actual) in hypothesis.iter().enumerate() {
            let substitution = previous_diagonal + usize::from(expected != actual);
            previous_diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[hypothesis.len()] as f64 / reference.len().max(1) as f64
}

fn segments(shown: &Value) -> Vec<Value> {
    shown["transcript"]["segments"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("show --json has no transcript: {shown}"))
}

/// The turn (by the script) that `start_seconds` falls in: the last turn starting before
/// it, with 700 ms of slack for Whisper's timestamps (which may start a little early).
fn turn_at(start_seconds: f64) -> Option<&'static Turn> {
    let at_ms = (start_seconds * 1000.0) as u64;
    if at_ms >= CALL_MS {
        return None;
    }
    SCRIPT.iter().rev().find(|turn| at_ms + 700 >= turn.at_ms)
}

/// Prints each participant's word error rate against the script and bounds it.
fn assert_each_party_said_the_script(segments: &[Value], what: &str) {
    for (party, address) in [(0, CUSTOMER), (1, AGENT)] {
        let reference: Vec<&str> = SCRIPT
            .iter()
            .filter(|turn| turn.party == party)
            .map(|turn| turn.text)
            .collect();
        let hypothesis: Vec<&str> = segments
            .iter()
            .filter(|segment| segment["participant"] == address)
            .filter_map(|segment| segment["text"].as_str())
            .collect();
        let rate = word_error_rate(&reference.join(" "), &hypothesis.join(" "));
        eprintln!("{what}, {address}: WER {:.1}%", rate * 100.0);
        eprintln!("  reference:  {}", reference.join(" "));
        eprintln!("  hypothesis: {}", hypothesis.join(" "));
        assert!(
            rate < 0.25,
            "{what}, {address}: WER {rate:.3} is not under 25%"
        );
    }
}

/// Runs an encoder; says which Debian package to install when it is missing.
fn encode(program: &str, package: &str, args: &[&std::ffi::OsStr]) {
    let status = Command::new(program).args(args).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "{program} failed ({status:?}); install the Debian package `{package}`"
    );
}

/// FLAC, MP3 and Ogg/Opus imports of the same phone call are decoded and transcribed as
/// well as the WAV (each format's own encoder wrote the file).
#[test]
fn flac_mp3_and_opus_imports_are_decoded_and_transcribed() {
    let model = tiny_en();
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let folder = sandbox.path("compressed");
    std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
    let source = sandbox.path("call-pcm.wav");
    std::fs::write(&source, call_pcm_wav(&sandbox)).unwrap_or_else(|e| panic!("{e}"));
    let output = |name: &str| folder.join(name).into_os_string();
    encode(
        "flac",
        "flac",
        &[
            "--silent".as_ref(),
            "-o".as_ref(),
            &output("call-flac.flac"),
            source.as_os_str(),
        ],
    );
    encode(
        "lame",
        "lame",
        &[
            "--quiet".as_ref(),
            "-b".as_ref(),
            "32".as_ref(),
            source.as_os_str(),
            &output("call-mp3.mp3"),
        ],
    );
    encode(
        "opusenc",
        "opus-tools",
        &[
            "--quiet".as_ref(),
            "--bitrate".as_ref(),
            "24".as_ref(),
            source.as_os_str(),
            &output("call-opus.opus"),
        ],
    );
    for name in ["call-flac", "call-mp3", "call-opus"] {
        let sidecar = onrecord::synth::sidecar(name, "2026-11-28T10:00:00Z", true);
        std::fs::write(
            folder.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&sidecar).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let summary = sandbox.json(&[
        "import",
        "--tenant",
        "acme",
        folder.to_str().unwrap_or_default(),
        "--json",
    ]);
    let imported = summary["imported"].as_array().cloned().unwrap_or_default();
    assert_eq!(imported.len(), 3, "{summary}");

    let run = sandbox.run(&[
        "transcribe",
        "--pending",
        "--model",
        model.to_str().unwrap_or_default(),
    ]);
    let log = support::stderr(&run);
    assert!(run.status.success(), "transcribe --pending failed: {log}");
    for item in &imported {
        let id = item["recording"].as_str().unwrap_or_default();
        let shown = sandbox.json(&["show", id, "--json"]);
        let format = shown["details"]["format"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        assert_eq!(
            shown["transcription"]["state"], "done",
            "{format}: {}",
            shown["transcription"]
        );
        assert_each_party_said_the_script(&segments(&shown), &format);
    }
}

#[test]
fn a_two_party_phone_call_is_transcribed_per_participant_and_found_by_search() {
    let model = tiny_en();
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let id = import_call(&sandbox, "call", false);

    let queued = sandbox.json(&["show", &id, "--json"]);
    assert_eq!(queued["transcription"]["state"], "queued", "{queued}");

    let output = sandbox.run(&[
        "transcribe",
        "--pending",
        "--model",
        model.to_str().unwrap_or_default(),
    ]);
    let log = support::stderr(&output);
    eprintln!("{log}");
    assert!(
        output.status.success(),
        "transcribe --pending failed: {log}"
    );
    assert!(
        log.contains(&format!("done {id}")),
        "no progress line: {log}"
    );

    let shown = sandbox.json(&["show", &id, "--json"]);
    assert_eq!(shown["transcription"]["state"], "done");
    let segments = segments(&shown);
    assert_each_party_said_the_script(&segments, "WAV µ-law");
    // Attribution: every segment lies in a turn of the participant it is attributed to.
    let mut previous = 0.0;
    for segment in &segments {
        let start = segment["start"].as_f64().unwrap_or(-1.0);
        assert!(start >= previous, "segments interleave by time");
        previous = start;
        let turn =
            turn_at(start).unwrap_or_else(|| panic!("segment outside every turn: {segment}"));
        let expected = if turn.party == 0 { CUSTOMER } else { AGENT };
        assert_eq!(segment["participant"], expected, "attribution of {segment}");
    }

    let hits = sandbox.json(&["search", "--tenant", "acme", "\"main street\"", "--json"]);
    let hit = hits
        .as_array()
        .and_then(|hits| hits.first())
        .unwrap_or_else(|| panic!("the phrase was not found: {hits}"));
    assert_eq!(hit["recording_id"], id.as_str());
    assert_eq!(hit["participant"], CUSTOMER);
    let start = hit["start"].as_f64().unwrap_or(-1.0);
    let turn = turn_at(start).unwrap_or_else(|| panic!("hit outside every turn: {hit}"));
    assert_eq!(
        turn.at_ms, 11_000,
        "the hit starts in the turn that says it: {hit}"
    );
    let filtered = sandbox.json(&[
        "search",
        "--tenant",
        "acme",
        "\"main street\"",
        "--tag",
        "missing",
        "--json",
    ]);
    assert_eq!(filtered.as_array().map(Vec::len), Some(0));

    // The index is derived: rebuilt from archive + catalog, it finds the same hit.
    std::fs::remove_dir_all(sandbox.data_dir().join("index")).unwrap_or_else(|e| panic!("{e}"));
    sandbox.ok(&["reindex", "--tenant", "acme"]);
    let again = sandbox.json(&["search", "--tenant", "acme", "springfield", "--json"]);
    assert_eq!(again[0]["recording_id"], id.as_str());

    // Audited, and the query text is not in the audit log (only its hash).
    let entries = audit_entries(&sandbox);
    for action in [
        "transcription.done",
        "transcript.read",
        "search.performed",
        "search.reindexed",
    ] {
        assert!(
            entries.iter().any(|entry| entry.action == action),
            "no {action} in the audit log"
        );
    }
    for entry in &entries {
        assert!(
            !entry
                .details
                .to_string()
                .to_lowercase()
                .contains("main street"),
            "the query text reached the audit log: {:?}",
            entry.details
        );
    }

    // The operator's transparency report and a recording's inclusion proof are content-blind:
    // no word of what was said, no participant address or name.
    let report = sandbox.run(&["report", "transparency", "--json"]);
    let proof = sandbox.run(&["report", "transparency", "--prove", &id, "--json"]);
    for (output, names_the_call) in [(&report, false), (&proof, true)] {
        assert!(output.status.success(), "{}", support::stderr(output));
        let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
        assert_eq!(text.contains(&id), names_the_call, "{text}");
        let spoken = segments
            .iter()
            .filter_map(|segment| segment["text"].as_str())
            .flat_map(words)
            .filter(|word| word.len() >= 6);
        let personal = ["441632960001", "agent7", "ann customer", "agent 7"];
        for needle in spoken.chain(personal.iter().map(|s| s.to_string())) {
            assert!(
                !text.contains(&needle),
                "the transparency output contains {needle:?}"
            );
        }
    }

    // Erasure takes the transcript and the index entries with the recording.
    let erased = sandbox.json(&["erase", "--tenant", "acme", "--recording", &id, "--json"]);
    let body = &erased["receipts"][0]["body"];
    assert_eq!(body["transcripts_deleted"], 1, "{erased}");
    assert_eq!(body["removed_from_search_index"], true, "{erased}");
    let after = sandbox.json(&["search", "--tenant", "acme", "springfield", "--json"]);
    assert_eq!(
        after.as_array().map(Vec::len),
        Some(0),
        "the index still finds an erased call"
    );
    let store = sandbox.data_dir().join("store");
    let left = walk(&store);
    assert!(left.is_empty(), "objects left after erasure: {left:?}");
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn audit_entries(sandbox: &Sandbox) -> Vec<catalog::AuditEntry> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let catalog = catalog::SqliteCatalog::open(sandbox.data_dir().join("catalog.sqlite"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        catalog::Catalog::audit_entries(&catalog, 0, 10_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

#[test]
fn a_tenant_with_transcription_off_queues_nothing() {
    let model = tiny_en();
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let config = sandbox.data_dir().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    let text = text.replace(
        "[tenants.acme]\n",
        "[tenants.acme]\ntranscription = false\n",
    );
    assert!(text.contains("transcription = false"), "{text}");
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let folder = sandbox.path("in");
    std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
    let sidecar = onrecord::synth::sidecar("quiet", "2026-11-28T10:00:00Z", true);
    let audio = onrecord::synth::two_party_mulaw_wav(2, 7);
    onrecord::synth::write_call(&folder, "quiet", &audio, &sidecar)
        .unwrap_or_else(|e| panic!("{e}"));
    let summary = sandbox.json(&[
        "import",
        "--tenant",
        "acme",
        folder.to_str().unwrap_or_default(),
        "--json",
    ]);
    let id = summary["imported"][0]["recording"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let shown = sandbox.json(&["show", &id, "--json"]);
    assert_eq!(shown["transcription"], Value::Null, "no job: {shown}");
    let report = sandbox.json(&[
        "transcribe",
        "--pending",
        "--json",
        "--model",
        model.to_str().unwrap_or_default(),
    ]);
    assert_eq!(report["done"].as_array().map(Vec::len), Some(0), "{report}");
    assert_eq!(report["skipped_tenants"][0][1], "transcription = false");
    let shown = sandbox.json(&["show", &id, "--json"]);
    assert_eq!(shown["transcription"], Value::Null, "still no job: {shown}");
}

#[test]
fn a_silent_channel_produces_no_text_and_a_missing_model_says_what_to_run() {
    let model = tiny_en();
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let id = import_call(&sandbox, "agent-silent", true);

    let missing = sandbox.run(&[
        "transcribe",
        "--pending",
        "--model",
        sandbox.path("nothing").to_str().unwrap_or_default(),
    ]);
    assert!(!missing.status.success());
    assert!(
        support::stderr(&missing).contains("scripts/fetch-models.sh"),
        "{}",
        support::stderr(&missing)
    );

    sandbox.ok(&[
        "transcribe",
        &id,
        "--model",
        model.to_str().unwrap_or_default(),
    ]);
    let shown = sandbox.json(&["show", &id, "--json"]);
    let segments = segments(&shown);
    assert!(!segments.is_empty(), "the customer still speaks");
    for segment in &segments {
        assert_eq!(
            segment["participant"], CUSTOMER,
            "the silent agent said something: {segment}"
        );
    }
}
