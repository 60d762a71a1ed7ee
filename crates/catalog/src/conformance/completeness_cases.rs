//! Conformance cases for completeness certificates ([`crate::Completeness`]).

use chrono::Duration;

use super::fixtures::{base_time, register, sample_recording, tenant_id};
use crate::completeness::{
    CertificateCounts, CertificateQuery, CompletenessVerdict, MAX_CERTIFICATE_BYTES, NewCertificate,
};
use crate::{Catalog, CatalogError, CommitOutcome, NewRecording};

fn certified(tenant: &str, index: u32, gaps: u32) -> NewRecording {
    let mut recording = sample_recording(tenant, index);
    recording.certificate = Some(NewCertificate {
        verdict: if gaps == 0 {
            CompletenessVerdict::Complete
        } else {
            CompletenessVerdict::Gaps
        },
        gap_count: gaps,
        document: format!("{{\"kind\":\"test\",\"body\":{{\"index\":{index},\"gaps\":{gaps}}}}}"),
    });
    recording
}

fn query(tenant: &str) -> CertificateQuery {
    CertificateQuery {
        tenant: tenant_id(tenant),
        started_from: None,
        verdict: None,
        after: None,
        limit: 100,
    }
}

pub async fn certificate_commits_with_its_recording_and_reads_back(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let with = certified("acme", 1, 2);
    let without = sample_recording("acme", 2);
    catalog
        .commit_recordings(&[with.clone(), without.clone()])
        .await
        .expect("commit");
    let stored = catalog
        .completeness_certificate(&with.id)
        .await
        .expect("read")
        .expect("the certificate was committed with its recording");
    let expected = with.certificate.clone().expect("fixture has one");
    assert_eq!(stored.recording, with.id);
    assert_eq!(stored.tenant, tenant_id("acme"));
    assert_eq!(
        stored.started_at,
        base_time() + Duration::minutes(1) - Duration::nanoseconds(456_789)
    );
    assert_eq!(stored.verdict, CompletenessVerdict::Gaps);
    assert_eq!(stored.gap_count, 2);
    assert_eq!(stored.document, expected.document);
    assert_eq!(
        catalog
            .completeness_certificate(&without.id)
            .await
            .expect("read"),
        None
    );
}

pub async fn a_duplicate_keeps_the_first_certificate(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let first = certified("acme", 1, 0);
    catalog
        .commit_recordings(std::slice::from_ref(&first))
        .await
        .expect("commit");
    // Same content under a new id: a duplicate, nothing of it is stored.
    let mut again = certified("acme", 1, 3);
    again.id = sample_recording("acme", 9).id;
    let outcomes = catalog
        .commit_recordings(&[again.clone()])
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![CommitOutcome::Duplicate { existing: first.id }]
    );
    assert_eq!(
        catalog
            .completeness_certificate(&again.id)
            .await
            .expect("read"),
        None
    );
    let kept = catalog
        .completeness_certificate(&first.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(kept.verdict, CompletenessVerdict::Complete);
}

pub async fn invalid_certificates_are_rejected_and_nothing_is_written(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let good = certified("acme", 1, 0);
    let cases: Vec<(&str, NewCertificate)> = vec![
        (
            "empty document",
            NewCertificate {
                verdict: CompletenessVerdict::Complete,
                gap_count: 0,
                document: String::new(),
            },
        ),
        (
            "oversized document",
            NewCertificate {
                verdict: CompletenessVerdict::Complete,
                gap_count: 0,
                document: "x".repeat(MAX_CERTIFICATE_BYTES + 1),
            },
        ),
        (
            "complete with findings",
            NewCertificate {
                verdict: CompletenessVerdict::Complete,
                gap_count: 1,
                document: "{}".into(),
            },
        ),
        (
            "gaps without findings",
            NewCertificate {
                verdict: CompletenessVerdict::Gaps,
                gap_count: 0,
                document: "{}".into(),
            },
        ),
    ];
    for (what, certificate) in cases {
        let mut bad = sample_recording("acme", 2);
        bad.certificate = Some(certificate);
        let result = catalog.commit_recordings(&[good.clone(), bad]).await;
        assert!(
            matches!(result, Err(CatalogError::Invalid(_))),
            "{what}: {result:?}"
        );
    }
    assert_eq!(
        catalog
            .completeness_certificate(&good.id)
            .await
            .expect("read"),
        None
    );
    assert!(
        catalog
            .recording(None, &good.id)
            .await
            .expect("read")
            .is_none()
    );
}

pub async fn certificates_are_listed_by_tenant_start_and_verdict(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "other").await;
    // Index = minutes after the base time (sub-millisecond digits dropped when stored);
    // committed out of order on purpose.
    catalog
        .commit_recordings(&[
            certified("acme", 4, 1),
            certified("acme", 1, 0),
            certified("acme", 3, 0),
            certified("acme", 2, 5),
            sample_recording("acme", 5),
            certified("other", 1, 2),
        ])
        .await
        .expect("commit");
    let minutes = |found: &[crate::StoredCertificate]| -> Vec<i64> {
        found
            .iter()
            .map(|c| (c.started_at - base_time() + Duration::seconds(1)).num_minutes())
            .collect()
    };

    let all = catalog
        .completeness_certificates(&query("acme"))
        .await
        .expect("list");
    assert_eq!(minutes(&all), vec![1, 2, 3, 4]);
    assert!(all.iter().all(|c| c.tenant == tenant_id("acme")));

    let gaps = catalog
        .completeness_certificates(&CertificateQuery {
            verdict: Some(CompletenessVerdict::Gaps),
            ..query("acme")
        })
        .await
        .expect("list");
    assert_eq!(minutes(&gaps), vec![2, 4]);
    assert_eq!(
        gaps.iter().map(|c| c.gap_count).collect::<Vec<_>>(),
        vec![5, 1]
    );

    let since = base_time() + Duration::minutes(3);
    let recent = catalog
        .completeness_certificates(&CertificateQuery {
            started_from: Some(since),
            ..query("acme")
        })
        .await
        .expect("list");
    assert_eq!(minutes(&recent), vec![3, 4]);

    let first_two = catalog
        .completeness_certificates(&CertificateQuery {
            limit: 2,
            ..query("acme")
        })
        .await
        .expect("list");
    assert_eq!(minutes(&first_two), vec![1, 2]);
    let last = first_two.last().expect("a page of two");
    let next_two = catalog
        .completeness_certificates(&CertificateQuery {
            limit: 2,
            after: Some((last.started_at, last.recording)),
            ..query("acme")
        })
        .await
        .expect("list");
    assert_eq!(minutes(&next_two), vec![3, 4]);

    assert_eq!(
        catalog
            .completeness_counts(&tenant_id("acme"), None)
            .await
            .expect("count"),
        CertificateCounts {
            complete: 2,
            gaps: 2
        }
    );
    assert_eq!(
        catalog
            .completeness_counts(&tenant_id("acme"), Some(since))
            .await
            .expect("count"),
        CertificateCounts {
            complete: 1,
            gaps: 1
        }
    );
    assert_eq!(
        catalog
            .completeness_counts(&tenant_id("nobody"), None)
            .await
            .expect("count"),
        CertificateCounts::default()
    );
    for limit in [0, u32::MAX] {
        let result = catalog
            .completeness_certificates(&CertificateQuery {
                limit,
                ..query("acme")
            })
            .await;
        assert!(
            matches!(result, Err(CatalogError::Invalid(_))),
            "limit {limit}: {result:?}"
        );
    }
}

/// Generates the completeness cases for a backend, like [`crate::conformance_tests!`].
#[macro_export]
macro_rules! completeness_conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            certificate_commits_with_its_recording_and_reads_back,
            a_duplicate_keeps_the_first_certificate,
            invalid_certificates_are_rejected_and_nothing_is_written,
            certificates_are_listed_by_tenant_start_and_verdict,
        );
    };
}
