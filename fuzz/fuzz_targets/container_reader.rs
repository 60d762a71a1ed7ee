//! Fuzzes the sealed-container reader of `onrecord-seal` with untrusted bytes: header parsing,
//! layout computation, whole-object opening, single chunks and plaintext ranges, all under a
//! fixed data key (the one the seed corpus in `fuzz/corpus/container_reader/` is sealed with,
//! so mutations of valid containers get past the header and into the chunk checks).
//! `crates/seal/tests/hostile_input.rs` runs the same steps on stable with proptest.

#![no_main]

use onrecord_seal::{
    ContainerHeader, ContainerLayout, ContainerReader, DataKey, open_container,
    open_plaintext_range,
};

/// Must match `FUZZ_KEY` in `crates/seal/tests/fixtures_v1.rs` and `hostile_input.rs`.
const FUZZ_KEY: [u8; 32] = [0x5e; 32];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = DataKey::dangerous_from_bytes(FUZZ_KEY);
    let whole = open_container(&key, data);
    let Ok((header, header_len)) = ContainerHeader::parse(data) else {
        assert!(whole.is_err());
        return;
    };
    let Ok(reader) = ContainerReader::new(&key, &header) else {
        return;
    };
    // Chunks at arbitrary indexes and flags, straight from the body.
    let body = &data[header_len..];
    let _ = reader.open_chunk(0, true, body);
    let _ = reader.open_chunk(u64::from(u32::MAX) + 1, false, body);
    let Ok(layout) = ContainerLayout::new(&header, header_len, data.len() as u64) else {
        assert!(whole.is_err());
        return;
    };
    let mut opened = Vec::new();
    for index in 0..layout.chunk_count().min(256) {
        let Some(range) = layout.chunk_range(index) else {
            return;
        };
        let chunk = &data[range.start as usize..range.end as usize];
        if reader
            .open_chunk_into(index, layout.is_last(index), chunk, &mut opened)
            .is_err()
        {
            break;
        }
    }
    if let Ok((_, plaintext)) = &whole {
        assert_eq!(plaintext.len() as u64, layout.plaintext_len());
        if layout.chunk_count() <= 256 {
            assert_eq!(&opened, plaintext);
        }
    }
    // A plaintext range picked from the input itself.
    let plaintext_len = layout.plaintext_len().max(1);
    let start = u64::from(data.first().copied().unwrap_or(0)) * 97 % plaintext_len;
    let end = start + u64::from(data.last().copied().unwrap_or(0)) * 31;
    if let Some(range) = layout.object_range_for_plaintext(start..end) {
        let fetched = &data[range.start as usize..range.end as usize];
        let _ = open_plaintext_range(&key, &header, &layout, start..end, fetched);
    }
});
