//! Bearer JWT → [`Principal`]. RS256 only; the key is chosen from *our* registry by
//! `kid` (platform keys, or for `sk_` kids the owning tenant's registered key) and the
//! token's own `alg`, `jwk`, `jku` or `x5u` are never trusted. `exp`, `nbf`, `iat`,
//! `aud` and `iss` are all required and checked, with a small leeway; `iat` may not be
//! in the future. A token signed with a tenant's key obeys the mint's rules (lifetime at
//! most a day, `uid` 1-255 characters and not reserved), and a token minted with an API
//! key since revoked (named in its `jti`) is refused. Tokens above [`MAX_TOKEN_BYTES`] are
//! refused before anything is parsed.
//!
//! Verified tokens are cached by a keyed 128-bit SipHash-2-4 of the token (the key is
//! random per process, so no one can make a token that lands on another's entry; the
//! token itself is not kept), bounded in entries and in bytes (two
//! generations: a full one is dropped whole, the entries still in use having moved to
//! the newer one). A cached verification holds the project snapshot and the tenant key
//! it was made with, and is used only while the directory still holds those very ones:
//! a change to one tenant's project or key invalidates that tenant's entries only.

use crate::directory::{DirectorySnapshot, ProjectSnapshot, TenantKey};
use crate::guard::ActivePolicy;
use behest_auth::keyring::Keyring;
use behest_core::mint::TierRef;
use behest_http::{ApiError, ErrorCode};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use siphasher::sip128::SipHasher24;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;
/// The largest bearer token read at all (a Behest token is under 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Cached verifications kept at most, in number and in bytes.
const CACHE_MAX_ENTRIES: usize = 20_000;
const CACHE_MAX_BYTES: usize = 8 * 1024 * 1024;

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
    /// Required (checked in [`check_rules`], so a token without it is named as such).
    #[serde(default)]
    iat: Option<i64>,
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
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
    /// Names a token in the cache: a PRF keyed at random, so its 128 bits cannot be
    /// aimed at a cached entry without the key. Cheaper than SHA-256 by a factor of
    /// about twenty where the CPU has no SHA extensions (measured under callgrind:
    /// 48k instructions a request for a 700-byte token), and it needs no collision
    /// resistance against someone who holds the key, as no one does.
    cache_key: SipHasher24,
    cache: Mutex<TokenCache>,
}

/// One verification, and what it was made with.
struct Verified {
    principal: Principal,
    /// The tenant key that signed the token (none: a platform key).
    signer: Option<Arc<TenantKey>>,
}

impl Verified {
    /// Whether the directory still holds the project and key this was verified with.
    fn still_holds(&self, directory: &DirectorySnapshot, now: i64) -> bool {
        let project = &self.principal.project;
        self.principal.exp + LEEWAY_SECS as i64 > now
            && directory
                .project_by_id(&project.id)
                .is_some_and(|current| Arc::ptr_eq(current, project))
            && self.signer.as_ref().is_none_or(|signer| {
                directory
                    .tenant_key(&signer.kid)
                    .is_some_and(|current| Arc::ptr_eq(current, signer))
            })
    }

    /// What the entry costs in memory, roughly: its own size and the strings it owns.
    fn bytes(&self) -> usize {
        let p = &self.principal;
        let tier = match &p.tier {
            Some(TierRef::Name(name)) => name.len(),
            _ => 0,
        };
        // The key, the map's own overhead, the strings.
        std::mem::size_of::<Verified>()
            + 16
            + 16
            + p.uid.len()
            + p.role.len()
            + p.session_id.as_ref().map_or(0, String::len)
            + tier
    }
}

/// Verified tokens by their cache key, in two generations: inserts go to `hot`; when it holds
/// half the budget (entries or bytes) it becomes `cold` and the old `cold` is dropped;
/// a hit in `cold` moves back to `hot`. So the cache never holds more than the budget,
/// and the tokens in use survive a turnover.
struct TokenCache {
    hot: HashMap<u128, Verified>,
    cold: HashMap<u128, Verified>,
    hot_bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl TokenCache {
    fn new(max_entries: usize, max_bytes: usize) -> TokenCache {
        TokenCache {
            hot: HashMap::new(),
            cold: HashMap::new(),
            hot_bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    fn get(&mut self, key: &u128) -> Option<&Verified> {
        if !self.hot.contains_key(key) {
            let entry = self.cold.remove(key)?;
            self.insert(*key, entry);
        }
        self.hot.get(key)
    }

    fn insert(&mut self, key: u128, entry: Verified) {
        let bytes = entry.bytes();
        if self.hot.len() + 1 > self.max_entries / 2 || self.hot_bytes + bytes > self.max_bytes / 2
        {
            self.cold = std::mem::take(&mut self.hot);
            self.hot_bytes = 0;
        }
        self.hot_bytes += bytes;
        if let Some(old) = self.hot.insert(key, entry) {
            self.hot_bytes -= old.bytes();
        }
    }

    fn remove(&mut self, key: &u128) {
        if let Some(old) = self.hot.remove(key) {
            self.hot_bytes -= old.bytes();
        }
        self.cold.remove(key);
    }

    /// Entries and bytes held (for tests and metrics).
    fn size(&self) -> (usize, usize) {
        let cold_bytes: usize = self.cold.values().map(Verified::bytes).sum();
        (
            self.hot.len() + self.cold.len(),
            self.hot_bytes + cold_bytes,
        )
    }
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
            cache_key: SipHasher24::new_with_key(&rand::random()),
            cache: Mutex::new(TokenCache::new(CACHE_MAX_ENTRIES, CACHE_MAX_BYTES)),
        }
    }

    /// Verified tokens cached now: entries and (approximate) bytes.
    pub fn cache_size(&self) -> (usize, usize) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).size()
    }

    /// Verifies `token` for a request routed to `routed` (by host or path), or — on the
    /// bare host — for the project its `pid` names.
    pub fn verify(
        &self,
        token: &str,
        directory: &DirectorySnapshot,
        routed: Option<&Arc<ProjectSnapshot>>,
    ) -> Result<Principal, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::unauthorized(format!(
                "bearer token is larger than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let now = chrono::Utc::now().timestamp();
        let key = self.cache_key.hash(token.as_bytes()).as_u128();
        if let Some(principal) = self.cached(&key, directory, now) {
            return check_route(principal, routed);
        }
        let verified = self.verify_uncached(token, directory, now)?;
        let principal = verified.principal.clone();
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, verified);
        check_route(principal, routed)
    }

    fn cached(&self, key: &u128, directory: &DirectorySnapshot, now: i64) -> Option<Principal> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let entry = cache.get(key)?;
        if entry.still_holds(directory, now) {
            return Some(entry.principal.clone());
        }
        cache.remove(key);
        None
    }

    fn verify_uncached(
        &self,
        token: &str,
        directory: &DirectorySnapshot,
        now: i64,
    ) -> Result<Verified, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthorized("malformed bearer token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::unauthorized("only RS256 tokens are accepted"));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::unauthorized("token has no kid"))?;
        // Pick the key from our registry: a tenant key for `sk_` kids, else a platform key.
        let (key, signer): (DecodingKey, Option<Arc<TenantKey>>) =
            if kid.starts_with(behest_auth::tenant_keys::KID_PREFIX) {
                let tenant_key = directory
                    .tenant_key(&kid)
                    .ok_or_else(|| ApiError::unauthorized("unknown signing key"))?;
                (tenant_key.decoding.clone(), Some(tenant_key.clone()))
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
        check_rules(&claims, signer.is_some(), now)?;
        let project = directory
            .project_by_id(&claims.pid)
            .ok_or_else(|| ApiError::unauthorized("token names an unknown project"))?;
        if project.tenant_id != claims.tid {
            return Err(ApiError::unauthorized(
                "token tenant does not own its project",
            ));
        }
        // A tenant's key signs for that tenant's projects only.
        if signer
            .as_ref()
            .is_some_and(|key| key.tenant_id != project.tenant_id)
        {
            return Err(ApiError::unauthorized(
                "signing key belongs to another tenant",
            ));
        }
        // A platform-minted token names its API key in its jti.
        let minted_by = signer
            .is_none()
            .then(|| {
                claims
                    .jti
                    .as_deref()
                    .and_then(behest_core::mint::jti_key_tag)
            })
            .flatten();
        if minted_by.is_some_and(|tag| project.revoked_keys.contains(&tag)) {
            return Err(ApiError::unauthorized(
                "the API key that minted this token has been revoked",
            ));
        }
        Ok(Verified {
            principal: Principal {
                project: project.clone(),
                uid: claims.uid,
                role: claims.role,
                session_id: claims.sid,
                tier: claims.tier,
                exp: claims.exp,
            },
            signer,
        })
    }
}

/// What a signature alone does not prove: `iat` not in the future; `uid` and `sid` as
/// the mint allows them; for a tenant's own key, a lifetime the mint would grant.
fn check_rules(claims: &TokenClaims, tenant_signed: bool, now: i64) -> Result<(), ApiError> {
    let iat = claims
        .iat
        .ok_or_else(|| ApiError::unauthorized("token lacks the iat claim"))?;
    if iat > now + LEEWAY_SECS as i64 {
        return Err(ApiError::unauthorized("token iat is in the future"));
    }
    behest_core::mint::check_user_id(&claims.uid)
        .map_err(|problem| ApiError::unauthorized(format!("token uid: {}", problem.message())))?;
    if claims
        .sid
        .as_ref()
        .is_some_and(|sid| sid.is_empty() || sid.chars().count() > 255)
    {
        return Err(ApiError::unauthorized("token sid must be 1-255 characters"));
    }
    let longest = *behest_core::mint::TTL_RANGE.end();
    if tenant_signed && claims.exp - iat > longest {
        return Err(ApiError::unauthorized(format!(
            "token lifetime (exp - iat) exceeds {longest} seconds"
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Directory;

    fn verified(project: &Arc<ProjectSnapshot>, uid: &str) -> Verified {
        Verified {
            principal: Principal {
                project: project.clone(),
                uid: uid.to_owned(),
                role: "user".into(),
                session_id: Some("s".repeat(255)),
                tier: None,
                exp: i64::MAX / 2,
            },
            signer: None,
        }
    }

    #[test]
    fn cache_keys_are_keyed_per_process() {
        let verifier = || Verifier::new(Arc::new(Keyring::default()), &[]);
        let (one, other) = (verifier(), verifier());
        let token = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
        let key = |v: &Verifier, t: &str| v.cache_key.hash(t.as_bytes()).as_u128();
        assert_eq!(key(&one, token), key(&one, token));
        assert_ne!(key(&one, token), key(&one, "eyJhbGciOiJSUzI1NiJ9.e30.c2lm"));
        // Another process (here: another verifier) names the same token differently, so
        // a key seen once tells nothing about where any token lands.
        assert_ne!(key(&one, token), key(&other, token));
    }

    #[test]
    fn the_cache_stays_within_its_bytes_and_entries_and_keeps_tokens_in_use() {
        let directory = Directory::new("behest/echo");
        let entry = behest_core::image::ProjectEntry {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            slug: "amber-fox-042".into(),
            suspended: false,
            policy: Default::default(),
            revoked_keys: Vec::new(),
        };
        directory.load_image(&HashMap::from([behest_core::image::ImageEntry::Project(
            Box::new(entry.clone()),
        )
        .encode()
        .unwrap()]));
        let snapshot = directory.snapshot();
        let project = snapshot.project_by_id(&entry.id).unwrap();
        let max_bytes = 64 * 1024;
        let mut cache = TokenCache::new(1_000, max_bytes);
        let hot_key = u128::MAX;
        cache.insert(hot_key, verified(project, "in-use"));
        for i in 0..10_000u32 {
            let key = u128::from(i);
            cache.insert(key, verified(project, &"u".repeat(255)));
            // The token in use is looked up all along: it survives every turnover.
            assert!(cache.get(&hot_key).is_some(), "lost after {i}");
            let (entries, bytes) = cache.size();
            assert!(
                entries <= 1_000 && bytes <= max_bytes,
                "{entries} entries, {bytes} bytes"
            );
        }
        assert!(cache.size().0 > 10, "it still caches");
        // A cached verification holds only while its project snapshot is current.
        let entry = cache.get(&hot_key).unwrap();
        assert!(entry.still_holds(&snapshot, 0));
        let changed = behest_core::image::ProjectEntry {
            suspended: true,
            ..entry_of(project)
        };
        directory.load_image(&HashMap::from([behest_core::image::ImageEntry::Project(
            Box::new(changed),
        )
        .encode()
        .unwrap()]));
        assert!(!entry.still_holds(&directory.snapshot(), 0));
    }

    fn entry_of(project: &ProjectSnapshot) -> behest_core::image::ProjectEntry {
        behest_core::image::ProjectEntry {
            id: project.id,
            tenant_id: project.tenant_id,
            slug: project.slug.clone(),
            suspended: project.suspended,
            policy: Default::default(),
            revoked_keys: Vec::new(),
        }
    }
}
