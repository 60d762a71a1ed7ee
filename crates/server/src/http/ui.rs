//! The web UI: server-rendered askama pages, a vendored htmx for the search form, a few
//! lines of plain script for waveform seeking. Sign-in takes a token and keeps it in an
//! HttpOnly cookie; every page read is audited like the API call it mirrors.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use catalog::{RecordingDetail, TokenRole};
use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::Value;

use super::HttpState;
use super::api::{self, ListQuery};
use super::auth::{self, COOKIE, Permission, Principal};
use super::error::HttpError;

const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../static/app.css");
const SCRIPT: &[u8] = include_bytes!("../../static/app.js");
/// Peak buckets drawn per waveform.
const WAVE_BUCKETS: usize = 600;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/", get(home))
        .route("/signin", get(signin_form).post(signin))
        .route("/signout", post(signout))
        .route("/recordings", get(search_page))
        .route("/recordings/{id}", get(call_page))
        .route("/operator", get(operator_page))
        .route(
            "/static/htmx.min.js",
            get(|| async { asset("text/javascript", HTMX) }),
        )
        .route(
            "/static/app.js",
            get(|| async { asset("text/javascript", SCRIPT) }),
        )
        .route("/static/app.css", get(|| async { asset("text/css", CSS) }))
}

fn asset(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        bytes,
    )
        .into_response()
}

fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => HttpError::internal(error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    who: String,
    operator: bool,
    heading: String,
    message: String,
}

/// The UI's answer to a failed request: sign-in for a missing token, a page otherwise.
fn failure(principal: Option<&Principal>, error: HttpError) -> Response {
    if matches!(error, HttpError::Unauthenticated) {
        return Redirect::to("/signin").into_response();
    }
    let heading = match &error {
        HttpError::NotFound => "Not found",
        HttpError::Forbidden => "Not allowed",
        HttpError::Gone => "Erased",
        HttpError::BadRequest(_) => "Cannot search like that",
        _ => "Something went wrong",
    };
    let message = match &error {
        HttpError::NotFound => "There is no such recording, or it is not yours to see.".to_owned(),
        HttpError::Forbidden => "This token's role does not allow this page.".to_owned(),
        HttpError::Internal(_) => "The server could not answer; the problem is logged.".to_owned(),
        other => other.to_string(),
    };
    if let HttpError::Internal(detail) = &error {
        tracing::error!(%detail, "UI request failed on the server side");
    }
    page(
        error.status(),
        &ErrorPage {
            who: principal.map(who).unwrap_or_default(),
            operator: principal.is_some_and(|p| p.role == TokenRole::Operator),
            heading: heading.into(),
            message,
        },
    )
}

fn who(principal: &Principal) -> String {
    match &principal.tenant {
        Some(tenant) => format!(
            "{} of {tenant} · token {}",
            principal.role, principal.token_id
        ),
        None => format!("operator · token {}", principal.token_id),
    }
}

async fn signed_in(state: &HttpState, headers: &HeaderMap) -> Result<Principal, HttpError> {
    let text = auth::presented(headers).ok_or(HttpError::Unauthenticated)?;
    auth::authenticate(state, &text).await
}

async fn home(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers).await {
        Ok(principal) if principal.role == TokenRole::Operator => {
            Redirect::to("/operator").into_response()
        }
        Ok(_) => Redirect::to("/recordings").into_response(),
        Err(_) => Redirect::to("/signin").into_response(),
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    who: String,
    operator: bool,
    error: Option<String>,
}

async fn signin_form() -> Response {
    page(
        StatusCode::OK,
        &SigninPage {
            who: String::new(),
            operator: false,
            error: None,
        },
    )
}

#[derive(Debug, Deserialize)]
struct SigninForm {
    token: String,
}

async fn signin(State(state): State<HttpState>, Form(form): Form<SigninForm>) -> Response {
    let token = form.token.trim().to_owned();
    match auth::authenticate(&state, &token).await {
        Ok(principal) => {
            let target = if principal.role == TokenRole::Operator {
                "/operator"
            } else {
                "/recordings"
            };
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
            let mut response = Redirect::to(target).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(HttpError::Unauthenticated) => page(
            StatusCode::UNAUTHORIZED,
            &SigninPage {
                who: String::new(),
                operator: false,
                error: Some("That token is not valid (unknown, revoked or mistyped).".into()),
            },
        ),
        Err(error) => failure(None, error),
    }
}

async fn signout() -> Response {
    let mut response = Redirect::to("/signin").into_response();
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The search form as the browser sends it (every field a string, empty when unset).
#[derive(Debug, Default, Deserialize)]
struct SearchForm {
    from: Option<String>,
    to: Option<String>,
    participant: Option<String>,
    direction: Option<String>,
    tag: Option<String>,
    min_seconds: Option<String>,
    max_seconds: Option<String>,
    cursor: Option<String>,
}

fn seconds(what: &str, text: &Option<String>) -> Result<Option<u64>, HttpError> {
    match text
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
    {
        None => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .map(|seconds| Some(seconds.saturating_mul(1000)))
            .map_err(|_| {
                HttpError::BadRequest(format!("{what} must be a whole number of seconds"))
            }),
    }
}

struct Row {
    id: String,
    name: String,
    started: String,
    duration: String,
    direction: String,
    source: String,
    tags: Vec<String>,
    state: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    who: String,
    operator: bool,
    tenant: String,
    query: ListQuery,
    min_seconds: String,
    max_seconds: String,
    directions: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

fn clock(ms: u64) -> String {
    let seconds = ms / 1000;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

async fn search_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(form): Query<SearchForm>,
) -> Response {
    let principal = match signed_in(&state, &headers).await {
        Ok(principal) => principal,
        Err(error) => return failure(None, error),
    };
    if principal.role == TokenRole::Operator {
        return Redirect::to("/operator").into_response();
    }
    let mut query = ListQuery {
        from: form.from.clone(),
        to: form.to.clone(),
        participant: form.participant.clone(),
        direction: form.direction.clone(),
        tag: form.tag.clone(),
        cursor: form.cursor.clone(),
        limit: Some(api::DEFAULT_LIMIT),
        ..ListQuery::default()
    };
    let mut rows = Vec::new();
    let mut next = None;
    let outcome = async {
        query.min_duration_ms = seconds("Min s", &form.min_seconds)?;
        query.max_duration_ms = seconds("Max s", &form.max_seconds)?;
        api::search(&state, &principal, &query).await
    }
    .await;
    let error = match outcome {
        Ok((items, cursor)) => {
            rows = items
                .iter()
                .map(|recording| Row {
                    id: recording.id.to_string(),
                    name: recording
                        .external_id
                        .clone()
                        .unwrap_or_else(|| recording.id.to_string()),
                    started: recording.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    duration: clock(recording.duration_ms),
                    direction: recording.direction.as_str().into(),
                    source: recording.source.as_str().into(),
                    tags: recording.tags.clone(),
                    state: recording.state.as_str().into(),
                })
                .collect();
            next = cursor.map(|cursor| {
                let mut pairs = vec![("cursor", cursor)];
                for (name, value) in [
                    ("from", &form.from),
                    ("to", &form.to),
                    ("participant", &form.participant),
                    ("direction", &form.direction),
                    ("tag", &form.tag),
                    ("min_seconds", &form.min_seconds),
                    ("max_seconds", &form.max_seconds),
                ] {
                    if let Some(value) = value.as_ref().filter(|value| !value.is_empty()) {
                        pairs.push((name, value.clone()));
                    }
                }
                let encoded: Vec<String> = pairs
                    .iter()
                    .map(|(name, value)| format!("{name}={}", urlencode(value)))
                    .collect();
                format!("/recordings?{}", encoded.join("&"))
            });
            None
        }
        Err(HttpError::BadRequest(message)) => Some(message),
        Err(error) => return failure(Some(&principal), error),
    };
    page(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &SearchPage {
            who: who(&principal),
            operator: false,
            tenant: principal
                .tenant
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            query,
            min_seconds: form.min_seconds.clone().unwrap_or_default(),
            max_seconds: form.max_seconds.clone().unwrap_or_default(),
            directions: vec![
                ("", "any"),
                ("inbound", "inbound"),
                ("outbound", "outbound"),
                ("internal", "internal"),
                ("unknown", "unknown"),
            ],
            rows,
            next,
            error,
        },
    )
}

fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

struct Wave {
    title: String,
    width: usize,
    path: String,
    tone: usize,
}

struct PlayerView {
    index: usize,
    label: String,
    waves: Vec<Wave>,
    error: Option<String>,
}

struct EvidenceView {
    kind: String,
    source: String,
    reference: String,
    at: String,
}

struct ParticipantView {
    ordinal: u32,
    name: String,
    address: String,
    role: String,
    evidence: Vec<EvidenceView>,
}

struct GapView {
    stream: String,
    reason: String,
    from: String,
    to: String,
    lost: String,
}

struct AuditView {
    seq: String,
    at: String,
    actor: String,
    action: String,
}

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
    who: String,
    operator: bool,
    id: String,
    name: String,
    started: String,
    duration: String,
    direction: String,
    source: String,
    state: String,
    may_listen: bool,
    may_audit: bool,
    players: Vec<PlayerView>,
    participants: Vec<ParticipantView>,
    gaps: Vec<GapView>,
    /// `complete`, `gaps: N (kinds)`, or empty for a recording without a certificate.
    completeness: String,
    audit: Vec<AuditView>,
}

/// An SVG path of mirrored bars, one per bucket, in a `width × 60` box.
fn wave_path(peaks: &[f32]) -> String {
    let mut path = String::with_capacity(peaks.len() * 24);
    for (x, peak) in peaks.iter().enumerate() {
        let half = (peak.clamp(0.0, 1.0) * 28.0).max(0.5);
        path.push_str(&format!(
            "M{x} {:.1}h0.8v{:.1}h-0.8z",
            30.0 - half,
            half * 2.0
        ));
    }
    path
}

fn gaps_of(detail: &RecordingDetail) -> Vec<GapView> {
    let mut gaps = Vec::new();
    let Some(streams) = detail
        .recording
        .details
        .get("streams")
        .and_then(Value::as_object)
    else {
        return gaps;
    };
    for (label, statistics) in streams {
        let Some(list) = statistics
            .get("gap_map")
            .and_then(|map| map.get("gaps"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for gap in list {
            let ms = |name| gap.get(name).and_then(Value::as_u64).unwrap_or(0);
            gaps.push(GapView {
                stream: label.clone(),
                reason: gap
                    .get("reason")
                    .map(|r| {
                        r.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| r.to_string())
                    })
                    .unwrap_or_default(),
                from: clock(ms("start_ms")),
                to: clock(ms("end_ms")),
                lost: gap
                    .get("lost_packets")
                    .and_then(Value::as_u64)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            });
        }
    }
    gaps
}

async fn players(
    state: &HttpState,
    principal: &Principal,
    detail: &RecordingDetail,
) -> Vec<PlayerView> {
    let mut participants: Vec<_> = detail.participants.iter().collect();
    participants.sort_by_key(|participant| participant.ordinal);
    let mut players = Vec::new();
    for (index, stream) in detail
        .streams
        .iter()
        .filter(|stream| stream.content_type != "application/json")
        .enumerate()
    {
        let mut player = PlayerView {
            index,
            label: stream.label.to_string(),
            waves: Vec::new(),
            error: None,
        };
        match api::stream_peaks(
            state,
            principal,
            detail,
            stream.label.as_str(),
            WAVE_BUCKETS,
        )
        .await
        {
            Ok(peaks) => {
                let channels = peaks.channels.len();
                for (channel, values) in peaks.channels.iter().enumerate() {
                    let title = if channels > 1 {
                        match participants.get(channel) {
                            Some(participant) => format!(
                                "channel {} · {} ({})",
                                channel + 1,
                                participant
                                    .name
                                    .as_ref()
                                    .map(|name| name.dangerous_reveal().clone())
                                    .unwrap_or_else(|| participant
                                        .address
                                        .dangerous_reveal()
                                        .clone()),
                                participant.role
                            ),
                            None => format!("channel {}", channel + 1),
                        }
                    } else {
                        format!("stream {}", stream.label)
                    };
                    player.waves.push(Wave {
                        title,
                        width: values.len(),
                        path: wave_path(values),
                        tone: (index + channel) % 3,
                    });
                }
            }
            Err(HttpError::Unsupported(message)) => player.error = Some(message),
            Err(HttpError::Gone) => {
                player.error = Some("The recording was erased; its audio is gone.".into())
            }
            Err(error) => {
                tracing::error!(%error, "peaks failed");
                player.error = Some("The waveform could not be drawn.".into());
            }
        }
        players.push(player);
    }
    players
}

async fn call_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let principal = match signed_in(&state, &headers).await {
        Ok(principal) => principal,
        Err(error) => return failure(None, error),
    };
    let detail = match api::load(&state, &principal, &id, Permission::Read).await {
        Ok(detail) => detail,
        Err(error) => return failure(Some(&principal), error),
    };
    if let Err(error) = api::audit_read(
        &state,
        &principal,
        "recording.shown",
        Some(detail.recording.id),
        serde_json::json!({ "via": "ui" }),
    )
    .await
    {
        return failure(Some(&principal), error);
    }
    let may_listen = principal.may(Permission::Listen);
    let may_audit = principal.may(Permission::AuditTrail);
    let players = if may_listen {
        players(&state, &principal, &detail).await
    } else {
        Vec::new()
    };
    let audit = if may_audit {
        match api::trail(&state, &principal, &detail).await {
            Ok(entries) => entries
                .iter()
                .map(|entry| AuditView {
                    seq: entry["seq"].to_string(),
                    at: entry["at"].as_str().unwrap_or_default().replace('T', " "),
                    actor: entry["actor"].as_str().unwrap_or_default().into(),
                    action: entry["action"].as_str().unwrap_or_default().into(),
                })
                .collect(),
            Err(error) => return failure(Some(&principal), error),
        }
    } else {
        Vec::new()
    };
    let completeness = match state
        .app()
        .catalog
        .completeness_certificate(&detail.recording.id)
        .await
    {
        Ok(stored) => stored
            .as_ref()
            .map(crate::completeness::cli::summary_line)
            .unwrap_or_default(),
        Err(error) => return failure(Some(&principal), error.into()),
    };
    let recording = &detail.recording;
    let mut participants: Vec<ParticipantView> = detail
        .participants
        .iter()
        .map(|participant| ParticipantView {
            ordinal: participant.ordinal,
            name: participant
                .name
                .as_ref()
                .map(|name| name.dangerous_reveal().clone())
                .unwrap_or_default(),
            address: participant.address.dangerous_reveal().clone(),
            role: participant.role.clone(),
            evidence: participant
                .evidence
                .iter()
                .map(|item| EvidenceView {
                    kind: item.kind.as_str().into(),
                    source: item.source.as_str().into(),
                    reference: item.reference.clone(),
                    at: item
                        .at
                        .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    participants.sort_by_key(|participant| participant.ordinal);
    page(
        StatusCode::OK,
        &CallPage {
            who: who(&principal),
            operator: false,
            id: recording.id.to_string(),
            name: recording
                .external_id
                .clone()
                .unwrap_or_else(|| recording.id.to_string()),
            started: recording
                .started_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            duration: clock(recording.duration_ms),
            direction: recording.direction.as_str().into(),
            source: recording.source.as_str().into(),
            state: recording.state.as_str().into(),
            may_listen,
            may_audit,
            players,
            participants,
            gaps: gaps_of(&detail),
            completeness,
            audit,
        },
    )
}

struct FigureRow {
    tenant: String,
    recordings: u64,
    participants: u64,
    coverage: String,
    refusals: Vec<(String, u64)>,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    who: String,
    operator: bool,
    figures: Vec<FigureRow>,
}

async fn operator_page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let principal = match signed_in(&state, &headers).await {
        Ok(principal) => principal,
        Err(error) => return failure(None, error),
    };
    match api::figures(&state, &principal).await {
        Ok(figures) => page(
            StatusCode::OK,
            &OperatorPage {
                who: who(&principal),
                operator: true,
                figures: figures
                    .into_iter()
                    .map(|figure| FigureRow {
                        tenant: figure.tenant,
                        recordings: figure.recordings,
                        participants: figure.participants,
                        coverage: format!(
                            "{:.1}% ({} of {})",
                            figure.evidence_coverage * 100.0,
                            figure.covered_participants,
                            figure.participants
                        ),
                        refusals: figure.refusals.into_iter().collect(),
                    })
                    .collect(),
            },
        ),
        Err(error) => failure(Some(&principal), error),
    }
}
