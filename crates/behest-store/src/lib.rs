//! The durable store: the source of truth for accounts, tenants, projects, keys and
//! jobs. One [`Store`] trait, two implementations sharing their SQL text: SQLite (the
//! embedded default) and PostgreSQL (for several replicas). Each backend has its own
//! migrations under `migrations/<backend>/`.

mod error;
mod migrate;
mod model;
mod postgres;
mod queries;
mod sqlite;

use async_trait::async_trait;
use behest_core::killswitch::KillScope;
use behest_core::{DnsStatus, MemberRole, Plan};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

pub use error::StoreError;
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Which implementation a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the planes need from durable storage. Methods that change several rows
/// do so in one transaction; methods returning `bool` say whether anything changed.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Applies every migration not yet applied. Safe to call from several processes.
    async fn migrate(&self) -> StoreResult<()>;

    // --- accounts -------------------------------------------------------------------
    /// Creates a user and a tenant they own. [`StoreError::Conflict`] if the email is taken.
    async fn create_account(&self, new: NewAccount) -> StoreResult<(User, Tenant)>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// The user owning an unexpired session.
    async fn session_user(&self, token_hash: &str, now: DateTime<Utc>)
        -> StoreResult<Option<User>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool>;

    // --- tenants --------------------------------------------------------------------
    async fn create_tenant(&self, owner: Uuid, name: &str) -> StoreResult<Tenant>;
    async fn tenant(&self, id: Uuid) -> StoreResult<Option<Tenant>>;
    async fn memberships(&self, user_id: Uuid) -> StoreResult<Vec<Membership>>;
    async fn member_role(&self, tenant_id: Uuid, user_id: Uuid) -> StoreResult<Option<MemberRole>>;
    async fn set_plan(&self, tenant_id: Uuid, plan: Plan) -> StoreResult<Option<Tenant>>;

    // --- projects -------------------------------------------------------------------
    /// Creates the project, its settings row and its DNS provisioning job.
    /// [`StoreError::LimitReached`] when the plan's active-project limit is hit,
    /// [`StoreError::Conflict`] when the slug is taken (the caller picks another).
    async fn create_project(&self, new: NewProject) -> StoreResult<Project>;
    async fn projects(&self, tenant_id: Uuid) -> StoreResult<Vec<Project>>;
    async fn project(&self, id: Uuid) -> StoreResult<Option<Project>>;
    async fn project_by_slug(&self, slug: &str) -> StoreResult<Option<Project>>;
    /// Suspends an active project: revokes its keys and enqueues DNS removal.
    /// `false` (and no side effect) when it was already suspended.
    async fn suspend_project(&self, id: Uuid) -> StoreResult<bool>;
    /// Moves a `FAILED` project back to `PENDING` and enqueues a new provisioning job.
    /// `false` when the project is in any other state.
    async fn retry_provisioning(&self, id: Uuid) -> StoreResult<bool>;
    async fn set_dns_status(
        &self,
        id: Uuid,
        status: DnsStatus,
        error: Option<&str>,
    ) -> StoreResult<()>;
    async fn settings(&self, project_id: Uuid) -> StoreResult<Option<SettingsRow>>;
    /// Applies `edit` to the project's settings row in one transaction (the row is
    /// locked first, so concurrent edits queue instead of overwriting each other).
    /// `None` when the project has no settings row.
    async fn update_settings(
        &self,
        project_id: Uuid,
        edit: SettingsEdit,
    ) -> StoreResult<Option<SettingsRow>>;

    // --- API keys -------------------------------------------------------------------
    async fn create_api_key(&self, new: NewApiKey) -> StoreResult<ApiKey>;
    async fn active_api_keys(&self, project_id: Uuid) -> StoreResult<Vec<ApiKey>>;
    async fn api_key(&self, id: Uuid) -> StoreResult<Option<ApiKey>>;
    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    async fn revoke_api_key(&self, id: Uuid) -> StoreResult<bool>;
    /// Records that the key was used at `at`: one UPDATE, a write only when the stored
    /// time is missing or more than [`LAST_USED_RESOLUTION`] older than `at` (so a busy
    /// key costs at most one write a minute). An unknown id is not an error.
    async fn touch_api_key(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// Revokes `old_id` and inserts `new` in one transaction; `None` if `old_id` was not
    /// an active key.
    async fn rotate_api_key(&self, old_id: Uuid, new: NewApiKey) -> StoreResult<Option<ApiKey>>;

    // --- signing keys ---------------------------------------------------------------
    /// Every platform key, newest first.
    async fn platform_keys(&self) -> StoreResult<Vec<PlatformKey>>;
    /// Adds a platform key and retires the active one. With `only_if_none`, adds it only
    /// when no key is active (first start; several replicas may race) and says whether
    /// it did.
    async fn add_platform_key(&self, key: &PlatformKey, only_if_none: bool) -> StoreResult<bool>;
    /// Replaces a platform key's stored private half if it is still `expected`.
    async fn reseal_platform_key(
        &self,
        kid: &str,
        expected: &str,
        sealed: &str,
    ) -> StoreResult<bool>;
    async fn create_tenant_signing_key(&self, key: &TenantSigningKey) -> StoreResult<()>;
    async fn tenant_signing_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<TenantSigningKey>>;
    async fn revoke_tenant_signing_key(&self, tenant_id: Uuid, kid: &str) -> StoreResult<bool>;

    // --- provider keys (BYOK) --------------------------------------------------------
    /// Adds or replaces the tenant's key for the provider.
    async fn put_provider_key(&self, key: &ProviderKey) -> StoreResult<()>;
    async fn provider_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<ProviderKey>>;
    /// Whether there was a key to delete.
    async fn delete_provider_key(&self, tenant_id: Uuid, provider_type: &str) -> StoreResult<bool>;
    /// Every tenant's keys (the live image, key rotation).
    async fn all_provider_keys(&self) -> StoreResult<Vec<ProviderKey>>;
    /// Replaces a key's sealed value if it is still `expected` (rotation racing a PUT
    /// leaves the PUT's value); whether it did.
    async fn reseal_provider_key(
        &self,
        tenant_id: Uuid,
        provider_type: &str,
        expected: &str,
        sealed_key: &str,
    ) -> StoreResult<bool>;

    // --- the admin's provider catalog ---------------------------------------------------
    /// Adds a provider; [`StoreError::Conflict`] when its name or slug is taken. With
    /// `if_missing`, an existing id is left as it is (the built-ins at every start).
    async fn add_catalog_provider(
        &self,
        provider: &CatalogProvider,
        if_missing: bool,
    ) -> StoreResult<()>;
    async fn catalog_providers(&self) -> StoreResult<Vec<CatalogProvider>>;
    async fn catalog_provider(&self, id: &str) -> StoreResult<Option<CatalogProvider>>;
    /// Inserts or updates each model (by provider and model id); returns how many.
    async fn upsert_catalog_models(&self, models: &[CatalogModel]) -> StoreResult<u64>;
    async fn catalog_models(&self, provider_id: &str) -> StoreResult<Vec<CatalogModel>>;

    // --- jobs -----------------------------------------------------------------------
    /// Takes the next due job (or one whose lease ran out) and leases it until `lease_until`.
    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>>;
    async fn finish_job(&self, id: Uuid) -> StoreResult<()>;
    async fn retry_job_at(&self, id: Uuid, run_at: DateTime<Utc>, error: &str) -> StoreResult<()>;
    async fn fail_job(&self, id: Uuid, error: &str) -> StoreResult<()>;
    async fn jobs_for_project(&self, project_id: Uuid) -> StoreResult<Vec<Job>>;

    // --- whole-table reads for the data plane's in-memory directory -----------------
    /// Every project (the data plane filters by status itself).
    async fn all_projects(&self) -> StoreResult<Vec<Project>>;
    async fn all_settings(&self) -> StoreResult<Vec<SettingsRow>>;
    /// Every tenant signing key not revoked.
    async fn active_tenant_signing_keys(&self) -> StoreResult<Vec<TenantSigningKey>>;
    /// `(project_id, key_id)` of every API key revoked (not rotated) after `since`:
    /// tokens it minted before then may still be unexpired, and must stop working.
    async fn revoked_api_keys_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<(Uuid, Uuid)>>;

    // --- tiers (written by the settings lifecycle) ------------------------------------
    async fn tiers(&self, project_id: Uuid) -> StoreResult<Vec<Tier>>;
    /// Creates a tier unless the project already has `limit` of them
    /// ([`StoreError::LimitReached`]) or one of that name ([`StoreError::Conflict`]).
    async fn create_tier_limited(&self, tier: &Tier, limit: i64) -> StoreResult<()>;
    async fn tier(&self, project_id: Uuid, id: Uuid) -> StoreResult<Option<Tier>>;
    /// [`StoreError::Conflict`] when the new name is taken; `false` when there is no such tier.
    async fn update_tier(&self, tier: &Tier) -> StoreResult<bool>;
    async fn delete_tier(&self, project_id: Uuid, id: Uuid) -> StoreResult<bool>;
    /// Replaces every tier of the project (discarding a draft restores the deployed ones).
    async fn replace_tiers(&self, project_id: Uuid, tiers: &[Tier]) -> StoreResult<()>;

    // --- kill switches and the token ledger -----------------------------------------
    /// Turns a switch on or off; `true` when that changed anything.
    async fn set_kill_switch(&self, scope: KillScope, enabled: bool) -> StoreResult<bool>;
    /// Every switch that is on.
    async fn kill_switches(&self) -> StoreResult<Vec<KillScope>>;
    /// Adds each entry's tokens to its (project, uid, day) row, in one transaction.
    async fn add_token_usage(&self, usage: &[TokenUsage]) -> StoreResult<()>;
    /// Every row of one day.
    async fn token_usage_on(&self, day: &str) -> StoreResult<Vec<TokenUsage>>;

    // --- usage ----------------------------------------------------------------------
    /// Inserts the records, skipping any already there (by id), in one transaction.
    async fn insert_usage(&self, records: &[UsageRecord]) -> StoreResult<()>;
    /// The sums per bucket, oldest first.
    async fn usage_buckets(
        &self,
        query: &UsageQuery,
        granularity: Granularity,
    ) -> StoreResult<Vec<UsageBucket>>;
    async fn usage_totals(&self, query: &UsageQuery) -> StoreResult<UsageTotals>;
    /// The `limit` end users (`by_session`: sessions) with the highest cost.
    async fn usage_top(
        &self,
        query: &UsageQuery,
        by_session: bool,
        limit: i64,
    ) -> StoreResult<Vec<UsageTop>>;
    /// Refusals per error code and guard hits per rule or entity type, most first.
    /// Guard hits are counted over the latest [`GUARD_ROWS_READ`] guarded requests of
    /// the range (see there).
    async fn usage_outcomes(&self, query: &UsageQuery) -> StoreResult<UsageOutcomes>;
    /// What one end user spent in `[from, to)`.
    async fn usage_cost(&self, query: &UsageQuery) -> StoreResult<f64>;
    /// Spending since `since`, summed per group (for rebuilding spending counters).
    async fn usage_costs(
        &self,
        since: DateTime<Utc>,
        group: CostGroup,
    ) -> StoreResult<Vec<CostSum>>;

    // --- memory ---------------------------------------------------------------------
    /// Appends messages to a thread (created on its first message), in order; returns
    /// them as stored.
    async fn append_messages(
        &self,
        thread: &ThreadKey,
        messages: &[NewMessage],
    ) -> StoreResult<Vec<StoredMessage>>;
    /// The last `limit` messages of a thread, oldest first.
    async fn recent_messages(
        &self,
        thread: &ThreadKey,
        limit: i64,
    ) -> StoreResult<Vec<StoredMessage>>;
    /// `limit` messages before the message `before` (or the latest), oldest first.
    async fn thread_messages(
        &self,
        thread: &ThreadKey,
        limit: i64,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<StoredMessage>>;
    async fn thread(&self, thread: &ThreadKey) -> StoreResult<Option<ThreadRow>>;
    /// An end user's threads, most recently updated first.
    async fn threads(&self, project_id: Uuid, uid: &str, limit: i64)
        -> StoreResult<Vec<ThreadRow>>;
    async fn delete_thread(&self, thread: &ThreadKey) -> StoreResult<bool>;
    /// Deletes a project's messages older than `cutoff`, and threads left empty;
    /// returns how many messages went.
    async fn delete_messages_before(
        &self,
        project_id: Uuid,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// How many guarded usage records [`Store::usage_outcomes`] reads at most. Guard
/// findings are JSON whose rules and entity types are counted in Rust (the two
/// backends' JSON functions differ, and the SQL text is shared); the bound keeps one
/// report's memory and time in check, at the price of counting only the latest this
/// many guarded requests of a range that has more.
pub const GUARD_ROWS_READ: i64 = 50_000;

/// Opens the store a URL names: `sqlite://PATH` (created if missing) or
/// `postgres://...`. Does not migrate.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    } else {
        Err(StoreError::Config(
            "database URL must start with sqlite:// or postgres://".to_owned(),
        ))
    }
}

/// The current time at the precision every backend keeps (PostgreSQL: microseconds),
/// so a value read back equals the value written.
pub fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let now = Utc::now();
    now.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now)
}
