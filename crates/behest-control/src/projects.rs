//! Projects: list, create (slug, settings row and DNS job in one transaction), DNS
//! provisioning status and retry, suspension.

use crate::access::DashboardUser;
use crate::input::required_name;
use crate::state::ControlState;
use crate::views::{ProjectView, ProvisioningView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use behest_core::settings::SettingsValues;
use behest_core::slug;
use behest_http::{parse_uuid, ApiError, ApiJson, ApiResult};
use behest_store::{NewProject, StoreError};
use serde::Deserialize;
use serde_json::json;

/// Slug clashes are rare (40×40×1000 names); a few retries make them invisible.
const SLUG_ATTEMPTS: usize = 10;

pub async fn list(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(tenant_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let tenant = state
        .tenant_for(&caller.user, parse_uuid(&tenant_id, "tenantId")?)
        .await?;
    let projects = state
        .store
        .projects(tenant.id)
        .await
        .map_err(ApiError::internal)?;
    let site = &state.config.site;
    Ok(Json(
        projects
            .iter()
            .map(|p| ProjectView::new(p, site))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    name: Option<String>,
}

pub async fn create(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<CreateProject>,
) -> ApiResult<impl IntoResponse> {
    let tenant = state
        .tenant_for(&caller.user, parse_uuid(&tenant_id, "tenantId")?)
        .await?;
    let name = required_name(body.name, "name", 100)?;
    let settings = serde_json::to_value(SettingsValues::default()).map_err(ApiError::internal)?;
    for _ in 0..SLUG_ATTEMPTS {
        let new = NewProject {
            tenant_id: tenant.id,
            name: name.clone(),
            slug: slug::random(),
            active_limit: tenant.plan.active_project_limit(),
            settings: settings.clone(),
        };
        match state.store.create_project(new).await {
            Ok(project) => {
                state.jobs.notify_one();
                state.publish().await;
                return Ok((
                    StatusCode::CREATED,
                    Json(ProjectView::new(&project, &state.config.site)),
                ));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(StoreError::LimitReached) => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "PROJECT_LIMIT_REACHED",
                    format!(
                        "the {} plan allows {} active projects; suspend one or upgrade to pro",
                        tenant.plan,
                        tenant.plan.active_project_limit().unwrap_or_default()
                    ),
                ))
            }
            Err(other) => return Err(ApiError::internal(other)),
        }
    }
    Err(ApiError::internal("no free slug after several attempts"))
}

pub async fn show(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(project_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    Ok(Json(ProjectView::new(&project, &state.config.site)))
}

pub async fn provisioning(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(project_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    let site = &state.config.site;
    Ok(Json(ProvisioningView {
        dns_status: project.dns_status.as_str(),
        dns_last_error: project.dns_last_error.clone(),
        fqdn_dev: site.dev_fqdn(&project.slug),
        fqdn_prod: site.prod_fqdn(&project.slug),
        slug: project.slug.clone(),
        dns_updated_at: project.dns_updated_at,
    }))
}

pub async fn retry_provisioning(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(project_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    let retried = state
        .store
        .retry_provisioning(project.id)
        .await
        .map_err(ApiError::internal)?;
    if !retried {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "DNS_NOT_FAILED",
            format!(
                "provisioning can only be retried from FAILED (it is {})",
                project.dns_status
            ),
        ));
    }
    state.jobs.notify_one();
    Ok(Json(json!({ "dns_status": "PENDING" })))
}

/// Idempotent: suspending a suspended project answers 200 and changes nothing.
pub async fn suspend(
    State(state): State<ControlState>,
    caller: DashboardUser,
    Path(project_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let project = state
        .project_for(&caller.user, parse_uuid(&project_id, "projectId")?)
        .await?;
    if state
        .store
        .suspend_project(project.id)
        .await
        .map_err(ApiError::internal)?
    {
        state.jobs.notify_one();
        state.publish().await;
    }
    Ok(Json(json!({ "status": "suspended" })))
}
