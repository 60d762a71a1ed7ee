//! Import input: the sidecar parser, and (from the same bytes) the audio prober.
//! Neither may panic, whatever the bytes. Seed corpus: `fuzz/corpus/import_sidecar/`.
#![no_main]

use onrecord_intake::{RawCodec, RawEncoding, parse_sidecar, probe_audio};

/// The extension hints the prober knows, plus none and an unknown one.
const EXTENSIONS: [Option<&str>; 8] = [
    None,
    Some("wav"),
    Some("flac"),
    Some("mp3"),
    Some("opus"),
    Some("raw"),
    Some("alaw"),
    Some("bin"),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = parse_sidecar(data);
    // The first byte picks the name the file claims and whether the sidecar declares raw
    // G.711; the rest is the file.
    if let Some((selector, audio)) = data.split_first() {
        let extension = EXTENSIONS[usize::from(selector & 0x07)];
        let raw_codec = match selector >> 6 {
            1 => Some(RawCodec::g711(RawEncoding::Pcmu)),
            2 => Some(RawCodec::g711(RawEncoding::Pcma)),
            _ => None,
        };
        let _ = probe_audio(extension, audio, raw_codec);
    }
});
