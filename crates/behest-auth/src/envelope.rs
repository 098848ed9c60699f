//! Secrets at rest: AES-256-GCM under the operator's master key. Every value gets a fresh
//! random 96-bit nonce; what the secret belongs to (e.g. `provider_key:<tenant>:openai`)
//! is bound as associated data, so a sealed value copied onto another row does not
//! open; the master key's id travels with the value, so the key can be rotated
//! (`behest keys rotate-master`): values sealed under a previous key still open, and
//! re-sealing moves them to the current one.
//!
//! A sealed value is text: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("a master key is 32 bytes, written as 64 hex digits or standard base64")]
    BadMasterKey,
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value needs master key {0}, which is not configured")]
    UnknownKey(String),
    /// Wrong key, wrong associated data, or tampered ciphertext: GCM cannot tell which.
    #[error("the sealed value does not open (tampered, or sealed for something else)")]
    Unauthentic,
}

/// One master key and its id (derived from the key: the id says nothing about it).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
    /// The key as the key file writes it (standard base64).
    text: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        let digest = Sha256::new()
            .chain_update(b"behest master key id\0")
            .chain_update(bytes)
            .finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        MasterKey {
            id,
            cipher: Aes256Gcm::new(bytes.into()),
            text: STANDARD.encode(bytes),
        }
    }

    /// A new random key.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        MasterKey::from_bytes(&bytes)
    }

    /// 64 hex digits or standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<MasterKey, EnvelopeError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| EnvelopeError::BadMasterKey)?
        } else {
            STANDARD
                .decode(text)
                .map_err(|_| EnvelopeError::BadMasterKey)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| EnvelopeError::BadMasterKey)?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as written to the key file (standard base64). A secret.
    pub fn to_text(&self) -> &str {
        &self.text
    }
}

/// The current master key (seals) and the previous ones (still open).
#[derive(Debug, Clone)]
pub struct Envelope {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Envelope {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Envelope {
        Envelope { current, previous }
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    pub fn previous(&self) -> &[MasterKey] {
        &self.previous
    }

    /// Seals `secret` for `context` (what it belongs to) under the current key.
    pub fn seal(&self, secret: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail for inputs under
        // GCM's 64 GiB limit; an empty value is the only fallback needed.
        let sealed = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        format!(
            "{VERSION}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(body)
        )
    }

    /// Opens a value sealed for `context` under any configured key.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, EnvelopeError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(EnvelopeError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| EnvelopeError::UnknownKey(key_id.to_owned()))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| EnvelopeError::Malformed)?;
        if body.len() < NONCE_LEN + 16 {
            return Err(EnvelopeError::Malformed);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| EnvelopeError::Malformed)?;
        key.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| EnvelopeError::Unauthentic)
    }

    /// Opens a UTF-8 secret.
    pub fn open_text(&self, sealed: &str, context: &str) -> Result<String, EnvelopeError> {
        String::from_utf8(self.open(sealed, context)?).map_err(|_| EnvelopeError::Unauthentic)
    }

    /// Whether `sealed` is under a previous key (rotation re-seals it).
    pub fn is_stale(&self, sealed: &str) -> bool {
        sealed
            .split('.')
            .nth(1)
            .is_some_and(|id| id != self.current.id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope::new(MasterKey::generate(), Vec::new())
    }

    #[test]
    fn a_sealed_value_opens_for_its_context_only() {
        let env = envelope();
        let sealed = env.seal(b"sk-secret-1234", "provider_key:t1:openai");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            env.open(&sealed, "provider_key:t1:openai").unwrap(),
            b"sk-secret-1234"
        );
        assert_eq!(
            env.open(&sealed, "provider_key:t2:openai"),
            Err(EnvelopeError::Unauthentic)
        );
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let env = envelope();
        let a = env.seal(b"same", "c");
        let b = env.seal(b"same", "c");
        assert_ne!(a, b);
        assert_ne!(a.split('.').nth(2), b.split('.').nth(2));
    }

    #[test]
    fn a_flipped_bit_anywhere_is_refused() {
        let env = envelope();
        let sealed = env.seal(b"value", "c");
        let (head, body) = sealed.rsplit_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(body).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(env.open(&tampered, "c"), Err(EnvelopeError::Unauthentic));
            raw[i] ^= 1;
        }
        assert_eq!(env.open("v1.x", "c"), Err(EnvelopeError::Malformed));
        assert_eq!(env.open("nonsense", "c"), Err(EnvelopeError::Malformed));
    }

    #[test]
    fn rotation_keeps_old_values_open_and_marks_them_stale() {
        let old = MasterKey::generate();
        let before = Envelope::new(old.clone(), Vec::new());
        let sealed = before.seal(b"value", "c");
        let after = Envelope::new(MasterKey::generate(), vec![old]);
        assert!(after.is_stale(&sealed));
        assert_eq!(after.open(&sealed, "c").unwrap(), b"value");
        let resealed = after.seal(b"value", "c");
        assert!(!after.is_stale(&resealed));
        // Without the old key the old value names the key it needs.
        let forgotten = Envelope::new(after.current().clone(), Vec::new());
        assert!(matches!(
            forgotten.open(&sealed, "c"),
            Err(EnvelopeError::UnknownKey(_))
        ));
    }

    #[test]
    fn master_keys_parse_from_hex_and_base64_only_at_32_bytes() {
        let key = MasterKey::generate();
        assert_eq!(MasterKey::parse(key.to_text()).unwrap().id(), key.id());
        let hex = "00".repeat(32);
        assert_eq!(
            MasterKey::parse(&hex).unwrap().id(),
            MasterKey::from_bytes(&[0; 32]).id()
        );
        assert_eq!(
            MasterKey::parse("c2hvcnQ=").unwrap_err(),
            EnvelopeError::BadMasterKey
        );
        assert!(!format!("{key:?}").contains(key.to_text()));
    }
}
