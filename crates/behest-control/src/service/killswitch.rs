//! Kill switches (admin only): on or off for everything, a tenant or a project; durable
//! in the store and carried to every gateway process by the live image, like settings.

use crate::error::{ControlError, ControlResult};
use crate::service::Actor;
use crate::state::ControlState;
use behest_core::killswitch::{KillScope, KillSwitches};
use behest_core::ErrorCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchInput {
    pub enabled: Option<bool>,
}

/// The seed's answer: `{killswitch, enabled}` plus `tenantId` or `projectId`.
#[derive(Debug, Serialize)]
pub struct SwitchView {
    pub killswitch: &'static str,
    #[serde(rename = "tenantId", skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    #[serde(rename = "projectId", skip_serializing_if = "Option::is_none")]
    pub project_id: Option<Uuid>,
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub global: bool,
    pub tenants: Vec<Uuid>,
    pub projects: Vec<Uuid>,
}

fn admin_only(actor: &Actor) -> ControlResult<()> {
    match actor {
        Actor::Admin => Ok(()),
        Actor::User(_) => Err(ControlError::forbidden("kill switches are the admin's")),
    }
}

/// Turns a switch on or off and tells every gateway process; 404 for a tenant or
/// project that does not exist, 502 `LIVE_SYNC_FAILED` when the switch is saved but
/// live traffic could not be told (set it again to retry).
pub async fn set(
    ctl: &ControlState,
    actor: &Actor,
    scope: KillScope,
    input: SwitchInput,
) -> ControlResult<SwitchView> {
    admin_only(actor)?;
    let enabled = input
        .enabled
        .ok_or_else(|| ControlError::invalid("enabled", "enabled must be true or false"))?;
    match scope {
        KillScope::Global => {}
        KillScope::Tenant(id) => {
            ctl.store
                .tenant(id)
                .await?
                .ok_or_else(|| ControlError::not_found("tenant not found"))?;
        }
        KillScope::Project(id) => {
            ctl.store
                .project(id)
                .await?
                .ok_or_else(|| ControlError::not_found("project not found"))?;
        }
    }
    ctl.store.set_kill_switch(scope, enabled).await?;
    tracing::warn!(scope = scope.name(), target = ?scope.target(), enabled, "kill switch set");
    ctl.changes.changed().await.map_err(|err| {
        tracing::error!(error = %err, "kill switch saved but not published");
        ControlError::refused(
            ErrorCode::LiveSyncFailed,
            "the switch was saved but live traffic could not be updated; set it again",
        )
    })?;
    Ok(SwitchView {
        killswitch: scope.name(),
        tenant_id: matches!(scope, KillScope::Tenant(_))
            .then(|| scope.target())
            .flatten(),
        project_id: matches!(scope, KillScope::Project(_))
            .then(|| scope.target())
            .flatten(),
        enabled,
    })
}

pub async fn status(ctl: &ControlState, actor: &Actor) -> ControlResult<StatusView> {
    admin_only(actor)?;
    let switches = KillSwitches::from_scopes(ctl.store.kill_switches().await?);
    Ok(StatusView {
        global: switches.global,
        tenants: switches.tenants.into_iter().collect(),
        projects: switches.projects.into_iter().collect(),
    })
}
