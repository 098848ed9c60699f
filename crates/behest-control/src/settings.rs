//! Project settings: the draft a tenant edits, the deployed snapshot live traffic uses,
//! and the model selection that skips the draft. `PUT .../settings` never touches live
//! traffic; `deploy` copies the draft over and publishes it; `discard-draft` goes back.

use crate::access::DashboardUser;
use crate::models::is_known;
use crate::state::ControlState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use behest_core::settings::{
    apply_change, check_cors_pair, validate_change, FieldError, Scope, SettingsValues,
};
use behest_http::{parse_uuid, ApiError, ApiJson, ApiResult};
use behest_store::{Project, SettingsEdit, SettingsRow, StoreError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const NO_DEPLOYED_SNAPSHOT: &str = "NO_DEPLOYED_SNAPSHOT";
const NO_DRAFT: &str = "NO_DRAFT";

/// The seed's settings object: the draft's values, the live model and the model draft.
fn view(row: &SettingsRow) -> ApiResult<Value> {
    let draft: SettingsValues =
        serde_json::from_value(row.draft.clone()).map_err(ApiError::internal)?;
    let mut out = serde_json::to_value(&draft).map_err(ApiError::internal)?;
    let object = out
        .as_object_mut()
        .ok_or_else(|| ApiError::internal("settings are not an object"))?;
    object.insert("id".into(), json!(row.id));
    object.insert("project_id".into(), json!(row.project_id));
    object.insert("provider_model".into(), json!(row.provider_model));
    object.insert(
        "draft_provider_model".into(),
        json!(row.draft_provider_model),
    );
    object.insert("draft_saved_at".into(), json!(row.draft_saved_at));
    object.insert("deployed_at".into(), json!(row.deployed_at));
    object.insert("created_at".into(), json!(row.created_at));
    object.insert("updated_at".into(), json!(row.updated_at));
    Ok(out)
}

/// One 400 for every violation: `param` lists the fields, `message` says what is wrong
/// with each.
pub(crate) fn violations(errors: &[FieldError]) -> ApiError {
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    ApiError::validation(fields.join(","), messages.join("; "))
}

/// The project's settings row; 404 if it has none.
pub(crate) async fn settings_row(
    state: &ControlState,
    project_id: uuid::Uuid,
) -> ApiResult<SettingsRow> {
    state
        .store
        .settings(project_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("settings not found"))
}

async fn project(state: &ControlState, caller: &DashboardUser, raw: &str) -> ApiResult<Project> {
    state
        .project_for(&caller.user, parse_uuid(raw, "projectId")?)
        .await
}

/// Runs `edit` on the settings row; an edit's `Err(code)` becomes the matching error.
async fn edit(
    state: &ControlState,
    project: &Project,
    edit: SettingsEdit,
) -> ApiResult<SettingsRow> {
    match state.store.update_settings(project.id, edit).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(ApiError::not_found("settings not found")),
        Err(StoreError::Rejected(reason)) => Err(rejection(&reason)),
        Err(other) => Err(ApiError::internal(other)),
    }
}

fn rejection(reason: &str) -> ApiError {
    match reason {
        NO_DEPLOYED_SNAPSHOT => ApiError::conflict(
            NO_DEPLOYED_SNAPSHOT,
            "nothing was ever deployed: there is no snapshot to go back to",
        ),
        NO_DRAFT => ApiError::conflict(NO_DRAFT, "there is no model draft to publish"),
        "NO_MODEL" => ApiError::not_found("no model is configured for this project"),
        other => ApiError::validation("cors_allow_credentials", other.to_owned()),
    }
}

pub async fn get(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let row = settings_row(&state, project.id).await?;
    Ok(Json(view(&row)?))
}

pub async fn put(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<Map<String, Value>>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let errors = validate_change(&change, Scope::Project, &is_known);
    if !errors.is_empty() {
        return Err(violations(&errors));
    }
    let row = edit(
        &state,
        &project,
        Box::new(move |row| {
            let mut values: SettingsValues =
                serde_json::from_value(row.draft.clone()).map_err(|e| e.to_string())?;
            let mut values_change = change.clone();
            let model = values_change.remove("provider_model");
            apply_change(&mut values, &values_change).map_err(|e| e.to_string())?;
            if let Some(conflict) =
                check_cors_pair(&values.cors_origins, values.cors_allow_credentials)
            {
                return Err(conflict.message);
            }
            if let Some(model) = model {
                // Saved as a draft; a draft equal to the live model is no draft.
                let model = model.as_str().map(str::to_owned);
                row.draft_provider_model = model.filter(|m| Some(m) != row.provider_model.as_ref());
            }
            row.draft = serde_json::to_value(&values).map_err(|e| e.to_string())?;
            row.draft_saved_at = Some(behest_store::now());
            Ok(())
        }),
    )
    .await?;
    Ok(Json(view(&row)?))
}

/// Copies the draft (settings, model draft and tiers) to the deployed snapshot and
/// publishes it. If live traffic cannot be updated the deploy is saved and the answer
/// is 502: deploying again retries.
pub async fn deploy(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let tiers = crate::tiers::snapshot(
        &state
            .store
            .tiers(project.id)
            .await
            .map_err(ApiError::internal)?,
    );
    let row = edit(
        &state,
        &project,
        Box::new(move |row| {
            let mut deployed = row.draft.clone();
            if let Some(object) = deployed.as_object_mut() {
                object.insert("tiers".to_owned(), tiers);
            }
            row.deployed = Some(deployed);
            if let Some(model) = row.draft_provider_model.take() {
                row.provider_model = Some(model);
            }
            row.deployed_at = Some(behest_store::now());
            Ok(())
        }),
    )
    .await?;
    state.changes.changed().await.map_err(|err| {
        tracing::error!(project = %project.id, error = %err, "deploy saved but not published");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "LIVE_SYNC_FAILED",
            "settings were saved but live traffic could not be updated; retry the deploy",
        )
    })?;
    Ok(Json(
        json!({ "deployed": true, "project_id": project.id, "deployed_at": row.deployed_at }),
    ))
}

/// Restores the draft (settings and tiers) from the deployed snapshot.
pub async fn discard_draft(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let row = edit(
        &state,
        &project,
        Box::new(|row| {
            let mut deployed = row
                .deployed
                .clone()
                .ok_or_else(|| NO_DEPLOYED_SNAPSHOT.to_owned())?;
            if let Some(object) = deployed.as_object_mut() {
                object.remove("tiers");
            }
            row.draft = deployed;
            row.draft_provider_model = None;
            row.draft_saved_at = None;
            Ok(())
        }),
    )
    .await?;
    if let Some(deployed) = &row.deployed {
        let tiers = crate::tiers::from_snapshot(project.id, deployed);
        state
            .store
            .replace_tiers(project.id, &tiers)
            .await
            .map_err(ApiError::internal)?;
    }
    Ok(Json(view(&row)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelBody {
    provider_model: Option<String>,
}

fn required_model(body: ModelBody) -> ApiResult<String> {
    body.provider_model
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MISSING_MODEL",
                "provider_model is required",
            )
            .with_param("provider_model")
        })
}

/// `PUT .../settings/model`: live at once, no deploy.
pub async fn set_model(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ModelBody>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let model = required_model(body)?;
    let route = state.usable_model(&model, project.tenant_id)?;
    let live = model.clone();
    edit(
        &state,
        &project,
        Box::new(move |row| {
            if row.draft_provider_model.as_ref() == Some(&live) {
                row.draft_provider_model = None;
            }
            row.provider_model = Some(live);
            Ok(())
        }),
    )
    .await?;
    state.publish().await;
    Ok(Json(
        json!({ "configured": true, "provider_model": model, "provider_type": route.provider.as_str() }),
    ))
}

/// `DELETE .../settings/model`: back to the platform default.
pub async fn reset_model(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let project = project(&state, &caller, &id).await?;
    edit(
        &state,
        &project,
        Box::new(|row| {
            row.provider_model
                .take()
                .map(|_| ())
                .ok_or_else(|| "NO_MODEL".to_owned())
        }),
    )
    .await?;
    state.publish().await;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT .../settings/model/draft`: saved, not live.
pub async fn set_model_draft(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ModelBody>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let model = required_model(body)?;
    if !is_known(&model) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "UNKNOWN_MODEL",
            format!("{model:?} is not a known model"),
        )
        .with_param("provider_model"));
    }
    let row = edit(
        &state,
        &project,
        Box::new(move |row| {
            row.draft_provider_model =
                Some(model).filter(|m| Some(m) != row.provider_model.as_ref());
            row.draft_saved_at = Some(behest_store::now());
            Ok(())
        }),
    )
    .await?;
    Ok(Json(
        json!({ "draft_provider_model": row.draft_provider_model, "draft_saved_at": row.draft_saved_at }),
    ))
}

pub async fn discard_model_draft(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let project = project(&state, &caller, &id).await?;
    edit(
        &state,
        &project,
        Box::new(|row| {
            row.draft_provider_model = None;
            Ok(())
        }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../settings/model/publish`: the model draft goes live.
pub async fn publish_model(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let current = settings_row(&state, project.id).await?;
    let draft = current
        .draft_provider_model
        .ok_or_else(|| rejection(NO_DRAFT))?;
    // The provider may have lost its key since the draft was saved.
    state.usable_model(&draft, project.tenant_id)?;
    let row = edit(
        &state,
        &project,
        Box::new(|row| {
            let model = row
                .draft_provider_model
                .take()
                .ok_or_else(|| NO_DRAFT.to_owned())?;
            row.provider_model = Some(model);
            row.deployed_at = Some(behest_store::now());
            Ok(())
        }),
    )
    .await?;
    state.publish().await;
    Ok(Json(
        json!({ "provider_model": row.provider_model, "deployed_at": row.deployed_at }),
    ))
}

/// `GET .../memory`: the memory settings live traffic uses (the defaults until a deploy).
pub async fn memory(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = project(&state, &caller, &id).await?;
    let row = settings_row(&state, project.id).await?;
    let live: SettingsValues = match &row.deployed {
        Some(deployed) => serde_json::from_value(deployed.clone()).map_err(ApiError::internal)?,
        None => SettingsValues::default(),
    };
    Ok(Json(json!({
        "project_id": project.id,
        "memory_enabled": live.memory_enabled,
        "memory_window": live.memory_window,
        "retention_days": live.retention_days,
        "system_prompt": live.system_prompt,
        "store_tool_calls": live.store_tool_calls,
    })))
}
