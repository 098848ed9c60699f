//! Project API keys: list, create (plaintext shown once), rotate (atomic), revoke, and
//! the simplified forms that find the project from the key.

use crate::error::{ControlError, ControlResult};
use crate::input::optional_name;
use crate::service::Actor;
use crate::state::ControlState;
use crate::views::ApiKeyView;
use behest_auth::api_key;
use behest_core::{ProjectStatus, Role};
use behest_store::{ApiKey, NewApiKey, Project};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const CREATED_MESSAGE: &str = "Store this key securely. It will not be shown again.";
const ROTATED_MESSAGE: &str = "New key generated. Old key is revoked.";
const REVOKED_MESSAGE: &str = "API key revoked";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyInput {
    pub name: Option<String>,
    pub role: Option<String>,
}

/// A new key: the plaintext is here and nowhere else, ever.
#[derive(Debug, Serialize)]
pub struct CreatedKeyView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: Option<String>,
    pub role: &'static str,
    pub prefix: String,
    pub api_key: String,
    pub message: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RotatedKeyView {
    pub id: Uuid,
    pub api_key: String,
    pub prefix: String,
    pub message: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RevokedKeyView {
    pub message: &'static str,
}

pub async fn list(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<Vec<ApiKeyView>> {
    let project = ctl.project_for(actor, project_id).await?;
    let keys = ctl.store.active_api_keys(project.id).await?;
    Ok(keys.iter().map(ApiKeyView::from).collect())
}

/// A key of role `user` unless another is asked for.
pub async fn create(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    input: CreateKeyInput,
) -> ControlResult<CreatedKeyView> {
    let project = ctl.project_for(actor, project_id).await?;
    if project.status == ProjectStatus::Suspended {
        return Err(ControlError::forbidden("project is suspended"));
    }
    let name = optional_name(input.name, "name", 100)?.unwrap_or_else(|| "default".to_owned());
    let role = match input.role.as_deref() {
        None => Role::User,
        Some(raw) => raw.parse().map_err(|_| {
            ControlError::invalid("role", "role must be one of user, dashboard-service, admin")
        })?,
    };
    let limit = ctl.config.object_limits.api_keys_per_project;
    if ctl.store.active_api_keys(project.id).await?.len() >= limit {
        return Err(crate::error::object_limit(
            "api_keys_per_project",
            limit,
            "active API keys per project",
        ));
    }
    let generated = api_key::generate();
    let key = ctl
        .store
        .create_api_key(NewApiKey {
            project_id: project.id,
            name: Some(name),
            role,
            key_hash: generated.hash,
        })
        .await?;
    Ok(CreatedKeyView {
        id: key.id,
        project_id: key.project_id,
        name: key.name.clone(),
        role: key.role.as_str(),
        prefix: api_key::display_prefix(&key.key_hash),
        api_key: generated.plaintext,
        message: CREATED_MESSAGE,
    })
}

pub async fn rotate(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    key_id: Uuid,
) -> ControlResult<RotatedKeyView> {
    let project = ctl.project_for(actor, project_id).await?;
    let key = active_key_of(ctl, &project, key_id).await?;
    rotate_key(ctl, key).await
}

pub async fn revoke(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    key_id: Uuid,
) -> ControlResult<RevokedKeyView> {
    let project = ctl.project_for(actor, project_id).await?;
    let key = active_key_of(ctl, &project, key_id).await?;
    revoke_key(ctl, key).await
}

/// `POST /auth/v1/api-keys/:keyId/rotate`: the project is the key's.
pub async fn rotate_by_id(
    ctl: &ControlState,
    actor: &Actor,
    key_id: Uuid,
) -> ControlResult<RotatedKeyView> {
    let key = visible_key(ctl, actor, key_id).await?;
    rotate_key(ctl, key).await
}

/// `DELETE /auth/v1/api-keys/:keyId`.
pub async fn revoke_by_id(
    ctl: &ControlState,
    actor: &Actor,
    key_id: Uuid,
) -> ControlResult<RevokedKeyView> {
    let key = visible_key(ctl, actor, key_id).await?;
    revoke_key(ctl, key).await
}

fn key_not_found() -> ControlError {
    ControlError::not_found("API key not found")
}

/// The key, if it is an active key of `project`.
async fn active_key_of(
    ctl: &ControlState,
    project: &Project,
    key_id: Uuid,
) -> ControlResult<ApiKey> {
    ctl.store
        .api_key(key_id)
        .await?
        .filter(|k| k.project_id == project.id && k.revoked_at.is_none())
        .ok_or_else(key_not_found)
}

/// The key, if it is active and the actor may see its project. A key of a project the
/// caller cannot see is "not found", not "forbidden".
async fn visible_key(ctl: &ControlState, actor: &Actor, key_id: Uuid) -> ControlResult<ApiKey> {
    let key = ctl
        .store
        .api_key(key_id)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(key_not_found)?;
    ctl.project_for(actor, key.project_id)
        .await
        .map_err(|_| key_not_found())?;
    Ok(key)
}

async fn rotate_key(ctl: &ControlState, old: ApiKey) -> ControlResult<RotatedKeyView> {
    let generated = api_key::generate();
    let new = NewApiKey {
        project_id: old.project_id,
        name: old.name.clone(),
        role: old.role,
        key_hash: generated.hash,
    };
    let key = ctl
        .store
        .rotate_api_key(old.id, new)
        .await?
        .ok_or_else(key_not_found)?;
    Ok(RotatedKeyView {
        id: key.id,
        api_key: generated.plaintext,
        prefix: api_key::display_prefix(&key.key_hash),
        message: ROTATED_MESSAGE,
    })
}

async fn revoke_key(ctl: &ControlState, key: ApiKey) -> ControlResult<RevokedKeyView> {
    if !ctl.store.revoke_api_key(key.id).await? {
        return Err(key_not_found());
    }
    // Its unexpired tokens stop on every replica: the revocation is in the live image.
    ctl.publish().await;
    Ok(RevokedKeyView {
        message: REVOKED_MESSAGE,
    })
}
