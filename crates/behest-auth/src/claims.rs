//! The claims of a Behest JWT, in the order the SDKs write them.

use behest_core::mint::TierRef;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The audience every Behest token carries.
pub const AUDIENCE: &str = "behest";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Tenant id.
    pub tid: Uuid,
    /// Project id.
    pub pid: Uuid,
    /// End-user id.
    pub uid: String,
    pub role: String,
    /// Scopes; empty for now, as the SDKs send.
    #[serde(default)]
    pub scp: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// Session id (the app's, or one the mint generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<TierRef>,
}
