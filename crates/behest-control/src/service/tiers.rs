//! Project tiers: up to three per project, each overriding a subset of the settings.
//! Tiers are part of the draft: create, update and delete change what the dashboard
//! shows; live traffic sees them after a deploy, which freezes them into the deployed
//! snapshot (and discarding the draft restores them from it).

use crate::error::{ControlError, ControlResult};
use crate::input::required_name;
use crate::service::{settings, Actor};
use crate::state::ControlState;
use behest_core::settings::{Scope, SettingsPatch, SettingsValues, TierSpec};
use behest_core::ErrorCode;
use behest_store::{Project, StoreError, Tier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub const MAX_TIERS: i64 = 3;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    pub name: Option<String>,
    pub sort_order: Option<i64>,
    /// The seed's field names; validated like `PUT .../settings` (as `overrides.<field>`).
    pub overrides: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct TierView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub sort_order: i64,
    pub overrides: SettingsPatch,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<ResolvedView>,
}

/// The project's draft settings and live model with a tier's overrides on top.
#[derive(Debug, Serialize)]
pub struct ResolvedView {
    #[serde(flatten)]
    pub values: SettingsValues,
    pub provider_model: Option<String>,
}

impl TierView {
    fn new(tier: &Tier, resolved: Option<ResolvedView>) -> TierView {
        TierView {
            id: tier.id,
            project_id: tier.project_id,
            name: tier.name.clone(),
            sort_order: tier.sort_order,
            overrides: tier.overrides.clone(),
            created_at: tier.created_at,
            updated_at: tier.updated_at,
            resolved,
        }
    }
}

/// A tier row as the deployed snapshot keeps it.
pub(crate) fn spec_of(tier: &Tier) -> TierSpec {
    TierSpec {
        id: tier.id,
        name: tier.name.clone(),
        sort_order: tier.sort_order,
        overrides: tier.overrides.clone(),
        created_at: tier.created_at,
        updated_at: tier.updated_at,
    }
}

/// A deployed tier back as a row of `project_id`.
pub(crate) fn row_of(project_id: Uuid, spec: &TierSpec) -> Tier {
    Tier {
        id: spec.id,
        project_id,
        name: spec.name.clone(),
        sort_order: spec.sort_order,
        overrides: spec.overrides.clone(),
        created_at: spec.created_at,
        updated_at: spec.updated_at,
    }
}

/// The project, for an actor who may see it. The seed answers 403 here (not 404) when
/// the project exists but belongs to someone else.
async fn owned_project(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<Project> {
    match ctl.project_for(actor, project_id).await {
        Ok(project) => Ok(project),
        Err(not_found) => match ctl.store.project(project_id).await? {
            Some(_) => Err(ControlError::forbidden("you do not own this project")),
            None => Err(not_found),
        },
    }
}

async fn resolved(ctl: &ControlState, tier: &Tier) -> ControlResult<ResolvedView> {
    let row = settings::row(ctl, tier.project_id).await?;
    Ok(ResolvedView {
        values: row.draft.patched(&tier.overrides),
        provider_model: tier
            .overrides
            .provider_model
            .clone()
            .unwrap_or(row.provider_model),
    })
}

/// Validates overrides with the settings rules (fields named `overrides.<field>`); a
/// model must also be usable (422).
async fn parse_overrides(
    ctl: &ControlState,
    project: &Project,
    overrides: &Map<String, Value>,
) -> ControlResult<SettingsPatch> {
    let patch = SettingsPatch::parse(overrides, Scope::Tier, &|m| ctl.is_known_model(m)).map_err(
        |errors| {
            ControlError::Invalid(
                errors
                    .into_iter()
                    .map(|mut e| {
                        e.field = format!("overrides.{}", e.field);
                        e
                    })
                    .collect(),
            )
        },
    )?;
    if let Some(Some(model)) = &patch.provider_model {
        ctl.usable_model(model, project.tenant_id)
            .await
            .map_err(|err| err.with_param("overrides.provider_model"))?;
    }
    Ok(patch)
}

fn store_error(err: StoreError) -> ControlError {
    match err {
        StoreError::LimitReached => ControlError::refused(
            ErrorCode::TierLimitReached,
            format!("a project has at most {MAX_TIERS} tiers"),
        ),
        StoreError::Conflict(_) => ControlError::refused(
            ErrorCode::TierNameTaken,
            "a tier with this name already exists",
        )
        .with_param("name"),
        other => other.into(),
    }
}

pub async fn list(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<Vec<TierView>> {
    let project = owned_project(ctl, actor, project_id).await?;
    let mut out = Vec::new();
    for tier in ctl.store.tiers(project.id).await? {
        let resolved = resolved(ctl, &tier).await?;
        out.push(TierView::new(&tier, Some(resolved)));
    }
    Ok(out)
}

pub async fn create(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    input: TierInput,
) -> ControlResult<TierView> {
    let project = owned_project(ctl, actor, project_id).await?;
    let name = required_name(input.name, "name", 64)?;
    let overrides = parse_overrides(ctl, &project, &input.overrides.unwrap_or_default()).await?;
    let now = behest_store::now();
    let tier = Tier {
        id: Uuid::new_v4(),
        project_id: project.id,
        name,
        sort_order: input.sort_order.unwrap_or(0),
        overrides,
        created_at: now,
        updated_at: now,
    };
    ctl.store
        .create_tier_limited(&tier, MAX_TIERS)
        .await
        .map_err(store_error)?;
    Ok(TierView::new(&tier, None))
}

pub async fn update(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    tier_id: Uuid,
    input: TierInput,
) -> ControlResult<TierView> {
    let project = owned_project(ctl, actor, project_id).await?;
    let mut tier = existing(ctl, &project, tier_id).await?;
    if input.name.is_some() {
        tier.name = required_name(input.name, "name", 64)?;
    }
    if let Some(order) = input.sort_order {
        tier.sort_order = order;
    }
    if let Some(overrides) = &input.overrides {
        tier.overrides = parse_overrides(ctl, &project, overrides).await?;
    }
    tier.updated_at = behest_store::now();
    if !ctl.store.update_tier(&tier).await.map_err(store_error)? {
        return Err(ControlError::not_found("tier not found"));
    }
    Ok(TierView::new(&tier, None))
}

pub async fn delete(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    tier_id: Uuid,
) -> ControlResult<()> {
    let project = owned_project(ctl, actor, project_id).await?;
    let tier = existing(ctl, &project, tier_id).await?;
    ctl.store.delete_tier(project.id, tier.id).await?;
    Ok(())
}

pub async fn show_resolved(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    tier_id: Uuid,
) -> ControlResult<ResolvedView> {
    let project = owned_project(ctl, actor, project_id).await?;
    let tier = existing(ctl, &project, tier_id).await?;
    resolved(ctl, &tier).await
}

async fn existing(ctl: &ControlState, project: &Project, tier_id: Uuid) -> ControlResult<Tier> {
    ctl.store
        .tier(project.id, tier_id)
        .await?
        .ok_or_else(|| ControlError::not_found("tier not found"))
}
