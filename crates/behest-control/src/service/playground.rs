//! The playground (dashboard → Project → Playground): the rules for trying a project's
//! draft before deploying it. The draft's model (else the live one: a draft equal to
//! the live model is no draft), its settings as the policy (system prompt, guards,
//! limits), a model the tenant can use, and at most [`CALLS_PER_HOUR`] calls per user
//! per project. The binary runs the plan through the same pipeline function as live
//! traffic, in process.

use crate::error::{ControlError, ControlResult};
use crate::service::Actor;
use crate::state::ControlState;
use behest_core::policy::ProjectPolicy;
use behest_core::settings::DeployedSnapshot;
use behest_core::ErrorCode;
use uuid::Uuid;

/// The seed's limit.
pub const CALLS_PER_HOUR: usize = 50;

/// What the playground runs: the project, the draft as a policy, and who is trying it.
#[derive(Debug, Clone)]
pub struct PlaygroundPlan {
    pub project_id: Uuid,
    pub tenant_id: Uuid,
    pub model: String,
    pub policy: ProjectPolicy,
}

/// The plan for one playground call by the signed-in user, counted against the limit.
pub async fn prepare(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<PlaygroundPlan> {
    let user = actor.user()?;
    let project = ctl.project_for(actor, project_id).await?;
    let row = ctl
        .store
        .settings(project.id)
        .await?
        .ok_or_else(|| ControlError::not_found("project settings not found"))?;
    let model = row
        .draft_provider_model
        .clone()
        .or_else(|| row.provider_model.clone())
        .ok_or_else(|| {
            ControlError::not_found(
                "no draft model is configured: choose one under Settings → Model first",
            )
        })?;
    ctl.usable_model(&model, project.tenant_id).await?;
    ctl.playground_calls
        .admit((user.id, project.id), CALLS_PER_HOUR)
        .map_err(|wait| {
            ControlError::refused(
                ErrorCode::RateLimited,
                format!(
                    "at most {CALLS_PER_HOUR} playground calls per hour per project; retry in {} s",
                    wait.as_secs().max(1)
                ),
            )
        })?;
    let draft = DeployedSnapshot {
        settings: row.draft.clone(),
        tiers: Vec::new(),
    };
    Ok(PlaygroundPlan {
        project_id: project.id,
        tenant_id: project.tenant_id,
        policy: ProjectPolicy::new(Some(draft), Some(model.clone())),
        model,
    })
}
