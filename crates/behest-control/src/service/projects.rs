//! Projects: list, create (slug, settings row and DNS job in one transaction, within
//! the plan's limit), show, DNS provisioning status and retry, suspension.

use crate::error::{ControlError, ControlResult};
use crate::input::required_name;
use crate::service::Actor;
use crate::state::ControlState;
use crate::views::{ProjectView, ProvisioningView};
use behest_core::settings::SettingsValues;
use behest_core::{slug, DnsStatus, ErrorCode};
use behest_store::{NewProject, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Slug clashes are rare (40×40×1000 names); a few retries make them invisible.
const SLUG_ATTEMPTS: usize = 10;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectInput {
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DnsRetryView {
    pub dns_status: DnsStatus,
}

#[derive(Debug, Serialize)]
pub struct SuspendedView {
    pub status: &'static str,
}

pub async fn list(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
) -> ControlResult<Vec<ProjectView>> {
    let tenant = ctl.tenant_for(actor, tenant_id).await?;
    let projects = ctl.store.projects(tenant.id).await?;
    let site = &ctl.config.site;
    Ok(projects.iter().map(|p| ProjectView::new(p, site)).collect())
}

/// A new project, its settings row with the seed's defaults, and its DNS job. 403
/// `PROJECT_LIMIT_REACHED` beyond the plan's active projects.
pub async fn create(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    input: CreateProjectInput,
) -> ControlResult<ProjectView> {
    let tenant = ctl.tenant_for(actor, tenant_id).await?;
    let name = required_name(input.name, "name", 100)?;
    for _ in 0..SLUG_ATTEMPTS {
        let new = NewProject {
            tenant_id: tenant.id,
            name: name.clone(),
            slug: slug::random(),
            active_limit: tenant.plan.active_project_limit(),
            settings: SettingsValues::default(),
        };
        match ctl.store.create_project(new).await {
            Ok(project) => {
                ctl.jobs.notify_one();
                ctl.publish().await;
                return Ok(ProjectView::new(&project, &ctl.config.site));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(StoreError::LimitReached) => {
                return Err(ControlError::refused(
                    ErrorCode::ProjectLimitReached,
                    format!(
                        "the {} plan allows {} active projects; suspend one or upgrade to pro",
                        tenant.plan,
                        tenant.plan.active_project_limit().unwrap_or_default()
                    ),
                ))
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(ControlError::internal(
        "no free slug after several attempts",
    ))
}

pub async fn show(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<ProjectView> {
    let project = ctl.project_for(actor, project_id).await?;
    Ok(ProjectView::new(&project, &ctl.config.site))
}

pub async fn provisioning(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<ProvisioningView> {
    let project = ctl.project_for(actor, project_id).await?;
    let site = &ctl.config.site;
    Ok(ProvisioningView {
        dns_status: project.dns_status.as_str(),
        dns_last_error: project.dns_last_error.clone(),
        fqdn_dev: site.dev_fqdn(&project.slug),
        fqdn_prod: site.prod_fqdn(&project.slug),
        slug: project.slug.clone(),
        dns_updated_at: project.dns_updated_at,
    })
}

/// Only from `FAILED` (400 `DNS_NOT_FAILED` otherwise).
pub async fn retry_provisioning(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<DnsRetryView> {
    let project = ctl.project_for(actor, project_id).await?;
    if !ctl.store.retry_provisioning(project.id).await? {
        return Err(ControlError::refused(
            ErrorCode::DnsNotFailed,
            format!(
                "provisioning can only be retried from FAILED (it is {})",
                project.dns_status
            ),
        ));
    }
    ctl.jobs.notify_one();
    Ok(DnsRetryView {
        dns_status: DnsStatus::Pending,
    })
}

/// Revokes every key and removes DNS. Idempotent: a suspended project stays as it is.
pub async fn suspend(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<SuspendedView> {
    let project = ctl.project_for(actor, project_id).await?;
    if ctl.store.suspend_project(project.id).await? {
        ctl.jobs.notify_one();
        ctl.publish().await;
    }
    Ok(SuspendedView {
        status: "suspended",
    })
}
