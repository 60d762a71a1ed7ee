use super::*;

/// A RIFF/WAVE file: `fmt ` (16 bytes, or 40 for the extensible form), optional extra chunks
/// before `data`, then `frames` frames of silence.
struct Wav {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    extensible: bool,
    before_data: Vec<u8>,
    frames: usize,
    declared_data: Option<u32>,
}

impl Wav {
    fn new(tag: u16, bits: u16) -> Wav {
        Wav {
            tag,
            channels: 1,
            sample_rate: 8_000,
            bits,
            extensible: false,
            before_data: Vec::new(),
            frames: 8_000,
            declared_data: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let block_align = self.channels * self.bits / 8;
        let mut format = Vec::new();
        let tag = if self.extensible { 0xFFFE } else { self.tag };
        format.extend_from_slice(&tag.to_le_bytes());
        format.extend_from_slice(&self.channels.to_le_bytes());
        format.extend_from_slice(&self.sample_rate.to_le_bytes());
        format.extend_from_slice(&(self.sample_rate * u32::from(block_align)).to_le_bytes());
        format.extend_from_slice(&block_align.to_le_bytes());
        format.extend_from_slice(&self.bits.to_le_bytes());
        if self.extensible {
            format.extend_from_slice(&22u16.to_le_bytes());
            format.extend_from_slice(&self.bits.to_le_bytes());
            format.extend_from_slice(&4u32.to_le_bytes());
            format.extend_from_slice(&self.tag.to_le_bytes());
            format.extend_from_slice(&[
                0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        }
        let data_length = self.frames * usize::from(block_align);
        let mut file = Vec::new();
        file.extend_from_slice(b"RIFF");
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(b"WAVE");
        file.extend_from_slice(b"fmt ");
        file.extend_from_slice(&(format.len() as u32).to_le_bytes());
        file.extend_from_slice(&format);
        file.extend_from_slice(&self.before_data);
        file.extend_from_slice(b"data");
        let declared = self.declared_data.unwrap_or(data_length as u32);
        file.extend_from_slice(&declared.to_le_bytes());
        file.resize(file.len() + data_length, 0);
        let riff_size = (file.len() - 8) as u32;
        file[4..8].copy_from_slice(&riff_size.to_le_bytes());
        file
    }
}

fn probed(extension: Option<&str>, bytes: &[u8], raw: Option<RawCodec>) -> AudioFacts {
    match probe_audio(extension, bytes, raw) {
        Ok(facts) => facts,
        Err(error) => panic!("probe should succeed: {error}"),
    }
}

fn refused(extension: Option<&str>, bytes: &[u8], raw: Option<RawCodec>) -> ProbeError {
    match probe_audio(extension, bytes, raw) {
        Ok(facts) => panic!("probe should fail, got {facts:?}"),
        Err(error) => error,
    }
}

#[test]
fn wav_pcm16_mono_one_second() {
    let facts = probed(Some("wav"), &Wav::new(1, 16).bytes(), None);
    assert_eq!(
        facts,
        AudioFacts {
            format: AudioFormat::WavPcm16,
            content_tag: "audio/wav",
            sample_rate: 8_000,
            channels: 1,
            duration_ms: 1_000,
        }
    );
}

#[test]
fn wav_mulaw_and_alaw_stereo() {
    let mut mulaw = Wav::new(7, 8);
    mulaw.channels = 2;
    mulaw.frames = 12_000;
    let facts = probed(Some("WAV"), &mulaw.bytes(), None);
    assert_eq!(
        (facts.format, facts.channels, facts.duration_ms),
        (AudioFormat::WavMulaw, 2, 1_500)
    );
    let facts = probed(None, &Wav::new(6, 8).bytes(), None);
    assert_eq!(facts.format, AudioFormat::WavAlaw);
}

#[test]
fn wav_extensible_pcm16_is_read_through_its_subformat() {
    let mut wav = Wav::new(1, 16);
    wav.extensible = true;
    wav.sample_rate = 16_000;
    wav.frames = 4_000;
    let facts = probed(Some("wav"), &wav.bytes(), None);
    assert_eq!(
        (facts.format, facts.duration_ms),
        (AudioFormat::WavPcm16, 250)
    );
}

#[test]
fn wav_chunks_before_data_are_skipped_including_odd_padding() {
    let mut wav = Wav::new(1, 16);
    // An odd-sized LIST chunk is followed by one pad byte.
    wav.before_data = b"LIST\x03\x00\x00\x00abc\x00".to_vec();
    assert_eq!(probed(Some("wav"), &wav.bytes(), None).duration_ms, 1_000);
}

#[test]
fn wav_data_size_unknown_reads_to_the_end() {
    let mut wav = Wav::new(7, 8);
    wav.declared_data = Some(0xFFFF_FFFF);
    assert_eq!(probed(Some("wav"), &wav.bytes(), None).duration_ms, 1_000);
}

#[test]
fn wav_data_longer_than_the_file_is_truncated() {
    let mut wav = Wav::new(7, 8);
    wav.declared_data = Some(9_000);
    assert!(matches!(
        refused(Some("wav"), &wav.bytes(), None),
        ProbeError::Truncated {
            format: Container::Wav,
            ..
        }
    ));
}

#[test]
fn wav_header_cut_short_is_truncated() {
    let bytes = Wav::new(1, 16).bytes();
    for length in [4, 11, 12, 20, 40] {
        let error = refused(Some("wav"), &bytes[..length], None);
        assert!(
            matches!(
                error,
                ProbeError::Truncated { .. } | ProbeError::Malformed { .. }
            ),
            "{length}: {error}"
        );
    }
}

#[test]
fn wav_with_unsupported_sample_format_is_refused() {
    for (tag, bits) in [(1, 24), (1, 8), (3, 32), (0x0055, 0)] {
        let error = refused(Some("wav"), &Wav::new(tag, bits).bytes(), None);
        assert!(
            matches!(error, ProbeError::Unsupported { .. }),
            "{tag}/{bits}: {error}"
        );
    }
}

#[test]
fn wav_with_inconsistent_format_is_malformed() {
    let mut zero_rate = Wav::new(1, 16);
    zero_rate.sample_rate = 0;
    let mut no_channels = Wav::new(1, 16);
    no_channels.channels = 0;
    for wav in [zero_rate, no_channels] {
        let error = refused(Some("wav"), &wav.bytes(), None);
        assert!(matches!(error, ProbeError::Malformed { .. }), "{error}");
    }
    let mut bad_align = Wav::new(1, 16).bytes();
    bad_align[32] = 3;
    assert!(matches!(
        refused(Some("wav"), &bad_align, None),
        ProbeError::Malformed { .. }
    ));
}

#[test]
fn wav_data_before_format_is_malformed() {
    let mut bytes = b"RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00".to_vec();
    bytes.extend_from_slice(&Wav::new(1, 16).bytes()[12..]);
    assert!(matches!(
        refused(Some("wav"), &bytes, None),
        ProbeError::Malformed { .. }
    ));
}

#[test]
fn wav_with_endless_small_chunks_is_refused() {
    let mut bytes = b"RIFF\x00\x00\x00\x00WAVE".to_vec();
    for _ in 0..1_000 {
        bytes.extend_from_slice(b"junk\x00\x00\x00\x00");
    }
    assert!(matches!(
        refused(None, &bytes, None),
        ProbeError::Malformed { .. }
    ));
}

#[test]
fn rf64_is_refused_as_unsupported() {
    let mut bytes = Wav::new(1, 16).bytes();
    bytes[..4].copy_from_slice(b"RF64");
    assert!(matches!(
        refused(Some("wav"), &bytes, None),
        ProbeError::Unsupported {
            format: Container::Wav,
            ..
        }
    ));
}

#[test]
fn file_named_flac_holding_wav_is_a_mismatch() {
    assert_eq!(
        refused(Some("flac"), &Wav::new(1, 16).bytes(), None),
        ProbeError::Mismatch {
            claimed: Container::Flac,
            found: Container::Wav
        }
    );
}

#[test]
fn unknown_extension_relies_on_content() {
    assert_eq!(
        probed(Some("rec"), &Wav::new(1, 16).bytes(), None).format,
        AudioFormat::WavPcm16
    );
}

#[test]
fn unrecognised_content_and_empty_file_are_refused() {
    assert_eq!(refused(Some("wav"), b"", None), ProbeError::Empty);
    assert_eq!(
        refused(None, b"hello, world", None),
        ProbeError::Unrecognised
    );
    assert_eq!(
        refused(Some("mp3"), b"hello, world", None),
        ProbeError::Unrecognised
    );
}

#[test]
fn raw_pcmu_duration_comes_from_the_byte_count() {
    let bytes = vec![0xFF; 24_000];
    let facts = probed(Some("raw"), &bytes, Some(RawCodec::g711(RawEncoding::Pcmu)));
    assert_eq!(
        facts,
        AudioFacts {
            format: AudioFormat::RawPcmu,
            content_tag: "audio/PCMU",
            sample_rate: 8_000,
            channels: 1,
            duration_ms: 3_000,
        }
    );
}

#[test]
fn raw_pcma_stereo_at_declared_rate() {
    let codec = RawCodec {
        encoding: RawEncoding::Pcma,
        sample_rate: 16_000,
        channels: 2,
    };
    let facts = probed(Some("al"), &vec![0xD5; 64_000], Some(codec));
    assert_eq!(
        (facts.format, facts.duration_ms),
        (AudioFormat::RawPcma, 2_000)
    );
    assert!(matches!(
        refused(None, &[0xD5; 3], Some(codec)),
        ProbeError::Malformed { .. }
    ));
}

#[test]
fn raw_extension_without_sidecar_codec_is_refused() {
    assert_eq!(
        refused(Some("ulaw"), &[0xFF; 80], None),
        ProbeError::RawNeedsCodec
    );
}

#[test]
fn raw_codec_declared_for_a_container_is_refused() {
    let codec = Some(RawCodec::g711(RawEncoding::Pcmu));
    assert_eq!(
        refused(Some("raw"), &Wav::new(7, 8).bytes(), codec),
        ProbeError::RawCodecOnContainer {
            found: Container::Wav
        }
    );
    assert_eq!(
        refused(Some("wav"), &[0x7F; 80], codec),
        ProbeError::Mismatch {
            claimed: Container::Wav,
            found: Container::RawG711
        }
    );
    assert_eq!(
        refused(Some("alaw"), &[0x7F; 80], codec),
        ProbeError::EncodingMismatch {
            claimed: "pcma",
            declared: "pcmu"
        }
    );
}

#[test]
fn raw_mulaw_that_looks_like_an_mpeg_frame_sync_is_still_raw() {
    let mut bytes = vec![0xFF, 0xFB, 0x90, 0x00];
    bytes.resize(8_000, 0xFF);
    let facts = probed(None, &bytes, Some(RawCodec::g711(RawEncoding::Pcmu)));
    assert_eq!(facts.duration_ms, 1_000);
}

// ---- Ogg/Opus built by hand ----------------------------------------------------------------

/// One Ogg page holding `body` as a single packet (or, when `body` is exactly a multiple of
/// 255, a packet continued on the next page).
fn ogg_page(header_type: u8, granule: u64, serial: u32, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut lacing = vec![255u8; body.len() / 255];
    lacing.push((body.len() % 255) as u8);
    let mut page = b"OggS\x00".to_vec();
    page.push(header_type);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&serial.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    page.push(lacing.len() as u8);
    page.extend_from_slice(&lacing);
    page.extend_from_slice(body);
    let crc = ogg::page_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

fn opus_head(channels: u8, pre_skip: u16) -> Vec<u8> {
    let mut head = b"OpusHead\x01".to_vec();
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&8_000u32.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    head
}

fn opus_file(channels: u8, pre_skip: u16, final_granule: u64) -> Vec<u8> {
    let mut file = ogg_page(0x02, 0, 7, 0, &opus_head(channels, pre_skip));
    file.extend(ogg_page(
        0x00,
        0,
        7,
        1,
        b"OpusTags\x00\x00\x00\x00\x00\x00\x00\x00",
    ));
    file.extend(ogg_page(0x00, 24_312, 7, 2, &[0xF8; 100]));
    file.extend(ogg_page(0x00, u64::MAX, 7, 3, &[0xF8; 255]));
    file.extend(ogg_page(0x04, final_granule, 7, 4, &[0xF8; 60]));
    file
}

#[test]
fn ogg_opus_duration_is_final_granule_minus_pre_skip_at_48_khz() {
    let facts = probed(Some("opus"), &opus_file(2, 312, 312 + 96_000), None);
    assert_eq!(
        facts,
        AudioFacts {
            format: AudioFormat::OggOpus,
            content_tag: "audio/ogg",
            sample_rate: 48_000,
            channels: 2,
            duration_ms: 2_000,
        }
    );
}

#[test]
fn ogg_opus_final_granule_below_pre_skip_is_malformed() {
    assert!(matches!(
        refused(Some("ogg"), &opus_file(1, 3_840, 100), None),
        ProbeError::Malformed { .. }
    ));
}

#[test]
fn ogg_page_with_bad_checksum_is_malformed() {
    let mut file = opus_file(1, 312, 48_312);
    let last = file.len() - 1;
    file[last] ^= 0x01;
    let error = refused(Some("opus"), &file, None);
    assert!(error.to_string().contains("checksum"), "{error}");
}

#[test]
fn ogg_cut_mid_page_is_truncated() {
    let file = opus_file(1, 312, 48_312);
    assert!(matches!(
        refused(Some("opus"), &file[..file.len() - 10], None),
        ProbeError::Truncated {
            format: Container::Ogg,
            ..
        }
    ));
}

#[test]
fn ogg_vorbis_is_unsupported() {
    let file = ogg_page(
        0x02,
        0,
        1,
        0,
        b"\x01vorbis\x00\x00\x00\x00\x01\x44\xAC\x00\x00",
    );
    assert!(matches!(
        refused(Some("ogg"), &file, None),
        ProbeError::Unsupported {
            format: Container::Ogg,
            ..
        }
    ));
}

#[test]
fn ogg_with_second_logical_stream_is_unsupported() {
    let mut file = opus_file(1, 312, 48_312);
    file.extend(ogg_page(0x00, 100_000, 8, 0, &[0; 10]));
    assert!(matches!(
        refused(Some("opus"), &file, None),
        ProbeError::Unsupported { .. }
    ));
}

#[test]
fn ogg_opus_header_checks_follow_rfc_7845() {
    let mut future = opus_head(1, 312);
    future[8] = 0x10;
    let mut no_channels = opus_head(1, 312);
    no_channels[9] = 0;
    let mut family_zero_surround = opus_head(6, 312);
    family_zero_surround[18] = 0;
    for head in [future, no_channels, family_zero_surround] {
        let file = ogg_page(0x02, 0, 1, 0, &head);
        assert!(probe_audio(Some("opus"), &file, None).is_err());
    }
    let not_first = ogg_page(0x00, 0, 1, 0, &opus_head(1, 312));
    assert!(matches!(
        refused(Some("opus"), &not_first, None),
        ProbeError::Malformed { .. }
    ));
}

#[test]
fn ogg_opus_with_headers_only_has_no_duration() {
    let mut file = ogg_page(0x02, 0, 7, 0, &opus_head(1, 312));
    file.extend(ogg_page(
        0x04,
        0,
        7,
        1,
        b"OpusTags\x00\x00\x00\x00\x00\x00\x00\x00",
    ));
    assert_eq!(probed(Some("opus"), &file, None).duration_ms, 0);
}

#[test]
fn mpeg_layer_three_header_is_recognised_and_others_are_not() {
    assert!(compressed::is_mp3_frame_header(&[0xFF, 0xFB, 0x90, 0x64]));
    assert!(compressed::is_mp3_frame_header(&[0xFF, 0xE3, 0x48, 0xC4]));
    // Layer II, free bit rate, reserved sample rate, reserved version, no sync.
    for header in [
        [0xFF, 0xFD, 0x90, 0x64],
        [0xFF, 0xFB, 0x00, 0x64],
        [0xFF, 0xFB, 0x9C, 0x64],
        [0xFF, 0xEB, 0x90, 0x64],
        [0xFE, 0xFB, 0x90, 0x64],
    ] {
        assert!(!compressed::is_mp3_frame_header(&header), "{header:02x?}");
    }
}

#[test]
fn id3_tag_longer_than_the_file_is_truncated() {
    let bytes = b"ID3\x04\x00\x00\x00\x00\x7F\x7F\xFF\xFB\x90\x64";
    assert!(matches!(
        refused(Some("mp3"), bytes, None),
        ProbeError::Truncated {
            format: Container::Mp3,
            ..
        }
    ));
}
