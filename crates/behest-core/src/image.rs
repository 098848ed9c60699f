//! The live image: what the control plane publishes for every gateway process (one
//! JSON entry per project and per tenant signing key, shared through the live state),
//! and what the data plane's directory is built from. The entry types live here so the
//! writer (the control plane, from the store) and the reader (the gateway) share one
//! definition without knowing each other.

use crate::killswitch::KillSwitches;
use crate::policy::ProjectPolicy;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Key prefix of a project's entry (`project:<id>`).
pub const PROJECT_PREFIX: &str = "project:";
/// Key prefix of a tenant signing key's entry (`signing_key:<kid>`).
pub const SIGNING_KEY_PREFIX: &str = "signing_key:";
/// Key prefix of a tenant's own provider keys (`provider_keys:<tenant id>`).
pub const PROVIDER_KEYS_PREFIX: &str = "provider_keys:";
/// The key of the one entry holding every kill switch that is on.
pub const KILL_SWITCHES_KEY: &str = "kill_switches";

/// A project as live traffic sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectEntry {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub slug: String,
    pub suspended: bool,
    pub policy: ProjectPolicy,
    /// API keys revoked within a token's longest lifetime: the tokens they minted
    /// (which name them in their `jti`) are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_keys: Vec<Uuid>,
}

impl ProjectEntry {
    pub fn key(&self) -> String {
        format!("{PROJECT_PREFIX}{}", self.id)
    }
}

/// The public half of a tenant's signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyEntry {
    pub kid: String,
    pub tenant_id: Uuid,
    pub public_key_pem: String,
}

impl SigningKeyEntry {
    pub fn key(&self) -> String {
        format!("{SIGNING_KEY_PREFIX}{}", self.kid)
    }
}

/// A tenant's own provider keys (BYOK), still sealed: the image (in Redis too) never
/// holds a key in the clear; each gateway opens them with the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderKeysEntry {
    pub tenant_id: Uuid,
    pub keys: Vec<SealedProviderKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedProviderKey {
    /// `openai`, `anthropic`, …
    pub provider: String,
    pub sealed_key: String,
    /// The tenant's `base_url_override` (untrusted: reached through the public-only
    /// client).
    pub base_url: Option<String>,
}

/// The associated data a tenant's provider key is sealed with: what it belongs to.
pub fn provider_key_context(tenant_id: Uuid, provider: &str) -> String {
    format!("provider_key:{tenant_id}:{provider}")
}

impl ProviderKeysEntry {
    pub fn key(&self) -> String {
        format!("{PROVIDER_KEYS_PREFIX}{}", self.tenant_id)
    }
}

/// One entry of the image, as its key says.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageEntry {
    /// Boxed: a project's policy is far larger than the other entries.
    Project(Box<ProjectEntry>),
    SigningKey(SigningKeyEntry),
    ProviderKeys(ProviderKeysEntry),
    KillSwitches(KillSwitches),
}

/// Why an image entry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("unknown image key")]
    UnknownKey,
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl ImageEntry {
    /// Reads one entry: the one place image JSON is parsed.
    pub fn parse(key: &str, json: &str) -> Result<ImageEntry, ImageError> {
        if key.starts_with(PROJECT_PREFIX) {
            Ok(ImageEntry::Project(Box::new(serde_json::from_str(json)?)))
        } else if key.starts_with(SIGNING_KEY_PREFIX) {
            Ok(ImageEntry::SigningKey(serde_json::from_str(json)?))
        } else if key.starts_with(PROVIDER_KEYS_PREFIX) {
            Ok(ImageEntry::ProviderKeys(serde_json::from_str(json)?))
        } else if key == KILL_SWITCHES_KEY {
            Ok(ImageEntry::KillSwitches(serde_json::from_str(json)?))
        } else {
            Err(ImageError::UnknownKey)
        }
    }

    /// The entry's key and JSON: the one place image JSON is written.
    pub fn encode(&self) -> Result<(String, String), serde_json::Error> {
        Ok(match self {
            ImageEntry::Project(p) => (p.key(), serde_json::to_string(p)?),
            ImageEntry::SigningKey(k) => (k.key(), serde_json::to_string(k)?),
            ImageEntry::ProviderKeys(k) => (k.key(), serde_json::to_string(k)?),
            ImageEntry::KillSwitches(s) => {
                (KILL_SWITCHES_KEY.to_owned(), serde_json::to_string(s)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_their_key() {
        let project = ImageEntry::Project(Box::new(ProjectEntry {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            slug: "amber-fox-042".into(),
            suspended: false,
            policy: ProjectPolicy::default(),
            revoked_keys: Vec::new(),
        }));
        let (key, json) = project.encode().unwrap();
        assert!(key.starts_with(PROJECT_PREFIX));
        assert_eq!(ImageEntry::parse(&key, &json).unwrap(), project);
        assert!(matches!(
            ImageEntry::parse("other:1", &json),
            Err(ImageError::UnknownKey)
        ));
        assert!(ImageEntry::parse(&key, "{").is_err());
    }
}
