//! Tenants: creating more of them, and the admin's plan switch.

use crate::error::{ControlError, ControlResult};
use crate::input::required_name;
use crate::service::Actor;
use crate::state::ControlState;
use behest_core::{MemberRole, Plan};
use behest_store::Tenant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantInput {
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    pub plan: &'static str,
    pub created_at: DateTime<Utc>,
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> TenantView {
        TenantView {
            id: tenant.id,
            name: tenant.name.clone(),
            plan: tenant.plan.as_str(),
            created_at: tenant.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPlanInput {
    pub plan: Option<String>,
}

pub async fn create(
    ctl: &ControlState,
    actor: &Actor,
    input: CreateTenantInput,
) -> ControlResult<TenantView> {
    let user = actor.user()?;
    let name = required_name(input.name, "name", 100)?;
    let limit = ctl.config.object_limits.tenants_per_user;
    let owned = ctl
        .store
        .memberships(user.id)
        .await?
        .iter()
        .filter(|m| m.role == MemberRole::Owner)
        .count();
    if owned >= limit {
        return Err(crate::error::object_limit(
            "tenants_per_user",
            limit,
            "tenants owned by one user",
        ));
    }
    let tenant = ctl.store.create_tenant(user.id, &name).await?;
    Ok(TenantView::from(&tenant))
}

/// The admin's switch between `free` and `pro`.
pub async fn set_plan(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    input: SetPlanInput,
) -> ControlResult<TenantView> {
    if !matches!(actor, Actor::Admin) {
        return Err(ControlError::forbidden("only the admin may change a plan"));
    }
    let plan: Plan = input
        .plan
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| ControlError::invalid("plan", "plan must be \"free\" or \"pro\""))?;
    let tenant = ctl
        .store
        .set_plan(tenant_id, plan)
        .await?
        .ok_or_else(|| ControlError::not_found("tenant not found"))?;
    Ok(TenantView::from(&tenant))
}
