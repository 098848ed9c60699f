//! Tenant signing keys (dashboard → Keys → Signing): create (private half shown once),
//! list (public half only), revoke. The data plane verifies tokens signed with them.

use crate::error::{ControlError, ControlResult};
use crate::input::optional_name;
use crate::service::Actor;
use crate::state::ControlState;
use behest_auth::tenant_keys;
use behest_store::TenantSigningKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSigningKeyInput {
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SigningKeyView {
    pub kid: String,
    pub tenant_id: Uuid,
    pub name: Option<String>,
    pub algorithm: &'static str,
    pub public_key_pem: String,
    pub created_at: DateTime<Utc>,
}

impl From<&TenantSigningKey> for SigningKeyView {
    fn from(key: &TenantSigningKey) -> SigningKeyView {
        SigningKeyView {
            kid: key.kid.clone(),
            tenant_id: key.tenant_id,
            name: key.name.clone(),
            algorithm: "RS256",
            public_key_pem: key.public_key_pem.clone(),
            created_at: key.created_at,
        }
    }
}

/// A new key: the private half (`behest_pk_` + PKCS#8 PEM) is here and nowhere else.
#[derive(Debug, Serialize)]
pub struct CreatedSigningKeyView {
    #[serde(flatten)]
    pub key: SigningKeyView,
    pub private_key: String,
    pub message: &'static str,
}

pub async fn create(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    input: CreateSigningKeyInput,
) -> ControlResult<CreatedSigningKeyView> {
    let tenant = ctl.tenant_for(actor, tenant_id).await?;
    let name = optional_name(input.name, "name", 100)?;
    let limit = ctl.config.object_limits.signing_keys_per_tenant;
    let active = ctl
        .store
        .tenant_signing_keys(tenant.id)
        .await?
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .count();
    if active >= limit {
        return Err(crate::error::object_limit(
            "signing_keys_per_tenant",
            limit,
            "active signing keys per tenant",
        ));
    }
    // RSA generation takes a while: off the async workers.
    let generated = tokio::task::spawn_blocking(tenant_keys::generate)
        .await
        .map_err(ControlError::internal)?
        .map_err(ControlError::internal)?;
    let key = TenantSigningKey {
        kid: generated.kid,
        tenant_id: tenant.id,
        name,
        public_key_pem: generated.public_pem,
        created_at: behest_store::now(),
        revoked_at: None,
    };
    ctl.store.create_tenant_signing_key(&key).await?;
    ctl.publish().await;
    Ok(CreatedSigningKeyView {
        key: SigningKeyView::from(&key),
        private_key: generated.private_key,
        message: "Store this key securely. It will not be shown again.",
    })
}

pub async fn list(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
) -> ControlResult<Vec<SigningKeyView>> {
    let tenant = ctl.tenant_for(actor, tenant_id).await?;
    let keys = ctl.store.tenant_signing_keys(tenant.id).await?;
    Ok(keys
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .map(SigningKeyView::from)
        .collect())
}

pub async fn revoke(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    kid: &str,
) -> ControlResult<()> {
    let tenant = ctl.tenant_for(actor, tenant_id).await?;
    let not_found = || ControlError::not_found("signing key not found");
    if !tenant_keys::is_well_formed_kid(kid) {
        return Err(not_found());
    }
    if ctl.store.revoke_tenant_signing_key(tenant.id, kid).await? {
        ctl.publish().await;
        Ok(())
    } else {
        Err(not_found())
    }
}
