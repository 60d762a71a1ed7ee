//! The tenant keyring: one file per tenant holding its private key, readable only by the
//! owner (0600). Recording needs only the tenant's public key (in the catalog); reading the
//! archive needs the private key from here. With `ONRECORD_KEYRING_PASSPHRASE` set when the
//! key is created, the private key is itself sealed under a key derived from the passphrase
//! (PBKDF2-HMAC-SHA256, AES-256-GCM), and the same variable must be set to read it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use model::TenantId;
use rand::RngCore;
use seal::{TenantPrivateKey, TenantPublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub const PASSPHRASE_ENV: &str = "ONRECORD_KEYRING_PASSPHRASE";
const FORMAT: &str = "onrecord-keyring-v1";
const PBKDF2_ITERATIONS: u32 = 600_000;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "no private key for tenant {tenant} in the keyring ({path}); this node cannot read that tenant's recordings"
    )]
    Missing { tenant: TenantId, path: PathBuf },
    #[error("keyring file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "the private key of tenant {tenant} is protected by a passphrase: set {PASSPHRASE_ENV}"
    )]
    PassphraseRequired { tenant: TenantId },
    #[error("the passphrase in {PASSPHRASE_ENV} does not open the private key of tenant {tenant}")]
    WrongPassphrase { tenant: TenantId },
    #[error("keyring {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyFile {
    format: String,
    tenant: String,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protected: Option<ProtectedKey>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProtectedKey {
    kdf: String,
    iterations: u32,
    salt: String,
    nonce: String,
    sealed_private_key: String,
}

/// The folder of key files.
#[derive(Debug, Clone)]
pub struct Keyring {
    root: PathBuf,
}

impl Keyring {
    pub fn new(root: impl Into<PathBuf>) -> Keyring {
        Keyring { root: root.into() }
    }

    fn path(&self, tenant: &TenantId) -> PathBuf {
        self.root.join(format!("{tenant}.key"))
    }

    /// Writes a new key file (0600, never overwriting one that exists).
    pub fn store(
        &self,
        tenant: &TenantId,
        public: &TenantPublicKey,
        private: &TenantPrivateKey,
        passphrase: Option<&str>,
    ) -> Result<PathBuf, KeyringError> {
        let path = self.path(tenant);
        let io = |source| KeyringError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.root).map_err(io)?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        let secret = Zeroizing::new(private.to_bytes().to_vec());
        let (private_key, protected) = match passphrase {
            None => (Some(hex::encode(secret.as_slice())), None),
            Some(passphrase) => (None, Some(protect(passphrase, &secret))),
        };
        let file = KeyFile {
            format: FORMAT.to_owned(),
            tenant: tenant.to_string(),
            public_key: public.to_text(),
            private_key,
            protected,
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| io(std::io::Error::other(e)))?;
        let mut handle = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        handle.write_all(text.as_bytes()).map_err(io)?;
        handle.sync_all().map_err(io)?;
        Ok(path)
    }

    pub fn has(&self, tenant: &TenantId) -> bool {
        self.path(tenant).exists()
    }

    /// Reads a tenant's private key. Refuses a key file that others can read.
    pub fn private_key(
        &self,
        tenant: &TenantId,
        passphrase: Option<&str>,
    ) -> Result<TenantPrivateKey, KeyringError> {
        let path = self.path(tenant);
        let invalid = |message: &str| KeyringError::Invalid {
            path: path.clone(),
            message: message.to_owned(),
        };
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyringError::Missing {
                    tenant: tenant.clone(),
                    path,
                });
            }
            Err(source) => return Err(KeyringError::Io { path, source }),
        };
        if metadata.permissions().mode() & 0o077 != 0 {
            return Err(invalid("is readable by group or others; chmod 600 it"));
        }
        let text =
            Zeroizing::new(
                std::fs::read_to_string(&path).map_err(|source| KeyringError::Io {
                    path: path.clone(),
                    source,
                })?,
            );
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| invalid(&e.to_string()))?;
        if file.format != FORMAT || file.tenant != tenant.as_str() {
            return Err(invalid("not a key file of this tenant"));
        }
        let secret = match (file.private_key, file.protected) {
            (Some(hex_key), None) => {
                Zeroizing::new(hex::decode(hex_key).map_err(|_| invalid("private_key is not hex"))?)
            }
            (None, Some(protected)) => {
                let passphrase = passphrase.ok_or_else(|| KeyringError::PassphraseRequired {
                    tenant: tenant.clone(),
                })?;
                unprotect(passphrase, &protected).map_err(|()| KeyringError::WrongPassphrase {
                    tenant: tenant.clone(),
                })?
            }
            _ => return Err(invalid("holds neither a plain nor a protected private key")),
        };
        TenantPrivateKey::from_bytes(&secret).map_err(|e| invalid(&e.to_string()))
    }
}

fn derive(passphrase: &str, salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    let iterations =
        std::num::NonZeroU32::new(iterations.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        passphrase.as_bytes(),
        key.as_mut_slice(),
    );
    key
}

fn protect(passphrase: &str, secret: &[u8]) -> ProtectedKey {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    let key = derive(passphrase, &salt, PBKDF2_ITERATIONS);
    let mut sealed = secret.to_vec();
    // AES-256-GCM with a fresh random key per file (fresh salt): a nonce is never reused.
    if let Ok(unbound) = UnboundKey::new(&AES_256_GCM, key.as_slice()) {
        let _ = LessSafeKey::new(unbound).seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(FORMAT.as_bytes()),
            &mut sealed,
        );
    }
    ProtectedKey {
        kdf: "pbkdf2-hmac-sha256".to_owned(),
        iterations: PBKDF2_ITERATIONS,
        salt: hex::encode(salt),
        nonce: hex::encode(nonce),
        sealed_private_key: hex::encode(sealed),
    }
}

fn unprotect(passphrase: &str, protected: &ProtectedKey) -> Result<Zeroizing<Vec<u8>>, ()> {
    let salt = hex::decode(&protected.salt).map_err(|_| ())?;
    let nonce: [u8; NONCE_LEN] = hex::decode(&protected.nonce)
        .map_err(|_| ())?
        .try_into()
        .map_err(|_| ())?;
    let mut sealed = Zeroizing::new(hex::decode(&protected.sealed_private_key).map_err(|_| ())?);
    let key = derive(passphrase, &salt, protected.iterations);
    let unbound = UnboundKey::new(&AES_256_GCM, key.as_slice()).map_err(|_| ())?;
    let plain = LessSafeKey::new(unbound)
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(FORMAT.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| ())?;
    Ok(Zeroizing::new(plain.to_vec()))
}

/// The passphrase from the environment, if set.
pub fn passphrase_from_env() -> Option<String> {
    std::env::var(PASSPHRASE_ENV).ok().filter(|p| !p.is_empty())
}

pub fn exists(root: &Path) -> bool {
    root.is_dir()
}
