//! Tiers (up to three per project): each with its overrides and the resolved settings
//! a token of that tier gets. Tiers are part of the draft: a deploy makes them live.

use crate::extract::{ProjectPage, ProjectPost};
use crate::forms::FormData;
use crate::page::{
    self, button_form, field, notice, Errors, Input, PageError, ProjectTab, Section, Shell,
};
use crate::pages::settings::{label_of, modes};
use crate::pages::{done_message, parse_id, Done};
use crate::session::SignedIn;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use behest_control::service::tiers::{self, TierInput, TierView, MAX_TIERS};
use behest_control::views::ProjectView;
use behest_control::ControlState;
use maud::{html, Markup};
use serde_json::{json, Map, Value};

/// The overrides this form offers (a tier may override more through the API).
const OVERRIDES: &[&str] = &[
    "rpm_limit",
    "tokens_per_day",
    "pii_mode",
    "sentinel_mode",
    "memory_window",
    "system_prompt",
    "provider_model",
];
const INHERIT: &str = "inherit";

/// The posted overrides: blank (or "inherit") leaves a setting to the project.
fn overrides_from_form(form: &FormData) -> Map<String, Value> {
    OVERRIDES
        .iter()
        .filter_map(|name| {
            let raw = form.text(&format!("overrides.{name}"))?;
            if raw == INHERIT {
                return None;
            }
            let value = match *name {
                "rpm_limit" | "tokens_per_day" | "memory_window" => raw
                    .replace('_', "")
                    .parse::<i64>()
                    .map_or_else(|_| json!(raw), Value::from),
                _ => json!(raw),
            };
            Some(((*name).to_owned(), value))
        })
        .collect()
}

fn render(
    who: &SignedIn,
    project: &ProjectView,
    tiers: &[TierView],
    errors: &Errors,
    done: Option<&str>,
) -> Markup {
    let csrf = who.csrf();
    let mut mode_options = vec![INHERIT];
    mode_options.extend_from_slice(modes());
    let fields: Vec<String> = ["name", "sort_order"]
        .iter()
        .map(|f| (*f).to_owned())
        .chain(OVERRIDES.iter().map(|f| format!("overrides.{f}")))
        .collect();
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let shell = Shell {
        who,
        title: "Tiers",
        section: Section::Projects,
        project: Some((project.id, &project.name, ProjectTab::Tiers)),
        refresh: None,
    };
    shell.render(html! {
        h1 { "Tiers" }
        (notice(done))
        p { "A token minted with " code { "tier" } " gets that tier's overrides on top of the project's settings. Tiers are part of the draft: "
            a href={ "/projects/" (project.id) "/settings" } { "deploy the settings" } " to make a change live." }
        @for tier in tiers {
            section.card aria-label={ "Tier " (tier.name) } {
                h2 { "Tier " (tier.name) " " span.hint { "(order " (tier.sort_order) ")" } }
                @let overrides = serde_json::to_value(&tier.overrides).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
                @if overrides.is_empty() {
                    p { "No overrides: the project's settings apply." }
                } @else {
                    h3 { "Overrides" }
                    ul { @for (field, value) in &overrides { li { (label_of(field)) ": " code { (value) } } } }
                }
                @if let Some(resolved) = &tier.resolved {
                    details {
                        summary { "Resolved settings" }
                        ul {
                            li { "Rate limit (rpm): " (resolved.values.rpm_limit) }
                            li { "Tokens per day: " (resolved.values.tokens_per_day) }
                            li { "PII mode: " (resolved.values.pii_mode) }
                            li { "Sentinel mode: " (resolved.values.sentinel_mode) }
                            li { "Memory window: " (resolved.values.memory_window) }
                            li { "System prompt: " (resolved.values.system_prompt.as_deref().unwrap_or("—")) }
                            li { "Model: " (resolved.provider_model.as_deref().unwrap_or("platform default")) }
                        }
                    }
                }
                (button_form(&csrf, &format!("/projects/{}/tiers/{}/delete", project.id, tier.id), "Delete tier",
                    Some("Delete this tier from the draft?")))
            }
        }
        @if (tiers.len() as i64) < MAX_TIERS {
            (errors.alert(&field_refs))
            form.card method="post" action={ "/projects/" (project.id) "/tiers" } {
                h2 { "New tier" }
                (page::csrf_input(&csrf))
                (field(errors, "name", "Tier name", Input::Text(""), Some("E.g. free, pro, 2.")))
                (field(errors, "sort_order", "Sort order", Input::Number("0"), None))
                (field(errors, "overrides.rpm_limit", "Rate limit (rpm)", Input::Number(""), Some("Blank: the project's.")))
                (field(errors, "overrides.tokens_per_day", "Tokens per day", Input::Number(""), Some("Blank: the project's.")))
                (field(errors, "overrides.pii_mode", "PII mode", Input::Select(&mode_options, INHERIT), None))
                (field(errors, "overrides.sentinel_mode", "Sentinel mode", Input::Select(&mode_options, INHERIT), None))
                (field(errors, "overrides.memory_window", "Memory window", Input::Number(""), None))
                (field(errors, "overrides.system_prompt", "System prompt", Input::Area("", 2), None))
                (field(errors, "overrides.provider_model", "Model", Input::Text(""), Some("A model id; blank: the project's.")))
                div.actions { button type="submit" { "Create tier" } }
            }
        } @else {
            p { "A project has at most " (MAX_TIERS) " tiers." }
        }
    })
}

pub async fn page(
    State(ctl): State<ControlState>,
    Query(done): Query<Done>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    let tiers = tiers::list(&ctl, &who.actor(), project.id).await?;
    Ok(page::ok(render(
        &who,
        &project,
        &tiers,
        &Errors::default(),
        done_message(&done),
    )))
}

pub async fn create(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, form }: ProjectPost,
) -> Result<Response, PageError> {
    let sort_order = form.text("sort_order").map(|v| v.parse::<i64>());
    let input = TierInput {
        name: form.text("name"),
        sort_order: match sort_order {
            Some(Ok(n)) => Some(n),
            Some(Err(_)) => {
                let errors = Errors::from(behest_control::ControlError::invalid(
                    "sort_order",
                    "sort_order must be an integer",
                ));
                let tiers = tiers::list(&ctl, &who.actor(), project.id).await?;
                return Ok(page::respond(
                    errors.status,
                    render(&who, &project, &tiers, &errors, None),
                ));
            }
            None => None,
        },
        overrides: Some(overrides_from_form(&form)),
    };
    match tiers::create(&ctl, &who.actor(), project.id, input).await {
        Ok(_) => Ok(page::see_other(&format!(
            "/projects/{}/tiers?done=tier-saved",
            project.id
        ))),
        Err(err) => {
            let errors = Errors::from(err);
            let tiers = tiers::list(&ctl, &who.actor(), project.id).await?;
            Ok(page::respond(
                errors.status,
                render(&who, &project, &tiers, &errors, None),
            ))
        }
    }
}

pub async fn delete(
    State(ctl): State<ControlState>,
    Path((_, tier)): Path<(String, String)>,
    ProjectPost { who, project, .. }: ProjectPost,
) -> Result<Response, PageError> {
    tiers::delete(&ctl, &who.actor(), project.id, parse_id(&tier)?).await?;
    Ok(page::see_other(&format!(
        "/projects/{}/tiers?done=tier-deleted",
        project.id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_inherit_leave_settings_to_the_project() {
        let form = FormData::parse(
            b"overrides.rpm_limit=30&overrides.tokens_per_day=&overrides.pii_mode=inherit\
              &overrides.sentinel_mode=enforce&overrides.memory_window=x",
        )
        .unwrap();
        let overrides = overrides_from_form(&form);
        assert_eq!(
            Value::Object(overrides),
            json!({"rpm_limit": 30, "sentinel_mode": "enforce", "memory_window": "x"})
        );
    }
}
