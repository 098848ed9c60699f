//! Behest for Rust servers: short-lived, per-end-user JWTs for your users' browsers,
//! the same two ways as the TypeScript (`@behest/client-ts`) and Python (`behest-ai`)
//! SDKs, chosen by the key's prefix:
//!
//! - an API key (`behest_sk_live_...`): `POST {base_url}/v1/auth/mint`;
//! - a tenant signing key (`behest_pk_<PKCS#8 PEM>`, with its `kid`, the tenant and the
//!   project): RS256 signed here, with the claims the server mints, in its order
//!   (`tid, pid, uid, role, scp, iss, aud, iat, nbf, exp, jti, sid, tier`).
//!
//! ```no_run
//! # async fn run() -> Result<(), behest_client::Error> {
//! use behest_client::{Behest, Config, MintOptions};
//! let behest = Behest::new(Config::from_env()?)?; // BEHEST_KEY, BEHEST_BASE_URL, ...
//! let minted = behest.mint(MintOptions::user("user-123").ttl(900)).await?;
//! // Hand minted.token, minted.session_id and minted.expires_at to the browser.
//! let cached = behest.token(MintOptions::user("user-123")).await?; // reused until ~60 s before expiry
//! # Ok(()) }
//! ```
//!
//! `*.localhost` hosts (a local `behest serve`'s project hosts) resolve to loopback, as
//! browsers resolve them (RFC 6761), though the system resolver does not.

mod error;

pub use error::{redact, ApiError, Error, Result};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.behest.ai";
pub const DEFAULT_USER_ID: &str = "default";
pub const DEFAULT_TTL: u32 = 3600;
pub const DEFAULT_ISSUER: &str = "https://api.behest.ai";
pub const DEFAULT_AUDIENCE: &str = "behest";
/// A cached token is minted again when it has less than this left (at most half its life).
pub const DEFAULT_REFRESH_MARGIN_SECS: i64 = 60;

/// How tokens are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `behest_sk_live_...`: minted by the server.
    ApiKey,
    /// `behest_pk_...`: signed here with the tenant's key.
    Sign,
}

/// A tier: an index into the project's tiers by sort order, or a tier name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tier {
    Index(u32),
    Name(String),
}

impl From<u32> for Tier {
    fn from(i: u32) -> Tier {
        Tier::Index(i)
    }
}

impl From<&str> for Tier {
    fn from(s: &str) -> Tier {
        Tier::Name(s.to_owned())
    }
}

impl Tier {
    fn parse(text: &str) -> Tier {
        text.trim()
            .parse()
            .map_or_else(|_| Tier::Name(text.trim().to_owned()), Tier::Index)
    }
}

/// What the client needs; `Debug` never shows the key.
#[derive(Clone)]
pub struct Config {
    mode: Mode,
    key: String,
    pub base_url: String,
    pub default_user_id: String,
    pub ttl: u32,
    pub tier: Option<Tier>,
    pub issuer: String,
    pub audience: String,
    pub kid: Option<String>,
    pub tenant_id: Option<String>,
    pub project_id: Option<String>,
    pub refresh_margin_secs: i64,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("key", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("default_user_id", &self.default_user_id)
            .field("ttl", &self.ttl)
            .field("tier", &self.tier)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kid", &self.kid)
            .field("tenant_id", &self.tenant_id)
            .field("project_id", &self.project_id)
            .finish()
    }
}

const KEY_FORMAT: &str =
    "BEHEST_KEY must be an API key (behest_sk_live_*) or a base64-encoded RSA private key";

static WARNED_LEGACY_ENV: AtomicBool = AtomicBool::new(false);

/// The mode a key selects, and the key unwrapped (the PEM, in sign mode).
pub fn detect_mode(raw: &str) -> Result<(Mode, String)> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(Error::config("missing_env", KEY_FORMAT));
    }
    if key.starts_with("behest_sk_live_") {
        return Ok((Mode::ApiKey, key.to_owned()));
    }
    if let Some(pem) = key.strip_prefix("behest_pk_") {
        let pem = if !pem.contains('\n') && pem.contains("\\n") {
            pem.replace("\\n", "\n")
        } else {
            pem.to_owned()
        };
        return Ok((Mode::Sign, pem));
    }
    use base64::Engine as _;
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(key) {
        if let Ok(text) = String::from_utf8(bytes) {
            if text.contains("BEGIN PRIVATE KEY") || text.contains("BEGIN RSA PRIVATE KEY") {
                return Ok((Mode::Sign, text));
            }
        }
    }
    Err(Error::config("bad_key_format", KEY_FORMAT))
}

impl Config {
    /// A configuration for `key`, with the defaults (no environment read). In sign mode,
    /// set `kid`, `tenant_id` and `project_id` before [`Behest::new`].
    pub fn new(key: &str) -> Result<Config> {
        let (mode, key) = detect_mode(key)?;
        Ok(Config {
            mode,
            key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            default_user_id: DEFAULT_USER_ID.to_owned(),
            ttl: DEFAULT_TTL,
            tier: None,
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            kid: None,
            tenant_id: None,
            project_id: None,
            refresh_margin_secs: DEFAULT_REFRESH_MARGIN_SECS,
        })
    }

    /// From the process environment: `BEHEST_KEY` (or the deprecated `BEHEST_API_KEY`,
    /// warned about once on stderr), `BEHEST_BASE_URL`, `BEHEST_USER_ID`, `BEHEST_TTL`,
    /// `BEHEST_TIER`, `BEHEST_ISSUER`, `BEHEST_AUDIENCE`, and in sign mode `BEHEST_KID`,
    /// `BEHEST_TENANT_ID`, `BEHEST_PROJECT_ID`.
    pub fn from_env() -> Result<Config> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// As [`Config::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let key = match lookup("BEHEST_KEY") {
            Some(key) => key,
            None => match lookup("BEHEST_API_KEY") {
                Some(key) => {
                    if !WARNED_LEGACY_ENV.swap(true, Ordering::Relaxed) {
                        eprintln!("[behest] `BEHEST_API_KEY` is deprecated; rename to `BEHEST_KEY`.");
                    }
                    key
                }
                None => {
                    return Err(Error::config(
                        "missing_env",
                        "BEHEST_KEY is required but was not set (no BEHEST_KEY or legacy BEHEST_API_KEY in env).",
                    ))
                }
            },
        };
        let mut config = Config::new(&key)?;
        let int = |name: &str| -> Result<Option<u32>> {
            lookup(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| Error::config("bad_env", format!("{name} must be an integer")))
                })
                .transpose()
        };
        if let Some(v) = lookup("BEHEST_BASE_URL") {
            config.base_url = v;
        }
        if let Some(v) = lookup("BEHEST_USER_ID") {
            config.default_user_id = v;
        }
        if let Some(v) = int("BEHEST_TTL")? {
            config.ttl = v;
        }
        config.tier = lookup("BEHEST_TIER").map(|v| Tier::parse(&v));
        if let Some(v) = lookup("BEHEST_ISSUER") {
            config.issuer = v;
        }
        if let Some(v) = lookup("BEHEST_AUDIENCE") {
            config.audience = v;
        }
        config.kid = lookup("BEHEST_KID");
        config.tenant_id = lookup("BEHEST_TENANT_ID");
        config.project_id = lookup("BEHEST_PROJECT_ID");
        Ok(config)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn base_url(mut self, url: impl Into<String>) -> Config {
        self.base_url = url.into();
        self
    }

    /// Sign mode: the signing key's id (`sk_...`), its tenant and the project.
    pub fn signing(
        mut self,
        kid: impl Into<String>,
        tenant_id: impl Into<String>,
        project_id: impl Into<String>,
    ) -> Config {
        self.kid = Some(kid.into());
        self.tenant_id = Some(tenant_id.into());
        self.project_id = Some(project_id.into());
        self
    }
}

/// What to mint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MintOptions {
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub tier: Option<Tier>,
    /// Seconds, 60-86400.
    pub ttl: Option<u32>,
    /// `user` (default), `dashboard-service` or `admin`.
    pub role: Option<String>,
}

impl MintOptions {
    pub fn user(user_id: impl Into<String>) -> MintOptions {
        MintOptions {
            user_id: Some(user_id.into()),
            ..MintOptions::default()
        }
    }
    pub fn ttl(mut self, ttl: u32) -> MintOptions {
        self.ttl = Some(ttl);
        self
    }
    pub fn tier(mut self, tier: impl Into<Tier>) -> MintOptions {
        self.tier = Some(tier.into());
        self
    }
    pub fn session(mut self, session_id: impl Into<String>) -> MintOptions {
        self.session_id = Some(session_id.into());
        self
    }
    pub fn role(mut self, role: impl Into<String>) -> MintOptions {
        self.role = Some(role.into());
        self
    }
}

/// A token; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MintResult {
    /// The JWT: the browser's `apiKey` for the OpenAI SDK.
    pub token: String,
    /// Its lifetime in seconds.
    pub ttl: u32,
    /// Send as `X-Session-Id`.
    pub session_id: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl fmt::Debug for MintResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintResult")
            .field("token", &"[redacted]")
            .field("ttl", &self.ttl)
            .field("session_id", &self.session_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The claims, in the order the server mints them.
#[derive(Serialize)]
struct Claims<'a> {
    tid: &'a str,
    pid: &'a str,
    uid: &'a str,
    role: &'a str,
    scp: [&'a str; 0],
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<&'a Tier>,
}

#[derive(Deserialize)]
struct MintAnswer {
    access_token: Option<String>,
    jwt: Option<String>,
    ttl: Option<u32>,
    session_id: Option<String>,
    expires_at: Option<i64>,
}

/// Unix seconds; tests inject their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

type Slot = Arc<tokio::sync::Mutex<Option<MintResult>>>;

/// The client; cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct Behest {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    http: reqwest::Client,
    signing: Option<EncodingKey>,
    clock: Clock,
    cache: Mutex<HashMap<MintOptions, Slot>>,
}

impl fmt::Debug for Behest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Behest")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// `*.localhost` to loopback (RFC 6761), everything else to the system resolver.
struct LocalhostResolver;

fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

impl reqwest::dns::Resolve for LocalhostResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = if is_localhost_name(&host) {
                vec![
                    (Ipv4Addr::LOCALHOST, 0).into(),
                    (Ipv6Addr::LOCALHOST, 0).into(),
                ]
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

const MAX_CACHED: usize = 1000;

impl Behest {
    /// A client with its own HTTP client and the system clock.
    pub fn new(config: Config) -> Result<Behest> {
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(LocalhostResolver))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        Self::with_parts(config, http, Arc::new(|| chrono::Utc::now().timestamp()))
    }

    /// A client with the given HTTP client and clock (Unix seconds).
    pub fn with_parts(config: Config, http: reqwest::Client, clock: Clock) -> Result<Behest> {
        let signing = match config.mode {
            Mode::ApiKey => None,
            Mode::Sign => {
                let missing: Vec<&str> = [
                    ("BEHEST_KID", &config.kid),
                    ("BEHEST_TENANT_ID", &config.tenant_id),
                    ("BEHEST_PROJECT_ID", &config.project_id),
                ]
                .iter()
                .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
                .map(|(name, _)| *name)
                .collect();
                if !missing.is_empty() {
                    return Err(Error::config(
                        "missing_env",
                        format!(
                            "Sign mode requires {}. Provide them via env or the config.",
                            missing.join(", ")
                        ),
                    ));
                }
                Some(EncodingKey::from_rsa_pem(config.key.as_bytes()).map_err(|_| {
                    Error::config(
                        "invalid_signing_key",
                        "Invalid RSA private key (expected PEM: BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)",
                    )
                })?)
            }
        };
        Ok(Behest {
            inner: Arc::new(Inner {
                config,
                http,
                signing,
                clock,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn mode(&self) -> Mode {
        self.inner.config.mode
    }

    /// A new token, always: minted by the server (API key) or signed here (sign mode).
    pub async fn mint(&self, options: MintOptions) -> Result<MintResult> {
        let c = &self.inner.config;
        let user_id = options.user_id.unwrap_or_else(|| c.default_user_id.clone());
        let role = options.role.unwrap_or_else(|| "user".to_owned());
        let ttl = options.ttl.unwrap_or(c.ttl);
        let tier = options.tier.or_else(|| c.tier.clone());
        let session_id = options
            .session_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        match &self.inner.signing {
            None => {
                self.mint_http(&user_id, &role, ttl, tier.as_ref(), &session_id)
                    .await
            }
            Some(key) => self.sign(key, &user_id, &role, ttl, tier.as_ref(), &session_id),
        }
    }

    /// A token for `options` from the cache while it has more than the refresh margin
    /// (60 s, at most half its lifetime) left, else a new one. Concurrent calls for the
    /// same options share one mint.
    pub async fn token(&self, options: MintOptions) -> Result<MintResult> {
        let slot = {
            let mut cache = self.inner.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= MAX_CACHED && !cache.contains_key(&options) {
                cache.clear();
            }
            cache.entry(options.clone()).or_default().clone()
        };
        let mut held = slot.lock().await;
        if let Some(result) = held.as_ref().filter(|r| self.fresh(r)) {
            return Ok(result.clone());
        }
        let result = self.mint(options).await?;
        *held = Some(result.clone());
        Ok(result)
    }

    /// Forgets every cached token.
    pub fn clear_cache(&self) {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn fresh(&self, result: &MintResult) -> bool {
        let margin = self
            .inner
            .config
            .refresh_margin_secs
            .min(i64::from(result.ttl) / 2);
        result.expires_at - (self.inner.clock)() > margin
    }

    fn secrets(&self) -> [&str; 1] {
        [self.inner.config.key.as_str()]
    }

    async fn mint_http(
        &self,
        user_id: &str,
        role: &str,
        ttl: u32,
        tier: Option<&Tier>,
        session_id: &str,
    ) -> Result<MintResult> {
        let c = &self.inner.config;
        let mut body = serde_json::json!({"user_id": user_id, "role": role, "ttl": ttl, "session_id": session_id});
        if let Some(tier) = tier {
            body["tier"] = serde_json::to_value(tier).unwrap_or_default();
        }
        let url = format!("{}/v1/auth/mint", c.base_url.trim_end_matches('/'));
        let response = self
            .inner
            .http
            .post(url)
            .bearer_auth(&c.key)
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Network(redact(&e.to_string(), &self.secrets())))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let trace_id = header("x-trace-id");
        let retry_after = header("retry-after");
        let text = response
            .text()
            .await
            .map_err(|e| Error::Network(redact(&e.to_string(), &self.secrets())))?;
        if status >= 400 {
            return Err(Error::from_answer(
                status,
                trace_id,
                retry_after.as_deref(),
                &text,
                &self.secrets(),
            ));
        }
        let answer: MintAnswer = serde_json::from_str(&text)
            .map_err(|_| Error::Network("the mint answer was not the API's JSON".into()))?;
        let token = answer
            .jwt
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Network("Mint response missing jwt/access_token".into()))?;
        let ttl = answer.ttl.unwrap_or(ttl);
        Ok(MintResult {
            token,
            ttl,
            session_id: answer
                .session_id
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| session_id.to_owned()),
            expires_at: answer
                .expires_at
                .unwrap_or_else(|| (self.inner.clock)() + i64::from(ttl)),
        })
    }

    fn sign(
        &self,
        key: &EncodingKey,
        user_id: &str,
        role: &str,
        ttl: u32,
        tier: Option<&Tier>,
        session_id: &str,
    ) -> Result<MintResult> {
        if !(60..=86400).contains(&ttl) {
            return Err(Error::BadRequest(ApiError {
                status: 400,
                code: "validation_error".into(),
                message: format!("ttl must be between 60 and 86400 seconds, got {ttl}"),
                trace_id: None,
                retry_after: None,
            }));
        }
        let c = &self.inner.config;
        let now = (self.inner.clock)();
        let exp = now + i64::from(ttl);
        let claims = Claims {
            tid: c.tenant_id.as_deref().unwrap_or_default(),
            pid: c.project_id.as_deref().unwrap_or_default(),
            uid: user_id,
            role,
            scp: [],
            iss: &c.issuer,
            aud: &c.audience,
            iat: now,
            nbf: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id,
            tier,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = c.kid.clone();
        header.typ = Some("JWT".to_owned());
        let token = jsonwebtoken::encode(&header, &claims, key)
            .map_err(|_| Error::config("invalid_signing_key", "signing the token failed"))?;
        Ok(MintResult {
            token,
            ttl,
            session_id: session_id.to_owned(),
            expires_at: exp,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn modes_by_prefix() {
        assert_eq!(detect_mode(" behest_sk_live_abc ").unwrap().0, Mode::ApiKey);
        assert_eq!(
            detect_mode("behest_pk_-----BEGIN PRIVATE KEY-----\\nA\\n-----END PRIVATE KEY-----")
                .unwrap(),
            (
                Mode::Sign,
                "-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----".to_owned()
            )
        );
        assert_eq!(detect_mode("").unwrap_err().code(), "missing_env");
        assert_eq!(
            detect_mode("sk-openai").unwrap_err().code(),
            "bad_key_format"
        );
        assert!(is_localhost_name("amber-fox-042.localhost"));
        assert!(!is_localhost_name("localhost.example.com"));
    }

    #[test]
    fn env_and_legacy_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let c = Config::from_lookup(env(&[
            ("BEHEST_API_KEY", "behest_sk_live_legacy"),
            ("BEHEST_BASE_URL", "http://x.localhost:1"),
            ("BEHEST_TTL", "120"),
            ("BEHEST_TIER", "2"),
        ]))
        .unwrap();
        assert_eq!(c.mode(), Mode::ApiKey);
        assert_eq!((c.base_url.as_str(), c.ttl), ("http://x.localhost:1", 120));
        assert_eq!(c.tier, Some(Tier::Index(2)));
        assert!(!format!("{c:?}").contains("legacy"));
        let err = Config::from_lookup(env(&[])).unwrap_err();
        assert_eq!(err.code(), "missing_env");
        let sign = Config::from_lookup(env(&[("BEHEST_KEY", "behest_pk_x")])).unwrap();
        let err = Behest::new(sign).unwrap_err();
        assert!(err
            .to_string()
            .contains("BEHEST_KID, BEHEST_TENANT_ID, BEHEST_PROJECT_ID"));
    }
}
