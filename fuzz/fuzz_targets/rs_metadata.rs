//! Fuzzes the RFC 7865 metadata reader and the metadata timeline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onrecord_siprec::{MetadataDocument, MetadataState, MetadataTime, parse_metadata};

fuzz_target!(|data: &[u8]| {
    if let Ok(MetadataDocument::Recording(metadata)) = parse_metadata(data) {
        let labels: Vec<String> = metadata
            .streams
            .iter()
            .filter_map(|stream| stream.label.clone())
            .collect();
        let at = MetadataTime::parse("2026-11-28T10:00:00Z")
            .utc
            .unwrap_or_default();
        let mut state = MetadataState::new();
        let _ = state.apply(at, metadata.clone());
        let _ = state.apply(at, metadata);
        let _ = state.resolve_labels(labels.iter().map(String::as_str));
    }
});
