//! RSA key pairs and their JWK form. Generation takes ~0.1-1 s: run it off the runtime.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("PKCS#8: {0}")]
    Pkcs8(#[from] rsa::pkcs8::Error),
    #[error("SPKI: {0}")]
    Spki(#[from] rsa::pkcs8::spki::Error),
}

/// A new key pair as PEM text: PKCS#8 private, SPKI public.
pub struct KeyPairPem {
    pub private_pem: String,
    pub public_pem: String,
}

pub fn generate() -> Result<KeyPairPem, KeyError> {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)?;
    let public = RsaPublicKey::from(&private);
    Ok(KeyPairPem {
        private_pem: private.to_pkcs8_pem(LineEnding::LF)?.to_string(),
        public_pem: public.to_public_key_pem(LineEnding::LF)?,
    })
}

/// The public JWK of an RSA key, as `/.well-known/jwks.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub n: String,
    pub e: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
}

/// Modulus and exponent, base64url without padding.
pub fn components(public: &RsaPublicKey) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    )
}

/// RFC 7638 thumbprint: a stable key id derived from the key itself.
pub fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

pub fn public_from_private_pem(private_pem: &str) -> Result<RsaPublicKey, KeyError> {
    Ok(RsaPublicKey::from(&RsaPrivateKey::from_pkcs8_pem(
        private_pem,
    )?))
}

pub fn public_from_pem(public_pem: &str) -> Result<RsaPublicKey, KeyError> {
    Ok(RsaPublicKey::from_public_key_pem(public_pem)?)
}
