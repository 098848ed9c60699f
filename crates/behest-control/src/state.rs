//! What the control plane's services share: the store, the platform keyring, the
//! configuration, the job queue's wake-up, and the feed that tells live traffic.

use behest_auth::keyring::Keyring;
use behest_http::SiteDomain;
use behest_store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Settings the control plane takes from the server's configuration.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub site: SiteDomain,
    /// `iss` of minted tokens.
    pub issuer: String,
    /// `ADMIN_SECRET`; the admin routes answer 403 while it is unset.
    pub admin_secret: Option<String>,
    /// Lifetime of a dashboard session.
    pub session_ttl: chrono::Duration,
    /// Providers the platform has credentials for (the echo model needs none).
    pub platform_providers: Vec<behest_providers::Provider>,
    /// The known models: the built-in catalog and the operator's additions.
    pub models: Arc<behest_providers::ModelRegistry>,
    /// Quotas on objects that cost nothing to create.
    pub object_limits: ObjectLimits,
    /// Growing delays after failed sign-ins.
    pub sign_in_limits: crate::sign_in_limits::SignInLimits,
}

/// Quotas on free objects, so the free plan's three projects cannot be multiplied by
/// creating tenants, nor memory grown by creating keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLimits {
    /// Tenants a user may own (the signup's included).
    pub tenants_per_user: usize,
    /// Active API keys per project.
    pub api_keys_per_project: usize,
    /// Active signing keys per tenant.
    pub signing_keys_per_tenant: usize,
}

impl Default for ObjectLimits {
    fn default() -> Self {
        ObjectLimits {
            tenants_per_user: 5,
            api_keys_per_project: 25,
            signing_keys_per_tenant: 10,
        }
    }
}

/// Told about every change live traffic must see (a project created or suspended, a
/// signing key added or revoked). Awaited before the handler answers, so the change is
/// live by the time the caller hears of it.
#[async_trait::async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// `Err` when live traffic could not be updated (the change itself is saved).
    async fn changed(&self) -> Result<(), String>;
}

/// For a control plane with no data plane to tell (tests).
pub struct NoChangeFeed;

#[async_trait::async_trait]
impl ChangeFeed for NoChangeFeed {
    async fn changed(&self) -> Result<(), String> {
        Ok(())
    }
}

/// What the provider-key services need: the envelope that seals the keys, where each
/// provider lives (operator configuration, trusted), and the two HTTP clients (one for
/// the operator's URLs, one that reaches public addresses only, for a tenant's
/// `base_url_override`).
pub struct ProviderAccess {
    pub envelope: behest_auth::envelope::Envelope,
    /// `BEHEST_PROVIDER_<TYPE>_BASE_URL`: the provider's public API when absent.
    pub base_urls: std::collections::HashMap<behest_providers::Provider, String>,
    /// A server option for development: a tenant's override may be plain http.
    pub allow_http_overrides: bool,
    /// The platform's own keys (the catalog's sync lists models with them).
    pub platform_keys: std::collections::HashMap<behest_providers::Provider, String>,
    pub trusted: reqwest::Client,
    pub untrusted: reqwest::Client,
    /// Key checks per (tenant, validate or save) in the last minute.
    pub(crate) checks: crate::recent::RecentCalls<(uuid::Uuid, bool)>,
}

impl ProviderAccess {
    /// How long one key check may take.
    pub const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    pub fn new(
        envelope: behest_auth::envelope::Envelope,
        base_urls: std::collections::HashMap<behest_providers::Provider, String>,
        platform_keys: std::collections::HashMap<behest_providers::Provider, String>,
        allow_http_overrides: bool,
    ) -> reqwest::Result<ProviderAccess> {
        Ok(ProviderAccess {
            envelope,
            base_urls,
            platform_keys,
            allow_http_overrides,
            trusted: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Self::CHECK_TIMEOUT)
                .build()?,
            untrusted: behest_http::egress::tenant_client(Self::CHECK_TIMEOUT)?,
            checks: crate::recent::RecentCalls::new(std::time::Duration::from_secs(60)),
        })
    }
}

#[derive(Clone)]
pub struct ControlState {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub config: Arc<ControlConfig>,
    /// Wakes the job worker when a job is enqueued.
    pub jobs: Arc<Notify>,
    pub changes: Arc<dyn ChangeFeed>,
    /// Provider keys (BYOK); without it those routes answer 500 (tests that do not
    /// need them).
    pub providers: Option<Arc<ProviderAccess>>,
    /// Playground calls per (user, project) in the last hour.
    pub(crate) playground_calls: Arc<crate::recent::RecentCalls<(uuid::Uuid, uuid::Uuid)>>,
    /// Where Argon2 runs: a bounded pool.
    pub(crate) passwords: Arc<crate::passwords::PasswordPool>,
    /// Failed sign-ins per account and address (in the shared counters when wired).
    pub(crate) sign_in: Arc<crate::sign_in_limits::SignInGuard>,
    ready: Arc<AtomicBool>,
}

impl ControlState {
    /// Tells live traffic about a change; a failure is logged (the change is saved and
    /// the periodic reload will pick it up).
    pub(crate) async fn publish(&self) {
        if let Err(err) = self.changes.changed().await {
            tracing::warn!(error = %err, "live state not updated; the periodic reload will retry");
        }
    }

    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>, config: ControlConfig) -> Self {
        let sign_in = Arc::new(crate::sign_in_limits::SignInGuard::new(
            Arc::new(behest_live::InProcessCounters::default()),
            config.sign_in_limits,
        ));
        ControlState {
            passwords: Arc::new(crate::passwords::PasswordPool::default()),
            sign_in,
            store,
            keyring,
            config: Arc::new(config),
            jobs: Arc::new(Notify::new()),
            changes: Arc::new(NoChangeFeed),
            providers: None,
            playground_calls: Arc::new(crate::recent::RecentCalls::new(
                std::time::Duration::from_secs(3600),
            )),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn with_change_feed(mut self, changes: Arc<dyn ChangeFeed>) -> Self {
        self.changes = changes;
        self
    }

    /// Counts failed sign-ins in `counters` (the gateway's: shared through Redis when
    /// there is one) instead of this process's own.
    pub fn with_counters(mut self, counters: Arc<dyn behest_live::Counters>) -> Self {
        self.sign_in = Arc::new(crate::sign_in_limits::SignInGuard::new(
            counters,
            self.config.sign_in_limits,
        ));
        self
    }

    pub fn with_provider_access(mut self, access: ProviderAccess) -> Self {
        self.providers = Some(Arc::new(access));
        self
    }

    /// `/readyz` answers 200 from now on (store migrated, workers started).
    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// `/readyz` answers 503 from now on (shutting down).
    pub fn mark_not_ready(&self) {
        self.ready.store(false, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
