//! API tokens and the content-blind coverage figures.

use chrono::Duration;
use model::Pii;

use super::fixtures::{base_time, note, register, sample_recording, tenant_id};
use crate::tokens::{ApiToken, NewToken, TokenRole};
use crate::{Catalog, CatalogError, Conflict};

fn token(id: &str, tenant: Option<&str>, role: TokenRole) -> NewToken {
    NewToken {
        token: ApiToken {
            id: id.into(),
            secret_hash: [0x5a; 32],
            tenant: tenant.map(tenant_id),
            role,
            label: "test".into(),
            created_at: base_time() + Duration::microseconds(1_500),
            revoked_at: None,
        },
        audit: note("token.created"),
    }
}

pub async fn token_round_trips_and_its_creation_is_audited(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    let new = token("tok-1", Some("acme"), TokenRole::Supervisor);
    let entry = catalog.create_token(&new).await.expect("create");
    assert_eq!(entry.action, "token.created");
    assert_eq!(entry.tenant, Some(tenant_id("acme")));
    let stored = catalog.token("tok-1").await.expect("read").expect("stored");
    assert_eq!(stored.role, TokenRole::Supervisor);
    assert_eq!(stored.secret_hash, [0x5a; 32]);
    assert_eq!(stored.tenant, Some(tenant_id("acme")));
    let created = base_time() + Duration::microseconds(1_500);
    assert_eq!(
        stored.created_at.timestamp_millis(),
        created.timestamp_millis()
    );
    assert_eq!(
        stored.created_at.timestamp_subsec_nanos() % 1_000_000,
        0,
        "stored with millisecond precision"
    );
    assert_eq!(catalog.token("tok-2").await.expect("read"), None);

    let operator = token("op-1", None, TokenRole::Operator);
    catalog.create_token(&operator).await.expect("operator");
    let stored = catalog.token("op-1").await.expect("read").expect("stored");
    assert_eq!((stored.tenant, stored.role), (None, TokenRole::Operator));
}

pub async fn token_ids_are_unique_and_tenants_must_exist(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    catalog
        .create_token(&token("tok-1", Some("acme"), TokenRole::Viewer))
        .await
        .expect("create");
    let again = catalog
        .create_token(&token("tok-1", Some("acme"), TokenRole::Admin))
        .await;
    assert!(
        matches!(again, Err(CatalogError::Conflict(Conflict::TokenExists(_)))),
        "{again:?}"
    );
    let unknown = catalog
        .create_token(&token("tok-2", Some("globex"), TokenRole::Viewer))
        .await;
    assert!(
        matches!(unknown, Err(CatalogError::NotFound { .. })),
        "{unknown:?}"
    );
    assert_eq!(catalog.token("tok-2").await.expect("read"), None);
    let stored = catalog.token("tok-1").await.expect("read").expect("kept");
    assert_eq!(
        stored.role,
        TokenRole::Viewer,
        "the first token is unchanged"
    );
}

pub async fn token_tenant_must_match_its_role(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    for (id, tenant, role) in [
        ("op-with-tenant", Some("acme"), TokenRole::Operator),
        ("viewer-without", None, TokenRole::Viewer),
        ("bad id!", Some("acme"), TokenRole::Viewer),
        ("", Some("acme"), TokenRole::Viewer),
    ] {
        let result = catalog.create_token(&token(id, tenant, role)).await;
        assert!(
            matches!(result, Err(CatalogError::Invalid(_))),
            "{id}: {result:?}"
        );
        assert_eq!(catalog.token(id).await.expect("read"), None, "{id}");
    }
}

pub async fn evidence_coverage_counts_covered_participants_per_tenant(catalog: &dyn Catalog) {
    register(catalog, "acme").await;
    register(catalog, "globex").await;
    let mut uncovered = sample_recording("acme", 1);
    uncovered.participants[1].evidence.clear();
    uncovered.participants[1].address = Pii::new("tel:+441632960999".into());
    let recordings = vec![sample_recording("acme", 0), uncovered];
    catalog
        .commit_recordings(&recordings)
        .await
        .expect("commit");
    catalog
        .commit_recordings(&[sample_recording("globex", 0)])
        .await
        .expect("commit");
    let acme = catalog
        .evidence_coverage(&tenant_id("acme"))
        .await
        .expect("acme");
    assert_eq!(
        (
            acme.recordings,
            acme.participants,
            acme.covered_participants
        ),
        (2, 4, 3)
    );
    let globex = catalog
        .evidence_coverage(&tenant_id("globex"))
        .await
        .expect("globex");
    assert_eq!(
        (
            globex.recordings,
            globex.participants,
            globex.covered_participants
        ),
        (1, 2, 2)
    );
    register(catalog, "empty").await;
    let empty = catalog
        .evidence_coverage(&tenant_id("empty"))
        .await
        .expect("empty");
    assert_eq!(
        (
            empty.recordings,
            empty.participants,
            empty.covered_participants
        ),
        (0, 0, 0)
    );
}
