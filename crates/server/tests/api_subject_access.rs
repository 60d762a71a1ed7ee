//! `POST /api/v1/subject-access` in process (tower `oneshot`), in the style of `api.rs`: the
//! token and tenant matrix, a zip that verifies with the node's public key and holds exactly
//! the subject's calls of the token's tenant, errors, the audit entry and the API document.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use catalog::TokenRole;
use model::{ConsentPolicy, RegionId, TenantId};
use onrecord::app::App;
use onrecord::datadir::DataDir;
use onrecord::governance::bundle;
use onrecord::http::{self, HttpState};
use onrecord::import::{ImportRequest, import};
use onrecord::nodekey::NodeKey;
use onrecord::synth;
use onrecord::tenants::{self, NewTenant};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

const ANN: &str = "tel:+441632960001";
const BOB: &str = "tel:+441632960002";

struct World {
    dir: TempDir,
    app: App,
    router: Router,
    acme_admin: String,
    globex_admin: String,
    /// Every other token: acme's viewer, supervisor and auditor, and the operator.
    lesser: Vec<String>,
    /// Recording ids by (tenant, customer address).
    ann_acme: BTreeSet<String>,
    ann_globex: BTreeSet<String>,
}

fn declaration(id: &str) -> NewTenant {
    NewTenant {
        id: TenantId::new(id).unwrap(),
        region: RegionId::new("local").unwrap(),
        policy: ConsentPolicy::AllParty,
        purpose: "quality assurance".into(),
        legal_basis: "legitimate interests".into(),
        retention_days: 90,
        staff: vec!["sip:*@contact.example.com".into()],
    }
}

/// Imports one call per customer address; returns the ids of the calls with Ann.
async fn import_calls(app: &App, tenant: &str, dir: PathBuf, customers: &[&str]) -> Vec<String> {
    std::fs::create_dir_all(&dir).unwrap();
    for (index, customer) in customers.iter().enumerate() {
        let seed = index as u64 + if tenant == "acme" { 1 } else { 100 };
        let audio = synth::two_party_mulaw_wav(2, seed);
        let mut sidecar =
            synth::sidecar(&format!("{tenant}-{index}"), "2026-11-28T10:00:00Z", true);
        sidecar["participants"][0]["address"] = json!(customer);
        synth::write_call(&dir, &format!("call-{index}"), &audio, &sidecar).unwrap();
    }
    let summary = import(
        app,
        ImportRequest {
            tenant: TenantId::new(tenant).unwrap(),
            paths: vec![dir],
            batch_size: 16,
            workers: 1,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.imported.len(), customers.len(), "{summary:?}");
    let mut ann = Vec::new();
    for imported in &summary.imported {
        let detail = app
            .catalog
            .recording(None, &imported.recording)
            .await
            .unwrap()
            .unwrap();
        if detail
            .participants
            .iter()
            .any(|p| p.address.dangerous_reveal() == ANN)
        {
            ann.push(imported.recording.to_string());
        }
    }
    ann
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path().join("data"));
    for tenant in ["acme", "globex"] {
        tenants::create(&data_dir, "test".into(), declaration(tenant))
            .await
            .unwrap();
    }
    let app = App::open(data_dir, "test".into()).await.unwrap();
    let ann_acme = import_calls(&app, "acme", dir.path().join("acme"), &[ANN, BOB, ANN]).await;
    let ann_globex = import_calls(&app, "globex", dir.path().join("globex"), &[ANN]).await;
    let token = |tenant: Option<&str>, role| {
        let app = app.clone();
        let tenant = tenant.map(|t| TenantId::new(t).unwrap());
        async move {
            http::tokens::create(&app, tenant, role, String::new())
                .await
                .unwrap()
        }
    };
    let acme_admin = token(Some("acme"), TokenRole::Admin).await;
    let globex_admin = token(Some("globex"), TokenRole::Admin).await;
    let mut lesser = Vec::new();
    for role in [TokenRole::Viewer, TokenRole::Supervisor, TokenRole::Auditor] {
        lesser.push(token(Some("acme"), role).await);
    }
    lesser.push(token(None, TokenRole::Operator).await);
    let router = http::router(HttpState::new(app.clone()));
    World {
        dir,
        app,
        router,
        acme_admin,
        globex_admin,
        lesser,
        ann_acme: ann_acme.into_iter().collect(),
        ann_globex: ann_globex.into_iter().collect(),
    }
}

impl World {
    async fn post(&self, token: Option<&str>, body: &str) -> (StatusCode, Vec<u8>, Option<String>) {
        let mut request = Request::post("/api/v1/subject-access")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned());
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, body.to_vec(), content_type)
    }

    fn node_key(&self) -> ed25519_dalek::VerifyingKey {
        NodeKey::load(&self.dir.path().join("data/keyring"))
            .unwrap()
            .public_key()
    }
}

#[tokio::test]
async fn only_a_tenant_admin_exports_and_only_its_own_tenant() {
    let world = world().await;
    let ann = json!({ "participant": ANN }).to_string();
    for token in [None, Some("garbage"), Some("onr_000000000000.00")] {
        let (status, _, _) = world.post(token, &ann).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
    for token in &world.lesser {
        let (status, _, _) = world.post(Some(token), &ann).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // acme's admin naming globex is refused, whatever globex holds.
    let across = json!({ "participant": ANN, "tenant": "globex" }).to_string();
    let (status, _, _) = world.post(Some(&world.acme_admin), &across).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Each admin gets its own tenant's calls with Ann, never the other's.
    for (token, expected, tenant) in [
        (&world.acme_admin, &world.ann_acme, "acme"),
        (&world.globex_admin, &world.ann_globex, "globex"),
    ] {
        let (status, body, content_type) = world.post(Some(token), &ann).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(content_type.as_deref(), Some("application/zip"));
        let verified = bundle::verify(Cursor::new(&body), &world.node_key())
            .unwrap_or_else(|problem| panic!("{tenant}: {problem}"));
        assert_eq!(verified.tenant, tenant);
        assert_eq!(
            &verified.recordings.into_iter().collect::<BTreeSet<_>>(),
            expected
        );
        assert!(verified.generated_by.starts_with("token:"));
    }
}

#[tokio::test]
async fn bad_requests_and_unknown_addresses_are_named_and_exports_are_audited() {
    let world = world().await;
    let admin = Some(world.acme_admin.as_str());
    for body in ["{", "{}", r#"{"participant": ""}"#, r#"{"participant": 7}"#] {
        let (status, _, _) = world.post(admin, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let nobody = json!({ "participant": "tel:+15550000000" }).to_string();
    let (status, body, _) = world.post(admin, &nobody).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!String::from_utf8_lossy(&body).contains("15550000000"));

    let (status, _, _) = world
        .post(admin, &json!({ "participant": BOB }).to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    let entries = world.app.catalog.audit_entries(0, 10_000).await.unwrap();
    let exported: Vec<_> = entries
        .iter()
        .filter(|entry| entry.action == "subject-access.exported")
        .collect();
    assert_eq!(exported.len(), 1);
    assert!(exported[0].actor.starts_with("token:"));
    assert!(!exported[0].details.contains("1632960002"));
    let details: Value = serde_json::from_str(&exported[0].details).unwrap();
    assert_eq!(details["via"], "http");
    assert_eq!(details["recordings"].as_array().map(Vec::len), Some(1));

    // The served API document describes the endpoint.
    let response = world
        .router
        .clone()
        .oneshot(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let document: Value =
        serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    let path = &document["paths"]["/api/v1/subject-access"]["post"];
    assert!(
        path["responses"]["200"]["content"]["application/zip"].is_object(),
        "{path}"
    );
    assert!(path["requestBody"].is_object(), "{path}");
}
