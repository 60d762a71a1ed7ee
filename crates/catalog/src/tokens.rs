//! API tokens as the catalog keeps them: an id anyone may see (it names the actor in the
//! audit log), the SHA-256 digest of the secret (never the secret), the tenant and role.
//! Minting secrets and checking them is the server's job; this module only stores rows.

use chrono::{DateTime, Utc};
use model::TenantId;

use crate::audit::AuditNote;
use crate::error::CatalogError;
use crate::types::Sha256Digest;

/// Longest token id and label, in bytes.
pub const MAX_TOKEN_ID_BYTES: usize = 64;

/// What a token may do. Tenant roles are scoped to one tenant; an operator token belongs to
/// no tenant and sees only content-blind aggregate figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRole {
    /// Search, read metadata, listen.
    Viewer,
    /// A viewer who may also fetch original payloads and read audit trails.
    Supervisor,
    /// Reads metadata, consent evidence and audit trails; never audio.
    Auditor,
    /// Everything a tenant token can do.
    Admin,
    /// Content-blind figures of every tenant; never a recording.
    Operator,
}

impl TokenRole {
    pub const ALL: [TokenRole; 5] = [
        TokenRole::Viewer,
        TokenRole::Supervisor,
        TokenRole::Auditor,
        TokenRole::Admin,
        TokenRole::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Viewer => "viewer",
            TokenRole::Supervisor => "supervisor",
            TokenRole::Auditor => "auditor",
            TokenRole::Admin => "admin",
            TokenRole::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<TokenRole> {
        TokenRole::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

impl std::fmt::Display for TokenRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub secret_hash: Sha256Digest,
    /// `None` exactly for operator tokens.
    pub tenant: Option<TenantId>,
    pub role: TokenRole,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to store, with the audit entry of its creation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    pub token: ApiToken,
    pub audit: AuditNote,
}

impl ApiToken {
    /// An operator token has no tenant and every tenant token has one.
    pub(crate) fn checked(&self) -> Result<(), CatalogError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_TOKEN_ID_BYTES
            && self
                .id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !id_ok {
            return Err(CatalogError::Invalid(format!(
                "a token id is 1 to {MAX_TOKEN_ID_BYTES} ASCII letters, digits, '-' or '_'"
            )));
        }
        if self.label.len() > crate::types::MAX_SHORT_TEXT_BYTES {
            return Err(CatalogError::Invalid("token label too long".into()));
        }
        match (self.role, &self.tenant) {
            (TokenRole::Operator, None) => Ok(()),
            (TokenRole::Operator, Some(_)) => Err(CatalogError::Invalid(
                "an operator token belongs to no tenant".into(),
            )),
            (_, None) => Err(CatalogError::Invalid(format!(
                "a {} token needs a tenant",
                self.role
            ))),
            (_, Some(_)) => Ok(()),
        }
    }
}

/// How well a tenant's participants are covered by consent evidence (content-blind).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceCoverage {
    pub recordings: u64,
    pub participants: u64,
    /// Participants with at least one evidence item.
    pub covered_participants: u64,
}
