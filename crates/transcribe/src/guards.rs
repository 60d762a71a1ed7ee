//! Guards against Whisper's known failure modes, independent of the engine: repetition
//! loops (the same n-gram again and again), highly compressible output, and fragments
//! cut by a window edge.

/// If the tail of `tokens` is one n-gram repeated (n from 1 to 16; at least 5 times for
/// n ≤ 2, at least 3 times for longer n-grams), returns how many tokens to keep so that
/// only its first occurrence remains.
pub fn repetition_cut(tokens: &[u32]) -> Option<usize> {
    for size in 1..=16usize {
        let needed = if size <= 2 { 5 } else { 3 };
        if tokens.len() < size * needed {
            continue;
        }
        let tail = &tokens[tokens.len() - size..];
        let mut repeats = 1;
        let mut end = tokens.len() - size;
        while end >= size && &tokens[end - size..end] == tail {
            repeats += 1;
            end -= size;
        }
        if repeats >= needed {
            return Some(end + size);
        }
    }
    None
}

/// Ratio of the text's length to the size of a greedy LZ77 encoding of it (literals cost
/// one byte, a back-reference of 3 to 258 bytes within 4 KiB costs three). Like Whisper's
/// gzip ratio, ordinary sentences score near 1 and looping output scores high; without the
/// entropy coding the numbers are lower than gzip's, so the threshold is 2.0 rather than
/// Whisper's 2.4 (see [`COMPRESSION_RATIO_THRESHOLD`]).
pub fn compression_ratio(text: &str) -> f32 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    const WINDOW: usize = 4_096;
    const MIN_MATCH: usize = 3;
    const MAX_MATCH: usize = 258;
    let mut encoded = 0usize;
    let mut position = 0usize;
    while position < bytes.len() {
        let mut best = 0usize;
        let from = position.saturating_sub(WINDOW);
        for candidate in from..position {
            let mut length = 0;
            while length < MAX_MATCH
                && position + length < bytes.len()
                && bytes[candidate + length] == bytes[position + length]
            {
                length += 1;
            }
            best = best.max(length);
        }
        if best >= MIN_MATCH {
            encoded += 3;
            position += best;
        } else {
            encoded += 1;
            position += 1;
        }
    }
    bytes.len() as f32 / encoded as f32
}

/// Output more compressible than this is treated as a loop and dropped.
pub const COMPRESSION_RATIO_THRESHOLD: f32 = 2.0;

/// True when a segment is a fragment cut by the window edge and should be dropped: it
/// starts within the last second of a window that was cut inside speech (or was never
/// closed by a timestamp) and has at most two words. The next window decodes those words
/// whole.
pub fn is_edge_fragment(
    segment_start_ms: u64,
    window_end_ms: u64,
    text: &str,
    window_cut_in_speech: bool,
    closed_by_timestamp: bool,
) -> bool {
    let near_edge = segment_start_ms + 1_000 >= window_end_ms;
    let short = text.split_whitespace().count() <= 2;
    near_edge && short && (window_cut_in_speech || !closed_by_timestamp)
}
