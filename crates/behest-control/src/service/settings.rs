//! Project settings: the draft a tenant edits, the deployed snapshot live traffic uses,
//! and the model selection that skips the draft. Editing never touches live traffic;
//! `deploy` freezes the draft (settings and tiers) and publishes it; `discard_draft`
//! goes back to what was deployed.

use crate::error::{ControlError, ControlResult};
use crate::service::tiers::{row_of, spec_of};
use crate::service::Actor;
use crate::state::ControlState;
use behest_core::settings::{
    check_cors_pair, DeployedSnapshot, Scope, SettingsPatch, SettingsRejection, SettingsValues,
};
use behest_core::ErrorCode;
use behest_store::{Project, SettingsEdit, SettingsRow, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The seed's settings object: the draft's values, the live model and the model draft.
#[derive(Debug, Serialize)]
pub struct SettingsView {
    pub id: Uuid,
    pub project_id: Uuid,
    #[serde(flatten)]
    pub values: SettingsValues,
    pub provider_model: Option<String>,
    pub draft_provider_model: Option<String>,
    pub draft_saved_at: Option<DateTime<Utc>>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SettingsRow> for SettingsView {
    fn from(row: SettingsRow) -> SettingsView {
        SettingsView {
            id: row.id,
            project_id: row.project_id,
            values: row.draft,
            provider_model: row.provider_model,
            draft_provider_model: row.draft_provider_model,
            draft_saved_at: row.draft_saved_at,
            deployed_at: row.deployed_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeployedView {
    pub deployed: bool,
    pub project_id: Uuid,
    pub deployed_at: Option<DateTime<Utc>>,
}

/// The body of the model routes: `{provider_model}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInput {
    pub provider_model: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelSetView {
    pub configured: bool,
    pub provider_model: String,
    pub provider_type: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ModelDraftView {
    pub draft_provider_model: Option<String>,
    pub draft_saved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct PublishedModelView {
    pub provider_model: Option<String>,
    pub deployed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct MemoryView {
    pub project_id: Uuid,
    pub memory_enabled: bool,
    pub memory_window: i64,
    pub retention_days: Option<i64>,
    pub system_prompt: Option<String>,
    pub store_tool_calls: bool,
}

/// The project's settings row; 404 if it has none.
pub(crate) async fn row(ctl: &ControlState, project_id: Uuid) -> ControlResult<SettingsRow> {
    ctl.store
        .settings(project_id)
        .await?
        .ok_or_else(|| ControlError::not_found("settings not found"))
}

/// Runs `edit` on the project's settings row in one transaction.
async fn edit(
    ctl: &ControlState,
    project: &Project,
    edit: SettingsEdit,
) -> ControlResult<SettingsRow> {
    match ctl.store.update_settings(project.id, edit).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(ControlError::not_found("settings not found")),
        Err(StoreError::Rejected(rejection)) => Err(rejection.into()),
        Err(other) => Err(other.into()),
    }
}

pub async fn get(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<SettingsView> {
    let project = ctl.project_for(actor, project_id).await?;
    Ok(row(ctl, project.id).await?.into())
}

/// `PUT .../settings`: validates `change` (the seed's field names; every violation
/// named) and saves it as the draft. `provider_model` becomes the model draft.
pub async fn update(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    change: &Map<String, Value>,
) -> ControlResult<SettingsView> {
    let project = ctl.project_for(actor, project_id).await?;
    let patch = SettingsPatch::parse(change, Scope::Project, &|m| ctl.is_known_model(m))
        .map_err(ControlError::Invalid)?;
    let row = edit(
        ctl,
        &project,
        Box::new(move |row| {
            let draft = row.draft.patched(&patch);
            if let Some(conflict) = check_cors_pair(&draft) {
                return Err(SettingsRejection::Invalid(vec![conflict]));
            }
            row.draft = draft;
            if let Some(model) = patch.provider_model {
                // Saved as a draft; a draft equal to the live model is no draft.
                row.draft_provider_model = model.filter(|m| Some(m) != row.provider_model.as_ref());
            }
            row.draft_saved_at = Some(behest_store::now());
            Ok(())
        }),
    )
    .await?;
    Ok(row.into())
}

/// Freezes the draft (settings, model draft and tiers) as the deployed snapshot and
/// publishes it. If live traffic cannot be updated the deploy is saved and the answer
/// is 502 `LIVE_SYNC_FAILED`: deploying again retries.
pub async fn deploy(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<DeployedView> {
    let project = ctl.project_for(actor, project_id).await?;
    let tiers: Vec<_> = ctl
        .store
        .tiers(project.id)
        .await?
        .iter()
        .map(spec_of)
        .collect();
    let row = edit(
        ctl,
        &project,
        Box::new(move |row| {
            row.deployed = Some(DeployedSnapshot {
                settings: row.draft.clone(),
                tiers,
            });
            if let Some(model) = row.draft_provider_model.take() {
                row.provider_model = Some(model);
            }
            row.deployed_at = Some(behest_store::now());
            Ok(())
        }),
    )
    .await?;
    ctl.changes.changed().await.map_err(|err| {
        tracing::error!(project = %project.id, error = %err, "deploy saved but not published");
        ControlError::refused(
            ErrorCode::LiveSyncFailed,
            "settings were saved but live traffic could not be updated; retry the deploy",
        )
    })?;
    Ok(DeployedView {
        deployed: true,
        project_id: project.id,
        deployed_at: row.deployed_at,
    })
}

/// Restores the draft (settings and tiers) from the deployed snapshot; 409
/// `NO_DEPLOYED_SNAPSHOT` before the first deploy.
pub async fn discard_draft(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<SettingsView> {
    let project = ctl.project_for(actor, project_id).await?;
    let row = edit(
        ctl,
        &project,
        Box::new(|row| {
            let deployed = row
                .deployed
                .as_ref()
                .ok_or(SettingsRejection::NoDeployedSnapshot)?;
            row.draft = deployed.settings.clone();
            row.draft_provider_model = None;
            row.draft_saved_at = None;
            Ok(())
        }),
    )
    .await?;
    if let Some(deployed) = &row.deployed {
        let tiers: Vec<_> = deployed
            .tiers
            .iter()
            .map(|spec| row_of(project.id, spec))
            .collect();
        ctl.store.replace_tiers(project.id, &tiers).await?;
    }
    Ok(row.into())
}

/// One setting whose draft value differs from the deployed one (JSON values, as the
/// seed's settings object spells them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub deployed: Value,
    pub draft: Value,
}

/// The draft against what is deployed: every changed field, whether the tiers or the
/// model differ, so a page can always say what a deploy would change.
#[derive(Debug, Serialize)]
pub struct DraftComparison {
    pub draft: SettingsValues,
    pub deployed: Option<SettingsValues>,
    pub changes: Vec<FieldChange>,
    pub tiers_changed: bool,
    pub provider_model: Option<String>,
    pub draft_provider_model: Option<String>,
    pub deployed_at: Option<DateTime<Utc>>,
}

impl DraftComparison {
    /// Whether deploying would change anything live.
    pub fn differs(&self) -> bool {
        self.deployed.is_none()
            || !self.changes.is_empty()
            || self.tiers_changed
            || self.draft_provider_model.is_some()
    }
}

/// Compares the draft with the deployed snapshot, field by field.
pub async fn compare(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<DraftComparison> {
    let project = ctl.project_for(actor, project_id).await?;
    let (row, tiers) = tokio::try_join!(row(ctl, project.id), async {
        Ok(ctl.store.tiers(project.id).await?)
    })?;
    let deployed = row.deployed.as_ref().map(|d| &d.settings);
    let changes = field_changes(deployed.unwrap_or(&SettingsValues::default()), &row.draft);
    let draft_tiers: Vec<_> = tiers.iter().map(spec_of).collect();
    let tiers_changed = match &row.deployed {
        Some(deployed) => deployed.tiers != draft_tiers,
        None => !draft_tiers.is_empty(),
    };
    Ok(DraftComparison {
        deployed: deployed.cloned(),
        draft: row.draft,
        changes,
        tiers_changed,
        provider_model: row.provider_model,
        draft_provider_model: row.draft_provider_model,
        deployed_at: row.deployed_at,
    })
}

/// The fields of `draft` that differ from `deployed`, by field name.
pub fn field_changes(deployed: &SettingsValues, draft: &SettingsValues) -> Vec<FieldChange> {
    let as_map = |values: &SettingsValues| match serde_json::to_value(values) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let (before, after) = (as_map(deployed), as_map(draft));
    after
        .iter()
        .filter(|(field, value)| before.get(*field) != Some(*value))
        .map(|(field, value)| FieldChange {
            field: field.clone(),
            deployed: before.get(field).cloned().unwrap_or(Value::Null),
            draft: value.clone(),
        })
        .collect()
}

fn required_model(input: ModelInput) -> ControlResult<String> {
    input
        .provider_model
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ControlError::refused(ErrorCode::MissingModel, "provider_model is required")
                .with_param("provider_model")
        })
}

/// `PUT .../settings/model`: live at once, no deploy.
pub async fn set_model(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    input: ModelInput,
) -> ControlResult<ModelSetView> {
    let project = ctl.project_for(actor, project_id).await?;
    let model = required_model(input)?;
    let route = ctl.usable_model(&model, project.tenant_id).await?;
    let live = model.clone();
    edit(
        ctl,
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
    ctl.publish().await;
    Ok(ModelSetView {
        configured: true,
        provider_model: model,
        provider_type: route.provider.as_str(),
    })
}

/// `DELETE .../settings/model`: back to the platform default; 404 if none was set.
pub async fn reset_model(ctl: &ControlState, actor: &Actor, project_id: Uuid) -> ControlResult<()> {
    let project = ctl.project_for(actor, project_id).await?;
    edit(
        ctl,
        &project,
        Box::new(|row| {
            row.provider_model
                .take()
                .map(|_| ())
                .ok_or(SettingsRejection::NoModel)
        }),
    )
    .await?;
    ctl.publish().await;
    Ok(())
}

/// `PUT .../settings/model/draft`: saved, not live. A draft equal to the live model is
/// no draft: both it and `draft_saved_at` are cleared.
pub async fn set_model_draft(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    input: ModelInput,
) -> ControlResult<ModelDraftView> {
    let project = ctl.project_for(actor, project_id).await?;
    let model = required_model(input)?;
    ctl.known_model(&model)?;
    let row = edit(
        ctl,
        &project,
        Box::new(move |row| {
            if row.provider_model.as_ref() == Some(&model) {
                row.draft_provider_model = None;
                row.draft_saved_at = None;
            } else {
                row.draft_provider_model = Some(model);
                row.draft_saved_at = Some(behest_store::now());
            }
            Ok(())
        }),
    )
    .await?;
    Ok(ModelDraftView {
        draft_provider_model: row.draft_provider_model,
        draft_saved_at: row.draft_saved_at,
    })
}

pub async fn discard_model_draft(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<()> {
    let project = ctl.project_for(actor, project_id).await?;
    edit(
        ctl,
        &project,
        Box::new(|row| {
            row.draft_provider_model = None;
            Ok(())
        }),
    )
    .await?;
    Ok(())
}

/// `POST .../settings/model/publish`: the model draft goes live; 409 `NO_DRAFT`, or
/// 422 when its provider lost its key since the draft was saved.
pub async fn publish_model(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<PublishedModelView> {
    let project = ctl.project_for(actor, project_id).await?;
    let current = row(ctl, project.id).await?;
    let draft = current
        .draft_provider_model
        .ok_or(SettingsRejection::NoDraft)?;
    ctl.usable_model(&draft, project.tenant_id).await?;
    let row = edit(
        ctl,
        &project,
        Box::new(|row| {
            let model = row
                .draft_provider_model
                .take()
                .ok_or(SettingsRejection::NoDraft)?;
            row.provider_model = Some(model);
            row.deployed_at = Some(behest_store::now());
            Ok(())
        }),
    )
    .await?;
    ctl.publish().await;
    Ok(PublishedModelView {
        provider_model: row.provider_model,
        deployed_at: row.deployed_at,
    })
}

/// `GET .../memory`: the memory settings live traffic uses (the defaults until a deploy).
pub async fn memory(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
) -> ControlResult<MemoryView> {
    let project = ctl.project_for(actor, project_id).await?;
    let live = row(ctl, project.id)
        .await?
        .deployed
        .map(|d| d.settings)
        .unwrap_or_default();
    Ok(MemoryView {
        project_id: project.id,
        memory_enabled: live.memory_enabled,
        memory_window: live.memory_window,
        retention_days: live.retention_days,
        system_prompt: live.system_prompt,
        store_tool_calls: live.store_tool_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_differing_field_with_both_values() {
        let deployed = SettingsValues::default();
        assert!(field_changes(&deployed, &deployed).is_empty());
        let mut draft = deployed.clone();
        draft.cors_origins = vec!["http://localhost:3000".into()];
        draft.rpm_limit = 120;
        let changes = field_changes(&deployed, &draft);
        assert_eq!(
            changes,
            vec![
                FieldChange {
                    field: "cors_origins".into(),
                    deployed: serde_json::json!([]),
                    draft: serde_json::json!(["http://localhost:3000"]),
                },
                FieldChange {
                    field: "rpm_limit".into(),
                    deployed: serde_json::json!(60),
                    draft: serde_json::json!(120),
                },
            ]
        );
    }
}
