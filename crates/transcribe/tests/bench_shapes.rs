//! The benchmark runs on shape-exact random weights (no weights file) and reports sane
//! numbers; the large-v3-turbo shape has the published parameter count.
#![cfg(feature = "whisper")]

use model::clock::SystemClock;
use onrecord_transcribe::whisper::{
    BenchModel, BenchOptions, WhisperDevice, WhisperShape, bench_with_options,
};

#[test]
fn large_v3_turbo_shape_has_809_million_parameters() {
    let shape = WhisperShape::LARGE_V3_TURBO;
    let parameters: usize = shape
        .tensor_shapes()
        .iter()
        .map(|(_, dims)| dims.iter().product::<usize>())
        .sum();
    // 808.9 M (the Hugging Face checkpoint's count, without the computed encoder positions).
    assert!(
        (805_000_000..812_000_000).contains(&parameters),
        "{parameters}"
    );
    assert_eq!(shape.config().encoder_layers, 32);
    assert_eq!(shape.config().decoder_layers, 4);
}

#[test]
fn bench_runs_a_random_weight_model_on_the_cpu() {
    let options = BenchOptions {
        batch_size: 2,
        tokens_per_window: 4,
    };
    let result = bench_with_options(
        &BenchModel::Shape(WhisperShape::TINY_EN),
        WhisperDevice::Cpu,
        40.0,
        &options,
        &SystemClock,
    )
    .unwrap_or_else(|error| panic!("bench failed: {error}"));
    assert_eq!(result.windows, 2);
    assert_eq!(result.audio_seconds, 40.0);
    assert!(result.encode_seconds > 0.0 && result.decode_seconds > 0.0);
    assert!(result.realtime_factor > 0.0 && result.realtime_factor.is_finite());
    assert!((result.realtime_factor * result.times_realtime - 1.0).abs() < 1e-6);
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let error = bench_with_options(
        &BenchModel::Shape(WhisperShape::TINY_EN),
        WhisperDevice::Cuda(0),
        1.0,
        &BenchOptions::default(),
        &SystemClock,
    );
    assert!(matches!(
        error,
        Err(onrecord_transcribe::TranscribeError::Device(_))
    ));
}
