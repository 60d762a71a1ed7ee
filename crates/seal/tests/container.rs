//! Container format v1: round trips, tamper and truncation detection, range reads.

mod support;

use onrecord_seal::{
    ContainerBuffer, ContainerHeader, ContainerLayout, ContainerReader, ContainerWriter, SealError,
    SealedBytes, TAG_LEN, open_chunk, open_container, open_plaintext_range, seal_container,
};
use proptest::prelude::*;
use support::{data_key, header, integrity, plaintext, rng};

const CHUNK: u32 = 1024;

fn sealed(length: usize) -> Result<(Vec<u8>, Vec<u8>), SealError> {
    let plain = plaintext(length);
    let object = seal_container(
        &data_key(1),
        header(1, "caller", CHUNK),
        &plain,
        &mut rng(2),
    )?;
    Ok((object.as_bytes().to_vec(), plain))
}

fn layout_of(object: &[u8]) -> Result<(ContainerHeader, usize, ContainerLayout), SealError> {
    let (header, header_len) = ContainerHeader::parse(object)?;
    let layout = ContainerLayout::new(&header, header_len, object.len() as u64)?;
    Ok((header, header_len, layout))
}

fn as_range(range: std::ops::Range<u64>) -> std::ops::Range<usize> {
    range.start as usize..range.end as usize
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seal_then_open_returns_the_plaintext(
        chunk_size in 1024u32..4096,
        length in prop_oneof![0usize..12_000, (0usize..5).prop_map(|n| n * 1024)],
        seed in any::<u64>(),
    ) {
        let plain: Vec<u8> = plaintext(length).iter().map(|b| b ^ seed as u8).collect();
        let key = data_key(seed);
        let header = header(seed, "callee", chunk_size);
        let object = seal_container(&key, header.clone(), &plain, &mut rng(seed))?;
        let (opened_header, opened) = open_container(&key, object.as_bytes())?;
        prop_assert_eq!(opened, plain);
        prop_assert_eq!(opened_header.recording(), header.recording());
        prop_assert_eq!(opened_header.stream(), header.stream());
        prop_assert_eq!(opened_header.chunk_size(), chunk_size);
        let (_, _, layout) = layout_of(object.as_bytes())?;
        prop_assert_eq!(layout.plaintext_len(), length as u64);
        prop_assert_eq!(layout.chunk_count(), (length / chunk_size as usize) as u64 + 1);
    }

    #[test]
    fn streaming_writer_with_any_push_split_opens_to_the_same_plaintext(
        chunk_size in 1024u32..3000,
        pieces in proptest::collection::vec(0usize..5000, 0..8),
        seed in any::<u64>(),
    ) {
        let total: usize = pieces.iter().sum();
        let plain = plaintext(total);
        let key = data_key(seed);
        let mut writer = ContainerWriter::new(&key, header(seed, "mixed", chunk_size), &mut rng(seed))?;
        let mut parts = Vec::new();
        let mut offset = 0;
        for piece in pieces {
            parts.push(writer.push(&plain[offset..offset + piece])?);
            offset += piece;
        }
        parts.push(writer.finish()?);
        let object = SealedBytes::concat(parts);
        let (_, opened) = open_container(&key, object.as_bytes())?;
        prop_assert_eq!(opened, plain);
    }

    #[test]
    fn range_reads_return_exactly_the_plaintext_slice(
        length in 0usize..9000,
        start in 0u64..10_000,
        span in 0u64..5000,
    ) {
        let (object, plain) = sealed(length)?;
        let (header, _, layout) = layout_of(&object)?;
        let requested = start..start + span;
        let expected: Vec<u8> = plain
            .get(start.min(length as u64) as usize..(start + span).min(length as u64) as usize)
            .unwrap_or_default()
            .to_vec();
        let fetched = match layout.object_range_for_plaintext(requested.clone()) {
            Some(range) => object[as_range(range)].to_vec(),
            None => Vec::new(),
        };
        let opened = open_plaintext_range(&data_key(1), &header, &layout, requested, &fetched)?;
        prop_assert_eq!(opened, expected);
    }
}

#[test]
fn writer_and_one_shot_produce_the_same_layout() -> Result<(), SealError> {
    let plain = plaintext(5000);
    let key = data_key(3);
    let one_shot = seal_container(&key, header(1, "a", CHUNK), &plain, &mut rng(9))?;
    let mut writer = ContainerWriter::new(&key, header(1, "a", CHUNK), &mut rng(9))?;
    let first = writer.push(&plain)?;
    let rest = writer.finish()?;
    // Same nonce prefix from the same generator, so the bytes are identical.
    assert_eq!(SealedBytes::concat([first, rest]), one_shot);
    Ok(())
}

#[test]
fn container_buffer_filled_in_place_equals_the_one_shot_seal() -> Result<(), SealError> {
    let key = data_key(3);
    for length in [0usize, 1, 1023, 1024, 2048, 5000] {
        let plain = plaintext(length);
        let one_shot = seal_container(&key, header(1, "a", CHUNK), &plain, &mut rng(9))?;
        let mut buffer = ContainerBuffer::new(header(1, "a", CHUNK), length as u64)?;
        let mut offset = 0;
        for slot in buffer.chunk_slots_mut() {
            slot.copy_from_slice(&plain[offset..offset + slot.len()]);
            offset += slot.len();
        }
        assert_eq!(offset, length);
        assert_eq!(buffer.seal(&key, &mut rng(9))?, one_shot, "length {length}");
    }
    Ok(())
}

#[test]
fn writer_emits_the_header_first_and_chunks_as_they_complete() -> Result<(), SealError> {
    let key = data_key(3);
    let mut writer = ContainerWriter::new(&key, header(1, "a", CHUNK), &mut rng(9))?;
    let header_len = writer.header().encoded_len();
    assert_eq!(writer.push(&[1; 10])?.len(), header_len);
    assert_eq!(writer.push(&[1; 10])?.len(), 0);
    assert_eq!(writer.push(&[1; 1024])?.len(), 1024 + TAG_LEN);
    assert_eq!(writer.chunks_sealed(), 1);
    assert_eq!(writer.finish()?.len(), 20 + TAG_LEN);
    Ok(())
}

#[test]
fn empty_stream_is_one_empty_last_chunk() -> Result<(), SealError> {
    let (object, _) = sealed(0)?;
    let (_, header_len, layout) = layout_of(&object)?;
    assert_eq!(layout.chunk_count(), 1);
    assert_eq!(object.len(), header_len + TAG_LEN);
    assert_eq!(open_container(&data_key(1), &object)?.1, Vec::<u8>::new());
    Ok(())
}

#[test]
fn exact_multiple_of_chunk_size_ends_with_an_empty_last_chunk() -> Result<(), SealError> {
    let (object, plain) = sealed(2048)?;
    let (_, header_len, layout) = layout_of(&object)?;
    assert_eq!(layout.chunk_count(), 3);
    assert_eq!(object.len(), header_len + 2048 + 3 * TAG_LEN);
    assert_eq!(open_container(&data_key(1), &object)?.1, plain);
    Ok(())
}

#[test]
fn every_flipped_byte_is_detected() -> Result<(), SealError> {
    // Header, chunk bodies, tags, the short last chunk: every position, one bit each.
    let (object, _) = sealed(2500)?;
    let key = data_key(1);
    for position in 0..object.len() {
        let mut tampered = object.clone();
        tampered[position] ^= 0x01 << (position % 8);
        assert!(
            open_container(&key, &tampered).is_err(),
            "flip at byte {position} accepted"
        );
    }
    Ok(())
}

#[test]
fn flipped_chunk_body_and_tag_name_the_chunk() -> Result<(), SealError> {
    let (object, _) = sealed(2500)?;
    let (_, _, layout) = layout_of(&object)?;
    let key = data_key(1);
    for index in 0..layout.chunk_count() {
        let range = layout.chunk_range(index).ok_or(SealError::Crypto)?;
        for position in [range.start, range.end - TAG_LEN as u64, range.end - 1] {
            let mut tampered = object.clone();
            tampered[position as usize] ^= 0x80;
            assert_eq!(open_container(&key, &tampered), integrity(index));
        }
    }
    Ok(())
}

#[test]
fn header_edits_fail_the_first_chunk() -> Result<(), SealError> {
    let (object, _) = sealed(2500)?;
    let (header, header_len, _) = layout_of(&object)?;
    // Same shape, another recording id: parses, but no chunk opens.
    let mut tampered = object.clone();
    tampered[18] ^= 0x01;
    assert_eq!(open_container(&data_key(1), &tampered), integrity(0));
    // Same shape, another nonce prefix.
    let mut tampered = object.clone();
    tampered[10] ^= 0x01;
    assert_eq!(open_container(&data_key(1), &tampered), integrity(0));
    assert_eq!(header.to_bytes().len(), header_len);
    Ok(())
}

#[test]
fn header_from_another_recording_is_rejected() -> Result<(), SealError> {
    let key = data_key(1);
    let plain = plaintext(3000);
    let ours = seal_container(&key, header(1, "caller", CHUNK), &plain, &mut rng(5))?;
    let theirs = seal_container(&key, header(2, "caller", CHUNK), &plain, &mut rng(5))?;
    let (_, header_len) = ContainerHeader::parse(ours.as_bytes())?;
    let mut spliced = theirs.as_bytes()[..header_len].to_vec();
    spliced.extend_from_slice(&ours.as_bytes()[header_len..]);
    assert_eq!(open_container(&key, &spliced), integrity(0));
    Ok(())
}

#[test]
fn chunks_from_another_stream_of_the_same_recording_are_rejected() -> Result<(), SealError> {
    let key = data_key(1);
    let plain = plaintext(3000);
    let caller = seal_container(&key, header(1, "caller", CHUNK), &plain, &mut rng(5))?;
    let callee = seal_container(&key, header(1, "callee", CHUNK), &plain, &mut rng(6))?;
    let (header, header_len) = ContainerHeader::parse(caller.as_bytes())?;
    let mut spliced = caller.as_bytes()[..header_len].to_vec();
    spliced.extend_from_slice(&callee.as_bytes()[header_len..]);
    assert_eq!(open_container(&key, &spliced), integrity(0));
    assert_eq!(header.stream().as_str(), "caller");
    Ok(())
}

#[test]
fn truncation_anywhere_is_detected() -> Result<(), SealError> {
    let (object, _) = sealed(2500)?;
    let key = data_key(1);
    for length in 0..object.len() {
        assert!(
            open_container(&key, &object[..length]).is_err(),
            "cut at {length} accepted"
        );
    }
    Ok(())
}

#[test]
fn dropping_the_last_chunk_is_detected() -> Result<(), SealError> {
    // 2048 bytes: two full chunks and an empty last chunk. Without the last chunk the object
    // still has a plausible length, but the new "last" chunk was sealed as not-last.
    let (object, _) = sealed(2048)?;
    let (_, _, layout) = layout_of(&object)?;
    let last = layout
        .chunk_range(layout.last_chunk())
        .ok_or(SealError::Crypto)?;
    let cut = &object[..last.start as usize];
    assert!(open_container(&data_key(1), cut).is_err());
    // A partial last chunk cut to a plausible shorter length.
    let (object, _) = sealed(2500)?;
    assert_eq!(
        open_container(&data_key(1), &object[..object.len() - 100]),
        integrity(2)
    );
    Ok(())
}

#[test]
fn trailing_bytes_are_detected() -> Result<(), SealError> {
    let (object, _) = sealed(2500)?;
    for extra in [1usize, 16, 100, 1040] {
        let mut extended = object.clone();
        extended.extend(std::iter::repeat_n(0u8, extra));
        assert!(
            open_container(&data_key(1), &extended).is_err(),
            "{extra} extra bytes accepted"
        );
    }
    Ok(())
}

#[test]
fn reordered_chunks_are_detected() -> Result<(), SealError> {
    let (object, _) = sealed(3500)?;
    let (_, header_len, layout) = layout_of(&object)?;
    let first = as_range(layout.chunk_range(0).ok_or(SealError::Crypto)?);
    let second = as_range(layout.chunk_range(1).ok_or(SealError::Crypto)?);
    let mut swapped = object[..header_len].to_vec();
    swapped.extend_from_slice(&object[second.clone()]);
    swapped.extend_from_slice(&object[first.clone()]);
    swapped.extend_from_slice(&object[second.end..]);
    assert_eq!(open_container(&data_key(1), &swapped), integrity(0));
    Ok(())
}

#[test]
fn duplicated_chunks_are_detected() -> Result<(), SealError> {
    let (object, _) = sealed(3500)?;
    let (_, _, layout) = layout_of(&object)?;
    let first = as_range(layout.chunk_range(0).ok_or(SealError::Crypto)?);
    let second = as_range(layout.chunk_range(1).ok_or(SealError::Crypto)?);
    // Chunk 0 in place of chunk 1 (same length).
    let mut duplicated = object[..second.start].to_vec();
    duplicated.extend_from_slice(&object[first.clone()]);
    duplicated.extend_from_slice(&object[second.end..]);
    assert_eq!(open_container(&data_key(1), &duplicated), integrity(1));
    // Chunk 0 inserted twice (one chunk longer).
    let mut inserted = object[..second.start].to_vec();
    inserted.extend_from_slice(&object[first]);
    inserted.extend_from_slice(&object[second.start..]);
    assert_eq!(open_container(&data_key(1), &inserted), integrity(1));
    Ok(())
}

#[test]
fn wrong_data_key_is_an_integrity_failure() -> Result<(), SealError> {
    let (object, _) = sealed(2500)?;
    assert_eq!(open_container(&data_key(2), &object), integrity(0));
    Ok(())
}

#[test]
fn integrity_message_names_the_chunk_and_nothing_else() {
    let message = SealError::Integrity { chunk: 7 }.to_string();
    assert_eq!(message, "integrity check failed for chunk 7");
}

#[test]
fn open_chunk_reads_each_chunk_alone() -> Result<(), SealError> {
    let (object, plain) = sealed(2500)?;
    let (header, _, layout) = layout_of(&object)?;
    let key = data_key(1);
    let reader = ContainerReader::new(&key, &header)?;
    for index in 0..layout.chunk_count() {
        let sealed_chunk = &object[as_range(layout.chunk_range(index).ok_or(SealError::Crypto)?)];
        let expected = &plain[as_range(
            layout
                .chunk_plaintext_range(index)
                .ok_or(SealError::Crypto)?,
        )];
        let is_last = layout.is_last(index);
        assert_eq!(
            open_chunk(&key, &header, index, is_last, sealed_chunk)?,
            expected
        );
        assert_eq!(reader.open_chunk(index, is_last, sealed_chunk)?, expected);
        // The wrong index or the wrong last flag fails.
        assert!(reader.open_chunk(index + 1, is_last, sealed_chunk).is_err());
        assert!(reader.open_chunk(index, !is_last, sealed_chunk).is_err());
    }
    Ok(())
}

#[test]
fn range_read_with_wrongly_sized_fetch_fails() -> Result<(), SealError> {
    let (object, _) = sealed(2500)?;
    let (header, _, layout) = layout_of(&object)?;
    let range = layout
        .object_range_for_plaintext(1000..1100)
        .ok_or(SealError::Crypto)?;
    let fetched = &object[as_range(range)];
    let key = data_key(1);
    assert!(open_plaintext_range(&key, &header, &layout, 1000..1100, &fetched[1..]).is_err());
    assert!(open_plaintext_range(&key, &header, &layout, 1000..1100, &[]).is_err());
    assert_eq!(
        open_plaintext_range(&key, &header, &layout, 1000..1100, fetched)?.len(),
        100
    );
    Ok(())
}

#[test]
fn stored_bytes_become_sealed_bytes_only_in_container_shape() -> Result<(), SealError> {
    let (object, plain) = sealed(2500)?;
    let accepted = SealedBytes::from_stored_container(bytes::Bytes::from(object.clone()))?;
    assert_eq!(accepted.as_bytes(), object.as_slice());
    assert!(SealedBytes::from_stored_container(bytes::Bytes::from(plain)).is_err());
    // A length no container can have (the empty last chunk of a 2048-byte stream, cut).
    // Shorter lengths that fit a layout pass this shape check and fail when opened.
    let (whole, _) = sealed(2048)?;
    let cut = bytes::Bytes::from(whole[..whole.len() - 1].to_vec());
    assert!(SealedBytes::from_stored_container(cut).is_err());
    Ok(())
}

#[test]
fn sealed_output_does_not_contain_the_plaintext() -> Result<(), SealError> {
    let plain = b"a very recognisable sentence that must not survive sealing".repeat(100);
    let object = seal_container(&data_key(1), header(1, "s", CHUNK), &plain, &mut rng(1))?;
    assert!(
        !object
            .as_bytes()
            .windows(32)
            .any(|window| window == &plain[..32])
    );
    Ok(())
}

#[test]
fn two_writers_with_the_same_key_use_different_nonce_prefixes() -> Result<(), SealError> {
    let key = data_key(1);
    let mut generator = rng(1);
    let first = ContainerWriter::new(&key, header(1, "caller", CHUNK), &mut generator)?;
    let second = ContainerWriter::new(&key, header(1, "callee", CHUNK), &mut generator)?;
    assert_ne!(
        first.header().nonce_prefix(),
        second.header().nonce_prefix()
    );
    Ok(())
}
