//! Tenant signing keys (dashboard → Keys → Signing): create (private half shown once),
//! list (public half only), revoke. The data plane verifies tokens signed with them.

use crate::access::DashboardUser;
use crate::input::optional_name;
use crate::state::ControlState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use behest_auth::tenant_keys;
use behest_http::{parse_uuid, ApiError, ApiResult, OptionalJson};
use behest_store::TenantSigningKey;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateSigningKey {
    name: Option<String>,
}

pub async fn create(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(tenant_id): Path<String>,
    OptionalJson(body): OptionalJson<CreateSigningKey>,
) -> ApiResult<impl IntoResponse> {
    let tenant = state
        .tenant_for(&caller.user, parse_uuid(&tenant_id, "tenantId")?)
        .await?;
    let name = optional_name(body.name, "name", 100)?;
    let generated = tokio::task::spawn_blocking(tenant_keys::generate)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let key = TenantSigningKey {
        kid: generated.kid,
        tenant_id: tenant.id,
        name,
        public_key_pem: generated.public_pem,
        created_at: behest_store::now(),
        revoked_at: None,
    };
    state
        .store
        .create_tenant_signing_key(&key)
        .await
        .map_err(ApiError::internal)?;
    state.publish().await;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "kid": key.kid,
            "tenant_id": key.tenant_id,
            "name": key.name,
            "algorithm": "RS256",
            "private_key": generated.private_key,
            "public_key_pem": key.public_key_pem,
            "created_at": key.created_at,
            "message": "Store this key securely. It will not be shown again.",
        })),
    ))
}

pub async fn list(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(tenant_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let tenant = state
        .tenant_for(&caller.user, parse_uuid(&tenant_id, "tenantId")?)
        .await?;
    let keys = state
        .store
        .tenant_signing_keys(tenant.id)
        .await
        .map_err(ApiError::internal)?;
    let listed: Vec<_> = keys
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .map(|k| {
            json!({
                "kid": k.kid,
                "tenant_id": k.tenant_id,
                "name": k.name,
                "algorithm": "RS256",
                "public_key_pem": k.public_key_pem,
                "created_at": k.created_at,
            })
        })
        .collect();
    Ok(Json(listed))
}

pub async fn revoke(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path((tenant_id, kid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = state
        .tenant_for(&caller.user, parse_uuid(&tenant_id, "tenantId")?)
        .await?;
    let not_found = || ApiError::not_found("signing key not found");
    if !tenant_keys::is_well_formed_kid(&kid) {
        return Err(not_found());
    }
    let revoked = state
        .store
        .revoke_tenant_signing_key(tenant.id, &kid)
        .await
        .map_err(ApiError::internal)?;
    if revoked {
        state.publish().await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
