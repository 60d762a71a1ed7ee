//! The HTTP API in process (tower `oneshot`): authentication and the tenant/role matrix,
//! range requests on decrypted audio, pagination, filters, audit entries, and the web UI's
//! sign-in and pages. Two tenants with real imported (sealed) calls.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::collections::HashMap;
use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use catalog::TokenRole;
use model::{ConsentPolicy, RegionId, TenantId};
use onrecord::app::App;
use onrecord::datadir::DataDir;
use onrecord::http::{self, HttpState};
use onrecord::import::{ImportRequest, import};
use onrecord::synth;
use onrecord::tenants::{self, NewTenant};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

const TENANT_ROLES: [TokenRole; 4] = [
    TokenRole::Viewer,
    TokenRole::Supervisor,
    TokenRole::Auditor,
    TokenRole::Admin,
];

struct World {
    _dir: TempDir,
    router: Router,
    /// Tokens by (tenant or "operator", role).
    tokens: HashMap<(String, TokenRole), String>,
    /// acme's recordings, newest first: demo-2 (30 s), demo-1 (outbound, escalation), demo-0.
    acme: Vec<String>,
    globex: String,
    /// The imported file of acme's newest call, as it was on disk.
    acme_newest_file: Vec<u8>,
}

impl World {
    fn token(&self, tenant: &str, role: TokenRole) -> &str {
        &self.tokens[&(tenant.to_owned(), role)]
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
        self.request(path, token, None).await
    }

    async fn request(
        &self,
        path: &str,
        token: Option<&str>,
        range: Option<&str>,
    ) -> (StatusCode, Vec<u8>) {
        let response = self.send(path, token, range).await;
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, body.to_vec())
    }

    async fn send(
        &self,
        path: &str,
        token: Option<&str>,
        range: Option<&str>,
    ) -> axum::response::Response {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(range) = range {
            request = request.header(header::RANGE, range);
        }
        self.router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn json(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.get(path, Some(token)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }
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

async fn import_calls(app: &App, tenant: &str, dir: PathBuf, calls: &[(u32, u64, Value)]) {
    std::fs::create_dir_all(&dir).unwrap();
    for (index, (seconds, seed, sidecar)) in calls.iter().enumerate() {
        let audio = synth::two_party_mulaw_wav(*seconds, *seed);
        synth::write_call(&dir, &format!("call-{index}"), &audio, sidecar).unwrap();
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
    assert_eq!(summary.imported.len(), calls.len(), "{summary:?}");
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path().join("data"));
    tenants::create(&data_dir, "test".into(), declaration("acme"))
        .await
        .unwrap();
    tenants::create(&data_dir, "test".into(), declaration("globex"))
        .await
        .unwrap();
    let app = App::open(data_dir, "test".into()).await.unwrap();

    let mut outbound = synth::sidecar("demo-1", "2026-11-28T10:01:00Z", true);
    outbound["direction"] = json!("outbound");
    outbound["tags"] = json!(["qa", "escalation"]);
    let mut long = synth::sidecar("demo-2", "2026-11-28T10:02:00Z", true);
    long["participants"][0]["address"] = json!("tel:+441632960002");
    import_calls(
        &app,
        "acme",
        dir.path().join("acme"),
        &[
            (4, 1, synth::sidecar("demo-0", "2026-11-28T10:00:00Z", true)),
            (4, 2, outbound),
            (30, 3, long),
        ],
    )
    .await;
    import_calls(
        &app,
        "globex",
        dir.path().join("globex"),
        &[(
            4,
            4,
            synth::sidecar("globex-0", "2026-11-28T11:00:00Z", true),
        )],
    )
    .await;
    let acme_newest_file = std::fs::read(dir.path().join("acme/call-2.wav")).unwrap();

    let mut tokens = HashMap::new();
    for tenant in ["acme", "globex"] {
        for role in TENANT_ROLES {
            let token = http::tokens::create(
                &app,
                Some(TenantId::new(tenant).unwrap()),
                role,
                String::new(),
            )
            .await
            .unwrap();
            tokens.insert((tenant.to_owned(), role), token);
        }
    }
    let operator = http::tokens::create(&app, None, TokenRole::Operator, String::new())
        .await
        .unwrap();
    tokens.insert(("operator".to_owned(), TokenRole::Operator), operator);

    let router = http::router(HttpState::new(app));
    let mut world = World {
        _dir: dir,
        router,
        tokens,
        acme: Vec::new(),
        globex: String::new(),
        acme_newest_file,
    };
    let ids = |value: Value| -> Vec<String> {
        value["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let admin = world.token("acme", TokenRole::Admin).to_owned();
    world.acme = ids(world.json("/api/v1/recordings", &admin).await);
    let globex_admin = world.token("globex", TokenRole::Admin).to_owned();
    world.globex = ids(world.json("/api/v1/recordings", &globex_admin).await).remove(0);
    assert_eq!(world.acme.len(), 3);
    world
}

/// Every endpoint about one recording, with `{id}` to fill in.
const RECORDING_ENDPOINTS: [&str; 5] = [
    "/api/v1/recordings/{id}",
    "/api/v1/recordings/{id}/streams/original/audio",
    "/api/v1/recordings/{id}/streams/original/original",
    "/api/v1/recordings/{id}/streams/original/peaks?buckets=8",
    "/api/v1/recordings/{id}/audit",
];

#[tokio::test]
async fn every_endpoint_but_health_answers_401_without_a_valid_token() {
    let world = world().await;
    let id = &world.acme[0];
    let mut paths: Vec<String> = RECORDING_ENDPOINTS
        .iter()
        .map(|p| p.replace("{id}", id))
        .collect();
    paths.extend([
        "/api/v1/recordings".into(),
        "/api/v1/operator/summary".into(),
        "/metrics".into(),
    ]);
    let real = world.token("acme", TokenRole::Admin);
    let wrong_secret = format!(
        "{}{}",
        &real[..real.len() - 2],
        if real.ends_with("00") { "11" } else { "00" }
    );
    let unknown_id = format!("onr_000000000000.{}", "ab".repeat(32));
    for path in &paths {
        for token in [
            None,
            Some("garbage"),
            Some(wrong_secret.as_str()),
            Some(unknown_id.as_str()),
        ] {
            let response = world.send(path, token, None).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path} with {token:?}"
            );
            assert!(
                response.headers().contains_key(header::WWW_AUTHENTICATE),
                "{path}"
            );
        }
    }
    let (status, body) = world.get("/healthz", None).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok\n".as_slice())
    );
}

#[tokio::test]
async fn the_role_matrix_on_an_own_recording() {
    let world = world().await;
    let id = &world.acme[0];
    // detail, audio, original, peaks, audit
    let expected: [(TokenRole, [u16; 5]); 4] = [
        (TokenRole::Viewer, [200, 200, 403, 200, 403]),
        (TokenRole::Supervisor, [200, 200, 200, 200, 200]),
        (TokenRole::Auditor, [200, 403, 403, 403, 200]),
        (TokenRole::Admin, [200, 200, 200, 200, 200]),
    ];
    for (role, statuses) in expected {
        let token = world.token("acme", role);
        for (path, status) in RECORDING_ENDPOINTS.iter().zip(statuses) {
            let (got, body) = world.get(&path.replace("{id}", id), Some(token)).await;
            assert_eq!(
                got.as_u16(),
                status,
                "{role} {path}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let (got, _) = world.get("/api/v1/recordings", Some(token)).await;
        assert_eq!(got, StatusCode::OK, "{role} list");
        let (got, _) = world.get("/api/v1/operator/summary", Some(token)).await;
        assert_eq!(got, StatusCode::FORBIDDEN, "{role} operator summary");
    }
}

#[tokio::test]
async fn another_tenants_recording_is_indistinguishable_from_a_missing_one() {
    let world = world().await;
    let missing = "01a2239a-1a11-7000-8000-000000000000";
    for role in TENANT_ROLES {
        let token = world.token("acme", role);
        for path in RECORDING_ENDPOINTS {
            let theirs = world
                .get(&path.replace("{id}", &world.globex), Some(token))
                .await;
            let absent = world.get(&path.replace("{id}", missing), Some(token)).await;
            let malformed = world
                .get(&path.replace("{id}", "not-an-id"), Some(token))
                .await;
            assert_eq!(theirs, absent, "{role} {path}");
            assert_eq!(theirs, malformed, "{role} {path}");
            assert!(
                matches!(theirs.0, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{role} {path}: {}",
                theirs.0
            );
        }
    }
    // And globex's own admin reads it, so it exists.
    let (status, _) = world
        .get(
            &format!("/api/v1/recordings/{}", world.globex),
            Some(world.token("globex", TokenRole::Admin)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = world
        .json("/api/v1/recordings", world.token("acme", TokenRole::Viewer))
        .await;
    assert!(
        !listed.to_string().contains(&world.globex),
        "acme's list never shows globex"
    );
}

#[tokio::test]
async fn an_operator_sees_content_blind_figures_and_can_never_decrypt() {
    let world = world().await;
    let operator = world.token("operator", TokenRole::Operator);
    for id in [&world.acme[0], &world.globex] {
        for path in RECORDING_ENDPOINTS {
            let (status, _) = world.get(&path.replace("{id}", id), Some(operator)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "operator {path}");
        }
    }
    let (status, _) = world.get("/api/v1/recordings", Some(operator)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let summary = world.json("/api/v1/operator/summary", operator).await;
    let tenants = summary["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 2);
    assert_eq!(tenants[0]["tenant"], "acme");
    assert_eq!(tenants[0]["recordings"], 3);
    assert_eq!(tenants[0]["participants"], 6);
    assert_eq!(tenants[0]["evidence_coverage"], 1.0);
    assert_eq!(tenants[1]["recordings"], 1);
    let text = summary.to_string();
    for personal in ["tel:", "sip:", "Ann Customer", "demo-"] {
        assert!(!text.contains(personal), "summary leaks {personal}: {text}");
    }
    let (status, body) = world.get("/metrics", Some(operator)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("onrecord_http_requests_total"));
}

#[tokio::test]
async fn audio_is_pcm_wav_and_honours_first_middle_suffix_and_invalid_ranges() {
    let world = world().await;
    let token = world.token("acme", TokenRole::Viewer);
    let path = format!(
        "/api/v1/recordings/{}/streams/original/audio",
        world.acme[0]
    );
    let response = world.send(&path, Some(token), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(response.headers()[header::ACCEPT_RANGES], "bytes");
    let whole = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    // 30 s of 8 kHz stereo µ-law becomes 16-bit PCM: 44-byte header + 4 bytes a frame.
    assert_eq!(whole.len(), 44 + 30 * 8_000 * 4);
    assert_eq!(&whole[0..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([whole[20], whole[21]]), 1, "PCM");
    assert_eq!(
        u16::from_le_bytes([whole[22], whole[23]]),
        2,
        "two channels"
    );
    // Each sample is the µ-law byte of the stored file, decoded.
    let original = &world.acme_newest_file[58..];
    for (index, code) in original.iter().enumerate().step_by(997) {
        let sample = i16::from_le_bytes([whole[44 + index * 2], whole[45 + index * 2]]);
        assert_eq!(sample, media::mulaw_to_linear(*code), "sample {index}");
    }
    let len = whole.len();
    let cases = [
        ("bytes=0-99", 0..100),
        ("bytes=40-47", 40..48),
        ("bytes=500001-700000", 500_001..700_001),
        ("bytes=-777", len - 777..len),
        (&*format!("bytes={}-", len - 3), len - 3..len),
    ];
    for (range, expected) in cases {
        let response = world.send(&path, Some(token), Some(range)).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()[header::CONTENT_RANGE],
            format!("bytes {}-{}/{len}", expected.start, expected.end - 1).as_str(),
            "{range}"
        );
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], &whole[expected], "{range}");
    }
    for range in [
        format!("bytes={len}-"),
        "bytes=500-100".to_owned(),
        "bytes=-0".to_owned(),
    ] {
        let response = world.send(&path, Some(token), Some(&range)).await;
        assert_eq!(
            response.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{range}"
        );
        assert_eq!(
            response.headers()[header::CONTENT_RANGE],
            format!("bytes */{len}").as_str()
        );
    }
}

#[tokio::test]
async fn original_is_the_imported_file_byte_for_byte_with_ranges() {
    let world = world().await;
    let token = world.token("acme", TokenRole::Supervisor);
    let path = format!(
        "/api/v1/recordings/{}/streams/original/original",
        world.acme[0]
    );
    let (status, body) = world.get(&path, Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, world.acme_newest_file);
    let (status, body) = world.request(&path, Some(token), Some("bytes=-100")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        body,
        world.acme_newest_file[world.acme_newest_file.len() - 100..]
    );
    let (status, _) = world
        .get(
            &format!("/api/v1/recordings/{}/streams/nope/audio", world.acme[0]),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown stream label");
}

#[tokio::test]
async fn peaks_give_one_waveform_per_channel_and_reject_bad_bucket_counts() {
    let world = world().await;
    let token = world.token("acme", TokenRole::Viewer);
    let base = format!(
        "/api/v1/recordings/{}/streams/original/peaks",
        world.acme[0]
    );
    let peaks = world.json(&format!("{base}?buckets=15"), token).await;
    let channels = peaks["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2);
    // The parties speak in 4-second turns: in the first 2 s only channel 0 is loud.
    let level = |channel: usize, bucket: usize| channels[channel][bucket].as_f64().unwrap();
    assert!(level(0, 0) > 0.2 && level(1, 0) < 0.05, "{peaks}");
    assert!(level(1, 3) > 0.2 && level(0, 3) < 0.05, "{peaks}");
    assert_eq!(peaks["duration_ms"], 30_000);
    for bad in ["0", "4001", "x"] {
        let (status, _) = world
            .get(&format!("{base}?buckets={bad}"), Some(token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "buckets={bad}");
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let world = world().await;
    let token = world.token("acme", TokenRole::Viewer);
    let mut seen = Vec::new();
    let mut path = "/api/v1/recordings?limit=1".to_owned();
    for _ in 0..5 {
        let page = world.json(&path, token).await;
        let items = page["recordings"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        seen.push(items[0]["id"].as_str().unwrap().to_owned());
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/recordings?limit=1&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, world.acme);
    for bad in [
        "limit=0",
        "limit=1001",
        "cursor=zzz",
        "from=yesterday",
        "direction=sideways",
        "state=lost",
    ] {
        let (status, _) = world
            .get(&format!("/api/v1/recordings?{bad}"), Some(token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn every_filter_narrows_the_list() {
    let world = world().await;
    let token = world.token("acme", TokenRole::Viewer);
    let [newest, middle, oldest] = [&world.acme[0], &world.acme[1], &world.acme[2]];
    let cases: [(&str, Vec<&String>); 10] = [
        ("direction=outbound", vec![middle]),
        ("direction=inbound", vec![newest, oldest]),
        ("tag=escalation", vec![middle]),
        ("tag=qa", vec![newest, middle, oldest]),
        ("participant=tel%3A%2B441632960002", vec![newest]),
        ("min_duration_ms=10000", vec![newest]),
        ("max_duration_ms=10000", vec![middle, oldest]),
        (
            "from=2026-11-28T10:00:30Z&to=2026-11-28T10:01:30Z",
            vec![middle],
        ),
        ("from=2026-11-28T10:01", vec![newest, middle]),
        ("state=erased", vec![]),
    ];
    for (query, expected) in cases {
        let page = world
            .json(&format!("/api/v1/recordings?{query}"), token)
            .await;
        let ids: Vec<&str> = page["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = expected.iter().map(|id| id.as_str()).collect();
        assert_eq!(ids, expected, "{query}");
    }
}

#[tokio::test]
async fn detail_shows_participants_evidence_streams_and_digests() {
    let world = world().await;
    let token = world.token("acme", TokenRole::Auditor);
    let detail = world
        .json(&format!("/api/v1/recordings/{}", world.acme[0]), token)
        .await;
    assert_eq!(detail["external_id"], "demo-2");
    assert_eq!(detail["participants"][0]["address"], "tel:+441632960002");
    assert_eq!(
        detail["participants"][0]["evidence"][0]["kind"],
        "announcement"
    );
    assert_eq!(
        detail["participants"][1]["evidence"][0]["source"],
        "staff-policy"
    );
    assert_eq!(detail["streams"][0]["label"], "original");
    assert_eq!(
        detail["streams"][0]["plaintext_digest"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert!(detail["gap_maps"].is_object());
    assert_eq!(detail["completeness"]["verdict"], "complete");
    assert_eq!(detail["completeness"]["gap_count"], 0);
    assert_eq!(
        detail["completeness"]["certificate"]["kind"],
        "onrecord.completeness-certificate.v1"
    );
    assert_eq!(
        detail["completeness"]["certificate"]["body"]["recording"],
        world.acme[0].to_string()
    );
}

#[tokio::test]
async fn every_content_read_is_audited_with_the_tokens_id() {
    let world = world().await;
    let viewer = world.token("acme", TokenRole::Viewer);
    let viewer_id = &viewer[4..16];
    let id = &world.acme[1];
    world
        .get(&format!("/api/v1/recordings/{id}"), Some(viewer))
        .await;
    world
        .request(
            &format!("/api/v1/recordings/{id}/streams/original/audio"),
            Some(viewer),
            Some("bytes=0-9"),
        )
        .await;
    world
        .get(
            &format!("/api/v1/recordings/{id}/streams/original/peaks"),
            Some(viewer),
        )
        .await;
    let trail = world
        .json(
            &format!("/api/v1/recordings/{id}/audit"),
            world.token("acme", TokenRole::Admin),
        )
        .await;
    let entries = trail["entries"].as_array().unwrap();
    let by_viewer: Vec<(&str, &Value)> = entries
        .iter()
        .filter(|entry| entry["actor"] == format!("token:{viewer_id}").as_str())
        .map(|entry| (entry["action"].as_str().unwrap(), &entry["details"]))
        .collect();
    let actions: Vec<&str> = by_viewer.iter().map(|(action, _)| *action).collect();
    assert_eq!(
        actions,
        [
            "recording.shown",
            "recording.audio_read",
            "recording.peaks_read"
        ]
    );
    assert_eq!(by_viewer[1].1["range"], "bytes 0-9/128044", "{trail}");
    assert_eq!(entries[0]["action"], "import.accepted");
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() {
    let world = world().await;
    let (status, body) = world.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let document: Value = serde_json::from_slice(&body).unwrap();
    for path in [
        "/api/v1/recordings",
        "/api/v1/recordings/{id}",
        "/api/v1/recordings/{id}/streams/{label}/audio",
        "/api/v1/recordings/{id}/streams/{label}/original",
        "/api/v1/recordings/{id}/streams/{label}/peaks",
        "/api/v1/recordings/{id}/audit",
        "/api/v1/operator/summary",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    let (status, body) = world.get("/api/docs/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("swagger"));
}

async fn sign_in(world: &World, token: &str) -> axum::response::Response {
    let request = Request::post("/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    world.router.clone().oneshot(request).await.unwrap()
}

async fn page(world: &World, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = world
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        location.unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
    )
}

#[tokio::test]
async fn the_web_ui_signs_in_with_a_token_and_shows_only_the_tenants_calls() {
    let world = world().await;
    let refused = sign_in(&world, "onr_nonsense").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        page(&world, "/recordings", None).await,
        (StatusCode::SEE_OTHER, "/signin".into())
    );

    let response = sign_in(&world, world.token("acme", TokenRole::Viewer)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let cookie = set_cookie.split(';').next().unwrap();

    let (status, html) = page(&world, "/recordings", Some(cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("demo-2") && html.contains("demo-0"), "{html}");
    assert!(!html.contains("globex-0"));
    let (status, html) = page(&world, "/recordings?direction=outbound", Some(cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("demo-1") && !html.contains("demo-2"));
    let (status, html) = page(&world, "/recordings?tag=none-such", Some(cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No recordings match"));
    let (status, html) = page(&world, "/recordings?min_seconds=abc", Some(cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("whole number of seconds"));

    let (status, html) = page(
        &world,
        &format!("/recordings/{}", world.acme[0]),
        Some(cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "Ann Customer",
        "prompt-recording-notice-v2",
        "<svg",
        "<audio",
        "streams/original/audio",
        "may not read audit trails",
        "<dt>Completeness</dt><dd>complete</dd>",
    ] {
        assert!(html.contains(expected), "call page lacks {expected}");
    }
    let (status, html) = page(
        &world,
        &format!("/recordings/{}", world.globex),
        Some(cookie),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not yours to see"));

    let operator = sign_in(&world, world.token("operator", TokenRole::Operator)).await;
    let cookie = operator.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, html) = page(&world, "/operator", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("acme") && html.contains("100.0% (6 of 6)"),
        "{html}"
    );
    let (status, _) = page(
        &world,
        &format!("/recordings/{}", world.acme[0]),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
