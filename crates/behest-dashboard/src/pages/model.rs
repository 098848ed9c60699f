//! The model picker: the tenant's usable models (platform and BYOK) with provider,
//! context window and price; save a draft, publish it, or set a model live at once,
//! as the seed's model routes do.

use crate::extract::{ProjectPage, ProjectPost};
use crate::page::{self, field, notice, Errors, Input, PageError, ProjectTab, Section, Shell};
use crate::pages::{done_message, Done};
use crate::session::SignedIn;
use axum::extract::{Query, State};
use axum::response::Response;
use behest_control::service::providers::{self, TenantModelView};
use behest_control::service::settings::{self, DraftComparison, ModelInput};
use behest_control::views::ProjectView;
use behest_control::{ControlError, ControlState};
use maud::{html, Markup};

fn price(ctl: &ControlState, model: &str) -> String {
    ctl.config.models.find(model).map_or_else(
        || "—".to_owned(),
        |info| {
            format!(
                "${:.2} / ${:.2}",
                info.input_price_per_mtok, info.output_price_per_mtok
            )
        },
    )
}

fn render(
    ctl: &ControlState,
    who: &SignedIn,
    project: &ProjectView,
    models: &[TenantModelView],
    comparison: &DraftComparison,
    errors: &Errors,
    done: Option<&str>,
) -> Markup {
    let csrf = who.csrf();
    let ids: Vec<&str> = models.iter().map(|m| m.model_id.as_str()).collect();
    let live = comparison.provider_model.as_deref();
    let draft = comparison.draft_provider_model.as_deref();
    let selected = draft.or(live).unwrap_or_default();
    let shell = Shell {
        who,
        title: "Model",
        section: Section::Projects,
        project: Some((project.id, &project.name, ProjectTab::Model)),
        refresh: None,
    };
    shell.render(html! {
        h1 { "Model" }
        (notice(done))
        div.grid {
            div.stat { "Live model" b { code { (live.unwrap_or("platform default")) } } }
            div.stat { "Model draft" b { code { (draft.unwrap_or("none")) } } }
        }
        (errors.alert(&["provider_model"]))
        form.card method="post" action={ "/projects/" (project.id) "/model" } {
            (page::csrf_input(&csrf))
            (field(errors, "provider_model", "Model", Input::Select(&ids, selected),
                Some("Save a draft to try it in the Playground; publish it (or set it live) for real traffic.")))
            div.actions {
                button type="submit" name="action" value="draft" { "Save as draft" }
                button type="submit" name="action" value="publish" { "Publish draft" }
                button.secondary type="submit" name="action" value="live" { "Set live" }
                button.secondary type="submit" name="action" value="discard" { "Discard model draft" }
            }
        }
        h2 { "Models this tenant can use" }
        div.table {
            table {
                thead { tr {
                    th scope="col" { "Model" } th scope="col" { "Provider" } th scope="col" class="num" { "Context window" }
                    th scope="col" class="num" { "Max output" } th scope="col" class="num" { "Price in / out per 1M tokens" }
                } }
                tbody {
                    @for m in models {
                        tr {
                            td { (m.display_name) br; code { (m.model_id) }
                                @if Some(m.model_id.as_str()) == live { " (live)" }
                                @if Some(m.model_id.as_str()) == draft { " (draft)" } }
                            td { (m.provider_display_name) }
                            td.num { (m.context_window.map_or("—".to_owned(), |c| c.to_string())) }
                            td.num { (m.max_output_tokens.map_or("—".to_owned(), |c| c.to_string())) }
                            td.num { (price(ctl, &m.model_id)) }
                        }
                    }
                }
            }
        }
        p.hint { "A tenant on the pro plan adds models of its own providers under " a href="/provider-keys" { "Provider keys" } "." }
    })
}

async fn show(
    ctl: &ControlState,
    who: &SignedIn,
    project: &ProjectView,
    errors: &Errors,
    done: Option<&str>,
    status: axum::http::StatusCode,
) -> Result<Response, PageError> {
    let models = providers::models(ctl, &who.actor(), who.tenant.id)
        .await?
        .models;
    let comparison = settings::compare(ctl, &who.actor(), project.id).await?;
    Ok(page::respond(
        status,
        render(ctl, who, project, &models, &comparison, errors, done),
    ))
}

pub async fn page(
    State(ctl): State<ControlState>,
    Query(done): Query<Done>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    show(
        &ctl,
        &who,
        &project,
        &Errors::default(),
        done_message(&done),
        axum::http::StatusCode::OK,
    )
    .await
}

pub async fn act(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, form }: ProjectPost,
) -> Result<Response, PageError> {
    let actor = who.actor();
    let input = || ModelInput {
        provider_model: form.text("provider_model"),
    };
    let outcome: Result<&str, ControlError> = match form.get("action") {
        Some("draft") => settings::set_model_draft(&ctl, &actor, project.id, input())
            .await
            .map(|_| "model-draft"),
        Some("publish") => settings::publish_model(&ctl, &actor, project.id)
            .await
            .map(|_| "model-published"),
        Some("live") => settings::set_model(&ctl, &actor, project.id, input())
            .await
            .map(|_| "model-live"),
        Some("discard") => settings::discard_model_draft(&ctl, &actor, project.id)
            .await
            .map(|_| "model-discarded"),
        _ => Err(ControlError::invalid("action", "choose an action")),
    };
    match outcome {
        Ok(done) => Ok(page::see_other(&format!(
            "/projects/{}/model?done={done}",
            project.id
        ))),
        Err(err) => {
            let errors = Errors::from(err);
            show(&ctl, &who, &project, &errors, None, errors.status).await
        }
    }
}
