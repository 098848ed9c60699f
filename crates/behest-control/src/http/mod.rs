//! The control plane over HTTP: every route under `/auth/v1` (and the mint the SDKs
//! call on a project host), each handler only extracting its inputs, calling one
//! service, and rendering the view. Authentication is explicit per route: a handler
//! takes the extractor of its credential ([`Dashboard`], [`Admin`], or the API key the
//! mint reads); only health and the JWKS take none. Without `ADMIN_SECRET` the admin
//! routes answer 404, as unknown routes do.

mod handlers;

use crate::error::ControlError;
use crate::service::accounts::{self, Session};
use crate::service::Actor;
use crate::state::ControlState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use axum::Router;
use behest_http::{bearer_token, ApiError, ApiResult};
use handlers::*;

/// The caller of a dashboard route: a valid session.
pub struct Dashboard(pub Session);

impl Dashboard {
    pub fn actor(&self) -> Actor {
        Actor::User(self.0.user.clone())
    }
}

impl FromRequestParts<ControlState> for Dashboard {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ControlState) -> ApiResult<Self> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("missing dashboard session token"))?;
        Ok(Dashboard(accounts::session(state, token).await?))
    }
}

/// A request carrying the right `X-Admin-Secret` (compared in constant time).
pub struct Admin;

impl FromRequestParts<ControlState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ControlState) -> ApiResult<Self> {
        // Without a secret the admin routes are off: they answer as unknown routes do.
        let Some(expected) = state.config.admin_secret.as_deref() else {
            return Err(ControlError::not_found("no such route").into());
        };
        let presented = parts
            .headers
            .get("x-admin-secret")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if behest_auth::constant_time_eq(presented, expected) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized("missing or invalid X-Admin-Secret"))
        }
    }
}

/// Every control-plane route.
pub fn routes(state: ControlState) -> Router {
    Router::new()
        // public
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/.well-known/jwks.json", get(jwks))
        // API key
        .route("/auth/v1/auth/mint", post(mint))
        .route("/v1/auth/mint", post(mint))
        // dashboard session
        .route("/auth/v1/signup", post(signup))
        .route("/auth/v1/login", post(login))
        .route("/auth/v1/logout", post(logout))
        .route("/auth/v1/me", get(me))
        .route("/auth/v1/tenants", post(create_tenant))
        .route(
            "/auth/v1/tenants/{tenant_id}/projects",
            get(list_projects).post(create_project),
        )
        .route("/auth/v1/projects/{project_id}", get(show_project))
        .route(
            "/auth/v1/projects/{project_id}/provisioning",
            get(provisioning),
        )
        .route(
            "/auth/v1/projects/{project_id}/provisioning/retry",
            post(retry_provisioning),
        )
        .route("/auth/v1/projects/{project_id}/suspend", post(suspend))
        .route(
            "/auth/v1/projects/{project_id}/settings",
            get(get_settings).put(put_settings),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/deploy",
            post(deploy),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/discard-draft",
            post(discard_draft),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/model",
            put(set_model).delete(reset_model),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/model/draft",
            put(set_model_draft).delete(discard_model_draft),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/model/publish",
            post(publish_model),
        )
        .route("/auth/v1/projects/{project_id}/memory", get(memory))
        .route("/auth/v1/projects/{project_id}/usage", get(project_usage))
        .route(
            "/auth/v1/projects/{project_id}/tiers",
            get(list_tiers).post(create_tier),
        )
        .route(
            "/auth/v1/projects/{project_id}/tiers/{tier_id}",
            put(update_tier).delete(delete_tier),
        )
        .route(
            "/auth/v1/projects/{project_id}/tiers/{tier_id}/resolved",
            get(resolved_tier),
        )
        .route(
            "/auth/v1/projects/{project_id}/api-keys",
            get(list_api_keys).post(create_api_key),
        )
        .route(
            "/auth/v1/projects/{project_id}/api-keys/{key_id}/rotate",
            post(rotate_api_key),
        )
        .route(
            "/auth/v1/projects/{project_id}/api-keys/{key_id}/revoke",
            post(revoke_api_key),
        )
        .route(
            "/auth/v1/api-keys/{key_id}/rotate",
            post(rotate_api_key_by_id),
        )
        .route("/auth/v1/api-keys/{key_id}", delete(revoke_api_key_by_id))
        .route(
            "/auth/v1/tenants/{tenant_id}/signing-keys",
            get(list_signing_keys).post(create_signing_key),
        )
        .route(
            "/auth/v1/tenants/{tenant_id}/signing-keys/{kid}",
            delete(revoke_signing_key),
        )
        .route(
            "/auth/v1/tenants/{tenant_id}/providers",
            get(list_providers),
        )
        .route(
            "/auth/v1/tenants/{tenant_id}/providers/models",
            get(tenant_models),
        )
        .route(
            "/auth/v1/tenants/{tenant_id}/providers/{provider_type}",
            put(put_provider_key).delete(delete_provider_key),
        )
        .route(
            "/auth/v1/tenants/{tenant_id}/providers/{provider_type}/validate",
            post(validate_provider_key),
        )
        // admin secret
        .route(
            "/auth/v1/admin/providers",
            get(list_catalog).post(create_catalog_provider),
        )
        .route(
            "/auth/v1/admin/providers/{id}/sync-models",
            post(sync_catalog_models),
        )
        .route("/auth/v1/admin/tenants/{tenant_id}/plan", put(set_plan))
        .route("/v1/admin/killswitch/global", post(kill_global))
        .route("/v1/admin/killswitch/tenant/{tenant_id}", post(kill_tenant))
        .route(
            "/v1/admin/killswitch/project/{project_id}",
            post(kill_project),
        )
        .route("/v1/admin/killswitch/status", get(kill_status))
        .with_state(state)
}
