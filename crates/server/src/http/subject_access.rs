//! `POST /api/v1/subject-access`: the subject access bundle of one address, for the tenant's
//! admin. A POST, not a GET: it is an audited act, and the address stays out of URLs and the
//! access logs that keep them.

use std::io::Cursor;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use model::Pii;
use serde::Deserialize;
use utoipa::ToSchema;

use super::HttpState;
use super::auth::{Permission, Principal};
use super::error::HttpError;
use crate::governance::subject_access::{self, SubjectAccessError, SubjectAccessRequest};
use crate::nodekey::NodeKey;

/// Longest participant address accepted (bytes).
const MAX_ADDRESS_BYTES: usize = 1_024;

pub fn routes() -> Router<HttpState> {
    Router::new().route("/api/v1/subject-access", post(export))
}

/// Whose data to export.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubjectAccessBody {
    /// The data subject's exact address as recorded (`tel:+44…`, `sip:…`).
    pub participant: String,
    /// The tenant; optional, and when given it must be the token's own.
    pub tenant: Option<String>,
}

impl From<SubjectAccessError> for HttpError {
    fn from(error: SubjectAccessError) -> HttpError {
        match error {
            SubjectAccessError::NoRecordings(_) => HttpError::NotFound,
            SubjectAccessError::Failed(error) => HttpError::internal(format!("{error:#}")),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/subject-access", tag = "governance",
    request_body = SubjectAccessBody,
    responses(
        (status = 200, description = "The bundle: a zip of one folder per recording (audio, transcript.json, vcon.json) with manifest.json (every file's size and SHA-256, signed by the node's Ed25519 key) and VERIFY.txt; verify with `onrecord audit verify-bundle`", content_type = "application/zip"),
        (status = 400, description = "No participant, or a malformed body"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "Not an admin token, or a tenant other than the token's"),
        (status = 404, description = "No recording of the tenant names this address, erased ones included"),
    ),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<HttpState>,
    principal: Principal,
    body: Result<Json<SubjectAccessBody>, JsonRejection>,
) -> Result<Response, HttpError> {
    let tenant = principal.tenant_for(Permission::SubjectAccess)?.clone();
    let Json(body) = body.map_err(|rejection| HttpError::BadRequest(rejection.body_text()))?;
    if let Some(asked) = body.tenant.as_deref().map(str::trim)
        && !asked.is_empty()
        && asked != tenant.as_str()
    {
        return Err(HttpError::Forbidden);
    }
    let participant = body.participant.trim();
    if participant.is_empty() || participant.len() > MAX_ADDRESS_BYTES {
        return Err(HttpError::BadRequest(format!(
            "participant must be 1 to {MAX_ADDRESS_BYTES} bytes"
        )));
    }
    let app = state.app();
    let private_key = state
        .private_key(&tenant)
        .ok_or_else(|| HttpError::internal(format!("tenant {tenant} has no unlocked key")))?;
    let node = NodeKey::load_or_create(&app.data_dir.root().join("keyring"))
        .map_err(HttpError::internal)?;
    let request = SubjectAccessRequest {
        tenant: tenant.clone(),
        participant: Pii::new(participant.to_owned()),
        actor: principal.actor(),
        via: "http",
    };
    let plan = subject_access::plan(app, &node, &request).await?;
    let (zip, summary) = subject_access::export(
        app,
        &node,
        private_key,
        &request,
        &plan,
        Cursor::new(Vec::new()),
    )
    .await?;
    let mut response = zip.into_inner().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    let disposition = format!(
        "attachment; filename=\"subject-access-{tenant}-{}.zip\"",
        &summary.manifest_sha256[..12]
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&summary.manifest_sha256) {
        headers.insert("x-onrecord-manifest-sha256", value);
    }
    Ok(response)
}
