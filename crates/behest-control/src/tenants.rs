//! Tenants: creating more of them, and the admin's plan switch.

use crate::access::{AdminSecret, DashboardUser};
use crate::input::required_name;
use crate::state::ControlState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use behest_core::Plan;
use behest_http::{parse_uuid, ApiError, ApiJson, ApiResult};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: Option<String>,
}

pub async fn create(
    State(state): State<ControlState>,
    caller: DashboardUser,
    ApiJson(body): ApiJson<CreateTenant>,
) -> ApiResult<impl IntoResponse> {
    let name = required_name(body.name, "name", 100)?;
    let tenant = state
        .store
        .create_tenant(caller.user.id, &name)
        .await
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": tenant.id,
            "name": tenant.name,
            "plan": tenant.plan.as_str(),
            "created_at": tenant.created_at,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPlan {
    plan: Option<String>,
}

pub async fn set_plan(
    State(state): State<ControlState>,
    _admin: AdminSecret,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<SetPlan>,
) -> ApiResult<impl IntoResponse> {
    let tenant_id = parse_uuid(&tenant_id, "tenantId")?;
    let plan: Plan = body
        .plan
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| ApiError::validation("plan", "plan must be \"free\" or \"pro\""))?;
    let tenant = state
        .store
        .set_plan(tenant_id, plan)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("tenant not found"))?;
    Ok(Json(
        json!({ "id": tenant.id, "name": tenant.name, "plan": tenant.plan.as_str() }),
    ))
}
