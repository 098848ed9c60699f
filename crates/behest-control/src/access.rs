//! Who is calling: dashboard sessions, the admin secret, and the ownership checks every
//! dashboard route makes. Another tenant's ids answer 404, exactly like ids that do not
//! exist, so that ids cannot be probed.

use crate::state::ControlState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use behest_auth::session;
use behest_http::{bearer_token, ApiError, ApiResult};
use behest_store::{Project, Tenant, User};
use uuid::Uuid;

/// The user behind a valid dashboard session token.
pub struct DashboardUser {
    pub user: User,
    /// The lookup hash of the presented token (for logout).
    pub token_hash: String,
}

impl FromRequestParts<ControlState> for DashboardUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ControlState) -> ApiResult<Self> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("missing dashboard session token"))?;
        let token_hash = session::lookup_hash(token)
            .ok_or_else(|| ApiError::unauthorized("invalid or expired session token"))?;
        let user = state
            .store
            .session_user(&token_hash, chrono::Utc::now())
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::unauthorized("invalid or expired session token"))?;
        Ok(DashboardUser { user, token_hash })
    }
}

/// A request carrying the right `X-Admin-Secret`.
pub struct AdminSecret;

impl FromRequestParts<ControlState> for AdminSecret {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ControlState) -> ApiResult<Self> {
        let Some(expected) = state.config.admin_secret.as_deref() else {
            return Err(ApiError::forbidden(
                "the admin API is disabled: ADMIN_SECRET is not set",
            ));
        };
        let presented = parts
            .headers
            .get("x-admin-secret")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if behest_auth::constant_time_eq(presented, expected) {
            Ok(AdminSecret)
        } else {
            Err(ApiError::unauthorized("missing or invalid X-Admin-Secret"))
        }
    }
}

impl ControlState {
    /// The tenant, if `user` belongs to it; 404 otherwise.
    pub(crate) async fn tenant_for(&self, user: &User, tenant_id: Uuid) -> ApiResult<Tenant> {
        let member = self
            .store
            .member_role(tenant_id, user.id)
            .await
            .map_err(ApiError::internal)?;
        let tenant = match member {
            Some(_) => self
                .store
                .tenant(tenant_id)
                .await
                .map_err(ApiError::internal)?,
            None => None,
        };
        tenant.ok_or_else(|| ApiError::not_found("tenant not found"))
    }

    /// The project, if `user` belongs to its tenant; 404 otherwise.
    pub(crate) async fn project_for(&self, user: &User, project_id: Uuid) -> ApiResult<Project> {
        let not_found = || ApiError::not_found("project not found");
        let project = self
            .store
            .project(project_id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(not_found)?;
        let member = self
            .store
            .member_role(project.tenant_id, user.id)
            .await
            .map_err(ApiError::internal)?;
        member.map(|_| project).ok_or_else(not_found)
    }
}
