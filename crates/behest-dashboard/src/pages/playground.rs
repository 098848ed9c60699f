//! The playground page: chat with the draft model and draft settings. The form posts
//! (from the page's script) to `/projects/{id}/playground/stream`, which the binary
//! serves through the data plane's pipeline; the answer grows token by token.

use crate::extract::ProjectPage;
use crate::page::{self, PageError, ProjectTab, Section, Shell};
use axum::extract::State;
use axum::response::Response;
use behest_control::service::playground::CALLS_PER_HOUR;
use behest_control::service::settings;
use behest_control::ControlState;
use maud::html;

pub async fn page(
    State(ctl): State<ControlState>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    let comparison = settings::compare(&ctl, &who.actor(), project.id).await?;
    let model = comparison
        .draft_provider_model
        .as_deref()
        .or(comparison.provider_model.as_deref())
        .unwrap_or("the platform default");
    let draft = &comparison.draft;
    let csrf = who.csrf();
    let shell = Shell {
        who: &who,
        title: "Playground",
        section: Section::Projects,
        project: Some((project.id, &project.name, ProjectTab::Playground)),
        refresh: None,
    };
    Ok(page::ok(shell.render(html! {
        h1 { "Playground" }
        p { "Try the " strong { "draft" } ": model " code { (model) } ", PII " (draft.pii_mode) ", sentinel " (draft.sentinel_mode)
            @if draft.system_prompt.is_some() { ", with its system prompt" } ". Calls are recorded in Usage as origin playground." }
        p.hint { "At most " (CALLS_PER_HOUR) " playground calls per hour per project and user." }
        @if comparison.draft_provider_model.is_none() && comparison.provider_model.is_none() {
            p.warning role="note" { "The playground tries a chosen model: pick one under "
                a href={ "/projects/" (project.id) "/model" } { "Model" } " (Save as draft) first." }
        }
        form.card id="playground" method="post" action="#" data-stream={ "/projects/" (project.id) "/playground/stream" } {
            (page::csrf_input(&csrf))
            div.field {
                label for="message" { "Message" }
                textarea id="message" name="message" rows="4" required {}
            }
            div.field {
                label for="user_id" { "End user" }
                input id="user_id" name="user_id" type="text" value="playground" aria-describedby="user_id-hint";
                p.hint id="user_id-hint" { "The end user the call is recorded under." }
            }
            div.actions { button type="submit" { "Send" } }
        }
        h2 { "Answer" }
        div id="answer" aria-live="polite" {}
        p { "Tokens used: " span id="tokens" { "—" } }
        p { "Guard outcome: " span id="outcome" role="status" { "—" } }
        noscript { p.warning { "The playground streams with JavaScript; without it, use the API (POST /auth/v1/projects/{id}/playground)." } }
    })))
}
