use crate::ct2::{Ct2Error, Ct2Model, Ct2Writer, DataType, f16_to_f32};
use crate::{Pcm16k, guards, interpolate_words, mel, resample, vad};

// ---- CTranslate2 reader ----

fn synthetic_ct2() -> Vec<u8> {
    let mut writer = Ct2Writer::new();
    // 1.0, -2.0, 0.5, 65504 (max f16) and the smallest positive subnormal.
    writer
        .f16_bits(
            "decoder/embeddings/weight",
            &[2, 2],
            &[0x3c00, 0xc000, 0x3800, 0x7bff],
        )
        .f32("encoder/conv1/bias", &[3], &[0.25, -1.5, 3.0])
        .f16_bits("tiny/subnormal", &[1], &[0x0001])
        .i16_scalar("encoder/num_heads", 6)
        .alias("decoder/projection/weight", "decoder/embeddings/weight");
    writer.finish("WhisperSpec", 3)
}

#[test]
fn ct2_reads_f16_f32_scalars_and_aliases() -> Result<(), Ct2Error> {
    let model = Ct2Model::parse(&synthetic_ct2())?;
    assert_eq!(model.spec, "WhisperSpec");
    assert_eq!(model.revision, 3);
    assert_eq!(model.variables.len(), 4);
    let embeddings = model
        .variable("decoder/embeddings/weight")
        .ok_or(Ct2Error::Trailing(0))?;
    assert_eq!(embeddings.shape, vec![2, 2]);
    assert_eq!(embeddings.dtype, DataType::Float16);
    assert_eq!(embeddings.to_f32(), vec![1.0, -2.0, 0.5, 65_504.0]);
    let projection = model.variable("decoder/projection/weight");
    assert_eq!(projection, Some(embeddings));
    let bias = model.variable("encoder/conv1/bias").map(|v| v.to_f32());
    assert_eq!(bias, Some(vec![0.25, -1.5, 3.0]));
    let heads = model
        .variable("encoder/num_heads")
        .and_then(|v| v.scalar_integer());
    assert_eq!(heads, Some(6));
    let subnormal = model.variable("tiny/subnormal").map(|v| v.to_f32());
    assert_eq!(subnormal, Some(vec![(-24f32).exp2()]));
    Ok(())
}

#[test]
fn ct2_every_truncation_fails_cleanly() {
    let bytes = synthetic_ct2();
    for length in 0..bytes.len() {
        assert!(
            Ct2Model::parse(&bytes[..length]).is_err(),
            "prefix of {length} bytes parsed"
        );
    }
}

#[test]
fn ct2_single_byte_corruptions_never_panic() {
    let bytes = synthetic_ct2();
    for index in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut corrupt = bytes.clone();
            corrupt[index] ^= flip;
            // Must not panic; either outcome is fine for a flipped data byte.
            let _ = Ct2Model::parse(&corrupt);
        }
    }
}

#[test]
fn ct2_rejects_int8_weights() {
    let mut writer = Ct2Writer::new();
    writer.raw("encoder/conv1/weight", &[2], 1, vec![1, 2]);
    let parsed = Ct2Model::parse(&writer.finish("WhisperSpec", 3));
    assert!(
        matches!(parsed, Err(Ct2Error::Quantized { .. })),
        "{parsed:?}"
    );
}

#[test]
fn ct2_rejects_wrong_version_huge_counts_bad_sizes_and_dangling_aliases() {
    let mut good = synthetic_ct2();
    good[0] = 5;
    assert_eq!(Ct2Model::parse(&good), Err(Ct2Error::Version(5)));

    let mut huge = Vec::new();
    huge.extend_from_slice(&6u32.to_le_bytes());
    huge.extend_from_slice(&2u16.to_le_bytes());
    huge.extend_from_slice(b"x\0");
    huge.extend_from_slice(&1u32.to_le_bytes());
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Ct2Model::parse(&huge),
        Err(Ct2Error::TooMany { .. })
    ));

    let mut writer = Ct2Writer::new();
    writer.raw("w", &[4], 0, vec![0; 8]);
    assert!(matches!(
        Ct2Model::parse(&writer.finish("s", 1)),
        Err(Ct2Error::Size { .. })
    ));

    let mut writer = Ct2Writer::new();
    writer.f32("w", &[1], &[1.0]).alias("a", "missing");
    assert!(matches!(
        Ct2Model::parse(&writer.finish("s", 1)),
        Err(Ct2Error::Alias { .. })
    ));

    let mut trailing = synthetic_ct2();
    trailing.push(0);
    assert_eq!(Ct2Model::parse(&trailing), Err(Ct2Error::Trailing(1)));

    // A dimension product that overflows usize is a size error, not a panic.
    let mut writer = Ct2Writer::new();
    writer.raw(
        "w",
        &[u32::MAX as usize, u32::MAX as usize, u32::MAX as usize],
        0,
        vec![],
    );
    assert!(Ct2Model::parse(&writer.finish("s", 1)).is_err());
}

#[test]
fn f16_conversion_covers_special_values() {
    assert_eq!(f16_to_f32(0x0000), 0.0);
    assert!(f16_to_f32(0x8000).is_sign_negative());
    assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    assert!(f16_to_f32(0x7e00).is_nan());
    assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    assert_eq!(f16_to_f32(0x8001), -(-24f32).exp2());
}

// ---- Mel filterbank ----

/// Reference values from librosa 0.11.0, computed once with
/// `librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)` (defaults: Slaney scale, Slaney
/// norm, fmin 0, fmax 8000) and `n_mels=128`, printing `m[row, bin]` for a few non-zero
/// entries and a few zeros.
#[test]
fn mel_filters_match_librosa_reference() {
    let filters80 = mel::mel_filters(16_000, 400, 80);
    assert_eq!(filters80.len(), 80 * 201);
    let at = |filters: &[f32], row: usize, bin: usize| filters[row * 201 + bin];
    let references80 = [
        (0, 1, 0.024_862_594_902_515_41),
        (0, 2, 0.0),
        (1, 1, 0.001_990_821_911_022_067),
        (1, 2, 0.022_871_771_827_340_126),
        (10, 10, 0.019_908_217_713_236_81),
        (10, 11, 0.004_954_374_860_972_166),
        (40, 42, 0.005_411_104_764_789_343),
        (40, 43, 0.014_735_566_452_145_576),
        (40, 44, 0.006_518_189_795_315_266),
        (40, 63, 0.0),
        (79, 186, 0.000_366_741_674_952_209),
        (79, 188, 0.001_299_398_369_155_824_2),
        (79, 190, 0.002_232_054_946_944_117_5),
        (79, 199, 0.000_448_759_004_939_347_5),
    ];
    for (row, bin, expected) in references80 {
        let actual = at(&filters80, row, bin);
        assert!(
            (f64::from(actual) - expected).abs() < 1e-7,
            "80 mels [{row}][{bin}] = {actual}, librosa {expected}"
        );
    }
    let filters128 = mel::mel_filters(16_000, 400, 128);
    for (row, bin, expected) in [
        (0, 1, 0.012_373_986_653_983_593),
        (5, 3, 0.005_644_591_990_858_316),
        (5, 4, 0.006_729_394_197_463_989),
        (100, 100, 0.002_578_350_948_169_827_5),
        (100, 101, 0.006_775_828_544_050_455),
        (127, 195, 0.005_041_601_601_988_077),
    ] {
        let actual = at(&filters128, row, bin);
        assert!(
            (f64::from(actual) - expected).abs() < 1e-7,
            "128 mels [{row}][{bin}] = {actual}, librosa {expected}"
        );
    }
}

#[test]
fn slaney_scale_round_trips_and_is_linear_below_1_khz() {
    assert!((mel::hz_to_mel(1_000.0) - 15.0).abs() < 1e-12);
    assert!((mel::hz_to_mel(500.0) - 7.5).abs() < 1e-12);
    for hz in [0.0, 100.0, 999.0, 1_000.0, 4_000.0, 8_000.0] {
        assert!((mel::mel_to_hz(mel::hz_to_mel(hz)) - hz).abs() < 1e-9);
    }
}

// ---- Resampler ----

fn tone(frequency: f32, rate: u32, seconds: f32, amplitude: f32) -> Vec<f32> {
    let count = (rate as f32 * seconds) as usize;
    (0..count)
        .map(|n| amplitude * (std::f32::consts::TAU * frequency * n as f32 / rate as f32).sin())
        .collect()
}

/// Amplitude of one frequency in a signal (single-bin DFT), on the middle of the signal to
/// stay away from the edges.
fn amplitude_at(signal: &[f32], rate: u32, frequency: f32) -> f32 {
    let part = &signal[signal.len() / 4..signal.len() * 3 / 4];
    let (mut real, mut imaginary) = (0f64, 0f64);
    for (n, &sample) in part.iter().enumerate() {
        let angle = std::f64::consts::TAU * f64::from(frequency) * n as f64 / f64::from(rate);
        real += f64::from(sample) * angle.cos();
        imaginary += f64::from(sample) * angle.sin();
    }
    (2.0 * (real * real + imaginary * imaginary).sqrt() / part.len() as f64) as f32
}

#[test]
fn resampling_8k_to_16k_keeps_a_1khz_tone_and_leaves_no_image_above_4khz()
-> Result<(), crate::TranscribeError> {
    let input = tone(1_000.0, 8_000, 1.0, 0.5);
    let output = resample::resample(&input, 8_000, 16_000)?;
    assert_eq!(output.len(), 16_000);
    let wanted = amplitude_at(&output, 16_000, 1_000.0);
    assert!((wanted - 0.5).abs() < 0.01, "1 kHz amplitude {wanted}");
    // The image linear interpolation leaves at 8 kHz − 1 kHz, and other bands above 4 kHz.
    for frequency in [4_500.0, 6_000.0, 7_000.0, 7_500.0] {
        let image = amplitude_at(&output, 16_000, frequency);
        assert!(
            image < 0.5e-3,
            "{frequency} Hz amplitude {image} (≥ −60 dB)"
        );
    }
    // Zero crossings: 2 per cycle, 1,000 cycles in the second.
    let crossings = output
        .windows(2)
        .filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0))
        .count();
    assert!(
        (1_990..=2_002).contains(&crossings),
        "{crossings} crossings"
    );
    Ok(())
}

#[test]
fn resampling_48k_to_16k_removes_content_above_the_new_nyquist()
-> Result<(), crate::TranscribeError> {
    // A 10 kHz tone cannot exist at 16 kHz; it must not fold back to 6 kHz.
    let mut input = tone(10_000.0, 48_000, 1.0, 0.5);
    for (sample, low) in input.iter_mut().zip(tone(1_000.0, 48_000, 1.0, 0.5)) {
        *sample += low;
    }
    let output = resample::resample(&input, 48_000, 16_000)?;
    assert_eq!(output.len(), 16_000);
    let kept = amplitude_at(&output, 16_000, 1_000.0);
    let folded = amplitude_at(&output, 16_000, 6_000.0);
    assert!((kept - 0.5).abs() < 0.01, "1 kHz amplitude {kept}");
    assert!(folded < 0.5e-3, "alias at 6 kHz {folded}");
    Ok(())
}

#[test]
fn resampler_rejects_absurd_rates() {
    assert!(resample::Resampler::new(0, 16_000).is_err());
    assert!(resample::Resampler::new(8_000, 1_000_000).is_err());
    // 16,000 / 15,991 needs 16,000 phases.
    assert!(resample::Resampler::new(15_991, 16_000).is_err());
    assert!(resample::resample(&[], 8_000, 16_000).is_ok_and(|out| out.is_empty()));
}

#[test]
fn pcm_from_telephone_samples_is_at_16k() -> Result<(), crate::TranscribeError> {
    let pcm = Pcm16k::from_i16(&vec![1_000i16; 8_000], 8_000)?;
    assert_eq!(pcm.samples().len(), 16_000);
    assert_eq!(pcm.duration_ms(), 1_000);
    Ok(())
}

// ---- Voice activity detection ----

/// Silence, 1 s of "speech" (a modulated tone), 3 s of silence, 1 s of speech, silence.
fn bursts() -> Vec<f32> {
    let mut signal = vec![0f32; 16_000];
    signal.extend(tone(300.0, 16_000, 1.0, 0.3));
    signal.extend(vec![0f32; 48_000]);
    signal.extend(tone(500.0, 16_000, 1.0, 0.3));
    signal.extend(vec![0f32; 16_000]);
    signal
}

#[test]
fn vad_finds_two_talk_spurts_with_preroll_and_hangover() {
    let activity = vad::detect(&bursts(), &vad::VadConfig::default());
    assert_eq!(activity.regions.len(), 2, "{:?}", activity.regions);
    let first = activity.regions[0];
    let second = activity.regions[1];
    // Pre-roll 200 ms before the onset at 1 s, hangover 300 ms after the end at 2 s.
    assert_eq!(first.start, 16_000 - 3_200);
    assert_eq!(first.end, 32_000 + 4_800);
    assert_eq!(second.start, 80_000 - 3_200);
    assert_eq!(second.end, 96_000 + 4_800);
}

#[test]
fn vad_hears_nothing_in_silence_or_steady_low_noise() {
    let silence = vec![0f32; 5 * 16_000];
    assert!(
        vad::detect(&silence, &vad::VadConfig::default())
            .regions
            .is_empty()
    );
    let mut state = 7u32;
    let noise: Vec<f32> = (0..5 * 16_000)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.002
        })
        .collect();
    assert!(
        vad::detect(&noise, &vad::VadConfig::default())
            .regions
            .is_empty()
    );
}

#[test]
fn windows_skip_long_silence_and_merge_spurts_that_fit() {
    let activity = vad::detect(&bursts(), &vad::VadConfig::default());
    // Both spurts fit in one 30 s window.
    let windows = vad::plan_windows(&activity, 30 * 16_000);
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].start, 12_800);
    assert_eq!(windows[0].end, 100_800);
    // With 2 s windows they do not, and the silence between them is skipped.
    let windows = vad::plan_windows(&activity, 2 * 16_000);
    assert_eq!(windows.len(), 2);
    assert!(windows.iter().all(|w| !w.cut_in_speech));
    assert_eq!(windows[1].start, 76_800);
}

#[test]
fn a_spurt_longer_than_a_window_is_split_at_its_quietest_frame() {
    // 1 s silence, 3 s of tone with a quiet (not silent) frame at 2.7 s, 1 s silence;
    // windows of 2 s.
    let mut signal = vec![0f32; 16_000];
    signal.extend(tone(300.0, 16_000, 3.0, 0.3));
    signal.extend(vec![0f32; 16_000]);
    for sample in &mut signal[43_200..43_520] {
        *sample *= 0.05;
    }
    let activity = vad::detect(&signal, &vad::VadConfig::default());
    assert_eq!(activity.regions.len(), 1);
    let windows = vad::plan_windows(&activity, 2 * 16_000);
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert_eq!(windows[0].end, 43_200);
    assert!(windows[0].cut_in_speech);
    assert_eq!(windows[1].start, 43_200);
    assert!(!windows[1].cut_in_speech);
}

#[test]
fn continuous_speech_without_pauses_is_still_voiced() {
    let signal = tone(300.0, 16_000, 3.0, 0.1);
    let activity = vad::detect(&signal, &vad::VadConfig::default());
    assert_eq!(activity.regions.len(), 1);
    assert_eq!(activity.regions[0].start, 0);
    assert_eq!(activity.regions[0].end, signal.len());
}

// ---- Guards ----

#[test]
fn repetition_guard_cuts_loops_to_their_first_occurrence() {
    let looping = [7, 8, 1, 2, 3, 1, 2, 3, 1, 2, 3];
    assert_eq!(guards::repetition_cut(&looping), Some(5));
    let stutter = [4, 9, 9, 9, 9, 9];
    assert_eq!(guards::repetition_cut(&stutter), Some(2));
    // Two repeats of a phrase, or four of a word, is ordinary speech.
    assert_eq!(guards::repetition_cut(&[1, 2, 3, 1, 2, 3]), None);
    assert_eq!(guards::repetition_cut(&[5, 9, 9, 9, 9]), None);
    assert_eq!(guards::repetition_cut(&[]), None);
}

#[test]
fn compression_ratio_separates_loops_from_sentences() {
    let sentence = "I would like to change my billing address to Main Street, Springfield.";
    assert!(guards::compression_ratio(sentence) < guards::COMPRESSION_RATIO_THRESHOLD);
    let looping = "Thank you. ".repeat(12);
    assert!(guards::compression_ratio(&looping) > guards::COMPRESSION_RATIO_THRESHOLD);
    assert_eq!(guards::compression_ratio(""), 0.0);
}

#[test]
fn edge_fragments_are_only_short_tails_at_a_cut_edge() {
    assert!(guards::is_edge_fragment(29_500, 30_000, "you", true, true));
    assert!(guards::is_edge_fragment(
        29_500, 30_000, "you", false, false
    ));
    assert!(!guards::is_edge_fragment(
        29_500, 30_000, "you", false, true
    ));
    assert!(!guards::is_edge_fragment(
        20_000, 30_000, "you", true, false
    ));
    assert!(!guards::is_edge_fragment(
        29_500,
        30_000,
        "three whole words",
        true,
        false
    ));
}

#[test]
fn word_times_are_interpolated_in_order_within_the_segment() {
    let words = interpolate_words(1_000, 2_000, "hello big world");
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(texts, ["hello", "big", "world"]);
    assert_eq!(words[0].start_ms, 1_000);
    assert!(
        words
            .windows(2)
            .all(|pair| pair[0].end_ms <= pair[1].start_ms)
    );
    assert!(
        words
            .iter()
            .all(|w| w.start_ms <= w.end_ms && w.end_ms <= 2_000)
    );
    assert!(interpolate_words(0, 10, "   ").is_empty());
}
