//! Tenant key pairs, per-recording data keys and the HPKE sealing of one to the other.
//!
//! RFC 9180 suite: DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, mode base
//! (RFC 9180 §5.1.1). The [`KeyBinding`] goes into the HPKE `info` so that a sealed key
//! opens only for the tenant and recording it was sealed for.

use std::fmt;
use std::str::FromStr;

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use model::{RecordingId, TenantId};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::SealError;

type Kem = X25519HkdfSha256;
type Kdf = HkdfSha256;
type Aead = AesGcm256;

/// Length of a data key: one AES-256 key.
pub const DATA_KEY_LEN: usize = 32;
/// Length of an X25519 public or private key (RFC 9180 §7.1, `Npk` = `Nsk` = 32).
pub const TENANT_KEY_LEN: usize = 32;
/// Length of an HPKE encapsulated key for DHKEM(X25519) (RFC 9180 §7.1, `Nenc` = 32).
const ENCAPSULATED_KEY_LEN: usize = 32;
/// AES-256-GCM tag length (RFC 9180 §7.3, `Nt` = 16).
const HPKE_TAG_LEN: usize = 16;
/// Version byte of the sealed data key layout.
const SEALED_DATA_KEY_VERSION: u8 = 1;
/// Length of a sealed data key: version, encapsulated key, encrypted key and tag.
pub const SEALED_DATA_KEY_LEN: usize = 1 + ENCAPSULATED_KEY_LEN + DATA_KEY_LEN + HPKE_TAG_LEN;
/// Prefix of the text form of a tenant public key.
const PUBLIC_KEY_TEXT_PREFIX: &str = "x25519:";
/// Domain separation for the HPKE `info` of a sealed data key.
const DATA_KEY_INFO_LABEL: &[u8] = b"onrecord data key v1\0";

/// Adapts the caller's `rand_core` 0.9 generator (what `rand` 0.9 hands out) to the
/// `rand_core` version the HPKE crate asks for. It forwards bytes and adds nothing.
struct HpkeRng<'a, R>(&'a mut R);

impl<R: RngCore> hpke::rand_core::TryRng for HpkeRng<'_, R> {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.0.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.0.next_u64())
    }

    fn try_fill_bytes(&mut self, destination: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_bytes(destination);
        Ok(())
    }
}

impl<R: RngCore + CryptoRng> hpke::rand_core::TryCryptoRng for HpkeRng<'_, R> {}

/// A tenant's public key: data keys are sealed to it. Safe to put in config files; the text
/// form is `x25519:` followed by 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantPublicKey(<Kem as hpke::Kem>::PublicKey);

impl TenantPublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<TenantPublicKey, SealError> {
        if bytes.len() != TENANT_KEY_LEN {
            return Err(SealError::KeyEncoding("a tenant public key is 32 bytes"));
        }
        <Kem as hpke::Kem>::PublicKey::from_bytes(bytes)
            .map(TenantPublicKey)
            .map_err(|_| SealError::KeyEncoding("not an X25519 public key"))
    }

    pub fn to_bytes(&self) -> [u8; TENANT_KEY_LEN] {
        let mut bytes = [0u8; TENANT_KEY_LEN];
        self.0.write_exact(&mut bytes);
        bytes
    }

    /// Parses the text form `x25519:<64 hex digits>`.
    pub fn from_text(text: &str) -> Result<TenantPublicKey, SealError> {
        let digits =
            text.trim()
                .strip_prefix(PUBLIC_KEY_TEXT_PREFIX)
                .ok_or(SealError::KeyEncoding(
                    "a tenant public key starts with 'x25519:'",
                ))?;
        let mut bytes = [0u8; TENANT_KEY_LEN];
        hex::decode_to_slice(digits, &mut bytes)
            .map_err(|_| SealError::KeyEncoding("a tenant public key has 64 hex digits"))?;
        TenantPublicKey::from_bytes(&bytes)
    }

    /// The text form `x25519:<64 lowercase hex digits>`.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_KEY_TEXT_PREFIX}{}", hex::encode(self.to_bytes()))
    }
}

impl fmt::Display for TenantPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl fmt::Debug for TenantPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantPublicKey({})", self.to_text())
    }
}

impl FromStr for TenantPublicKey {
    type Err = SealError;
    fn from_str(text: &str) -> Result<Self, SealError> {
        TenantPublicKey::from_text(text)
    }
}

/// A tenant's private key, kept in the tenant keyring. Zeroized on drop (the X25519 secret
/// inside is zeroize-on-drop); `Debug` prints nothing of it.
#[derive(Clone)]
pub struct TenantPrivateKey(<Kem as hpke::Kem>::PrivateKey);

impl TenantPrivateKey {
    /// Reads the 32 bytes of the keyring file.
    pub fn from_bytes(bytes: &[u8]) -> Result<TenantPrivateKey, SealError> {
        if bytes.len() != TENANT_KEY_LEN {
            return Err(SealError::KeyEncoding("a tenant private key is 32 bytes"));
        }
        <Kem as hpke::Kem>::PrivateKey::from_bytes(bytes)
            .map(TenantPrivateKey)
            .map_err(|_| SealError::KeyEncoding("not an X25519 private key"))
    }

    /// The 32 bytes for the keyring file, zeroized when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; TENANT_KEY_LEN]> {
        let mut bytes = Zeroizing::new([0u8; TENANT_KEY_LEN]);
        let mut serialized = self.0.to_bytes();
        bytes.copy_from_slice(&serialized);
        serialized.as_mut_slice().zeroize();
        bytes
    }

    pub fn public_key(&self) -> TenantPublicKey {
        TenantPublicKey(Kem::sk_to_pk(&self.0))
    }
}

impl fmt::Debug for TenantPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TenantPrivateKey(<redacted>)")
    }
}

/// A fresh tenant key pair from the caller's random generator.
pub fn generate_tenant_keypair<R>(rng: &mut R) -> (TenantPrivateKey, TenantPublicKey)
where
    R: RngCore + CryptoRng,
{
    let (private_key, public_key) = Kem::gen_keypair_with_rng(&mut HpkeRng(rng));
    (TenantPrivateKey(private_key), TenantPublicKey(public_key))
}

/// What a sealed data key is bound to: it opens only for this tenant and this recording.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub tenant: TenantId,
    pub recording: RecordingId,
}

impl KeyBinding {
    /// The HPKE `info` (RFC 9180 §5.1): a label, then the length-prefixed tenant id, then the
    /// 16 bytes of the recording id. Tenant ids are at most 63 bytes, so one length byte holds.
    fn hpke_info(&self) -> Vec<u8> {
        let tenant = self.tenant.as_str().as_bytes();
        let mut info = Vec::with_capacity(DATA_KEY_INFO_LABEL.len() + 1 + tenant.len() + 16);
        info.extend_from_slice(DATA_KEY_INFO_LABEL);
        info.push(u8::try_from(tenant.len()).unwrap_or(u8::MAX));
        info.extend_from_slice(tenant);
        info.extend_from_slice(self.recording.as_bytes());
        info
    }
}

/// The AES-256 key of one recording. Random, zeroized on drop, `Debug` prints nothing of it.
/// At rest it exists only as a [`SealedDataKey`].
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    pub fn generate<R>(rng: &mut R) -> DataKey
    where
        R: RngCore + CryptoRng,
    {
        let mut bytes = Zeroizing::new([0u8; DATA_KEY_LEN]);
        rng.fill_bytes(bytes.as_mut_slice());
        DataKey(bytes)
    }

    /// A data key from raw bytes, for a key service that unwraps keys itself and for the
    /// fuzz target. Anything else gets its keys from [`DataKey::generate`] or
    /// [`SealedDataKey::open`].
    pub fn dangerous_from_bytes(bytes: [u8; DATA_KEY_LEN]) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }

    pub(crate) fn secret_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }

    /// Seals this key to the tenant's public key for one recording (RFC 9180 §6.1 `SealBase`).
    pub fn seal_to<R>(
        &self,
        tenant_key: &TenantPublicKey,
        binding: &KeyBinding,
        rng: &mut R,
    ) -> Result<SealedDataKey, SealError>
    where
        R: RngCore + CryptoRng,
    {
        let mut sealed = [0u8; SEALED_DATA_KEY_LEN];
        sealed[0] = SEALED_DATA_KEY_VERSION;
        let (encapsulated, ciphertext) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
            &OpModeS::Base,
            &tenant_key.0,
            &binding.hpke_info(),
            self.0.as_slice(),
            &[SEALED_DATA_KEY_VERSION],
            &mut HpkeRng(rng),
        )
        .map_err(|_| SealError::KeyEncoding("cannot seal to this tenant public key"))?;
        let encapsulated = encapsulated.to_bytes();
        let (encapsulated_slot, ciphertext_slot) = sealed[1..].split_at_mut(ENCAPSULATED_KEY_LEN);
        if encapsulated.len() != encapsulated_slot.len()
            || ciphertext.len() != ciphertext_slot.len()
        {
            return Err(SealError::Crypto);
        }
        encapsulated_slot.copy_from_slice(&encapsulated);
        ciphertext_slot.copy_from_slice(&ciphertext);
        Ok(SealedDataKey(sealed))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A data key sealed to a tenant public key: version byte (1), HPKE encapsulated key
/// (32 bytes), encrypted data key with its tag (48 bytes). Stored in the catalog only, never
/// beside the ciphertext, so deleting the row erases every copy of the recording.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedDataKey([u8; SEALED_DATA_KEY_LEN]);

impl SealedDataKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<SealedDataKey, SealError> {
        let sealed: [u8; SEALED_DATA_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| SealError::KeyEncoding("a sealed data key is 81 bytes"))?;
        if sealed[0] != SEALED_DATA_KEY_VERSION {
            return Err(SealError::KeyEncoding(
                "unsupported sealed data key version",
            ));
        }
        Ok(SealedDataKey(sealed))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Opens the data key (RFC 9180 §6.1 `OpenBase`). Fails with [`SealError::Key`] for the
    /// wrong tenant key, another binding, or altered bytes.
    pub fn open(
        &self,
        tenant_key: &TenantPrivateKey,
        binding: &KeyBinding,
    ) -> Result<DataKey, SealError> {
        let (encapsulated, ciphertext) = self.0[1..].split_at(ENCAPSULATED_KEY_LEN);
        let encapsulated = <Kem as hpke::Kem>::EncappedKey::from_bytes(encapsulated)
            .map_err(|_| SealError::Key)?;
        let plaintext = Zeroizing::new(
            hpke::single_shot_open::<Aead, Kdf, Kem>(
                &OpModeR::Base,
                &tenant_key.0,
                &encapsulated,
                &binding.hpke_info(),
                ciphertext,
                &[self.0[0]],
            )
            .map_err(|_| SealError::Key)?,
        );
        let bytes: [u8; DATA_KEY_LEN] = plaintext
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Key)?;
        Ok(DataKey::dangerous_from_bytes(bytes))
    }
}

impl fmt::Debug for SealedDataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedDataKey(v{}, {} bytes)", self.0[0], self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    fn binding(tenant: &str, recording_millis: u64) -> KeyBinding {
        KeyBinding {
            tenant: TenantId::new(tenant).unwrap_or_else(|error| panic!("{error}")),
            recording: RecordingId::from_parts(recording_millis, [7; 10]),
        }
    }

    #[test]
    fn sealed_data_key_opens_to_the_same_key() -> Result<(), SealError> {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (private_key, public_key) = generate_tenant_keypair(&mut rng);
        let data_key = DataKey::generate(&mut rng);
        let binding = binding("acme", 1);
        let sealed = data_key.seal_to(&public_key, &binding, &mut rng)?;
        let reread = SealedDataKey::from_bytes(sealed.as_bytes())?;
        let opened = reread.open(&private_key, &binding)?;
        assert_eq!(opened.secret_bytes(), data_key.secret_bytes());
        Ok(())
    }

    #[test]
    fn sealed_data_key_does_not_open_for_another_recording_or_tenant() -> Result<(), SealError> {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let (private_key, public_key) = generate_tenant_keypair(&mut rng);
        let sealed =
            DataKey::generate(&mut rng).seal_to(&public_key, &binding("acme", 1), &mut rng)?;
        assert_eq!(
            sealed.open(&private_key, &binding("acme", 2)).err(),
            Some(SealError::Key)
        );
        assert_eq!(
            sealed.open(&private_key, &binding("other", 1)).err(),
            Some(SealError::Key)
        );
        Ok(())
    }

    #[test]
    fn sealed_data_key_does_not_open_with_another_tenant_key() -> Result<(), SealError> {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (_, public_key) = generate_tenant_keypair(&mut rng);
        let (other_private_key, _) = generate_tenant_keypair(&mut rng);
        let binding = binding("acme", 1);
        let sealed = DataKey::generate(&mut rng).seal_to(&public_key, &binding, &mut rng)?;
        assert_eq!(
            sealed.open(&other_private_key, &binding).err(),
            Some(SealError::Key)
        );
        Ok(())
    }

    #[test]
    fn any_flipped_bit_of_a_sealed_data_key_is_rejected() -> Result<(), SealError> {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (private_key, public_key) = generate_tenant_keypair(&mut rng);
        let binding = binding("acme", 1);
        let sealed = DataKey::generate(&mut rng).seal_to(&public_key, &binding, &mut rng)?;
        for position in 0..SEALED_DATA_KEY_LEN {
            let mut bytes = sealed.0;
            bytes[position] ^= 0x01;
            let opened =
                SealedDataKey::from_bytes(&bytes).and_then(|k| k.open(&private_key, &binding));
            assert!(opened.is_err(), "flip at {position} accepted");
        }
        Ok(())
    }

    #[test]
    fn tenant_public_key_text_form_round_trips() -> Result<(), SealError> {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (private_key, public_key) = generate_tenant_keypair(&mut rng);
        let text = public_key.to_string();
        assert!(
            text.starts_with("x25519:") && text.len() == 7 + 64,
            "{text}"
        );
        assert_eq!(text.parse::<TenantPublicKey>()?, public_key);
        assert_eq!(
            TenantPublicKey::from_bytes(&public_key.to_bytes())?,
            public_key
        );
        let reread = TenantPrivateKey::from_bytes(private_key.to_bytes().as_slice())?;
        assert_eq!(reread.public_key(), public_key);
        for bad in [
            "",
            "x25519:",
            "ed25519:00",
            "x25519:zz",
            &format!("x25519:{}", "0".repeat(62)),
        ] {
            assert!(bad.parse::<TenantPublicKey>().is_err(), "{bad:?} accepted");
        }
        Ok(())
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let (private_key, _) = generate_tenant_keypair(&mut rng);
        let data_key = DataKey::dangerous_from_bytes([0xab; DATA_KEY_LEN]);
        assert_eq!(format!("{private_key:?}"), "TenantPrivateKey(<redacted>)");
        assert_eq!(format!("{data_key:?}"), "DataKey(<redacted>)");
        let private_hex = hex::encode(private_key.to_bytes().as_slice());
        assert!(!format!("{private_key:?}").contains(&private_hex));
    }

    #[test]
    fn malformed_sealed_data_keys_are_rejected_without_panic() {
        assert!(SealedDataKey::from_bytes(&[]).is_err());
        assert!(SealedDataKey::from_bytes(&[1; SEALED_DATA_KEY_LEN - 1]).is_err());
        assert!(SealedDataKey::from_bytes(&[2; SEALED_DATA_KEY_LEN]).is_err());
        assert!(SealedDataKey::from_bytes(&[1; SEALED_DATA_KEY_LEN]).is_ok());
    }
}
