//! Project tiers: up to three per project, each overriding a subset of the settings.
//! Tiers are part of the draft: create, update and delete change what the dashboard
//! shows; live traffic sees them after `POST .../settings/deploy`, which copies them
//! into the deployed snapshot (and `discard-draft` restores them from it).

use crate::access::DashboardUser;
use crate::input::required_name;
use crate::models::is_known;
use crate::settings::violations;
use crate::state::ControlState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use behest_core::settings::{apply_change, validate_change, Scope, SettingsValues};
use behest_http::{parse_uuid, ApiError, ApiJson, ApiResult};
use behest_store::{Project, StoreError, Tier};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

pub const MAX_TIERS: i64 = 3;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBody {
    name: Option<String>,
    sort_order: Option<i64>,
    overrides: Option<Map<String, Value>>,
}

/// The project, for a caller who owns it. The seed answers 403 here (not 404) when the
/// project exists but belongs to someone else.
async fn owned_project(
    state: &ControlState,
    caller: &DashboardUser,
    raw: &str,
) -> ApiResult<Project> {
    let id = parse_uuid(raw, "projectId")?;
    match state.project_for(&caller.user, id).await {
        Ok(project) => Ok(project),
        Err(not_found) => match state.store.project(id).await.map_err(ApiError::internal)? {
            Some(_) => Err(ApiError::forbidden("you do not own this project")),
            None => Err(not_found),
        },
    }
}

fn view(tier: &Tier) -> Value {
    json!({
        "id": tier.id,
        "project_id": tier.project_id,
        "name": tier.name,
        "sort_order": tier.sort_order,
        "overrides": tier.overrides,
        "created_at": tier.created_at,
        "updated_at": tier.updated_at,
    })
}

/// The project's draft settings with the tier's overrides on top.
async fn resolved(state: &ControlState, tier: &Tier) -> ApiResult<Value> {
    let row = crate::settings::settings_row(state, tier.project_id).await?;
    let mut values: SettingsValues =
        serde_json::from_value(row.draft).map_err(ApiError::internal)?;
    values.provider_model = row.provider_model;
    if let Some(overrides) = tier.overrides.as_object() {
        apply_change(&mut values, overrides).map_err(ApiError::internal)?;
    }
    serde_json::to_value(values).map_err(ApiError::internal)
}

/// Checks `overrides` with the settings rules; a model must also be usable (422).
fn check_overrides(
    state: &ControlState,
    project: &Project,
    overrides: &Map<String, Value>,
) -> ApiResult<()> {
    let errors = validate_change(overrides, Scope::Tier, &is_known);
    if !errors.is_empty() {
        let mut error = violations(&errors);
        error.param = error.param.map(|fields| {
            fields
                .split(',')
                .map(|f| format!("overrides.{f}"))
                .collect::<Vec<_>>()
                .join(",")
        });
        return Err(error);
    }
    if let Some(model) = overrides.get("provider_model").and_then(Value::as_str) {
        state
            .usable_model(model, project.tenant_id)
            .map_err(|mut err| {
                err.param = Some("overrides.provider_model".to_owned());
                err
            })?;
    }
    Ok(())
}

fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::LimitReached => ApiError::conflict(
            "TIER_LIMIT_REACHED",
            format!("a project has at most {MAX_TIERS} tiers"),
        ),
        StoreError::Conflict(_) => {
            ApiError::conflict("TIER_NAME_TAKEN", "a tier with this name already exists")
                .with_param("name")
        }
        other => ApiError::internal(other),
    }
}

pub async fn list(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = owned_project(&state, &caller, &id).await?;
    let tiers = state
        .store
        .tiers(project.id)
        .await
        .map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(tiers.len());
    for tier in &tiers {
        let mut item = view(tier);
        item["resolved"] = resolved(&state, tier).await?;
        out.push(item);
    }
    Ok(Json(out))
}

pub async fn create(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TierBody>,
) -> ApiResult<impl IntoResponse> {
    let project = owned_project(&state, &caller, &id).await?;
    let name = required_name(body.name, "name", 64)?;
    let overrides = body.overrides.unwrap_or_default();
    check_overrides(&state, &project, &overrides)?;
    let now = behest_store::now();
    let tier = Tier {
        id: Uuid::new_v4(),
        project_id: project.id,
        name,
        sort_order: body.sort_order.unwrap_or(0),
        overrides: Value::Object(overrides),
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .create_tier_limited(&tier, MAX_TIERS)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(view(&tier))))
}

pub async fn update(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path((id, tier_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TierBody>,
) -> ApiResult<impl IntoResponse> {
    let project = owned_project(&state, &caller, &id).await?;
    let mut tier = existing(&state, &project, &tier_id).await?;
    if body.name.is_some() {
        tier.name = required_name(body.name, "name", 64)?;
    }
    if let Some(order) = body.sort_order {
        tier.sort_order = order;
    }
    if let Some(overrides) = body.overrides {
        check_overrides(&state, &project, &overrides)?;
        tier.overrides = Value::Object(overrides);
    }
    tier.updated_at = behest_store::now();
    if !state.store.update_tier(&tier).await.map_err(store_error)? {
        return Err(ApiError::not_found("tier not found"));
    }
    Ok(Json(view(&tier)))
}

pub async fn delete(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path((id, tier_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let project = owned_project(&state, &caller, &id).await?;
    let tier = existing(&state, &project, &tier_id).await?;
    state
        .store
        .delete_tier(project.id, tier.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn show_resolved(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path((id, tier_id)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let project = owned_project(&state, &caller, &id).await?;
    let tier = existing(&state, &project, &tier_id).await?;
    Ok(Json(resolved(&state, &tier).await?))
}

async fn existing(state: &ControlState, project: &Project, raw: &str) -> ApiResult<Tier> {
    let tier_id = parse_uuid(raw, "tierId")?;
    state
        .store
        .tier(project.id, tier_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("tier not found"))
}

/// The tiers as the deployed snapshot keeps them.
pub(crate) fn snapshot(tiers: &[Tier]) -> Value {
    Value::Array(
        tiers
            .iter()
            .map(|t| json!({"id": t.id, "name": t.name, "sort_order": t.sort_order, "overrides": t.overrides, "created_at": t.created_at, "updated_at": t.updated_at}))
            .collect(),
    )
}

/// The tiers a deployed snapshot holds, as rows of `project_id`.
pub(crate) fn from_snapshot(project_id: Uuid, deployed: &Value) -> Vec<Tier> {
    deployed
        .get("tiers")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    Some(Tier {
                        id: item
                            .get("id")
                            .and_then(|v| serde_json::from_value(v.clone()).ok())?,
                        project_id,
                        name: item.get("name")?.as_str()?.to_owned(),
                        sort_order: item.get("sort_order").and_then(Value::as_i64).unwrap_or(0),
                        overrides: item.get("overrides").cloned().unwrap_or_else(|| json!({})),
                        created_at: item
                            .get("created_at")
                            .and_then(|v| serde_json::from_value(v.clone()).ok())?,
                        updated_at: item
                            .get("updated_at")
                            .and_then(|v| serde_json::from_value(v.clone()).ok())?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}
