//! Fuzzes the recording-session body splitter. The first line of the input is the
//! Content-Type header value; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|byte| *byte == b'\n') {
        Some(end) => (
            String::from_utf8_lossy(&data[..end]).into_owned(),
            &data[end + 1..],
        ),
        None => (String::new(), data),
    };
    if let Ok(split) = onrecord_siprec::split_recording_session_body(&content_type, body)
        && let Some(part) = split.metadata
    {
        let _ = onrecord_siprec::parse_metadata(part.body);
    }
});
