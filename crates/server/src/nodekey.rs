//! The node's Ed25519 signing key and signed documents.
//!
//! The key lives in `DATA_DIR/keyring/node.key` (0600, created on first use; refused when
//! group or others can read it). It signs erasure receipts and anything else the node attests
//! to. A signed document is JSON:
//!
//! ```text
//! { "body": { ... }, "signature": { "algorithm": "ed25519", "public_key": HEX, "value": HEX } }
//! ```
//!
//! The signed bytes are `DOMAIN ‖ kind ‖ 0x00 ‖ canonical JSON of body`, where canonical JSON is
//! serde_json's compact form of the parsed value (object keys sorted), so a document verifies
//! after any reformatting. Verification never trusts the embedded public key: the caller
//! supplies the node's key (its own, or one given on the command line).
//!
//! The node key also derives the secret salt that pseudonymises erased participants
//! (`catalog::governance`), so pseudonyms are stable per node and unguessable without it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const FORMAT: &str = "onrecord-node-key-v1";
const DOMAIN: &[u8] = b"onrecord/signed/v1\0";

#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    #[error("node key {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("node key {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("not a signed onrecord document: {0}")]
    Malformed(String),
    #[error("the document is a {actual}, not a {expected}")]
    WrongKind { expected: String, actual: String },
    #[error("the signature does not verify with the node's public key {0}")]
    BadSignature(String),
}

/// The node's signing key.
pub struct NodeKey {
    signing: SigningKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey({})", self.public_hex())
    }
}

pub fn path(keyring_root: &Path) -> PathBuf {
    keyring_root.join("node.key")
}

impl NodeKey {
    /// Loads the node key, creating it (0600) if there is none yet.
    pub fn load_or_create(keyring_root: &Path) -> Result<NodeKey, NodeKeyError> {
        let path = path(keyring_root);
        let io = |source| NodeKeyError::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            std::fs::create_dir_all(keyring_root).map_err(io)?;
            let mut secret = Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(secret.as_mut_slice());
            let signing = SigningKey::from_bytes(&secret);
            let text = serde_json::to_string_pretty(&json!({
                "format": FORMAT,
                "secret_key": hex::encode(secret.as_slice()),
                "public_key": hex::encode(signing.verifying_key().as_bytes()),
            }))
            .map_err(|e| io(std::io::Error::other(e)))?;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(text.as_bytes()).map_err(io)?;
                    file.sync_all().map_err(io)?;
                }
                // Another process created it first: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(io(error)),
            }
        }
        NodeKey::load(keyring_root)
    }

    pub fn load(keyring_root: &Path) -> Result<NodeKey, NodeKeyError> {
        let path = path(keyring_root);
        let invalid = |message: &str| NodeKeyError::Invalid {
            path: path.clone(),
            message: message.to_owned(),
        };
        let metadata = std::fs::metadata(&path).map_err(|source| NodeKeyError::Io {
            path: path.clone(),
            source,
        })?;
        if metadata.permissions().mode() & 0o077 != 0 {
            return Err(invalid("is readable by group or others; chmod 600 it"));
        }
        let text =
            Zeroizing::new(
                std::fs::read_to_string(&path).map_err(|source| NodeKeyError::Io {
                    path: path.clone(),
                    source,
                })?,
            );
        let file: Value = serde_json::from_str(&text).map_err(|e| invalid(&e.to_string()))?;
        if file["format"] != FORMAT {
            return Err(invalid("not an onrecord node key"));
        }
        let secret = Zeroizing::new(
            hex::decode(file["secret_key"].as_str().unwrap_or_default())
                .map_err(|_| invalid("secret_key is not hex"))?,
        );
        let secret: [u8; 32] = secret
            .as_slice()
            .try_into()
            .map_err(|_| invalid("secret_key is not 32 bytes"))?;
        Ok(NodeKey {
            signing: SigningKey::from_bytes(&secret),
        })
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.public_key().as_bytes())
    }

    /// The secret salt for participant pseudonyms.
    pub fn pseudonym_salt(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"onrecord/pseudonym-salt/v1\0");
        hasher.update(self.signing.to_bytes());
        hasher.finalize().into()
    }

    /// `body` signed as a document of `kind`.
    pub fn sign(&self, kind: &str, body: Value) -> Value {
        let signature = self.sign_bytes(kind, body.to_string().as_bytes());
        json!({
            "kind": kind,
            "body": body,
            "signature": {
                "algorithm": "ed25519",
                "public_key": self.public_hex(),
                "value": hex::encode(signature),
            },
        })
    }

    /// A bare signature over `bytes` under `kind` (for records kept in the catalog).
    pub fn sign_bytes(&self, kind: &str, bytes: &[u8]) -> [u8; 64] {
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(kind.as_bytes());
        message.push(0);
        message.extend_from_slice(bytes);
        self.signing.sign(&message).to_bytes()
    }
}

/// The key to verify a signed document with: the one given (`--public-key HEX`), else this
/// data dir's node key. Never the key a document carries inside itself.
pub fn verification_key(
    data_dir: &crate::datadir::DataDir,
    public_key: Option<&str>,
) -> anyhow::Result<VerifyingKey> {
    use anyhow::Context;
    match public_key {
        Some(text) => Ok(parse_public_key(text)?),
        None => Ok(NodeKey::load(&data_dir.root().join("keyring"))
            .context("no --public-key given and this data dir has no node key")?
            .public_key()),
    }
}

/// Parses a public key given as 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, VerifyError> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| VerifyError::Malformed("public key must be 64 hex digits".into()))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| VerifyError::Malformed("not an Ed25519 public key".into()))
}

/// Verifies a signed document of `kind` with `key`; returns its body.
pub fn verify<'a>(
    document: &'a Value,
    kind: &str,
    key: &VerifyingKey,
) -> Result<&'a Value, VerifyError> {
    let actual = document["kind"]
        .as_str()
        .ok_or_else(|| VerifyError::Malformed("no kind".into()))?;
    if actual != kind {
        return Err(VerifyError::WrongKind {
            expected: kind.into(),
            actual: actual.into(),
        });
    }
    let body = document
        .get("body")
        .ok_or_else(|| VerifyError::Malformed("no body".into()))?;
    // serde_json without `preserve_order` keeps object keys sorted: canonical for our values.
    verify_bytes(kind, body.to_string().as_bytes(), document, key)?;
    Ok(body)
}

fn verify_bytes(
    kind: &str,
    body: &[u8],
    document: &Value,
    key: &VerifyingKey,
) -> Result<(), VerifyError> {
    let value = document["signature"]["value"]
        .as_str()
        .ok_or_else(|| VerifyError::Malformed("no signature".into()))?;
    let signature = parse_signature(value)?;
    verify_signature(kind, body, &signature, key)
}

pub fn parse_signature(text: &str) -> Result<Signature, VerifyError> {
    let bytes: [u8; 64] = hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| VerifyError::Malformed("signature must be 128 hex digits".into()))?;
    Ok(Signature::from_bytes(&bytes))
}

/// Verifies a bare signature made by [`NodeKey::sign_bytes`].
pub fn verify_signature(
    kind: &str,
    bytes: &[u8],
    signature: &Signature,
    key: &VerifyingKey,
) -> Result<(), VerifyError> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(kind.as_bytes());
    message.push(0);
    message.extend_from_slice(bytes);
    key.verify(&message, signature)
        .map_err(|_| VerifyError::BadSignature(hex::encode(key.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_document_verifies_and_any_change_to_its_body_fails()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let key = NodeKey::load_or_create(dir.path())?;
        let mode = std::fs::metadata(path(dir.path()))?.permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let document = key.sign("test", json!({ "b": 1, "a": ["x"] }));
        // Reformatting does not matter.
        let reparsed: Value = serde_json::from_str(&serde_json::to_string_pretty(&document)?)?;
        assert!(verify(&reparsed, "test", &key.public_key()).is_ok());
        let mut changed = reparsed.clone();
        changed["body"]["b"] = json!(2);
        assert!(matches!(
            verify(&changed, "test", &key.public_key()),
            Err(VerifyError::BadSignature(_))
        ));
        let other = NodeKey::load_or_create(tempfile::tempdir()?.path())?;
        assert!(verify(&reparsed, "test", &other.public_key()).is_err());
        assert!(matches!(
            verify(&reparsed, "other", &key.public_key()),
            Err(VerifyError::WrongKind { .. })
        ));
        // Loading again gives the same key.
        assert_eq!(NodeKey::load(dir.path())?.public_hex(), key.public_hex());
        Ok(())
    }
}
