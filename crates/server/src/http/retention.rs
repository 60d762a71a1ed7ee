//! Retention over the API: read a tenant's retention and set or raise a minimum retention.
//! An admin token reaches its own tenant, an operator token any tenant (retention is not
//! content). Lowering a minimum is refused with 409 and the refusal is audited, exactly as
//! from the command line.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use catalog::TokenRole;
use catalog::retention::FloorScope;
use chrono::SecondsFormat;
use model::TenantId;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::HttpState;
use super::auth::Principal;
use super::error::HttpError;
use crate::governance::retention::{self, ShortenRefused};

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/tenants/{tenant}/retention", get(show))
        .route(
            "/api/v1/tenants/{tenant}/retention/minimum",
            put(set_minimum),
        )
}

/// `PUT …/retention/minimum`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinimumRequest {
    /// The tag whose recordings the minimum covers; absent: every recording of the tenant.
    pub tag: Option<String>,
    pub minimum_days: u32,
}

/// The tenant the path names, if this token may manage its retention. Another tenant's
/// admin gets 404, like a tenant that does not exist.
fn tenant(state: &HttpState, principal: &Principal, text: &str) -> Result<TenantId, HttpError> {
    let tenant = TenantId::new(text).map_err(|_| HttpError::NotFound)?;
    state
        .app()
        .config
        .tenant(&tenant)
        .ok_or(HttpError::NotFound)?;
    match (principal.role, &principal.tenant) {
        (TokenRole::Operator, _) => Ok(tenant),
        (TokenRole::Admin, Some(own)) if *own == tenant => Ok(tenant),
        (TokenRole::Admin, _) => Err(HttpError::NotFound),
        _ => Err(HttpError::Forbidden),
    }
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/retention", tag = "governance",
    params(("tenant" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "The tenant's default and per-tag retention (days) and its stored minimum retentions (scope, minimum_days, set_at, set_by)"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "Neither an admin nor an operator token"),
        (status = 404, description = "No such tenant, or another tenant's admin token"),
    ),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<HttpState>,
    principal: Principal,
    Path(text): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let tenant = tenant(&state, &principal, &text)?;
    let app = state.app();
    let config = app.tenant_config(&tenant).map_err(HttpError::internal)?;
    let floors = app.catalog.retention_floors(Some(&tenant)).await?;
    Ok(Json(json!({
        "tenant": tenant,
        "default_days": config.retention.policy.default_days,
        "tags": config.retention.policy.tags,
        "minimums": floors.iter().map(|floor| json!({
            "scope": floor.scope.label(),
            "minimum_days": floor.minimum_days,
            "set_at": floor.set_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "set_by": floor.set_by,
        })).collect::<Vec<_>>(),
    })))
}

#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/retention/minimum", tag = "governance",
    params(("tenant" = String, Path, description = "The tenant id")),
    request_body = MinimumRequest,
    responses(
        (status = 200, description = "The minimum was set or raised (audited)"),
        (status = 400, description = "A minimum outside 1 to the largest retention allowed, or a malformed body"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "Neither an admin nor an operator token"),
        (status = 404, description = "No such tenant, or another tenant's admin token"),
        (status = 409, description = "The request would lower a stored minimum retention: refused, and the refusal audited"),
    ),
    security(("bearer" = [])))]
pub async fn set_minimum(
    State(state): State<HttpState>,
    principal: Principal,
    Path(text): Path<String>,
    Json(request): Json<MinimumRequest>,
) -> Result<Json<Value>, HttpError> {
    let tenant = tenant(&state, &principal, &text)?;
    let scope = match request.tag {
        Some(tag) => FloorScope::Tag(tag),
        None => FloorScope::Tenant,
    };
    let change = retention::set_minimum(
        state.app(),
        &tenant,
        scope,
        request.minimum_days,
        &principal.actor(),
        "api",
    )
    .await
    .map_err(|error| match error.downcast::<ShortenRefused>() {
        Ok(refused) => HttpError::Conflict(refused.to_string()),
        Err(error) => match error.downcast_ref::<catalog::CatalogError>() {
            Some(catalog::CatalogError::Invalid(message)) => HttpError::BadRequest(message.clone()),
            _ => HttpError::internal(format!("{error:#}")),
        },
    })?;
    Ok(Json(json!(change)))
}
