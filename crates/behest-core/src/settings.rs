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

/// PII entity types a project may configure (Presidio's names).
pub const PII_ENTITIES: &[&str] = &[
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "URL",
    "CRYPTO",
    "US_PASSPORT",
    "PERSON",
    "LOCATION",
    "DATE_TIME",
];
pub const PII_ACTIONS: &[&str] = &["MASK", "REDACT", "BLOCK"];
pub const MODES: &[&str] = &["disabled", "shadow", "enforce"];
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 32_000;
pub const MAX_BLOCKLIST_TERMS: usize = 200;
pub const MAX_CORS_ORIGINS: usize = 100;

/// One problem with one field of a settings change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> FieldError {
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
            "pii_mode" | "sentinel_mode" => match value.as_str() {
                Some(mode) if MODES.contains(&mode) => {}
                _ => fail(format!("{field} must be one of disabled, shadow, enforce")),
            },
            "cors_allow_credentials" | "memory_enabled" | "store_tool_calls" => {
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
                        if !PII_ENTITIES.contains(&entity.as_str()) {
                            fail(format!(
                                "pii_entities: unknown entity {entity:?} (known: {})",
                                PII_ENTITIES.join(", ")
                            ));
                        } else if !action.as_str().is_some_and(|a| PII_ACTIONS.contains(&a)) {
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
pub fn check_cors_pair(origins: &[String], allow_credentials: bool) -> Option<FieldError> {
    (allow_credentials && origins.iter().any(|o| o == "*")).then(|| {
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

/// Applies a validated change to `values`.
pub fn apply_change(
    values: &mut SettingsValues,
    change: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), serde_json::Error> {
    let mut merged = serde_json::to_value(&*values)?;
    if let Some(object) = merged.as_object_mut() {
        for (field, value) in change {
            object.insert(field.clone(), value.clone());
        }
    }
    *values = serde_json::from_value(merged)?;
    Ok(())
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
        assert!(check_cors_pair(&["*".into()], true).is_some());
        assert!(check_cors_pair(&["*".into()], false).is_none());
    }

    #[test]
    fn changes_apply_on_top() {
        let mut values = SettingsValues::default();
        let change = json!({"rpm_limit": 5, "cors_origins": ["http://localhost:3000"]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        apply_change(&mut values, &change).unwrap();
        assert_eq!(values.rpm_limit, 5);
        assert_eq!(values.cors_origins, ["http://localhost:3000"]);
        assert_eq!(
            values.memory_window, 50,
            "untouched fields keep their value"
        );
    }
}
