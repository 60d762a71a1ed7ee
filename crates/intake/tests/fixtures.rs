//! Probing real files made by real encoders (sox, flac, lame, opusenc; see
//! `testdata/intake/README.md`): a 440 Hz tone, 8 kHz mono, 500 ms.

use std::path::PathBuf;

use onrecord_intake::{AudioFacts, AudioFormat, ProbeError, probe_audio};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/intake")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => panic!("fixture {} is missing: {error}", path.display()),
    }
}

fn probed(extension: &str, name: &str) -> AudioFacts {
    match probe_audio(Some(extension), &fixture(name), None) {
        Ok(facts) => facts,
        Err(error) => panic!("{name} should probe: {error}"),
    }
}

#[test]
fn flac_from_the_flac_encoder_states_its_length() {
    assert_eq!(
        probed("flac", "tone-8k-mono-500ms.flac"),
        AudioFacts {
            format: AudioFormat::Flac,
            content_tag: "audio/flac",
            sample_rate: 8_000,
            channels: 1,
            duration_ms: 500,
        }
    );
}

#[test]
fn flac_written_to_a_pipe_without_total_samples_is_measured_by_its_frames() {
    let facts = probed("flac", "tone-8k-mono-500ms-unknown-length.flac");
    assert_eq!(
        (facts.format, facts.sample_rate, facts.duration_ms),
        (AudioFormat::Flac, 8_000, 500)
    );
}

#[test]
fn mp3_with_xing_header_from_lame() {
    let facts = probed("mp3", "tone-8k-mono-500ms.mp3");
    assert_eq!(
        (
            facts.format,
            facts.content_tag,
            facts.sample_rate,
            facts.channels
        ),
        (AudioFormat::Mp3, "audio/mpeg", 8_000, 1)
    );
    // LAME's tag states the encoder delay and padding, which are not counted.
    assert_eq!(facts.duration_ms, 500, "{facts:?}");
}

#[test]
fn ogg_opus_from_opusenc() {
    assert_eq!(
        probed("opus", "tone-8k-mono-500ms.opus"),
        AudioFacts {
            format: AudioFormat::OggOpus,
            content_tag: "audio/ogg",
            sample_rate: 48_000,
            channels: 1,
            duration_ms: 500,
        }
    );
}

#[test]
fn encoded_files_under_the_wrong_name_are_mismatches() {
    for (extension, name) in [
        ("mp3", "tone-8k-mono-500ms.flac"),
        ("wav", "tone-8k-mono-500ms.mp3"),
        ("flac", "tone-8k-mono-500ms.opus"),
    ] {
        let result = probe_audio(Some(extension), &fixture(name), None);
        assert!(
            matches!(result, Err(ProbeError::Mismatch { .. })),
            "{name} as .{extension}: {result:?}"
        );
    }
}

#[test]
fn encoded_files_cut_in_half_do_not_panic() {
    for (extension, name) in [
        ("flac", "tone-8k-mono-500ms.flac"),
        ("flac", "tone-8k-mono-500ms-unknown-length.flac"),
        ("mp3", "tone-8k-mono-500ms.mp3"),
        ("opus", "tone-8k-mono-500ms.opus"),
    ] {
        let bytes = fixture(name);
        for length in [4, 10, 30, 60, 200, bytes.len() / 2, bytes.len() - 1] {
            let _ = probe_audio(Some(extension), &bytes[..length], None);
        }
    }
}
