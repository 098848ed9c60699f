//! Rows as the planes see them, and the inputs that create them.

use behest_core::settings::{DeployedSnapshot, SettingsPatch, SettingsRejection, SettingsValues};
use behest_core::{DnsStatus, MemberRole, Plan, ProjectStatus, Role};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub password_hash: String,
    pub tenant_name: String,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub tenant: Tenant,
    pub role: MemberRole,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    pub status: ProjectStatus,
    pub dns_status: DnsStatus,
    pub dns_last_error: Option<String>,
    pub dns_updated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewProject {
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    /// The plan's active-project limit, checked in the same transaction as the insert.
    pub active_limit: Option<i64>,
    /// The settings row's initial draft (the seed's defaults).
    pub settings: SettingsValues,
}

/// A project's settings: the draft being edited and the snapshot live traffic uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub draft: SettingsValues,
    pub deployed: Option<DeployedSnapshot>,
    /// The model live traffic uses (`null`: the platform default).
    pub provider_model: Option<String>,
    pub draft_provider_model: Option<String>,
    pub draft_saved_at: Option<DateTime<Utc>>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: Option<String>,
    pub role: Role,
    /// Hex SHA-256 of the plaintext key; the plaintext is never stored.
    pub key_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last minted a token, to within [`LAST_USED_RESOLUTION`].
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How stale an API key's `last_used_at` may be: [`crate::Store::touch_api_key`]
/// writes it only when it is older than this, so a busy key costs one write a minute,
/// not one per mint.
pub const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub project_id: Uuid,
    pub name: Option<String>,
    pub role: Role,
    pub key_hash: String,
}

pub use behest_core::keys::PlatformKey;

/// The public half of a tenant's own signing key (the private half is shown once).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSigningKey {
    pub kid: String,
    pub tenant_id: Uuid,
    pub name: Option<String>,
    /// SPKI PEM.
    pub public_key_pem: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A provider in the admin's catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogProvider {
    /// The slug for a built-in provider, a UUID for one the admin added.
    pub id: String,
    pub name: String,
    pub slug: String,
    pub display_name: String,
    pub is_active: bool,
    pub models_endpoint_url: Option<String>,
    pub models_endpoint_auth_type: Option<String>,
    pub auth_config_schema: Option<serde_json::Value>,
    pub supported_features: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A model a sync found at a provider's models endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogModel {
    pub provider_id: String,
    pub model_id: String,
    pub display_name: String,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub synced_at: DateTime<Utc>,
}

/// A tenant's own key for one provider, sealed (see `behest_auth::envelope`).
#[derive(Clone, PartialEq)]
pub struct ProviderKey {
    pub tenant_id: Uuid,
    /// `openai`, `anthropic`, … (the provider's configuration name).
    pub provider_type: String,
    pub sealed_key: String,
    pub key_last4: String,
    pub base_url: Option<String>,
    pub key_set_at: DateTime<Utc>,
}

impl std::fmt::Debug for ProviderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKey")
            .field("tenant_id", &self.tenant_id)
            .field("provider_type", &self.provider_type)
            .field("key_last4", &self.key_last4)
            .field("base_url", &self.base_url)
            .field("key_set_at", &self.key_set_at)
            .finish_non_exhaustive()
    }
}

/// A change to a settings row, decided on the row as it is inside the transaction.
/// `Err` aborts the change ([`crate::StoreError::Rejected`]).
pub type SettingsEdit = Box<dyn FnOnce(&mut SettingsRow) -> Result<(), SettingsRejection> + Send>;

/// Background work kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    ProvisionDns,
    RemoveDns,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::ProvisionDns => "provision_dns",
            JobKind::RemoveDns => "remove_dns",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "provision_dns" => Some(JobKind::ProvisionDns),
            "remove_dns" => Some(JobKind::RemoveDns),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    pub project_id: Uuid,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Attempts started so far, this one included.
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub sort_order: i64,
    pub overrides: SettingsPatch,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Tokens one end user of a project spent on one UTC day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUsage {
    pub project_id: Uuid,
    pub uid: String,
    pub day: String,
    pub tokens: i64,
}

pub use behest_core::memory::{NewMessage, StoredMessage, ThreadKey, ThreadRow};
pub use behest_core::usage::{
    CostGroup, CostSum, Granularity, GuardHit, GuardKind, RefusalCount, UsageBucket, UsageOutcomes,
    UsageQuery, UsageRecord, UsageTop, UsageTotals,
};
