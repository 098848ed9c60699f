//! Bearer JWT → [`Principal`]. RS256 only; the key is chosen from *our* registry by
//! `kid` (platform keys, or for `sk_` kids the owning tenant's registered key) and the
//! token's own `alg`, `jwk`, `jku` or `x5u` are never trusted. `exp`, `nbf`, `iat`,
//! `aud` and `iss` are all required and checked, with a small leeway.
//!
//! Verified tokens are cached (keyed by the token text) until they expire or the
//! directory changes, so a client that reuses its token pays for the RSA check once.

use crate::directory::{DirectorySnapshot, ProjectSnapshot};
use crate::guard::ActivePolicy;
use behest_auth::keyring::Keyring;
use behest_core::mint::TierRef;
use behest_http::{ApiError, ErrorCode};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;
/// Cached verifications kept at most; the cache is emptied when full.
const CACHE_CAPACITY: usize = 10_000;

/// Who is calling, for which project, as the token says.
#[derive(Debug, Clone)]
pub struct Principal {
    pub project: Arc<ProjectSnapshot>,
    pub uid: String,
    pub role: String,
    pub session_id: Option<String>,
    pub tier: Option<TierRef>,
    pub exp: i64,
}

/// The claims we read. Tokens from the legacy signing client carry no `role`, `sid`,
/// `jti` or `scp`: those default.
#[derive(Debug, Deserialize)]
struct TokenClaims {
    tid: Uuid,
    pid: Uuid,
    uid: String,
    #[serde(default = "default_role")]
    role: String,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    tier: Option<TierRef>,
    exp: i64,
}

impl Principal {
    /// The policy this caller's requests run with: its tier's, else the project's.
    pub fn policy(&self) -> &Arc<ActivePolicy> {
        self.project.policy_for(self.tier.as_ref())
    }
}

fn default_role() -> String {
    "user".to_owned()
}

pub struct Verifier {
    keyring: Arc<Keyring>,
    validation: Validation,
    cache: Mutex<HashMap<Box<str>, (u64, Principal)>>,
}

impl Verifier {
    pub fn new(keyring: Arc<Keyring>, accepted_issuers: &[String]) -> Verifier {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_audience(&[behest_auth::claims::AUDIENCE]);
        validation.set_issuer(accepted_issuers);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Verifier {
            keyring,
            validation,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `token` for a request routed to `routed` (by host or path), or — on the
    /// bare host — for the project its `pid` names.
    pub fn verify(
        &self,
        token: &str,
        directory: &DirectorySnapshot,
        routed: Option<&Arc<ProjectSnapshot>>,
    ) -> Result<Principal, ApiError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(principal) = self.cached(token, directory.generation, now) {
            return check_route(principal, routed);
        }
        let principal = self.verify_uncached(token, directory)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(token.into(), (directory.generation, principal.clone()));
        drop(cache);
        check_route(principal, routed)
    }

    fn cached(&self, token: &str, generation: u64, now: i64) -> Option<Principal> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (cached_generation, principal) = cache.get(token)?;
        (*cached_generation == generation && principal.exp + LEEWAY_SECS as i64 > now)
            .then(|| principal.clone())
    }

    fn verify_uncached(
        &self,
        token: &str,
        directory: &DirectorySnapshot,
    ) -> Result<Principal, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthorized("malformed bearer token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::unauthorized("only RS256 tokens are accepted"));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::unauthorized("token has no kid"))?;
        // Pick the key from our registry: a tenant key for `sk_` kids, else a platform key.
        let (key, key_tenant): (DecodingKey, Option<Uuid>) =
            if kid.starts_with(behest_auth::tenant_keys::KID_PREFIX) {
                let tenant_key = directory
                    .tenant_key(&kid)
                    .ok_or_else(|| ApiError::unauthorized("unknown signing key"))?;
                (tenant_key.decoding.clone(), Some(tenant_key.tenant_id))
            } else {
                let key = self
                    .keyring
                    .decoding_key(&kid)
                    .ok_or_else(|| ApiError::unauthorized("unknown signing key"))?;
                (key, None)
            };
        let claims = jsonwebtoken::decode::<TokenClaims>(token, &key, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::new(ErrorCode::TokenExpired, "token has expired")
                }
                ErrorKind::ImmatureSignature => ApiError::unauthorized("token is not valid yet"),
                ErrorKind::InvalidAudience => {
                    ApiError::unauthorized("token audience is not behest")
                }
                ErrorKind::InvalidIssuer => ApiError::unauthorized("token issuer is not accepted"),
                ErrorKind::MissingRequiredClaim(claim) => {
                    ApiError::unauthorized(format!("token lacks the {claim} claim"))
                }
                _ => ApiError::unauthorized("invalid token"),
            })?
            .claims;
        let project = directory
            .project_by_id(&claims.pid)
            .ok_or_else(|| ApiError::unauthorized("token names an unknown project"))?;
        if project.tenant_id != claims.tid {
            return Err(ApiError::unauthorized(
                "token tenant does not own its project",
            ));
        }
        // A tenant's key signs for that tenant's projects only.
        if key_tenant.is_some_and(|tenant| tenant != project.tenant_id) {
            return Err(ApiError::unauthorized(
                "signing key belongs to another tenant",
            ));
        }
        Ok(Principal {
            project: project.clone(),
            uid: claims.uid,
            role: claims.role,
            session_id: claims.sid,
            tier: claims.tier,
            exp: claims.exp,
        })
    }
}

/// The token's project must be the one the host or path named.
fn check_route(
    principal: Principal,
    routed: Option<&Arc<ProjectSnapshot>>,
) -> Result<Principal, ApiError> {
    match routed {
        Some(project) if project.id != principal.project.id => {
            Err(ApiError::forbidden("token was issued for another project"))
        }
        _ => Ok(principal),
    }
}
