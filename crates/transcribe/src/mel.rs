//! The mel filterbank Whisper was trained with: librosa's `filters.mel(sr=16000,
//! n_fft=400, n_mels=80 or 128)` with the Slaney mel scale and Slaney ("area") normalisation,
//! computed here rather than shipped as a data file.

/// Whisper's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// Whisper's FFT size (25 ms).
pub const N_FFT: usize = 400;

/// Slaney scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1_000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hertz → mel on the Slaney scale (librosa `hz_to_mel(htk=False)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Mel → hertz on the Slaney scale (librosa `mel_to_hz(htk=False)`).
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// The filterbank as a row-major `[n_mels][n_fft / 2 + 1]` matrix, triangles between
/// `fmin = 0` and `fmax = sample_rate / 2`, each scaled by `2 / (upper − lower edge)`.
pub fn mel_filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let nyquist = f64::from(sample_rate) / 2.0;
    let fft_frequencies: Vec<f64> = (0..bins)
        .map(|bin| bin as f64 * nyquist / (bins - 1).max(1) as f64)
        .collect();
    let max_mel = hz_to_mel(nyquist);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|index| mel_to_hz(max_mel * index as f64 / (n_mels + 1) as f64))
        .collect();
    let mut filters = vec![0f32; n_mels * bins];
    for mel in 0..n_mels {
        let (lower, center, upper) = (edges[mel], edges[mel + 1], edges[mel + 2]);
        let normalisation = 2.0 / (upper - lower);
        for (bin, &frequency) in fft_frequencies.iter().enumerate() {
            let rising = (frequency - lower) / (center - lower);
            let falling = (upper - frequency) / (upper - center);
            let weight = rising.min(falling).max(0.0);
            filters[mel * bins + bin] = (weight * normalisation) as f32;
        }
    }
    filters
}
