//! The policy snapshot: what a project deployed, as one typed value ([`ProjectPolicy`]),
//! and what one request runs with ([`EffectivePolicy`]: the project's settings with its
//! tier's overrides merged, resolved once when the live directory loads, never per
//! request). The data plane reads only these; nothing on the hot path parses settings.

use crate::mint::TierRef;
use crate::settings::{
    DeployedSnapshot, GuardMode, PiiAction, PiiEntity, SettingsPatch, SettingsValues,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tier as live traffic applies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierPolicy {
    pub name: String,
    pub overrides: SettingsPatch,
}

/// Everything live traffic needs to know about a project's deployed configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectPolicy {
    /// The deployed settings (the seed's defaults until the first deploy).
    pub settings: SettingsValues,
    /// The live model (`PUT .../settings/model`, or a published draft); `None` is the
    /// platform default.
    pub model: Option<String>,
    /// Ordered by `sort_order`, then creation: a token's integer `tier` indexes this.
    pub tiers: Vec<TierPolicy>,
}

impl ProjectPolicy {
    /// The policy of a deployed snapshot (`None`: never deployed) and live model.
    pub fn new(deployed: Option<DeployedSnapshot>, model: Option<String>) -> ProjectPolicy {
        let Some(deployed) = deployed else {
            return ProjectPolicy {
                model,
                ..ProjectPolicy::default()
            };
        };
        let mut tiers = deployed.tiers;
        tiers.sort_by_key(|t| (t.sort_order, t.created_at));
        ProjectPolicy {
            settings: deployed.settings,
            model,
            tiers: tiers
                .into_iter()
                .map(|t| TierPolicy {
                    name: t.name,
                    overrides: t.overrides,
                })
                .collect(),
        }
    }

    /// The index into [`Self::tiers`] a token's `tier` claim names, by name or index.
    pub fn tier_index(&self, claim: &TierRef) -> Option<usize> {
        match claim {
            TierRef::Name(name) => self.tiers.iter().position(|t| &t.name == name),
            TierRef::Index(i) => usize::try_from(*i).ok().filter(|i| *i < self.tiers.len()),
        }
    }

    /// What a request runs with, for no tier (`None`) or one of [`Self::tiers`].
    /// `default_model` is the platform's (`BEHEST_DEFAULT_MODEL`).
    pub fn effective(&self, tier: Option<usize>, default_model: &str) -> EffectivePolicy {
        let tier = tier.and_then(|i| self.tiers.get(i));
        let values = match tier {
            Some(t) => self.settings.patched(&t.overrides),
            None => self.settings.clone(),
        };
        let model = tier
            .and_then(|t| t.overrides.provider_model.clone().flatten())
            .or_else(|| self.model.clone())
            .unwrap_or_else(|| default_model.to_owned());
        EffectivePolicy::from_values(values, model, tier.map(|t| t.name.clone()))
    }
}

/// The PII stage's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PiiPolicy {
    pub mode: GuardMode,
    /// Entities to act on and how; an entity not listed is left alone.
    pub entities: BTreeMap<PiiEntity, PiiAction>,
    /// MASK uses per-request placeholders that the answer has restored.
    pub restore_output: bool,
}

/// The sentinel (content guard) stage's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelPolicy {
    pub mode: GuardMode,
    pub blocklist: Vec<String>,
}

/// Conversation memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPolicy {
    pub enabled: bool,
    /// Messages of the thread prepended to a request.
    pub window: u32,
    /// Days messages are kept; `None` is forever.
    pub retention_days: Option<u32>,
    pub store_tool_calls: bool,
}

/// What one request runs with: a project's settings, its tier's overrides on top, and
/// the model resolved. Built once per (project, tier) when the directory loads.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    /// The tier's name, if the token selected one the project has.
    pub tier: Option<String>,
    pub model: String,
    pub system_prompt: Option<String>,
    /// Requests per minute per end user.
    pub rpm_limit: u32,
    /// Tokens per UTC day per end user.
    pub tokens_per_day: u64,
    pub pii: PiiPolicy,
    pub sentinel: SentinelPolicy,
    pub memory: MemoryPolicy,
    /// Budgets let requests through while the shared counters are unreachable.
    pub budgets_fail_open: bool,
    /// Spending limits in USD.
    pub budgets: crate::settings::Budgets,
}

impl EffectivePolicy {
    /// The policy of plain settings values (no tier): what a draft would run with, for
    /// the playground.
    pub fn from_values(values: SettingsValues, model: String, tier: Option<String>) -> Self {
        // Validation keeps every value in range; the clamps only keep a hand-edited
        // store from turning into a wrap-around.
        let clamp_u32 = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        EffectivePolicy {
            tier,
            model,
            system_prompt: values.system_prompt.filter(|p| !p.is_empty()),
            rpm_limit: clamp_u32(values.rpm_limit).max(1),
            tokens_per_day: u64::try_from(values.tokens_per_day.max(0)).unwrap_or(0),
            pii: PiiPolicy {
                mode: values.pii_mode,
                entities: values.pii_entities,
                restore_output: values.pii_restore_output,
            },
            sentinel: SentinelPolicy {
                mode: values.sentinel_mode,
                blocklist: values.sentinel_blocklist,
            },
            memory: MemoryPolicy {
                enabled: values.memory_enabled,
                window: clamp_u32(values.memory_window),
                retention_days: values.retention_days.map(clamp_u32),
                store_tool_calls: values.store_tool_calls,
            },
            budgets_fail_open: values.budgets_fail_open,
            budgets: values.budgets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::TierSpec;
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    fn tier(name: &str, order: i64, overrides: serde_json::Value) -> TierSpec {
        TierSpec {
            id: Uuid::new_v4(),
            name: name.into(),
            sort_order: order,
            overrides: serde_json::from_value(overrides).unwrap(),
            created_at: Utc.timestamp_opt(1_700_000_000 + order, 0).unwrap(),
            updated_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn tiers_are_ordered_and_override_the_project() {
        let deployed = DeployedSnapshot {
            settings: SettingsValues {
                rpm_limit: 10,
                system_prompt: Some("project prompt".into()),
                ..SettingsValues::default()
            },
            tiers: vec![
                tier(
                    "gold",
                    2,
                    serde_json::json!({"rpm_limit": 100, "provider_model": "gpt-4o"}),
                ),
                tier(
                    "free",
                    1,
                    serde_json::json!({"system_prompt": null, "pii_mode": "enforce"}),
                ),
            ],
        };
        let policy = ProjectPolicy::new(Some(deployed), Some("claude-haiku-4-5".into()));
        assert_eq!(policy.tiers[0].name, "free", "ordered by sort_order");
        assert_eq!(policy.tier_index(&TierRef::Index(1)), Some(1));
        assert_eq!(policy.tier_index(&TierRef::Name("gold".into())), Some(1));
        assert_eq!(policy.tier_index(&TierRef::Index(2)), None);
        assert_eq!(policy.tier_index(&TierRef::Index(-1)), None);

        let base = policy.effective(None, "behest/echo");
        assert_eq!(
            (base.rpm_limit, base.model.as_str()),
            (10, "claude-haiku-4-5")
        );
        assert_eq!(base.system_prompt.as_deref(), Some("project prompt"));
        let gold = policy.effective(Some(1), "behest/echo");
        assert_eq!((gold.rpm_limit, gold.model.as_str()), (100, "gpt-4o"));
        assert_eq!(gold.tier.as_deref(), Some("gold"));
        assert_eq!(gold.system_prompt.as_deref(), Some("project prompt"));
        let free = policy.effective(Some(0), "behest/echo");
        assert_eq!(free.system_prompt, None, "a tier may clear the prompt");
        assert_eq!(free.pii.mode, GuardMode::Enforce);
        assert_eq!(free.rpm_limit, 10);
    }

    #[test]
    fn never_deployed_runs_on_defaults_and_the_platform_model() {
        let policy = ProjectPolicy::new(None, None);
        let effective = policy.effective(None, "behest/echo");
        assert_eq!(effective.model, "behest/echo");
        assert_eq!(effective.rpm_limit, 60);
        assert_eq!(effective.tokens_per_day, 1_000_000);
        assert_eq!(effective.memory.window, 50);
        assert_eq!(effective.sentinel.mode, GuardMode::Disabled);
    }
}
