//! The platform's signing keys: the newest active key signs minted tokens; every key
//! that may still have a valid token out there stays published in the JWKS and usable
//! for verification. The keys themselves live in the store (so replicas share them);
//! the control plane loads them into a [`Keyring`] and reloads it periodically, off the
//! request path. This crate knows nothing of the store.

use crate::claims::Claims;
use crate::rsa_keys::{self, Jwk, KeyError};
use behest_core::mint::TTL_RANGE;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use std::sync::{Arc, RwLock};

/// How long a retired key stays published: the longest token it could have signed,
/// plus clock skew.
pub fn publish_after_retirement() -> Duration {
    Duration::seconds(*TTL_RANGE.end() + 300)
}

pub use behest_core::keys::PlatformKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("JWT: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("no active platform signing key")]
    NoSigningKey,
    #[error("key generation task failed")]
    Join,
}

struct LoadedKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
    retired_at: Option<DateTime<Utc>>,
}

/// The cached key set; cheap to share.
#[derive(Default)]
pub struct Keyring {
    keys: RwLock<Arc<Vec<LoadedKey>>>,
}

impl Keyring {
    /// Replaces the key set with `keys` (newest first), leaving out retired keys whose
    /// tokens have all expired.
    pub fn replace(&self, keys: &[PlatformKey]) -> Result<(), KeyringError> {
        let now = Utc::now();
        let mut loaded = Vec::new();
        for key in keys {
            if key
                .retired_at
                .is_some_and(|retired| retired + publish_after_retirement() <= now)
            {
                continue;
            }
            loaded.push(load(key)?);
        }
        let mut slot = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(loaded);
        Ok(())
    }

    fn snapshot(&self) -> Arc<Vec<LoadedKey>> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The kid that signs new tokens: the newest key not retired.
    pub fn signing_kid(&self) -> Option<String> {
        self.snapshot()
            .iter()
            .find(|k| k.retired_at.is_none())
            .map(|k| k.kid.clone())
    }

    /// Signs `claims` as an RS256 JWT with the current signing key.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyringError> {
        let keys = self.snapshot();
        let key = keys
            .iter()
            .find(|k| k.retired_at.is_none())
            .ok_or(KeyringError::NoSigningKey)?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("JWT".to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    /// Every key still valid for verification, newest first.
    pub fn jwks(&self) -> Vec<Jwk> {
        let now = Utc::now();
        self.snapshot()
            .iter()
            .filter(|k| {
                k.retired_at
                    .is_none_or(|retired| now < retired + publish_after_retirement())
            })
            .map(|k| k.jwk.clone())
            .collect()
    }

    /// The verification key for a platform `kid`, if it is still published.
    pub fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        self.snapshot()
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.decoding.clone())
    }
}

/// A fresh platform key (RSA generation runs off the async workers).
pub async fn generate_platform_key() -> Result<PlatformKey, KeyringError> {
    let pair = tokio::task::spawn_blocking(rsa_keys::generate)
        .await
        .map_err(|_| KeyringError::Join)??;
    let public = rsa_keys::public_from_pem(&pair.public_pem)?;
    let (n, e) = rsa_keys::components(&public);
    let now = Utc::now();
    Ok(PlatformKey {
        kid: rsa_keys::thumbprint(&n, &e),
        private_key_pem: pair.private_pem,
        // Microseconds, as every store keeps them, so the value read back is equal.
        created_at: chrono::DurationRound::duration_trunc(now, Duration::microseconds(1))
            .unwrap_or(now),
        retired_at: None,
    })
}

fn load(key: &PlatformKey) -> Result<LoadedKey, KeyringError> {
    let public = rsa_keys::public_from_private_pem(&key.private_key_pem)?;
    let (n, e) = rsa_keys::components(&public);
    Ok(LoadedKey {
        kid: key.kid.clone(),
        encoding: EncodingKey::from_rsa_pem(key.private_key_pem.as_bytes())?,
        decoding: DecodingKey::from_rsa_components(&n, &e)?,
        jwk: Jwk {
            kty: "RSA",
            n,
            e,
            kid: key.kid.clone(),
            use_: "sig",
            alg: "RS256",
        },
        retired_at: key.retired_at,
    })
}
