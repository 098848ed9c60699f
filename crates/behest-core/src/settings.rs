//! Project settings, typed: the values a project runs with ([`SettingsValues`], the
//! seed's defaults), a partial change to them ([`SettingsPatch`]: a `PUT .../settings`
//! body or a tier's overrides, validated field by field), the one merge of a patch onto
//! values, and the deployed snapshot (settings plus tiers) that live traffic uses.

use crate::model::wire_enum;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

wire_enum!(
    /// How a guard (PII, sentinel) acts: off, record only, or refuse/rewrite.
    GuardMode { Disabled => "disabled", Shadow => "shadow", Enforce => "enforce" }
);

wire_enum!(
    /// A PII entity type, by Presidio's name.
    PiiEntity {
        EmailAddress => "EMAIL_ADDRESS",
        PhoneNumber => "PHONE_NUMBER",
        CreditCard => "CREDIT_CARD",
        UsSsn => "US_SSN",
        IbanCode => "IBAN_CODE",
        IpAddress => "IP_ADDRESS",
        Url => "URL",
        Crypto => "CRYPTO",
        UsPassport => "US_PASSPORT",
        Person => "PERSON",
        Location => "LOCATION",
        DateTime => "DATE_TIME",
    }
);

wire_enum!(
    /// What PII enforcement does with a detected value.
    PiiAction { Mask => "MASK", Redact => "REDACT", Block => "BLOCK" }
);

impl PartialOrd for PiiEntity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PiiEntity {
    /// By wire name, so maps of entities serialize in a stable, readable order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

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
    pub pii_mode: GuardMode,
    pub pii_entities: BTreeMap<PiiEntity, PiiAction>,
    pub sentinel_mode: GuardMode,
    pub sentinel_blocklist: Vec<String>,
    pub memory_enabled: bool,
    pub retention_days: Option<i64>,
    pub store_tool_calls: bool,
    /// Whether token (and spending) budgets let requests through while the shared
    /// counters are unreachable. Off: such requests get 503 (fail closed).
    pub budgets_fail_open: bool,
    /// PII the request guard MASKs goes to the provider as numbered placeholders
    /// (`<EMAIL_ADDRESS_1>`), and the answer has them replaced by the original values.
    pub pii_restore_output: bool,
    /// Spending limits in USD, at the catalog's list prices.
    pub budgets: Budgets,
}

/// Hard spending limits (USD): per end user per UTC day, per session, per project per
/// UTC month. `None`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Budgets {
    pub user_daily_usd: Option<f64>,
    pub session_usd: Option<f64>,
    pub project_monthly_usd: Option<f64>,
}

impl Budgets {
    pub const FIELDS: [&'static str; 3] = ["user_daily_usd", "session_usd", "project_monthly_usd"];

    pub fn is_empty(&self) -> bool {
        self.user_daily_usd.is_none()
            && self.session_usd.is_none()
            && self.project_monthly_usd.is_none()
    }
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
            pii_mode: GuardMode::Disabled,
            pii_entities: BTreeMap::new(),
            sentinel_mode: GuardMode::Disabled,
            sentinel_blocklist: Vec::new(),
            memory_enabled: true,
            retention_days: None,
            store_tool_calls: false,
            budgets_fail_open: false,
            pii_restore_output: false,
            budgets: Budgets::default(),
        }
    }
}

/// `Some(value)` for a field that is present, `null` included, so that "set to null"
/// and "absent" stay apart in a patch.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial change to the settings: the body of `PUT .../settings`, or a tier's
/// overrides. Only the fields present are set; a nullable field set to `null` is
/// `Some(None)`. Build one with [`SettingsPatch::parse`], which validates first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_prompt: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_window: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_mode: Option<GuardMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_entities: Option<BTreeMap<PiiEntity, PiiAction>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_mode: Option<GuardMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_blocklist: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub retention_days: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets_fail_open: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_restore_output: Option<bool>,
    /// Replaces the budgets whole (a field left out of the object is no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<Budgets>,
    /// The model: for a project, a draft (`null` clears it); for a tier, its model.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_model: Option<Option<String>>,
}

impl SettingsPatch {
    /// Validates `change` (every violation reported, each naming its field) and reads
    /// it as a patch. `known_model` says whether a model id exists.
    pub fn parse(
        change: &serde_json::Map<String, serde_json::Value>,
        scope: Scope,
        known_model: &dyn Fn(&str) -> bool,
    ) -> Result<SettingsPatch, Vec<FieldError>> {
        let errors = validate_change(change, scope, known_model);
        if !errors.is_empty() {
            return Err(errors);
        }
        serde_json::from_value(serde_json::Value::Object(change.clone()))
            .map_err(|err| vec![FieldError::new("settings", err.to_string())])
    }

    pub fn is_empty(&self) -> bool {
        *self == SettingsPatch::default()
    }
}

impl SettingsValues {
    /// These values with `patch` on top: the one merge of settings, used for a
    /// `PUT .../settings` on the draft and for a tier's overrides on the project's
    /// settings. (`provider_model` is not a setting value; the caller reads it.)
    pub fn patched(&self, patch: &SettingsPatch) -> SettingsValues {
        let mut out = self.clone();
        if let Some(v) = &patch.system_prompt {
            out.system_prompt.clone_from(v);
        }
        if let Some(v) = patch.memory_window {
            out.memory_window = v;
        }
        if let Some(v) = &patch.cors_origins {
            out.cors_origins.clone_from(v);
        }
        if let Some(v) = patch.cors_allow_credentials {
            out.cors_allow_credentials = v;
        }
        if let Some(v) = patch.rpm_limit {
            out.rpm_limit = v;
        }
        if let Some(v) = patch.tokens_per_day {
            out.tokens_per_day = v;
        }
        if let Some(v) = patch.pii_mode {
            out.pii_mode = v;
        }
        if let Some(v) = &patch.pii_entities {
            out.pii_entities.clone_from(v);
        }
        if let Some(v) = patch.sentinel_mode {
            out.sentinel_mode = v;
        }
        if let Some(v) = &patch.sentinel_blocklist {
            out.sentinel_blocklist.clone_from(v);
        }
        if let Some(v) = patch.memory_enabled {
            out.memory_enabled = v;
        }
        if let Some(v) = patch.retention_days {
            out.retention_days = v;
        }
        if let Some(v) = patch.store_tool_calls {
            out.store_tool_calls = v;
        }
        if let Some(v) = patch.budgets_fail_open {
            out.budgets_fail_open = v;
        }
        if let Some(v) = patch.pii_restore_output {
            out.pii_restore_output = v;
        }
        if let Some(v) = patch.budgets {
            out.budgets = v;
        }
        out
    }
}

/// PII entity types a project may configure (Presidio's names).
pub const PII_ENTITIES: &[PiiEntity] = PiiEntity::ALL;
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 32_000;
pub const MAX_BLOCKLIST_TERMS: usize = 200;
pub const MAX_CORS_ORIGINS: usize = 100;

/// One problem with one field of a settings change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Which fields a change may touch: a project's settings, or a tier's overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Project,
    Tier,
}

/// The fields a tier may override (the seed's list).
pub const TIER_FIELDS: &[&str] = &[
    "rpm_limit",
    "tokens_per_day",
    "pii_mode",
    "pii_entities",
    "sentinel_mode",
    "sentinel_blocklist",
    "memory_enabled",
    "memory_window",
    "retention_days",
    "store_tool_calls",
    "provider_model",
    "system_prompt",
];

/// Checks a partial settings change (`PUT .../settings` or a tier's `overrides`),
/// reporting every violation. `known_model` says whether a model id exists. The
/// cross-field rule on credentials and `*` is checked by [`check_cors_pair`] on the
/// merged result.
pub fn validate_change(
    change: &serde_json::Map<String, serde_json::Value>,
    scope: Scope,
    known_model: &dyn Fn(&str) -> bool,
) -> Vec<FieldError> {
    use serde_json::Value;
    let mut errors = Vec::new();
    for (field, value) in change {
        if scope == Scope::Tier && !TIER_FIELDS.contains(&field.as_str()) {
            errors.push(FieldError::new(
                field,
                format!("{field} cannot be overridden by a tier"),
            ));
            continue;
        }
        let mut fail = |message: String| errors.push(FieldError::new(field, message));
        match field.as_str() {
            "system_prompt" => match value {
                Value::Null => {}
                Value::String(s) if s.chars().count() <= MAX_SYSTEM_PROMPT_CHARS => {}
                Value::String(_) => fail(format!(
                    "system_prompt must be at most {MAX_SYSTEM_PROMPT_CHARS} characters"
                )),
                _ => fail("system_prompt must be a string or null".into()),
            },
            "memory_window" => int_in(value, 0, 500, field, &mut fail),
            "rpm_limit" => int_in(value, 1, 10_000, field, &mut fail),
            "tokens_per_day" => int_in(value, 1_000, i64::MAX, field, &mut fail),
            "retention_days" => {
                if !value.is_null() {
                    int_in(value, 1, 365, field, &mut fail)
                }
            }
            "pii_mode" | "sentinel_mode" => {
                if value
                    .as_str()
                    .and_then(|m| m.parse::<GuardMode>().ok())
                    .is_none()
                {
                    fail(format!("{field} must be one of disabled, shadow, enforce"));
                }
            }
            "cors_allow_credentials"
            | "memory_enabled"
            | "store_tool_calls"
            | "budgets_fail_open"
            | "pii_restore_output" => {
                if !value.is_boolean() {
                    fail(format!("{field} must be true or false"));
                }
            }
            "cors_origins" => match value.as_array() {
                None => fail("cors_origins must be an array of origins".into()),
                Some(list) if list.len() > MAX_CORS_ORIGINS => fail(format!(
                    "cors_origins may list at most {MAX_CORS_ORIGINS} origins"
                )),
                Some(list) => {
                    for origin in list {
                        match origin.as_str() {
                            Some(o) if o == "*" || is_origin(o) => {}
                            _ => fail(format!(
                                "cors_origins: {origin} is not \"*\" or scheme://host[:port] (no path, no trailing slash)"
                            )),
                        }
                    }
                }
            },
            "pii_entities" => match value.as_object() {
                None => fail("pii_entities must be an object of entity → MASK|REDACT|BLOCK".into()),
                Some(map) => {
                    for (entity, action) in map {
                        if entity.parse::<PiiEntity>().is_err() {
                            let known: Vec<&str> =
                                PiiEntity::ALL.iter().map(|e| e.as_str()).collect();
                            fail(format!(
                                "pii_entities: unknown entity {entity:?} (known: {})",
                                known.join(", ")
                            ));
                        } else if action
                            .as_str()
                            .and_then(|a| a.parse::<PiiAction>().ok())
                            .is_none()
                        {
                            fail(format!(
                                "pii_entities.{entity} must be MASK, REDACT or BLOCK"
                            ));
                        }
                    }
                }
            },
            "sentinel_blocklist" => match value.as_array() {
                None => fail("sentinel_blocklist must be an array of terms".into()),
                Some(terms) if terms.len() > MAX_BLOCKLIST_TERMS => fail(format!(
                    "sentinel_blocklist may hold at most {MAX_BLOCKLIST_TERMS} terms"
                )),
                Some(terms) => {
                    if !terms.iter().all(|t| {
                        t.as_str()
                            .is_some_and(|s| !s.trim().is_empty() && s.chars().count() <= 200)
                    }) {
                        fail("sentinel_blocklist terms must be non-empty strings of at most 200 characters".into());
                    }
                }
            },
            "budgets" => match value.as_object() {
                None => fail(
                    "budgets must be an object of user_daily_usd, session_usd, project_monthly_usd"
                        .into(),
                ),
                Some(map) => {
                    for (name, limit) in map {
                        if !Budgets::FIELDS.contains(&name.as_str()) {
                            errors.push(FieldError::new(
                                &format!("budgets.{name}"),
                                format!("budgets.{name} is not a budget (user_daily_usd, session_usd, project_monthly_usd)"),
                            ));
                        } else if !(limit.is_null()
                            || limit
                                .as_f64()
                                .is_some_and(|usd| usd.is_finite() && usd > 0.0 && usd <= 1e9))
                        {
                            errors.push(FieldError::new(
                                &format!("budgets.{name}"),
                                format!("budgets.{name} must be a positive number of USD, or null"),
                            ));
                        }
                    }
                }
            },
            "provider_model" => match value {
                Value::Null if scope == Scope::Project => {}
                Value::String(model) if known_model(model) => {}
                Value::String(model) => {
                    fail(format!("provider_model {model:?} is not a known model"))
                }
                _ => fail("provider_model must be a model id".into()),
            },
            _ => fail(format!("unknown setting {field:?}")),
        }
    }
    errors
}

/// `cors_allow_credentials` cannot be true while `cors_origins` holds `*`.
pub fn check_cors_pair(values: &SettingsValues) -> Option<FieldError> {
    (values.cors_allow_credentials && values.cors_origins.iter().any(|o| o == "*")).then(|| {
        FieldError::new(
            "cors_allow_credentials",
            "cors_allow_credentials cannot be true when cors_origins includes \"*\"",
        )
    })
}

fn int_in(
    value: &serde_json::Value,
    min: i64,
    max: i64,
    field: &str,
    fail: &mut dyn FnMut(String),
) {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => {}
        _ if max == i64::MAX => fail(format!("{field} must be an integer of at least {min}")),
        _ => fail(format!("{field} must be an integer from {min} to {max}")),
    }
}

/// `scheme://host[:port]`, http or https, nothing after.
pub fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if scheme != "http" && scheme != "https" || rest.is_empty() {
        return false;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, after))
                if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') =>
            {
                (
                    addr,
                    after
                        .strip_prefix(':')
                        .map(Some)
                        .unwrap_or(if after.is_empty() { None } else { Some("") }),
                )
            }
            _ => return false,
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && (rest.starts_with('[')
            || host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65_535).contains(&n))
    });
    host_ok && port_ok
}

/// A tier as the deployed snapshot keeps it (and as its store row holds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierSpec {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub sort_order: i64,
    #[serde(default)]
    pub overrides: SettingsPatch,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What `POST .../settings/deploy` froze for live traffic: the draft's settings and the
/// tiers as they were. (Stored flattened — the settings' fields beside `tiers` — as
/// earlier versions wrote it.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployedSnapshot {
    #[serde(flatten)]
    pub settings: SettingsValues,
    #[serde(default)]
    pub tiers: Vec<TierSpec>,
}

/// Why a change to a project's settings row was refused, decided on the row as it was
/// inside the transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsRejection {
    #[error("nothing was ever deployed: there is no snapshot to go back to")]
    NoDeployedSnapshot,
    #[error("there is no model draft to publish")]
    NoDraft,
    #[error("no model is configured for this project")]
    NoModel,
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

#[cfg(test)]
mod validation_tests {
    use super::*;
    use serde_json::json;

    fn check(change: serde_json::Value) -> Vec<String> {
        let map = change.as_object().cloned().unwrap_or_default();
        validate_change(&map, Scope::Project, &|m| m == "gpt-4o-mini")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    fn patch(change: serde_json::Value, scope: Scope) -> SettingsPatch {
        let map = change.as_object().cloned().unwrap_or_default();
        SettingsPatch::parse(&map, scope, &|_| true).unwrap()
    }

    #[test]
    fn every_range_boundary() {
        assert!(check(
            json!({"memory_window": 0, "rpm_limit": 1, "tokens_per_day": 1000, "retention_days": 1})
        )
        .is_empty());
        assert!(
            check(json!({"memory_window": 500, "rpm_limit": 10000, "retention_days": 365}))
                .is_empty()
        );
        assert!(check(
            json!({"retention_days": null, "system_prompt": null, "provider_model": null})
        )
        .is_empty());
        assert_eq!(check(json!({"memory_window": -1})), ["memory_window"]);
        assert_eq!(check(json!({"memory_window": 501})), ["memory_window"]);
        assert_eq!(check(json!({"rpm_limit": 0})), ["rpm_limit"]);
        assert_eq!(check(json!({"rpm_limit": 10001})), ["rpm_limit"]);
        assert_eq!(check(json!({"tokens_per_day": 999})), ["tokens_per_day"]);
        assert_eq!(check(json!({"retention_days": 0})), ["retention_days"]);
        assert_eq!(check(json!({"retention_days": 366})), ["retention_days"]);
        assert_eq!(check(json!({"rpm_limit": 1.5})), ["rpm_limit"]);
        assert!(check(json!({"system_prompt": "x".repeat(32_000)})).is_empty());
        assert_eq!(
            check(json!({"system_prompt": "x".repeat(32_001)})),
            ["system_prompt"]
        );
        let terms: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
        assert!(check(json!({"sentinel_blocklist": terms})).is_empty());
        let terms: Vec<String> = (0..201).map(|i| format!("t{i}")).collect();
        assert_eq!(
            check(json!({"sentinel_blocklist": terms})),
            ["sentinel_blocklist"]
        );
    }

    #[test]
    fn several_violations_name_every_field() {
        let fields = check(
            json!({"rpm_limit": 0, "pii_mode": "sometimes", "cors_origins": ["http://a.com/"], "bogus": 1, "provider_model": "gpt-9"}),
        );
        for field in [
            "rpm_limit",
            "pii_mode",
            "cors_origins",
            "bogus",
            "provider_model",
        ] {
            assert!(fields.contains(&field.to_owned()), "{fields:?}");
        }
    }

    #[test]
    fn origins_are_scheme_host_port_only() {
        for ok in [
            "http://localhost:3000",
            "https://app.example.com",
            "https://a-b.c.dev:8443",
            "http://[::1]:3000",
            "http://127.0.0.1",
        ] {
            assert!(is_origin(ok), "{ok}");
        }
        for bad in [
            "http://localhost:3000/",
            "https://a.com/path",
            "ftp://a.com",
            "a.com",
            "http://",
            "https://a.com:0",
            "https://a.com:99999",
            "https://a.com?x",
            "https://user@a.com",
            "http://a..com",
            "null",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn pii_entities_and_tiers() {
        assert!(
            check(json!({"pii_entities": {"EMAIL_ADDRESS": "MASK", "CREDIT_CARD": "BLOCK"}}))
                .is_empty()
        );
        assert_eq!(
            check(json!({"pii_entities": {"SHOE_SIZE": "MASK"}})),
            ["pii_entities"]
        );
        assert_eq!(
            check(json!({"pii_entities": {"EMAIL_ADDRESS": "HIDE"}})),
            ["pii_entities"]
        );
        let tier = json!({"cors_origins": ["*"], "rpm_limit": 5})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let errors = validate_change(&tier, Scope::Tier, &|_| true);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "cors_origins");
        let star = SettingsValues {
            cors_origins: vec!["*".into()],
            cors_allow_credentials: true,
            ..SettingsValues::default()
        };
        assert!(check_cors_pair(&star).is_some());
        let star = SettingsValues {
            cors_allow_credentials: false,
            ..star
        };
        assert!(check_cors_pair(&star).is_none());
    }

    #[test]
    fn patches_apply_on_top() {
        let values = SettingsValues::default().patched(&patch(
            json!({"rpm_limit": 5, "cors_origins": ["http://localhost:3000"], "pii_mode": "enforce", "pii_entities": {"EMAIL_ADDRESS": "MASK"}}),
            Scope::Project,
        ));
        assert_eq!(values.rpm_limit, 5);
        assert_eq!(values.cors_origins, ["http://localhost:3000"]);
        assert_eq!(values.pii_mode, GuardMode::Enforce);
        assert_eq!(
            values.pii_entities.get(&PiiEntity::EmailAddress),
            Some(&PiiAction::Mask)
        );
        assert_eq!(
            values.memory_window, 50,
            "untouched fields keep their value"
        );
    }

    #[test]
    fn null_and_absent_stay_apart() {
        let with_prompt = SettingsValues {
            system_prompt: Some("be brief".into()),
            retention_days: Some(30),
            ..SettingsValues::default()
        };
        let untouched = with_prompt.patched(&patch(json!({"rpm_limit": 9}), Scope::Tier));
        assert_eq!(untouched.system_prompt.as_deref(), Some("be brief"));
        assert_eq!(untouched.retention_days, Some(30));
        let cleared = with_prompt.patched(&patch(
            json!({"system_prompt": null, "retention_days": null}),
            Scope::Tier,
        ));
        assert_eq!(cleared.system_prompt, None);
        assert_eq!(cleared.retention_days, None);
        // A patch serializes back to exactly what was set.
        let p = patch(json!({"retention_days": null, "rpm_limit": 3}), Scope::Tier);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"retention_days": null, "rpm_limit": 3})
        );
    }

    #[test]
    fn deployed_snapshots_of_earlier_versions_load() {
        // Settings flattened beside `tiers`, modes as strings, an old `provider_model`.
        let old = json!({
            "rpm_limit": 7, "pii_mode": "shadow", "provider_model": null,
            "tiers": [{"id": Uuid::nil(), "name": "gold", "sort_order": 1,
                       "overrides": {"rpm_limit": 100},
                       "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}]
        });
        let snapshot: DeployedSnapshot = serde_json::from_value(old).unwrap();
        assert_eq!(snapshot.settings.rpm_limit, 7);
        assert_eq!(snapshot.settings.pii_mode, GuardMode::Shadow);
        assert_eq!(snapshot.tiers[0].overrides.rpm_limit, Some(100));
        let round: DeployedSnapshot =
            serde_json::from_value(serde_json::to_value(&snapshot).unwrap()).unwrap();
        assert_eq!(round, snapshot);
    }
}
