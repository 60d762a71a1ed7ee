//! Voice activity detection by frame energy with an adaptive noise floor and hangover, and
//! the plan of decoding windows built from it: long silences are skipped, and a window
//! never ends inside speech unless one talk spurt is longer than a window, in which case it
//! is split at its quietest frame.

/// Frame length: 20 ms at 16 kHz.
pub const FRAME_SAMPLES: usize = 320;
const FRAME_MS: u64 = 20;

/// Tuning of the detector. The defaults suit telephone speech at 16 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// A frame is voiced when its energy is this many dB above the noise floor…
    pub threshold_over_floor_db: f32,
    /// …and above this absolute level (dB relative to full scale, 1.0 = 0 dBFS)…
    pub absolute_floor_dbfs: f32,
    /// …but a frame this loud is always voiced (a stream that is all speech has no pauses
    /// to measure the noise floor in).
    pub always_voiced_dbfs: f32,
    /// Speech continues this long after the last voiced frame (hangover).
    pub hangover_ms: u64,
    /// Audio kept before the first voiced frame of a region (onsets are quiet).
    pub preroll_ms: u64,
    /// Regions separated by less than this are merged.
    pub merge_gap_ms: u64,
    /// Regions with fewer voiced frames than this are dropped (clicks).
    pub min_voiced_ms: u64,
}

impl Default for VadConfig {
    fn default() -> VadConfig {
        VadConfig {
            threshold_over_floor_db: 10.0,
            absolute_floor_dbfs: -50.0,
            always_voiced_dbfs: -30.0,
            hangover_ms: 300,
            preroll_ms: 200,
            merge_gap_ms: 600,
            min_voiced_ms: 80,
        }
    }
}

/// A span of speech, in samples of the 16 kHz stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechRegion {
    pub start: usize,
    pub end: usize,
}

/// What the detector found: per-frame energies and the speech regions.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceActivity {
    pub frame_energies_db: Vec<f32>,
    pub regions: Vec<SpeechRegion>,
    pub sample_count: usize,
}

fn frame_energy_db(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return -120.0;
    }
    let mean_square = frame
        .iter()
        .map(|s| f64::from(*s) * f64::from(*s))
        .sum::<f64>()
        / frame.len() as f64;
    (10.0 * (mean_square + 1e-12).log10()) as f32
}

/// Finds the speech regions of a 16 kHz signal.
pub fn detect(samples: &[f32], config: &VadConfig) -> VoiceActivity {
    let energies: Vec<f32> = samples.chunks(FRAME_SAMPLES).map(frame_energy_db).collect();
    let floor = noise_floor(&energies);
    let threshold = (floor + config.threshold_over_floor_db)
        .max(config.absolute_floor_dbfs)
        .min(config.always_voiced_dbfs);
    let frames = |ms: u64| (ms / FRAME_MS) as usize;
    let (hangover, preroll) = (frames(config.hangover_ms), frames(config.preroll_ms));
    let (merge_gap, min_voiced) = (frames(config.merge_gap_ms), frames(config.min_voiced_ms));

    // Raw regions in frames, each with its count of voiced frames.
    let mut raw: Vec<(usize, usize, usize)> = Vec::new();
    let mut current: Option<(usize, usize, usize)> = None;
    for (index, &energy) in energies.iter().enumerate() {
        let voiced = energy >= threshold;
        current = match (current, voiced) {
            (None, true) => Some((index, index + 1, 1)),
            (None, false) => None,
            (Some((start, _, count)), true) => Some((start, index + 1, count + 1)),
            (Some((start, last_voiced_end, count)), false) => {
                if index >= last_voiced_end + hangover {
                    raw.push((start, last_voiced_end, count));
                    None
                } else {
                    Some((start, last_voiced_end, count))
                }
            }
        };
    }
    raw.extend(current);

    let mut merged: Vec<(usize, usize, usize)> = Vec::new();
    for (start, end, count) in raw {
        match merged.last_mut() {
            Some(previous) if start <= previous.1 + merge_gap => {
                previous.1 = end;
                previous.2 += count;
            }
            _ => merged.push((start, end, count)),
        }
    }
    let regions = merged
        .into_iter()
        .filter(|&(_, _, count)| count >= min_voiced.max(1))
        .map(|(start, end, _)| SpeechRegion {
            start: start.saturating_sub(preroll) * FRAME_SAMPLES,
            end: ((end + hangover) * FRAME_SAMPLES).min(samples.len()),
        })
        .collect();
    VoiceActivity {
        frame_energies_db: energies,
        regions,
        sample_count: samples.len(),
    }
}

/// The 10th percentile of frame energies: the level of the pauses between words.
fn noise_floor(energies: &[f32]) -> f32 {
    let mut sorted: Vec<f32> = energies.iter().copied().filter(|e| e.is_finite()).collect();
    if sorted.is_empty() {
        return -120.0;
    }
    sorted.sort_by(f32::total_cmp);
    sorted[sorted.len() / 10]
}

/// One decoding window: a stretch of the stream of at most the window length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    /// True when the window was ended by the length limit inside speech (its last words
    /// may be cut), false when it ends in a pause.
    pub cut_in_speech: bool,
}

/// Groups speech regions into windows of at most `max_samples`, skipping the silence
/// between windows. A region longer than a window is split at the quietest frame of the
/// last quarter before the limit.
pub fn plan_windows(activity: &VoiceActivity, max_samples: usize) -> Vec<Window> {
    let max_samples = max_samples.max(FRAME_SAMPLES * 4);
    let mut pieces: Vec<Window> = Vec::new();
    for region in &activity.regions {
        let mut start = region.start;
        while region.end - start > max_samples {
            let split = quietest_split(activity, start, start + max_samples);
            pieces.push(Window {
                start,
                end: split,
                cut_in_speech: true,
            });
            start = split;
        }
        pieces.push(Window {
            start,
            end: region.end,
            cut_in_speech: false,
        });
    }
    let mut windows: Vec<Window> = Vec::new();
    for piece in pieces {
        match windows.last_mut() {
            Some(window)
                if !window.cut_in_speech
                    && piece.end - window.start <= max_samples
                    && piece.start >= window.end =>
            {
                window.end = piece.end;
                window.cut_in_speech = piece.cut_in_speech;
            }
            _ => windows.push(piece),
        }
    }
    windows
}

fn quietest_split(activity: &VoiceActivity, start: usize, limit: usize) -> usize {
    let first_frame = (start + (limit - start) * 3 / 4) / FRAME_SAMPLES;
    let last_frame = limit / FRAME_SAMPLES;
    let quietest = (first_frame..last_frame)
        .filter_map(|frame| {
            activity
                .frame_energies_db
                .get(frame)
                .map(|&energy| (frame, energy))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match quietest {
        Some((frame, _)) => (frame * FRAME_SAMPLES).max(start + FRAME_SAMPLES),
        None => limit,
    }
}
