//! Who is asking: every request carries a token (`Authorization: Bearer …`, or the UI's
//! cookie set at sign-in). A tenant token reaches only its tenant's recordings; an operator
//! token reaches only content-blind figures.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use catalog::TokenRole;
use model::TenantId;

use super::HttpState;
use super::error::HttpError;
use super::tokens::{self, PresentedToken};

/// The UI's session cookie; it holds the token itself (HttpOnly, SameSite=Strict).
pub const COOKIE: &str = "onrecord_token";

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// List and search, read metadata and consent evidence.
    Read,
    /// Decrypt and play audio, read waveform peaks.
    Listen,
    /// Fetch the original stored payload.
    Original,
    /// Read a recording's audit trail.
    AuditTrail,
    /// Content-blind figures of every tenant.
    OperatorFigures,
    /// Export everything of one data subject (a subject access bundle): the tenant's admin
    /// (its data protection officer) only.
    SubjectAccess,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub tenant: Option<TenantId>,
    pub role: TokenRole,
}

impl Principal {
    pub fn actor(&self) -> String {
        tokens::actor(&self.token_id)
    }

    pub fn may(&self, permission: Permission) -> bool {
        use Permission::{AuditTrail, Listen, OperatorFigures, Original, Read, SubjectAccess};
        match self.role {
            TokenRole::Viewer => matches!(permission, Read | Listen),
            TokenRole::Supervisor => matches!(permission, Read | Listen | Original | AuditTrail),
            TokenRole::Auditor => matches!(permission, Read | AuditTrail),
            TokenRole::Admin => matches!(
                permission,
                Read | Listen | Original | AuditTrail | SubjectAccess
            ),
            TokenRole::Operator => matches!(permission, OperatorFigures),
        }
    }

    /// The tenant whose content this caller may reach with `permission`, or 403.
    pub fn tenant_for(&self, permission: Permission) -> Result<&TenantId, HttpError> {
        match (&self.tenant, self.may(permission)) {
            (Some(tenant), true) => Ok(tenant),
            _ => Err(HttpError::Forbidden),
        }
    }

    pub fn require(&self, permission: Permission) -> Result<(), HttpError> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(HttpError::Forbidden)
        }
    }
}

/// The token text of a request: the bearer header first, then the UI cookie.
pub fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Checks a token's text against the catalog.
pub async fn authenticate(state: &HttpState, text: &str) -> Result<Principal, HttpError> {
    let presented = PresentedToken::parse(text).ok_or(HttpError::Unauthenticated)?;
    let stored = state
        .app()
        .catalog
        .token(&presented.id)
        .await?
        .ok_or(HttpError::Unauthenticated)?;
    if stored.revoked_at.is_some() || !presented.matches(&stored) {
        return Err(HttpError::Unauthenticated);
    }
    Ok(Principal {
        token_id: stored.id,
        tenant: stored.tenant,
        role: stored.role,
    })
}

impl FromRequestParts<HttpState> for Principal {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Principal, HttpError> {
        let text = presented(&parts.headers).ok_or(HttpError::Unauthenticated)?;
        authenticate(state, &text).await
    }
}
