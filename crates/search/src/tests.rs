use chrono::{DateTime, TimeZone, Utc};
use model::{Direction, Pii, RecordingId, TenantId};

use crate::{
    Hit, ParticipantDocument, RecordingDocument, SearchError, SearchFilters, SearchIndex,
    SegmentDocument,
};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, hour, 0, 0)
        .single()
        .unwrap_or_default()
}

fn participants(caller: &str) -> Vec<ParticipantDocument> {
    vec![
        ParticipantDocument {
            ordinal: 0,
            label: "caller".to_owned(),
            address: Pii::new(caller.to_owned()),
        },
        ParticipantDocument {
            ordinal: 1,
            label: "agent".to_owned(),
            address: Pii::new("sip:agent7@contact.example.com".to_owned()),
        },
    ]
}

fn segment(participant: u32, start_ms: u64, end_ms: u64, text: &str) -> SegmentDocument {
    SegmentDocument {
        participant,
        start_ms,
        end_ms,
        text: text.to_owned(),
    }
}

fn billing_call() -> RecordingDocument {
    RecordingDocument {
        recording: RecordingId::from_parts(1_000, [1; 10]),
        started_at: at(9),
        direction: Direction::Inbound,
        duration_ms: 180_000,
        participants: participants("sip:+15551230001@carrier.example.net"),
        tags: vec!["billing".to_owned(), "priority".to_owned()],
        segments: vec![
            segment(1, 0, 2_500, "Thank you for calling, how can I help?"),
            segment(
                0,
                3_000,
                7_400,
                "I would like to change my billing address.",
            ),
            segment(1, 8_000, 9_900, "Of course, what is the new address?"),
            segment(0, 10_200, 14_000, "It is twelve Main Street, Springfield."),
        ],
    }
}

fn delivery_call() -> RecordingDocument {
    RecordingDocument {
        recording: RecordingId::from_parts(2_000, [2; 10]),
        started_at: at(15),
        direction: Direction::Outbound,
        duration_ms: 45_000,
        participants: participants("sip:+15559990002@carrier.example.net"),
        tags: vec!["delivery".to_owned()],
        segments: vec![
            segment(1, 0, 3_000, "Hello, this is about your delivery address."),
            segment(
                0,
                3_500,
                6_000,
                "The billing went fine, the parcel did not.",
            ),
        ],
    }
}

fn index_with(recordings: &[RecordingDocument]) -> Result<SearchIndex, SearchError> {
    let mut index = SearchIndex::in_memory(&tenant())?;
    for recording in recordings {
        index.add_recording(recording)?;
    }
    index.commit()?;
    Ok(index)
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap_or_else(|_| unreachable!("valid tenant id"))
}

fn spans(hits: &[Hit]) -> Vec<(RecordingId, u64, u64)> {
    let mut spans: Vec<_> = hits
        .iter()
        .map(|hit| (hit.recording, hit.start_ms, hit.end_ms))
        .collect();
    spans.sort();
    spans
}

#[test]
fn phrase_query_returns_the_segment_and_its_time() -> Result<(), SearchError> {
    let index = index_with(&[billing_call(), delivery_call()])?;
    let hits = index.search("\"billing address\"", &SearchFilters::default(), 10)?;
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit = &hits[0];
    assert_eq!(hit.recording, billing_call().recording);
    assert_eq!((hit.start_ms, hit.end_ms), (3_000, 7_400));
    assert_eq!(hit.participant, 0);
    assert_eq!(hit.participant_label, "caller");
    assert_eq!(hit.text, "I would like to change my billing address.");
    assert!(hit.score > 0.0);
    Ok(())
}

#[test]
fn boolean_queries_and_or_not() -> Result<(), SearchError> {
    let index = index_with(&[billing_call(), delivery_call()])?;
    let none = SearchFilters::default();
    // Plain words are all required.
    let both = index.search("billing address", &none, 10)?;
    assert_eq!(spans(&both), vec![(billing_call().recording, 3_000, 7_400)]);
    let either = index.search("springfield OR parcel", &none, 10)?;
    assert_eq!(either.len(), 2);
    let without = index.search("address AND NOT billing", &none, 10)?;
    assert_eq!(
        spans(&without),
        vec![
            (billing_call().recording, 8_000, 9_900),
            (delivery_call().recording, 0, 3_000),
        ]
    );
    let or_not = index.search("springfield OR NOT address", &none, 10)?;
    assert_eq!(or_not.len(), 3, "{or_not:?}");
    // A query of exclusions only is refused by the parser, as a query error.
    assert!(matches!(
        index.search("NOT address", &none, 10),
        Err(SearchError::Query(_))
    ));
    let minus = index.search("billing -address", &none, 10)?;
    assert_eq!(
        spans(&minus),
        vec![(delivery_call().recording, 3_500, 6_000)]
    );
    Ok(())
}

#[test]
fn filters_narrow_like_the_listing() -> Result<(), SearchError> {
    let index = index_with(&[billing_call(), delivery_call()])?;
    let query = "address";
    let recordings = |filters: &SearchFilters| -> Result<Vec<RecordingId>, SearchError> {
        let mut ids: Vec<_> = index
            .search(query, filters, 10)?
            .into_iter()
            .map(|hit| hit.recording)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    };
    let billing = billing_call().recording;
    let delivery = delivery_call().recording;
    assert_eq!(
        recordings(&SearchFilters::default())?,
        vec![billing, delivery]
    );
    let morning = SearchFilters {
        started_from: Some(at(8)),
        started_before: Some(at(12)),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&morning)?, vec![billing]);
    // The upper bound is exclusive.
    let before_nine = SearchFilters {
        started_before: Some(at(9)),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&before_nine)?, vec![]);
    let outbound = SearchFilters {
        direction: Some(Direction::Outbound),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&outbound)?, vec![delivery]);
    let long = SearchFilters {
        min_duration_ms: Some(60_000),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&long)?, vec![billing]);
    let short = SearchFilters {
        max_duration_ms: Some(45_000),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&short)?, vec![delivery]);
    let caller = SearchFilters {
        participant_address: Some(Pii::new(
            " SIP:+15559990002@Carrier.Example.NET ".to_owned(),
        )),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&caller)?, vec![delivery]);
    let agent = SearchFilters {
        participant_address: Some(Pii::new("sip:agent7@contact.example.com".to_owned())),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&agent)?, vec![billing, delivery]);
    let tagged = SearchFilters {
        tags: vec!["billing".to_owned(), "priority".to_owned()],
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&tagged)?, vec![billing]);
    let untagged = SearchFilters {
        tags: vec!["billing".to_owned(), "delivery".to_owned()],
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&untagged)?, vec![]);
    let within = SearchFilters {
        recording: Some(delivery),
        ..SearchFilters::default()
    };
    assert_eq!(recordings(&within)?, vec![delivery]);
    // An empty query lists every segment that passes the filters.
    let all_of_one = index.search("", &tagged, 100)?;
    assert_eq!(all_of_one.len(), 4);
    Ok(())
}

#[test]
fn deletion_removes_a_recording_after_commit() -> Result<(), SearchError> {
    let mut index = index_with(&[billing_call(), delivery_call()])?;
    index.delete_recording(&billing_call().recording);
    // Not visible until committed.
    assert_eq!(
        index
            .search("springfield", &SearchFilters::default(), 10)?
            .len(),
        1
    );
    index.commit()?;
    assert!(
        index
            .search("springfield", &SearchFilters::default(), 10)?
            .is_empty()
    );
    assert_eq!(
        index.search("parcel", &SearchFilters::default(), 10)?.len(),
        1
    );
    Ok(())
}

#[test]
fn adding_a_recording_again_replaces_it() -> Result<(), SearchError> {
    let mut index = index_with(&[billing_call()])?;
    let mut corrected = billing_call();
    corrected.segments.truncate(1);
    index.add_recording(&corrected)?;
    index.commit()?;
    assert!(
        index
            .search("springfield", &SearchFilters::default(), 10)?
            .is_empty()
    );
    assert_eq!(index.search("", &SearchFilters::default(), 10)?.len(), 1);
    Ok(())
}

#[test]
fn rebuild_from_scratch_gives_the_same_hits() -> Result<(), SearchError> {
    let directory = tempfile::tempdir().map_err(|e| SearchError::Directory(e.to_string()))?;
    let queries = ["\"billing address\"", "address", "billing OR delivery", ""];
    let before = {
        let mut index = SearchIndex::open(directory.path(), &tenant())?;
        index.add_recording(&billing_call())?;
        index.commit()?;
        index.add_recording(&delivery_call())?;
        index.commit()?;
        let mut results = Vec::new();
        for query in queries {
            results.push(spans(&index.search(
                query,
                &SearchFilters::default(),
                50,
            )?));
        }
        results
    };
    // Reopen (persisted), clear, add in the other order: same answers.
    let mut index = SearchIndex::open(directory.path(), &tenant())?;
    assert_eq!(
        spans(&index.search("address", &SearchFilters::default(), 50)?),
        before[1]
    );
    index.clear()?;
    index.commit()?;
    assert!(index.search("", &SearchFilters::default(), 50)?.is_empty());
    index.add_recording(&delivery_call())?;
    index.add_recording(&billing_call())?;
    index.commit()?;
    for (query, expected) in queries.iter().zip(&before) {
        let after = spans(&index.search(query, &SearchFilters::default(), 50)?);
        assert_eq!(&after, expected, "query {query:?}");
    }
    // Each tenant has its own directory.
    assert!(directory.path().join("acme").is_dir());
    Ok(())
}

#[test]
fn hostile_queries_return_errors_not_panics() -> Result<(), SearchError> {
    let index = index_with(&[billing_call(), delivery_call()])?;
    let hostile = [
        "\"unterminated phrase",
        "((((((((",
        ")",
        "AND",
        "OR OR OR",
        "NOT",
        "text:",
        "nosuchfield:value",
        "started_at_ms:[a TO b]",
        "duration_ms:>abc",
        "*",
        "billing~999999",
        "\u{0}\u{fffd}\u{202e}",
        "a:b:c:d",
        "{ TO }",
        "[* TO *]",
        "\\",
        "^2",
        "billing^-1e99",
    ];
    for query in hostile {
        // Either an answer or a query error; never a panic.
        match index.search(query, &SearchFilters::default(), 10) {
            Ok(_) | Err(SearchError::Query(_)) => {}
            Err(other) => panic!("{query:?}: unexpected {other}"),
        }
    }
    let deep = "(".repeat(500) + &")".repeat(500);
    assert!(matches!(
        index.search(&deep, &SearchFilters::default(), 10),
        Ok(_) | Err(SearchError::Query(_))
    ));
    let long = "billing ".repeat(200);
    assert!(matches!(
        index.search(&long, &SearchFilters::default(), 10),
        Err(SearchError::Query(_))
    ));
    assert!(matches!(
        index.search("\"unterminated", &SearchFilters::default(), 10),
        Err(SearchError::Query(_))
    ));
    Ok(())
}
