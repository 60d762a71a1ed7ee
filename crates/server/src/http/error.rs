//! The one mapping from what went wrong to an HTTP response. Internals never reach a client:
//! a server-side failure is logged and answered with a plain 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed, and whose side it is on.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No token, or one that is malformed, unknown or revoked (the client's side).
    #[error("a valid token is required")]
    Unauthenticated,
    /// The token is valid but its role does not allow this.
    #[error("this token's role does not allow this")]
    Forbidden,
    /// Missing, or another tenant's (deliberately the same answer).
    #[error("not found")]
    NotFound,
    /// The recording was erased: its key is gone and its content with it.
    #[error("the recording was erased")]
    Gone,
    #[error("{0}")]
    BadRequest(String),
    /// The request contradicts what is stored (e.g. shortening minimum retention).
    #[error("{0}")]
    Conflict(String),
    #[error("the requested range cannot be satisfied")]
    RangeNotSatisfiable { len: u64 },
    /// The stored format cannot be served this way (e.g. peaks of an MP3 import).
    #[error("{0}")]
    Unsupported(String),
    /// Our side: the catalog, the store, a key, a damaged object.
    #[error("internal error")]
    Internal(String),
}

impl HttpError {
    pub fn internal(error: impl std::fmt::Display) -> HttpError {
        HttpError::Internal(error.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::Unauthenticated => StatusCode::UNAUTHORIZED,
            HttpError::Forbidden => StatusCode::FORBIDDEN,
            HttpError::NotFound => StatusCode::NOT_FOUND,
            HttpError::Gone => StatusCode::GONE,
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::Conflict(_) => StatusCode::CONFLICT,
            HttpError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            HttpError::Unsupported(_) => StatusCode::UNPROCESSABLE_ENTITY,
            HttpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<catalog::CatalogError> for HttpError {
    fn from(error: catalog::CatalogError) -> HttpError {
        match error {
            catalog::CatalogError::Invalid(message) => HttpError::BadRequest(message),
            other => HttpError::internal(other),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if let HttpError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed on the server side");
        }
        let status = self.status();
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        let headers = response.headers_mut();
        match self {
            HttpError::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"onrecord\""),
                );
            }
            HttpError::RangeNotSatisfiable { len } => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
            }
            _ => {}
        }
        response
    }
}
