//! Project settings defaults, as the seed's API reference lists them. Validation and the
//! draft/deploy lifecycle build on these (settings issue); the foundation only needs the
//! row that every new project is created with.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The policy values of a project, as stored in its draft and its deployed snapshot.
/// Missing fields take their defaults, so snapshots written by older versions load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SettingsValues {
    pub system_prompt: Option<String>,
    pub memory_window: i64,
    pub cors_origins: Vec<String>,
    pub cors_allow_credentials: bool,
    pub rpm_limit: i64,
    pub tokens_per_day: i64,
    pub pii_mode: String,
    pub pii_entities: BTreeMap<String, String>,
    pub sentinel_mode: String,
    pub sentinel_blocklist: Vec<String>,
    pub memory_enabled: bool,
    pub retention_days: Option<i64>,
    pub store_tool_calls: bool,
    pub provider_model: Option<String>,
}

impl Default for SettingsValues {
    fn default() -> Self {
        SettingsValues {
            system_prompt: None,
            memory_window: 50,
            cors_origins: Vec::new(),
            cors_allow_credentials: false,
            rpm_limit: 60,
            tokens_per_day: 1_000_000,
            pii_mode: "disabled".to_owned(),
            pii_entities: BTreeMap::new(),
            sentinel_mode: "disabled".to_owned(),
            sentinel_blocklist: Vec::new(),
            memory_enabled: true,
            retention_days: None,
            store_tool_calls: false,
            provider_model: None,
        }
    }
}
