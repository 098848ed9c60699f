//! Project API keys: list, create (plaintext shown once), rotate (atomic), revoke, and
//! the simplified routes that find the project from the key.

use crate::access::DashboardUser;
use crate::input::optional_name;
use crate::state::ControlState;
use crate::views::ApiKeyView;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use behest_auth::api_key;
use behest_core::{ProjectStatus, Role};
use behest_http::{parse_uuid, ApiError, ApiResult, OptionalJson};
use behest_store::{ApiKey, NewApiKey, Project};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

const CREATED_MESSAGE: &str = "Store this key securely. It will not be shown again.";
const ROTATED_MESSAGE: &str = "New key generated. Old key is revoked.";
const REVOKED_MESSAGE: &str = "API key revoked";

pub async fn list(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(project_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    let keys = state
        .store
        .active_api_keys(project.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(keys.iter().map(ApiKeyView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: Option<String>,
    role: Option<String>,
}

pub async fn create(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(project_id): Path<String>,
    OptionalJson(body): OptionalJson<CreateKey>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    if project.status == ProjectStatus::Suspended {
        return Err(ApiError::forbidden("project is suspended"));
    }
    let name = optional_name(body.name, "name", 100)?.unwrap_or_else(|| "default".to_owned());
    let role = match body.role.as_deref() {
        None => Role::User,
        Some(raw) => raw.parse().map_err(|_| {
            ApiError::validation("role", "role must be one of user, dashboard-service, admin")
        })?,
    };
    let generated = api_key::generate();
    let key = state
        .store
        .create_api_key(NewApiKey {
            project_id: project.id,
            name: Some(name),
            role,
            key_hash: generated.hash,
        })
        .await
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": key.id,
            "project_id": key.project_id,
            "name": key.name,
            "role": key.role.as_str(),
            "prefix": api_key::display_prefix(&key.key_hash),
            "api_key": generated.plaintext,
            "message": CREATED_MESSAGE,
        })),
    ))
}

pub async fn rotate(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path((project_id, key_id)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    let key = active_key_of(&state, &project, parse_uuid(&key_id, "keyId")?).await?;
    rotate_key(&state, key).await
}

pub async fn revoke(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path((project_id, key_id)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    let key = active_key_of(&state, &project, parse_uuid(&key_id, "keyId")?).await?;
    revoke_key(&state, key).await
}

pub async fn rotate_by_id(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(key_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let key = key_for_user(&state, &caller, parse_uuid(&key_id, "keyId")?).await?;
    rotate_key(&state, key).await
}

pub async fn revoke_by_id(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(key_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let key = key_for_user(&state, &caller, parse_uuid(&key_id, "keyId")?).await?;
    revoke_key(&state, key).await
}

fn key_not_found() -> ApiError {
    ApiError::not_found("API key not found")
}

/// The key, if it is an active key of `project`.
async fn active_key_of(state: &ControlState, project: &Project, key_id: Uuid) -> ApiResult<ApiKey> {
    state
        .store
        .api_key(key_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|k| k.project_id == project.id && k.revoked_at.is_none())
        .ok_or_else(key_not_found)
}

/// The key, if it is active and the caller belongs to its project's tenant.
async fn key_for_user(
    state: &ControlState,
    caller: &DashboardUser,
    key_id: Uuid,
) -> ApiResult<ApiKey> {
    let key = state
        .store
        .api_key(key_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(key_not_found)?;
    // A key of a project the caller cannot see is "not found", not "forbidden".
    state
        .project_for(&caller.user, key.project_id)
        .await
        .map_err(|_| key_not_found())?;
    Ok(key)
}

async fn rotate_key(state: &ControlState, old: ApiKey) -> ApiResult<Json<serde_json::Value>> {
    let generated = api_key::generate();
    let new = NewApiKey {
        project_id: old.project_id,
        name: old.name.clone(),
        role: old.role,
        key_hash: generated.hash,
    };
    let key = state
        .store
        .rotate_api_key(old.id, new)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(key_not_found)?;
    Ok(Json(json!({
        "id": key.id,
        "api_key": generated.plaintext,
        "prefix": api_key::display_prefix(&key.key_hash),
        "message": ROTATED_MESSAGE,
    })))
}

async fn revoke_key(state: &ControlState, key: ApiKey) -> ApiResult<Json<serde_json::Value>> {
    if !state
        .store
        .revoke_api_key(key.id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(key_not_found());
    }
    Ok(Json(json!({ "message": REVOKED_MESSAGE })))
}
