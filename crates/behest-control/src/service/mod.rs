//! The control plane's business rules, as plain async functions over a
//! [`ControlState`], an [`Actor`] and typed inputs, returning typed views or a
//! [`ControlError`]. The JSON handlers, the dashboard, `--demo` and the playground all
//! call these; none of them touches the store or re-implements a rule.

pub mod accounts;
pub mod api_keys;
pub mod catalog;
pub mod killswitch;
pub mod mint;
pub mod models;
pub mod playground;
pub mod projects;
pub mod providers;
pub mod settings;
pub mod signing_keys;
pub mod tenants;
pub mod tiers;
pub mod usage;

use crate::error::{ControlError, ControlResult};
use crate::state::ControlState;
use behest_store::{Project, Tenant, User};
use uuid::Uuid;

/// Who is acting: a signed-in dashboard user, or the operator holding the admin secret.
#[derive(Debug, Clone)]
pub enum Actor {
    User(User),
    Admin,
}

impl Actor {
    /// The signed-in user, or a refusal for an admin on a user-only operation.
    pub fn user(&self) -> ControlResult<&User> {
        match self {
            Actor::User(user) => Ok(user),
            Actor::Admin => Err(ControlError::forbidden(
                "this operation needs a signed-in user",
            )),
        }
    }
}

impl ControlState {
    /// The tenant, if the actor may see it. Another tenant's id answers exactly like an
    /// id that does not exist (404), so that ids cannot be probed.
    pub(crate) async fn tenant_for(&self, actor: &Actor, tenant_id: Uuid) -> ControlResult<Tenant> {
        let visible = match actor {
            Actor::Admin => true,
            Actor::User(user) => self.store.member_role(tenant_id, user.id).await?.is_some(),
        };
        let tenant = if visible {
            self.store.tenant(tenant_id).await?
        } else {
            None
        };
        tenant.ok_or_else(|| ControlError::not_found("tenant not found"))
    }

    /// The project, if the actor may see its tenant; 404 otherwise.
    pub(crate) async fn project_for(
        &self,
        actor: &Actor,
        project_id: Uuid,
    ) -> ControlResult<Project> {
        let not_found = || ControlError::not_found("project not found");
        let project = self
            .store
            .project(project_id)
            .await?
            .ok_or_else(not_found)?;
        match actor {
            Actor::Admin => Ok(project),
            Actor::User(user) => self
                .store
                .member_role(project.tenant_id, user.id)
                .await?
                .map(|_| project)
                .ok_or_else(not_found),
        }
    }
}
