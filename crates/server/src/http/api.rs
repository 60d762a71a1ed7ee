//! The JSON API under `/api/v1`. Handlers check the token's permission first (403 does not
//! depend on which recording was asked for), then look the recording up inside the token's
//! tenant (another tenant's recording is a 404, like a missing one), then audit the read.

// utoipa's `axum_extras` re-emits each `Query<…>` extractor type with a qualified path.
#![allow(unused_qualifications)]

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use catalog::{
    NewAuditEntry, PageRequest, Recording, RecordingDetail, RecordingFilter, RecordingState,
};
use chrono::{DateTime, SecondsFormat, Utc};
use model::{Direction, RecordingId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::HttpState;
use super::auth::{Permission, Principal};
use super::error::HttpError;
use super::playback::{self, Peaks, Source};
use super::range::{self, RangeAnswer};
use crate::readback::recording_json;

/// Default and largest page of the recordings list.
pub const DEFAULT_LIMIT: u32 = 50;
/// Default and largest number of peak buckets.
pub const DEFAULT_BUCKETS: usize = 400;
pub const MAX_BUCKETS: usize = 4_000;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/recordings", get(list))
        .route("/api/v1/recordings/{id}", get(show))
        .route("/api/v1/recordings/{id}/streams/{label}/audio", get(audio))
        .route(
            "/api/v1/recordings/{id}/streams/{label}/original",
            get(original),
        )
        .route("/api/v1/recordings/{id}/streams/{label}/peaks", get(peaks))
        .route("/api/v1/recordings/{id}/audit", get(audit_trail))
        .route("/api/v1/operator/summary", get(operator_summary))
}

/// Filters and paging of the recordings list. Every filter narrows.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Started at or after (RFC 3339).
    pub from: Option<String>,
    /// Started before (RFC 3339).
    pub to: Option<String>,
    /// A participant's exact address (`tel:+44…`, `sip:…`).
    pub participant: Option<String>,
    /// `inbound`, `outbound`, `internal` or `unknown`.
    pub direction: Option<String>,
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    pub tag: Option<String>,
    /// `recording`, `committed` or `erased`.
    pub state: Option<String>,
    /// 1 to 1000 (default 50).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// One page of recordings, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingList {
    #[schema(value_type = Vec<Object>)]
    pub recordings: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn parse_time(what: &str, text: &str) -> Result<DateTime<Utc>, HttpError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    // What an HTML `datetime-local` input sends: no seconds, no zone (taken as UTC).
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .map(|at| at.and_utc())
        .map_err(|_| HttpError::BadRequest(format!("{what} is not an RFC 3339 time")))
}

impl ListQuery {
    pub fn filter(&self, tenant: &TenantId) -> Result<RecordingFilter, HttpError> {
        Ok(RecordingFilter {
            tenant: Some(tenant.clone()),
            started_from: non_empty(&self.from)
                .map(|text| parse_time("from", text))
                .transpose()?,
            started_before: non_empty(&self.to)
                .map(|text| parse_time("to", text))
                .transpose()?,
            state: non_empty(&self.state)
                .map(|text| {
                    RecordingState::parse(text)
                        .ok_or_else(|| HttpError::BadRequest(format!("unknown state {text:?}")))
                })
                .transpose()?,
            direction: non_empty(&self.direction)
                .map(|text| {
                    Direction::parse(text)
                        .ok_or_else(|| HttpError::BadRequest(format!("unknown direction {text:?}")))
                })
                .transpose()?,
            tag: non_empty(&self.tag).map(str::to_owned),
            participant: non_empty(&self.participant).map(str::to_owned),
            min_duration_ms: self.min_duration_ms,
            max_duration_ms: self.max_duration_ms,
        })
    }

    pub fn page(&self) -> Result<PageRequest, HttpError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > catalog::MAX_PAGE {
            return Err(HttpError::BadRequest(format!(
                "limit must be 1 to {}",
                catalog::MAX_PAGE
            )));
        }
        let after = non_empty(&self.cursor)
            .map(|text| {
                text.parse()
                    .map_err(|_| HttpError::BadRequest("malformed cursor".into()))
            })
            .transpose()?;
        Ok(PageRequest { limit, after })
    }

    /// Names of the filters in use (for the audit log: no values, they may be personal).
    fn used(&self) -> Vec<&'static str> {
        [
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("participant", self.participant.is_some()),
            ("direction", self.direction.is_some()),
            ("min_duration_ms", self.min_duration_ms.is_some()),
            ("max_duration_ms", self.max_duration_ms.is_some()),
            ("tag", self.tag.is_some()),
            ("state", self.state.is_some()),
        ]
        .into_iter()
        .filter(|(_, used)| *used)
        .map(|(name, _)| name)
        .collect()
    }
}

/// The list view of a recording (no participants: a page stays one query).
pub fn summary_json(recording: &Recording) -> Value {
    json!({
        "id": recording.id,
        "source": recording.source.as_str(),
        "external_id": recording.external_id,
        "started_at": recording.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "duration_ms": recording.duration_ms,
        "direction": recording.direction.as_str(),
        "state": recording.state.as_str(),
        "tags": recording.tags,
    })
}

/// Appends one audit entry for a read by `principal`.
pub async fn audit_read(
    state: &HttpState,
    principal: &Principal,
    action: &str,
    recording: Option<RecordingId>,
    details: Value,
) -> Result<(), HttpError> {
    let app = state.app();
    app.catalog
        .append_audit(&[NewAuditEntry {
            at: app.clock.wall(),
            actor: principal.actor(),
            action: action.to_owned(),
            tenant: principal.tenant.clone(),
            recording,
            details,
        }])
        .await?;
    Ok(())
}

/// One page of the caller's recordings, audited.
pub async fn search(
    state: &HttpState,
    principal: &Principal,
    query: &ListQuery,
) -> Result<(Vec<Recording>, Option<String>), HttpError> {
    let tenant = principal.tenant_for(Permission::Read)?;
    let filter = query.filter(tenant)?;
    let page = state
        .app()
        .catalog
        .list_recordings(&filter, &query.page()?)
        .await?;
    audit_read(
        state,
        principal,
        "recording.listed",
        None,
        json!({ "via": "http", "count": page.items.len(), "filters": query.used() }),
    )
    .await?;
    Ok((page.items, page.next.map(|cursor| cursor.to_string())))
}

/// A recording of the caller's tenant, if `permission` allows; 404 for anything else.
pub async fn load(
    state: &HttpState,
    principal: &Principal,
    id: &str,
    permission: Permission,
) -> Result<RecordingDetail, HttpError> {
    let tenant = principal.tenant_for(permission)?;
    let id: RecordingId = id.parse().map_err(|_| HttpError::NotFound)?;
    state
        .app()
        .catalog
        .recording(Some(tenant), &id)
        .await?
        .ok_or(HttpError::NotFound)
}

/// The detail view: everything `show` prints, plus the gap map of each stream lifted out.
pub fn detail_json(detail: &RecordingDetail) -> Value {
    let mut value = recording_json(detail);
    let gap_maps: serde_json::Map<String, Value> = detail
        .streams
        .iter()
        .filter_map(|stream| {
            let map = detail
                .recording
                .details
                .get("streams")?
                .get(stream.label.as_str())?
                .get("gap_map")?;
            Some((stream.label.to_string(), map.clone()))
        })
        .collect();
    if let Some(object) = value.as_object_mut() {
        object.insert("gap_maps".into(), Value::Object(gap_maps));
    }
    value
}

#[utoipa::path(get, path = "/api/v1/recordings", tag = "recordings",
    params(ListQuery),
    responses(
        (status = 200, description = "One page, newest first", body = RecordingList),
        (status = 400, description = "A malformed filter, limit or cursor"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "An operator token"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<HttpState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<RecordingList>, HttpError> {
    let (items, next) = search(&state, &principal, &query).await?;
    Ok(Json(RecordingList {
        recordings: items.iter().map(summary_json).collect(),
        next,
    }))
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}", tag = "recordings",
    params(("id" = String, Path, description = "Recording id")),
    responses(
        (status = 200, description = "Participants, consent evidence, streams, gap maps, statistics, digests, and the signed completeness certificate (`completeness`)", body = Object),
        (status = 401, description = "No valid token"),
        (status = 404, description = "No such recording in the token's tenant"),
    ),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<HttpState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let detail = load(&state, &principal, &id, Permission::Read).await?;
    audit_read(
        &state,
        &principal,
        "recording.shown",
        Some(detail.recording.id),
        json!({ "via": "http" }),
    )
    .await?;
    let mut value = detail_json(&detail);
    let certificate = state
        .app()
        .catalog
        .completeness_certificate(&detail.recording.id)
        .await?;
    value["completeness"] = certificate
        .as_ref()
        .map_or(Value::Null, crate::completeness::cli::certificate_json);
    Ok(Json(value))
}

/// Answers a body that `source` produces, honouring `Range`.
async fn ranged(
    open: &playback::OpenStream<'_>,
    source: &Source,
    headers: &HeaderMap,
) -> Result<(Response, String), HttpError> {
    let len = source.len(open);
    let requested = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let (status, range) = match range::answer(requested, len) {
        RangeAnswer::Whole => (StatusCode::OK, 0..len),
        RangeAnswer::Partial(range) => (StatusCode::PARTIAL_CONTENT, range),
        RangeAnswer::Unsatisfiable => return Err(HttpError::RangeNotSatisfiable { len }),
    };
    let bytes = source.read(open, range.clone()).await?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(source.content_type())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    let described = format!(
        "bytes {}-{}/{len}",
        range.start,
        range.end.saturating_sub(1)
    );
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&described)
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    Ok((response, described))
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}/streams/{label}/audio", tag = "playback",
    params(("id" = String, Path), ("label" = String, Path),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. bytes=0-1023 or bytes=-500")),
    responses(
        (status = 200, description = "The whole stream as audio/wav (or an import's own compressed type)", content_type = "audio/wav"),
        (status = 206, description = "The requested bytes, with Content-Range"),
        (status = 403, description = "The token's role may not listen (operators never)"),
        (status = 404, description = "No such recording or stream in the token's tenant"),
        (status = 410, description = "The recording was erased"),
        (status = 416, description = "The range lies outside the audio"),
    ),
    security(("bearer" = [])))]
pub async fn audio(
    State(state): State<HttpState>,
    principal: Principal,
    Path((id, label)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let detail = load(&state, &principal, &id, Permission::Listen).await?;
    let open = playback::open(&state, &detail, &label).await?;
    let source = playback::audio_source(&state, &open, &detail).await?;
    let (response, range) = ranged(&open, &source, &headers).await?;
    audit_read(
        &state,
        &principal,
        "recording.audio_read",
        Some(detail.recording.id),
        json!({ "via": "http", "stream": label, "range": range }),
    )
    .await?;
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}/streams/{label}/original", tag = "playback",
    params(("id" = String, Path), ("label" = String, Path),
        ("Range" = Option<String>, Header, description = "One byte range")),
    responses(
        (status = 200, description = "An import's original file; a live stream's RTP payloads as received"),
        (status = 206, description = "The requested bytes"),
        (status = 403, description = "The token's role may not fetch originals"),
        (status = 404, description = "No such recording or stream in the token's tenant"),
    ),
    security(("bearer" = [])))]
pub async fn original(
    State(state): State<HttpState>,
    principal: Principal,
    Path((id, label)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let detail = load(&state, &principal, &id, Permission::Original).await?;
    let open = playback::open(&state, &detail, &label).await?;
    let source = playback::original_source(&state, &open, &detail).await?;
    let (mut response, range) = ranged(&open, &source, &headers).await?;
    let disposition = format!("attachment; filename=\"{}-{label}\"", detail.recording.id);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    audit_read(
        &state,
        &principal,
        "recording.original_read",
        Some(detail.recording.id),
        json!({ "via": "http", "stream": label, "range": range }),
    )
    .await?;
    Ok(response)
}

/// Query of the peaks endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeaksQuery {
    /// 1 to 4000 (default 400).
    pub buckets: Option<usize>,
}

/// Peaks of a stream the caller may listen to, audited.
pub async fn stream_peaks(
    state: &HttpState,
    principal: &Principal,
    detail: &RecordingDetail,
    label: &str,
    buckets: usize,
) -> Result<Peaks, HttpError> {
    let open = playback::open(state, detail, label).await?;
    let source = playback::audio_source(state, &open, detail).await?;
    let peaks = playback::peaks(&open, &source, buckets).await?;
    audit_read(
        state,
        principal,
        "recording.peaks_read",
        Some(detail.recording.id),
        json!({ "via": "http", "stream": label, "buckets": buckets }),
    )
    .await?;
    Ok(peaks)
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}/streams/{label}/peaks", tag = "playback",
    params(("id" = String, Path), ("label" = String, Path), PeaksQuery),
    responses(
        (status = 200, description = "Waveform peaks per channel", body = Peaks),
        (status = 403, description = "The token's role may not listen"),
        (status = 404, description = "No such recording or stream in the token's tenant"),
        (status = 422, description = "A compressed import: no peaks, play it instead"),
    ),
    security(("bearer" = [])))]
pub async fn peaks(
    State(state): State<HttpState>,
    principal: Principal,
    Path((id, label)): Path<(String, String)>,
    Query(query): Query<PeaksQuery>,
) -> Result<Json<Peaks>, HttpError> {
    let buckets = query.buckets.unwrap_or(DEFAULT_BUCKETS);
    if !(1..=MAX_BUCKETS).contains(&buckets) {
        return Err(HttpError::BadRequest(format!(
            "buckets must be 1 to {MAX_BUCKETS}"
        )));
    }
    let detail = load(&state, &principal, &id, Permission::Listen).await?;
    Ok(Json(
        stream_peaks(&state, &principal, &detail, &label, buckets).await?,
    ))
}

/// A recording's audit trail, audited itself.
pub async fn trail(
    state: &HttpState,
    principal: &Principal,
    detail: &RecordingDetail,
) -> Result<Vec<Value>, HttpError> {
    let entries = state
        .app()
        .catalog
        .audit_for_recording(&detail.recording.id)
        .await?;
    audit_read(
        state,
        principal,
        "recording.audit_read",
        Some(detail.recording.id),
        json!({ "via": "http" }),
    )
    .await?;
    Ok(entries
        .iter()
        .map(|entry| {
            json!({
                "seq": entry.seq,
                "at": entry.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "actor": entry.actor,
                "action": entry.action,
                // Stored as the exact JSON text that was hashed.
                "details": serde_json::from_str::<Value>(&entry.details)
                    .unwrap_or_else(|_| Value::String(entry.details.clone())),
            })
        })
        .collect())
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}/audit", tag = "recordings",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Every audit entry naming the recording, in order", body = Vec<Object>),
        (status = 403, description = "The token's role may not read audit trails"),
        (status = 404, description = "No such recording in the token's tenant"),
    ),
    security(("bearer" = [])))]
pub async fn audit_trail(
    State(state): State<HttpState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let detail = load(&state, &principal, &id, Permission::AuditTrail).await?;
    Ok(Json(
        json!({ "entries": trail(&state, &principal, &detail).await? }),
    ))
}

/// Content-blind figures of one tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantFigures {
    pub tenant: String,
    pub recordings: u64,
    pub participants: u64,
    pub covered_participants: u64,
    /// Covered participants over all participants (1 when there are none).
    pub evidence_coverage: f64,
    /// Refusals per reason code.
    pub refusals: std::collections::BTreeMap<String, u64>,
}

/// The operator's figures of every tenant, audited.
pub async fn figures(
    state: &HttpState,
    principal: &Principal,
) -> Result<Vec<TenantFigures>, HttpError> {
    principal.require(Permission::OperatorFigures)?;
    let catalog = &state.app().catalog;
    let mut figures = Vec::new();
    for tenant in catalog.tenants().await? {
        let coverage = catalog.evidence_coverage(&tenant.id).await?;
        let refusals = catalog.refusal_counts(&tenant.id).await?;
        figures.push(TenantFigures {
            tenant: tenant.id.to_string(),
            recordings: coverage.recordings,
            participants: coverage.participants,
            covered_participants: coverage.covered_participants,
            evidence_coverage: if coverage.participants == 0 {
                1.0
            } else {
                coverage.covered_participants as f64 / coverage.participants as f64
            },
            refusals: refusals.into_iter().collect(),
        });
    }
    audit_read(
        state,
        principal,
        "operator.summary_read",
        None,
        json!({ "tenants": figures.len() }),
    )
    .await?;
    Ok(figures)
}

#[utoipa::path(get, path = "/api/v1/operator/summary", tag = "operator",
    responses(
        (status = 200, description = "Content-blind figures per tenant", body = Vec<TenantFigures>),
        (status = 403, description = "Not an operator token"),
    ),
    security(("bearer" = [])))]
pub async fn operator_summary(
    State(state): State<HttpState>,
    principal: Principal,
) -> Result<Json<Value>, HttpError> {
    Ok(Json(
        json!({ "tenants": figures(&state, &principal).await? }),
    ))
}

impl IntoResponse for RecordingList {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}
