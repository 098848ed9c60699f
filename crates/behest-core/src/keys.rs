//! Key material the platform keeps: its own RSA signing keys. Plain data; the auth
//! crate turns it into signing and verification keys, the store keeps it.

use chrono::{DateTime, Utc};

/// An RSA key the platform signs minted tokens with.
#[derive(Clone, PartialEq)]
pub struct PlatformKey {
    pub kid: String,
    /// PKCS#8 PEM.
    pub private_key_pem: String,
    pub created_at: DateTime<Utc>,
    /// When a newer key took over signing; the key stays published for a while after.
    pub retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for PlatformKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKey")
            .field("kid", &self.kid)
            .field("private_key_pem", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_private_key() {
        let key = PlatformKey {
            kid: "k1".into(),
            private_key_pem: "-----BEGIN PRIVATE KEY-----secret".into(),
            created_at: Utc::now(),
            retired_at: None,
        };
        assert!(!format!("{key:?}").contains("secret"));
    }
}
