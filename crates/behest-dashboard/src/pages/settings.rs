//! Settings as a draft: one form with every setting of the seed, grouped; saving writes
//! the draft (validated by the same service as `PUT .../settings`, each error shown at
//! its field); the page always shows the field-by-field difference from what is
//! deployed, and Deploy / Discard draft act on it.

use crate::extract::{ProjectPage, ProjectPost};
use crate::forms::FormData;
use crate::page::{
    self, button_form, field, notice, Errors, Input, PageError, ProjectTab, Section, Shell,
};
use crate::pages::{done_message, Done};
use crate::session::SignedIn;
use axum::extract::{Query, State};
use axum::response::Response;
use behest_control::service::providers;
use behest_control::service::settings::{self, DraftComparison};
use behest_control::views::ProjectView;
use behest_control::ControlState;
use behest_core::settings::{PiiAction, PiiEntity, SettingsValues};
use maud::{html, Markup};
use serde_json::{json, Map, Value};

/// The label of each setting, as the seed and the docs name it.
pub const LABELS: &[(&str, &str)] = &[
    ("cors_origins", "Allowed origins"),
    ("cors_allow_credentials", "Allow credentials"),
    ("rpm_limit", "Rate limit (rpm)"),
    ("tokens_per_day", "Tokens per day"),
    ("budgets", "Budgets (USD)"),
    ("budgets_fail_open", "Budgets fail open"),
    ("pii_mode", "PII mode"),
    ("pii_entities", "PII entities"),
    ("pii_restore_output", "Restore masked PII in answers"),
    ("sentinel_mode", "Sentinel mode"),
    ("sentinel_blocklist", "Sentinel blocklist"),
    ("system_prompt", "System prompt"),
    ("memory_enabled", "Memory enabled"),
    ("memory_window", "Memory window"),
    ("retention_days", "Retention days"),
    ("store_tool_calls", "Store tool calls"),
    ("provider_model", "Model"),
];

pub fn label_of(field: &str) -> &str {
    LABELS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or(field, |(_, l)| l)
}

const MODES: [&str; 3] = ["disabled", "shadow", "enforce"];
const NOT_DETECTED: &str = "off";

/// Every input name this form shows an error next to.
const FIELDS: &[&str] = &[
    "cors_origins",
    "cors_allow_credentials",
    "rpm_limit",
    "tokens_per_day",
    "budgets.user_daily_usd",
    "budgets.session_usd",
    "budgets.project_monthly_usd",
    "budgets_fail_open",
    "pii_mode",
    "pii_entities",
    "pii_restore_output",
    "sentinel_mode",
    "sentinel_blocklist",
    "system_prompt",
    "memory_enabled",
    "memory_window",
    "retention_days",
    "store_tool_calls",
    "provider_model",
];

/// The form's values as the seed's settings object: text that is a number becomes one,
/// anything else goes as typed so the service names the field and says what is wrong.
pub fn change_from_form(form: &FormData) -> Map<String, Value> {
    let mut change = Map::new();
    let lines = |name: &str| -> Value {
        Value::Array(
            form.get(name)
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Value::String(l.to_owned()))
                .collect(),
        )
    };
    let integer = |name: &str| -> Value {
        let raw = form.get(name).unwrap_or_default().trim().replace('_', "");
        raw.parse::<i64>()
            .map_or_else(|_| Value::String(raw.clone()), Value::from)
    };
    let optional_number = |raw: Option<&str>| -> Value {
        match raw.map(str::trim).filter(|v| !v.is_empty()) {
            None => Value::Null,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(v.to_owned()), Value::Number),
        }
    };
    let boolean = |name: &str| Value::Bool(form.get(name) == Some("true"));
    change.insert("cors_origins".into(), lines("cors_origins"));
    change.insert(
        "cors_allow_credentials".into(),
        boolean("cors_allow_credentials"),
    );
    change.insert("rpm_limit".into(), integer("rpm_limit"));
    change.insert("tokens_per_day".into(), integer("tokens_per_day"));
    let budgets: Map<String, Value> = ["user_daily_usd", "session_usd", "project_monthly_usd"]
        .iter()
        .map(|b| {
            (
                (*b).to_owned(),
                optional_number(form.get(&format!("budgets.{b}"))),
            )
        })
        .collect();
    change.insert("budgets".into(), Value::Object(budgets));
    change.insert("budgets_fail_open".into(), boolean("budgets_fail_open"));
    for mode in ["pii_mode", "sentinel_mode"] {
        change.insert(mode.into(), json!(form.get(mode).unwrap_or("disabled")));
    }
    let entities: Map<String, Value> = PiiEntity::ALL
        .iter()
        .filter_map(|entity| {
            let action = form.get(&format!("pii.{entity}"))?;
            (action != NOT_DETECTED).then(|| (entity.as_str().to_owned(), json!(action)))
        })
        .collect();
    change.insert("pii_entities".into(), Value::Object(entities));
    change.insert("pii_restore_output".into(), boolean("pii_restore_output"));
    change.insert("sentinel_blocklist".into(), lines("sentinel_blocklist"));
    let prompt = form.get("system_prompt").unwrap_or_default();
    change.insert(
        "system_prompt".into(),
        if prompt.trim().is_empty() {
            Value::Null
        } else {
            json!(prompt.replace("\r\n", "\n"))
        },
    );
    change.insert("memory_enabled".into(), boolean("memory_enabled"));
    change.insert("memory_window".into(), integer("memory_window"));
    let retention = form.get("retention_days").unwrap_or_default().trim();
    change.insert(
        "retention_days".into(),
        if retention.is_empty() {
            Value::Null
        } else {
            integer("retention_days")
        },
    );
    change.insert("store_tool_calls".into(), boolean("store_tool_calls"));
    // The model goes along only when the form changes it (it becomes the model draft).
    if let (Some(chosen), Some(before)) = (form.get("provider_model"), form.get("model_before")) {
        if chosen != before && !chosen.is_empty() {
            change.insert("provider_model".into(), json!(chosen));
        }
    }
    change
}

fn usd(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// The grouped form over `values` (the draft, or what was just posted).
fn settings_form(
    project: &ProjectView,
    csrf: &str,
    values: &SettingsValues,
    model: &str,
    models: &[String],
    errors: &Errors,
) -> Markup {
    let origins = values.cors_origins.join("\n");
    let blocklist = values.sentinel_blocklist.join("\n");
    let rpm = values.rpm_limit.to_string();
    let tokens = values.tokens_per_day.to_string();
    let window = values.memory_window.to_string();
    let retention = values
        .retention_days
        .map_or_else(String::new, |d| d.to_string());
    let (daily, session, monthly) = (
        usd(values.budgets.user_daily_usd),
        usd(values.budgets.session_usd),
        usd(values.budgets.project_monthly_usd),
    );
    let mut actions: Vec<&str> = vec![NOT_DETECTED];
    actions.extend(PiiAction::ALL.iter().map(|a| a.as_str()));
    // With no model chosen the platform default applies: offered first, so saving the
    // form does not turn the first model of the list into a model draft.
    let mut model_options: Vec<(&str, &str)> = Vec::new();
    if model.is_empty() {
        model_options.push(("", "platform default"));
    }
    model_options.extend(models.iter().map(|m| (m.as_str(), m.as_str())));
    html! {
        form.settings method="post" action={ "/projects/" (project.id) "/settings" } novalidate {
            (page::csrf_input(csrf))
            fieldset {
                legend { "Access" }
                (field(errors, "cors_origins", "Allowed origins", Input::Area(&origins, 3),
                    Some("Browser origins allowed to call this project, one per line (scheme://host[:port]), or *.")))
                (field(errors, "cors_allow_credentials", "Allow credentials", Input::Check(values.cors_allow_credentials), None))
            }
            fieldset {
                legend { "Limits" }
                (field(errors, "rpm_limit", "Rate limit (rpm)", Input::Number(&rpm), Some("Requests per minute per end user, 1–10,000.")))
                (field(errors, "tokens_per_day", "Tokens per day", Input::Number(&tokens), Some("Per end user per UTC day, at least 1,000.")))
                (field(errors, "budgets.user_daily_usd", "Daily budget per user (USD)", Input::Number(&daily), Some("Blank: no limit.")))
                (field(errors, "budgets.session_usd", "Budget per session (USD)", Input::Number(&session), Some("Blank: no limit.")))
                (field(errors, "budgets.project_monthly_usd", "Monthly budget (USD)", Input::Number(&monthly), Some("For the whole project per UTC month. Blank: no limit.")))
                (field(errors, "budgets_fail_open", "Budgets fail open", Input::Check(values.budgets_fail_open),
                    Some("Let requests through while the shared counters are unreachable (off: 503).")))
            }
            fieldset {
                legend { "Safety" }
                (field(errors, "pii_mode", "PII mode", Input::Select(&MODES, values.pii_mode.as_str()), None))
                fieldset.entities {
                    legend { "PII entities (action when detected)" }
                    @if let Some(message) = errors.for_field("pii_entities") { p.error id="pii_entities-error" { (message) } }
                    div.grid {
                        @for entity in PiiEntity::ALL {
                            @let current = values.pii_entities.get(entity).map_or(NOT_DETECTED, |a| a.as_str());
                            (field(errors, &format!("pii.{entity}"), entity.as_str(), Input::Select(&actions, current), None))
                        }
                    }
                }
                (field(errors, "pii_restore_output", "Restore masked PII in answers", Input::Check(values.pii_restore_output),
                    Some("With enforce, MASK sends numbered placeholders and the answer gets the values back.")))
                (field(errors, "sentinel_mode", "Sentinel mode", Input::Select(&MODES, values.sentinel_mode.as_str()), None))
                (field(errors, "sentinel_blocklist", "Sentinel blocklist", Input::Area(&blocklist, 3), Some("Terms to refuse, one per line (up to 200).")))
            }
            fieldset {
                legend { "Behaviour" }
                (field(errors, "system_prompt", "System prompt", Input::Area(values.system_prompt.as_deref().unwrap_or_default(), 4), None))
                (field(errors, "memory_enabled", "Memory enabled", Input::Check(values.memory_enabled), None))
                (field(errors, "memory_window", "Memory window", Input::Number(&window), Some("Messages of a thread kept, 0–500.")))
                (field(errors, "retention_days", "Retention days", Input::Number(&retention), Some("1–365; blank keeps threads until deleted.")))
                (field(errors, "store_tool_calls", "Store tool calls", Input::Check(values.store_tool_calls), None))
            }
            fieldset {
                legend { "Model" }
                input type="hidden" name="model_before" value=(model);
                @if models.is_empty() {
                    p { "Model: " code { (if model.is_empty() { "platform default" } else { model }) } }
                } @else {
                    (field(errors, "provider_model", "Model", Input::Choice(&model_options, model),
                        Some("Saved as the model draft; the Model page publishes or sets it live.")))
                }
            }
            div.actions { button type="submit" { "Save draft" } }
        }
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "(none)".to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// What a deploy would change, and the buttons that act on it.
fn diff(project: &ProjectView, csrf: &str, comparison: &DraftComparison) -> Markup {
    html! {
        section.card id="draft-diff" aria-labelledby="diff-title" {
            h2 id="diff-title" { "Draft and deployed" }
            @if comparison.deployed.is_none() {
                p { "Nothing was deployed yet: live traffic uses the defaults until the first deploy." }
            }
            @if !comparison.differs() {
                p { "The draft matches what is deployed." }
            } @else {
                @if !comparison.changes.is_empty() {
                    div.table {
                        table.diff {
                            thead { tr { th scope="col" { "Setting" } th scope="col" { "Deployed" } th scope="col" { "Draft" } } }
                            tbody {
                                @for change in &comparison.changes {
                                    tr data-field=(change.field) {
                                        th scope="row" { (label_of(&change.field)) br; code { (change.field) } }
                                        td { del { (show(&change.deployed)) } }
                                        td { ins { (show(&change.draft)) } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if comparison.tiers_changed { p data-field="tiers" { "The tiers differ from the deployed ones (see " a href={ "/projects/" (project.id) "/tiers" } { "Tiers" } ")." } }
                @if let Some(model) = &comparison.draft_provider_model {
                    p data-field="provider_model" { "Model draft " code { (model) } " replaces " code { (comparison.provider_model.as_deref().unwrap_or("the platform default")) } "." }
                }
            }
            div.actions {
                (button_form(csrf, &format!("/projects/{}/settings/deploy", project.id), "Deploy", None))
                @if comparison.deployed.is_some() {
                    (button_form(csrf, &format!("/projects/{}/settings/discard", project.id), "Discard draft",
                        Some("Discard the draft? The form goes back to what is deployed.")))
                }
            }
            @if let Some(at) = comparison.deployed_at { p.hint { "Last deployed " (at.format("%Y-%m-%d %H:%M:%S UTC")) "." } }
        }
    }
}

struct Render<'a> {
    who: &'a SignedIn,
    project: &'a ProjectView,
    comparison: &'a DraftComparison,
    /// What the form shows: the draft, or the values just posted and refused.
    values: &'a SettingsValues,
    models: &'a [String],
    errors: &'a Errors,
    done: Option<&'a str>,
}

fn render(r: Render<'_>) -> Markup {
    let csrf = r.who.csrf();
    let model = r
        .comparison
        .draft_provider_model
        .clone()
        .or_else(|| r.comparison.provider_model.clone())
        .unwrap_or_default();
    let shell = Shell {
        who: r.who,
        title: "Settings",
        section: Section::Projects,
        project: Some((r.project.id, &r.project.name, ProjectTab::Settings)),
        refresh: None,
    };
    shell.render(html! {
        h1 { "Settings" }
        (notice(r.done))
        p { "Changes are saved as a draft and reach live traffic only when you deploy them." }
        (diff(r.project, &csrf, r.comparison))
        (r.errors.alert(FIELDS))
        (settings_form(r.project, &csrf, r.values, &model, r.models, r.errors))
    })
}

/// The models the tenant may choose (platform and BYOK), by id.
async fn model_ids(ctl: &ControlState, who: &SignedIn) -> Vec<String> {
    match providers::models(ctl, &who.actor(), who.tenant.id).await {
        Ok(view) => view.models.into_iter().map(|m| m.model_id).collect(),
        Err(err) => {
            tracing::warn!(error = %err, "listing the tenant's models failed");
            Vec::new()
        }
    }
}

fn with_current(mut models: Vec<String>, current: Option<&str>) -> Vec<String> {
    if let Some(current) = current.filter(|c| !c.is_empty()) {
        if !models.iter().any(|m| m == current) {
            models.insert(0, current.to_owned());
        }
    }
    models
}

pub async fn page(
    State(ctl): State<ControlState>,
    Query(done): Query<Done>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    let comparison = settings::compare(&ctl, &who.actor(), project.id).await?;
    let current = comparison
        .draft_provider_model
        .as_deref()
        .or(comparison.provider_model.as_deref());
    let models = with_current(model_ids(&ctl, &who).await, current);
    Ok(page::ok(render(Render {
        who: &who,
        project: &project,
        comparison: &comparison,
        values: &comparison.draft,
        models: &models,
        errors: &Errors::default(),
        done: done_message(&done),
    })))
}

pub async fn save(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, form }: ProjectPost,
) -> Result<Response, PageError> {
    let change = change_from_form(&form);
    match settings::update(&ctl, &who.actor(), project.id, &change).await {
        Ok(_) => Ok(page::see_other(&format!(
            "/projects/{}/settings?done=saved",
            project.id
        ))),
        Err(err) => {
            let errors = Errors::from(err);
            let comparison = settings::compare(&ctl, &who.actor(), project.id).await?;
            // Show what was typed, not the old draft, so nothing is lost.
            let posted = posted_values(&comparison.draft, &change);
            let models = with_current(model_ids(&ctl, &who).await, form.get("provider_model"));
            Ok(page::respond(
                errors.status,
                render(Render {
                    who: &who,
                    project: &project,
                    comparison: &comparison,
                    values: &posted,
                    models: &models,
                    errors: &errors,
                    done: None,
                }),
            ))
        }
    }
}

/// The draft with every posted field that parses put on top (a refused number keeps
/// the draft's value in the form; its error says what was wrong with the typed one).
fn posted_values(draft: &SettingsValues, change: &Map<String, Value>) -> SettingsValues {
    let mut merged = match serde_json::to_value(draft) {
        Ok(Value::Object(map)) => map,
        _ => return draft.clone(),
    };
    for (field, value) in change {
        let mut trial = merged.clone();
        trial.insert(field.clone(), value.clone());
        if serde_json::from_value::<SettingsValues>(Value::Object(trial)).is_ok() {
            merged.insert(field.clone(), value.clone());
        }
    }
    serde_json::from_value(Value::Object(merged)).unwrap_or_else(|_| draft.clone())
}

pub async fn deploy(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, .. }: ProjectPost,
) -> Result<Response, PageError> {
    settings::deploy(&ctl, &who.actor(), project.id).await?;
    Ok(page::see_other(&format!(
        "/projects/{}/settings?done=deployed",
        project.id
    )))
}

pub async fn discard(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, .. }: ProjectPost,
) -> Result<Response, PageError> {
    settings::discard_draft(&ctl, &who.actor(), project.id).await?;
    Ok(page::see_other(&format!(
        "/projects/{}/settings?done=discarded",
        project.id
    )))
}

/// The guard modes, for the tiers page.
pub fn modes() -> &'static [&'static str] {
    &MODES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_form_becomes_the_seeds_settings_object() {
        let form = FormData::parse(
            b"cors_origins=http%3A%2F%2Flocalhost%3A3000%0D%0A%0D%0Ahttps%3A%2F%2Fa.example\
              &rpm_limit=120&tokens_per_day=abc&budgets.user_daily_usd=2.5&budgets.session_usd=\
              &pii_mode=enforce&pii.EMAIL_ADDRESS=MASK&pii.PERSON=off&pii_restore_output=true\
              &memory_enabled=false&memory_enabled=true&store_tool_calls=false&retention_days=\
              &system_prompt=+&provider_model=m2&model_before=m1",
        )
        .unwrap();
        let change = change_from_form(&form);
        assert_eq!(
            change["cors_origins"],
            json!(["http://localhost:3000", "https://a.example"])
        );
        assert_eq!(change["rpm_limit"], json!(120));
        // Not a number: sent as typed, so validation names the field.
        assert_eq!(change["tokens_per_day"], json!("abc"));
        assert_eq!(change["budgets"]["user_daily_usd"], json!(2.5));
        assert_eq!(change["budgets"]["session_usd"], Value::Null);
        assert_eq!(change["pii_entities"], json!({"EMAIL_ADDRESS": "MASK"}));
        assert_eq!(change["pii_restore_output"], json!(true));
        assert_eq!(change["memory_enabled"], json!(true));
        assert_eq!(change["store_tool_calls"], json!(false));
        assert_eq!(change["retention_days"], Value::Null);
        assert_eq!(change["system_prompt"], Value::Null);
        assert_eq!(change["provider_model"], json!("m2"));
        let unchanged = FormData::parse(b"provider_model=m1&model_before=m1").unwrap();
        assert!(!change_from_form(&unchanged).contains_key("provider_model"));
    }

    #[test]
    fn a_refused_form_keeps_what_parses() {
        let draft = SettingsValues::default();
        let change = Map::from_iter([
            ("rpm_limit".to_owned(), json!("lots")),
            ("tokens_per_day".to_owned(), json!(5000)),
        ]);
        let posted = posted_values(&draft, &change);
        assert_eq!(posted.rpm_limit, draft.rpm_limit);
        assert_eq!(posted.tokens_per_day, 5000);
        assert_eq!(behest_core::settings::GuardMode::Disabled, posted.pii_mode);
    }
}
