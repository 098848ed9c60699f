//! A project's API keys: the list (never a plaintext), creating one with a role (the
//! plaintext shown once, with a copy button), rotating and revoking with confirmation.

use crate::extract::{ProjectPage, ProjectPost};
use crate::page::{
    self, button_form, field, notice, Errors, Input, PageError, ProjectTab, Section, Shell,
};
use crate::pages::{done_message, parse_id, Done};
use crate::session::SignedIn;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use behest_control::service::api_keys::{self, CreateKeyInput};
use behest_control::views::{ApiKeyView, ProjectView};
use behest_control::ControlState;
use behest_core::Role;
use maud::{html, Markup};

/// What the page shows above the list: a key just created or rotated.
struct Fresh<'a> {
    heading: &'a str,
    plaintext: &'a str,
}

fn render(
    who: &SignedIn,
    project: &ProjectView,
    keys: &[ApiKeyView],
    fresh: Option<Fresh<'_>>,
    errors: &Errors,
    done: Option<&str>,
) -> Markup {
    let csrf = who.csrf();
    let roles = [Role::User.as_str(), Role::Admin.as_str()];
    let shell = Shell {
        who,
        title: "API keys",
        section: Section::Projects,
        project: Some((project.id, &project.name, ProjectTab::Keys)),
        refresh: None,
    };
    shell.render(html! {
        h1 { "API keys" }
        (notice(done))
        @if let Some(fresh) = fresh {
            section.card aria-labelledby="new-key-title" {
                h2 id="new-key-title" { (fresh.heading) }
                p.warning role="status" { "Copy this key now and keep it on your server: it is shown once and never again." }
                code.secret id="new-secret" { (fresh.plaintext) }
                div.actions { button type="button" data-copy="new-secret" { "Copy" } }
            }
        }
        (errors.alert(&["name", "role"]))
        form.card method="post" action={ "/projects/" (project.id) "/keys" } {
            h2 { "Create key" }
            (page::csrf_input(&csrf))
            (field(errors, "name", "Key name", Input::Text(""), Some("Optional, to tell keys apart (default \"default\").")))
            (field(errors, "role", "Role", Input::Select(&roles, "user"),
                Some("The highest role its tokens may carry: user for end users; admin also mints admin tokens.")))
            div.actions { button type="submit" { "Create key" } }
        }
        h2 { "Active keys" }
        @if keys.is_empty() {
            p { "No active keys." }
        } @else {
            div.table {
                table {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Role" }
                        th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "Actions" }
                    } }
                    tbody {
                        @for key in keys {
                            tr {
                                td { (key.name.as_deref().unwrap_or("—")) }
                                td { code { (key.prefix) } }
                                td { (key.role) }
                                td { (key.created_at.format("%Y-%m-%d %H:%M UTC")) }
                                td { (key.last_used_at.map_or("never".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())) }
                                td {
                                    (button_form(&csrf, &format!("/projects/{}/keys/{}/rotate", project.id, key.id), "Rotate",
                                        Some("Rotate this key? A new key replaces it at once; tokens it minted stay valid until they expire.")))
                                    " "
                                    (button_form(&csrf, &format!("/projects/{}/keys/{}/revoke", project.id, key.id), "Revoke",
                                        Some("Revoke this key? It stops minting at once and the tokens it minted are refused.")))
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

pub async fn list(
    State(ctl): State<ControlState>,
    Query(done): Query<Done>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    let keys = api_keys::list(&ctl, &who.actor(), project.id).await?;
    Ok(page::ok(render(
        &who,
        &project,
        &keys,
        None,
        &Errors::default(),
        done_message(&done),
    )))
}

pub async fn create(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, form }: ProjectPost,
) -> Result<Response, PageError> {
    let input = CreateKeyInput {
        name: form.text("name"),
        role: form.text("role"),
    };
    let created = api_keys::create(&ctl, &who.actor(), project.id, input).await;
    let keys = api_keys::list(&ctl, &who.actor(), project.id).await?;
    Ok(match created {
        // Rendered by this POST, never redirected: the plaintext must not sit in a URL.
        Ok(key) => page::ok(render(
            &who,
            &project,
            &keys,
            Some(Fresh {
                heading: "New key",
                plaintext: &key.api_key,
            }),
            &Errors::default(),
            None,
        )),
        Err(err) => {
            let errors = Errors::from(err);
            page::respond(
                errors.status,
                render(&who, &project, &keys, None, &errors, None),
            )
        }
    })
}

pub async fn rotate(
    State(ctl): State<ControlState>,
    Path((_, key)): Path<(String, String)>,
    ProjectPost { who, project, .. }: ProjectPost,
) -> Result<Response, PageError> {
    let rotated = api_keys::rotate(&ctl, &who.actor(), project.id, parse_id(&key)?).await?;
    let keys = api_keys::list(&ctl, &who.actor(), project.id).await?;
    Ok(page::respond(
        StatusCode::OK,
        render(
            &who,
            &project,
            &keys,
            Some(Fresh {
                heading: "Rotated: the new key",
                plaintext: &rotated.api_key,
            }),
            &Errors::default(),
            None,
        ),
    ))
}

pub async fn revoke(
    State(ctl): State<ControlState>,
    Path((_, key)): Path<(String, String)>,
    ProjectPost { project, who, .. }: ProjectPost,
) -> Result<Response, PageError> {
    api_keys::revoke(&ctl, &who.actor(), project.id, parse_id(&key)?).await?;
    Ok(page::see_other(&format!(
        "/projects/{}/keys?done=revoked",
        project.id
    )))
}
