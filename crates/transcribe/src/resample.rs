//! Band-limited resampling by windowed sinc (Kaiser window), polyphase: the rate ratio is
//! reduced to `up / down`, one filter per output phase is precomputed, and every output
//! sample is one dot product. Used to bring G.711 (8 kHz) and other stream rates to
//! Whisper's 16 kHz. Linear interpolation is not used: it leaves the 8 kHz images of
//! telephone audio in the 4–8 kHz band, where Whisper would hear them.

use crate::TranscribeError;

/// Zero crossings of the sinc on each side of the centre (filter half-length, in units of
/// the lower of the two rates).
const ZERO_CROSSINGS: usize = 24;
/// Passband edge as a fraction of the lower Nyquist frequency.
const ROLLOFF: f64 = 0.94;
/// Kaiser window shape (≈ 80 dB stop-band attenuation).
const KAISER_BETA: f64 = 8.0;
/// Highest rate accepted, and the largest number of filter phases precomputed.
const MAX_RATE: u32 = 384_000;
const MAX_PHASES: usize = 4_096;

/// A resampler from one fixed rate to another.
#[derive(Debug, Clone)]
pub struct Resampler {
    up: usize,
    down: usize,
    /// Taps each side of the centre, in input samples.
    half_length: usize,
    /// `up` phases × `2 × half_length` taps, row-major.
    table: Vec<f32>,
}

fn greatest_common_divisor(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Modified Bessel function of the first kind, order 0 (power series; converges fast for
/// the arguments a Kaiser window uses).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A resampler from `from_rate` to `to_rate` Hz (each 1 Hz to 384 kHz). The reduced
    /// ratio must need at most 4,096 filter phases (true for every telephone and audio rate).
    pub fn new(from_rate: u32, to_rate: u32) -> Result<Resampler, TranscribeError> {
        let rate_ok = |rate: u32| (1..=MAX_RATE).contains(&rate);
        if !rate_ok(from_rate) || !rate_ok(to_rate) {
            return Err(TranscribeError::SampleRate { from_rate, to_rate });
        }
        let divisor = greatest_common_divisor(from_rate, to_rate);
        let up = (to_rate / divisor) as usize;
        let down = (from_rate / divisor) as usize;
        if up > MAX_PHASES {
            return Err(TranscribeError::SampleRate { from_rate, to_rate });
        }
        // Cutoff in cycles per input sample: half the lower rate, a little inside it.
        let cutoff = 0.5 * ROLLOFF * (up as f64 / down as f64).min(1.0);
        let half_length = (ZERO_CROSSINGS as f64 / (2.0 * cutoff)).ceil() as usize;
        let taps = 2 * half_length;
        let window_norm = bessel_i0(KAISER_BETA);
        let mut table = vec![0f32; up * taps];
        for phase in 0..up {
            let fraction = phase as f64 / up as f64;
            let row = &mut table[phase * taps..(phase + 1) * taps];
            for (tap, weight) in row.iter_mut().enumerate() {
                // Distance from the output instant to input sample `base + tap - half + 1`.
                let distance = (tap as f64 - half_length as f64 + 1.0) - fraction;
                let position = distance / half_length as f64;
                if position.abs() >= 1.0 {
                    continue;
                }
                let argument = 2.0 * cutoff * distance;
                let sinc = if argument.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * argument).sin() / (std::f64::consts::PI * argument)
                };
                let window =
                    bessel_i0(KAISER_BETA * (1.0 - position * position).sqrt()) / window_norm;
                *weight = (2.0 * cutoff * sinc * window) as f32;
            }
        }
        Ok(Resampler {
            up,
            down,
            half_length,
            table,
        })
    }

    /// Resamples a whole signal (samples outside it count as zero). The output has
    /// `ceil(len × to / from)` samples, aligned so output sample 0 is input sample 0.
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        let taps = 2 * self.half_length;
        let output_length = (input.len() * self.up).div_ceil(self.down);
        let mut output = Vec::with_capacity(output_length);
        for index in 0..output_length {
            let numerator = index * self.down;
            let base = numerator / self.up;
            let phase = numerator % self.up;
            let row = &self.table[phase * taps..(phase + 1) * taps];
            // Input sample for tap t is base + t + 1 − half_length.
            let first = (base + 1).saturating_sub(self.half_length);
            let last = (base + self.half_length + 1).min(input.len());
            let first_tap = first + self.half_length - 1 - base;
            let sum: f32 = input[first..last]
                .iter()
                .zip(&row[first_tap..])
                .map(|(sample, weight)| sample * weight)
                .sum();
            output.push(sum);
        }
        output
    }
}

/// Resamples `input` from `from_rate` to `to_rate` Hz (see [`Resampler`]).
pub fn resample(input: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>, TranscribeError> {
    if from_rate == to_rate {
        return Resampler::new(from_rate, to_rate).map(|_| input.to_vec());
    }
    Ok(Resampler::new(from_rate, to_rate)?.process(input))
}
