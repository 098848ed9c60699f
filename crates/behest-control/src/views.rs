//! Response bodies, field for field as the seed's API reference spells them.

use behest_http::SiteDomain;
use behest_store::{ApiKey, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Serialize)]
pub struct ProjectView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    pub status: &'static str,
    pub dns_status: &'static str,
    pub fqdn_dev: String,
    pub fqdn_prod: String,
    pub created_at: DateTime<Utc>,
}

impl ProjectView {
    pub fn new(project: &Project, site: &SiteDomain) -> Self {
        ProjectView {
            id: project.id,
            tenant_id: project.tenant_id,
            name: project.name.clone(),
            slug: project.slug.clone(),
            status: project.status.as_str(),
            dns_status: project.dns_status.as_str(),
            fqdn_dev: site.dev_fqdn(&project.slug),
            fqdn_prod: site.prod_fqdn(&project.slug),
            created_at: project.created_at,
        }
    }
}

#[derive(Serialize)]
pub struct ProvisioningView {
    pub dns_status: &'static str,
    pub dns_last_error: Option<String>,
    pub fqdn_dev: String,
    pub fqdn_prod: String,
    pub slug: String,
    pub dns_updated_at: Option<DateTime<Utc>>,
}

/// An API key as listed: never the plaintext, never the full hash.
#[derive(Serialize)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: Option<String>,
    pub role: &'static str,
    pub prefix: String,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    /// When the key last minted a token, to within a minute; `null` if it never has.
    #[serde(rename = "lastUsedAt")]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(key: &ApiKey) -> Self {
        ApiKeyView {
            id: key.id,
            name: key.name.clone(),
            role: key.role.as_str(),
            prefix: behest_auth::api_key::display_prefix(&key.key_hash),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}
