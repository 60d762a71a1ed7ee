//! API tokens: minting and checking. A token reads `onr_<id>.<secret>`: the id (12 hex
//! digits) is public and names the actor in the audit log; the secret (32 random bytes, hex)
//! is shown once and only its SHA-256 digest is stored.

use anyhow::{Context, Result};
use catalog::{ApiToken, AuditNote, NewToken, TokenRole};
use model::TenantId;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::App;

const PREFIX: &str = "onr_";
const ID_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// A token as presented by a client, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    pub id: String,
    secret: [u8; SECRET_BYTES],
}

impl PresentedToken {
    /// `None` for anything not shaped like a token (checked before any catalog read).
    pub fn parse(text: &str) -> Option<PresentedToken> {
        let (id, secret) = text.trim().strip_prefix(PREFIX)?.split_once('.')?;
        let id_ok = id.len() == ID_BYTES * 2 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !id_ok {
            return None;
        }
        let mut bytes = [0u8; SECRET_BYTES];
        hex::decode_to_slice(secret, &mut bytes).ok()?;
        Some(PresentedToken {
            id: id.to_ascii_lowercase(),
            secret: bytes,
        })
    }

    /// Whether this token's secret is the one `stored` was minted with (constant time).
    pub fn matches(&self, stored: &ApiToken) -> bool {
        let digest: [u8; 32] = Sha256::digest(self.secret).into();
        aws_lc_rs::constant_time::verify_slices_are_equal(&digest, &stored.secret_hash).is_ok()
    }
}

/// The audit actor of a token: `token:<id>`.
pub fn actor(id: &str) -> String {
    format!("token:{id}")
}

/// Mints a token, stores its digest and returns the token text (shown once).
pub async fn create(
    app: &App,
    tenant: Option<TenantId>,
    role: TokenRole,
    label: String,
) -> Result<String> {
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut id);
    rand::rng().fill_bytes(&mut secret);
    let id = hex::encode(id);
    let token = ApiToken {
        id: id.clone(),
        secret_hash: Sha256::digest(secret).into(),
        tenant: tenant.clone(),
        role,
        label: label.clone(),
        created_at: app.clock.wall(),
        revoked_at: None,
    };
    app.catalog
        .create_token(&NewToken {
            token,
            audit: AuditNote::new(
                app.actor.clone(),
                "token.created",
                json!({ "token": id, "role": role.as_str(), "label": label }),
            ),
        })
        .await
        .with_context(|| match &tenant {
            Some(tenant) => format!("cannot create a {role} token for tenant {tenant}"),
            None => "cannot create an operator token".to_owned(),
        })?;
    Ok(format!("{PREFIX}{id}.{}", hex::encode(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_well_formed_tokens() {
        let good = format!("onr_0123456789ab.{}", "ab".repeat(32));
        assert_eq!(
            PresentedToken::parse(&good).map(|token| token.id),
            Some("0123456789ab".to_owned())
        );
        for bad in [
            "",
            "Bearer x",
            "onr_0123456789ab",
            &format!("onr_0123.{}", "ab".repeat(32)),
            &format!("onr_0123456789ab.{}", "ab".repeat(31)),
            &format!("onr_0123456789zz.{}", "ab".repeat(32)),
            &format!("xyz_0123456789ab.{}", "ab".repeat(32)),
        ] {
            assert_eq!(PresentedToken::parse(bad), None, "{bad}");
        }
    }
}
