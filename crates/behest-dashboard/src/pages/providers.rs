//! Provider keys (BYOK): per provider its status and last four characters, validate a
//! key (the outcome shown), save, remove. A free tenant sees why it cannot, and how to
//! upgrade.

use crate::extract::Posted;
use crate::page::{self, button_form, notice, Errors, PageError, Section, Shell};
use crate::pages::{done_message, Done};
use crate::session::SignedIn;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use behest_control::service::providers::{
    self, ProviderKeyView, PutProviderKeyInput, ValidateProviderKeyInput,
};
use behest_control::ControlState;
use behest_providers::Provider;
use maud::{html, Markup};

fn byok_providers() -> Vec<Provider> {
    Provider::ALL
        .into_iter()
        .filter(|p| providers::byok_provider(p.as_str()).is_ok())
        .collect()
}

struct Outcome<'a> {
    provider: &'a str,
    message: String,
    good: bool,
}

fn render(
    who: &SignedIn,
    keys: &[ProviderKeyView],
    outcome: Option<Outcome<'_>>,
    errors: &Errors,
    done: Option<&str>,
) -> Markup {
    let csrf = who.csrf();
    let free = who.tenant.plan == "free";
    let shell = Shell {
        who,
        title: "Provider keys",
        section: Section::ProviderKeys,
        project: None,
        refresh: None,
    };
    shell.render(html! {
        h1 { "Provider keys" }
        (notice(done))
        p { "Bring your own provider keys (BYOK): this tenant's projects then call the provider with them, and its models appear in the model picker. Keys are sealed at rest and never shown again." }
        @if free {
            p.warning role="note" { "Bringing your own provider keys needs the pro plan; this tenant is on the free plan. "
                a href="/plan" { "See what each plan allows" } " — an operator upgrades a tenant." }
        }
        (errors.alert(&[]))
        @for provider in byok_providers() {
            @let name = provider.as_str();
            @let key = keys.iter().find(|k| k.provider_type == name);
            section.card aria-labelledby={ "p-" (name) } {
                h2 id={ "p-" (name) } { (provider.display_name()) }
                @match key {
                    Some(key) => p { "Configured: key ending " code { (key.key_last4) } ", set " (key.key_set_at.format("%Y-%m-%d %H:%M UTC")) ", used by " (key.projects_using_count) " project(s)." },
                    None => p { "Not configured." },
                }
                @if let Some(o) = outcome.as_ref().filter(|o| o.provider == name) {
                    p class=(if o.good { "notice" } else { "alert" }) role="status" { (o.message) }
                }
                form method="post" action={ "/provider-keys/" (name) } {
                    (page::csrf_input(&csrf))
                    div.field {
                        label for={ "key-" (name) } { "API key" }
                        input id={ "key-" (name) } name="api_key" type="password" autocomplete="off" disabled[free];
                    }
                    div.actions {
                        button type="submit" name="action" value="validate" disabled[free] { "Validate" }
                        button type="submit" name="action" value="save" disabled[free] { "Save" }
                    }
                }
                @if key.is_some() {
                    (button_form(&csrf, &format!("/provider-keys/{name}?remove=1"), "Remove",
                        Some("Remove this provider key? Projects using its models stop working.")))
                }
            }
        }
    })
}

pub async fn page(
    State(ctl): State<ControlState>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let keys = providers::list(&ctl, &who.actor(), who.tenant.id)
        .await?
        .providers;
    Ok(page::ok(render(
        &who,
        &keys,
        None,
        &Errors::default(),
        done_message(&done),
    )))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct Remove {
    remove: Option<String>,
}

pub async fn act(
    State(ctl): State<ControlState>,
    Path(provider): Path<String>,
    Query(remove): Query<Remove>,
    Posted { who, form }: Posted,
) -> Result<Response, PageError> {
    let actor = who.actor();
    let tenant = who.tenant.id;
    let api_key = form.text("api_key");
    let result = if remove.remove.is_some() {
        providers::delete(&ctl, &actor, tenant, &provider)
            .await
            .map(|_| None)
    } else if form.get("action") == Some("validate") {
        providers::validate(
            &ctl,
            &actor,
            tenant,
            &provider,
            ValidateProviderKeyInput { api_key },
        )
        .await
        .map(|v| {
            Some(Outcome {
                provider: &provider,
                good: v.valid,
                message: match v.reason {
                    None => "Valid: the provider accepted this key.".to_owned(),
                    Some(reason) => format!(
                        "Not valid: {}.",
                        serde_json::to_value(reason)
                            .ok()
                            .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                            .unwrap_or_default()
                    ),
                },
            })
        })
    } else {
        let input = PutProviderKeyInput {
            api_key,
            base_url_override: None,
        };
        providers::put(&ctl, &actor, tenant, &provider, input)
            .await
            .map(|_| None)
    };
    match result {
        Ok(None) => Ok(page::see_other(if remove.remove.is_some() {
            "/provider-keys?done=key-removed"
        } else {
            "/provider-keys?done=key-saved"
        })),
        Ok(Some(outcome)) => {
            let keys = providers::list(&ctl, &actor, tenant).await?.providers;
            Ok(page::ok(render(
                &who,
                &keys,
                Some(outcome),
                &Errors::default(),
                None,
            )))
        }
        Err(err) => {
            let keys = providers::list(&ctl, &actor, tenant).await?.providers;
            let errors = Errors::from(err);
            Ok(page::respond(
                errors.status,
                render(&who, &keys, None, &errors, None),
            ))
        }
    }
}
