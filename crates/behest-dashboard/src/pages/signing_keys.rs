//! The tenant's signing keys (dashboard → Keys → Signing): create one (the private key
//! shown once, to copy or download), list them by kid, revoke.

use crate::extract::Posted;
use crate::page::{self, button_form, field, notice, Errors, Input, PageError, Section, Shell};
use crate::pages::{done_message, Done};
use crate::session::SignedIn;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use behest_control::service::signing_keys::{self, CreateSigningKeyInput, SigningKeyView};
use behest_control::ControlState;
use maud::{html, Markup};

fn render(
    who: &SignedIn,
    keys: &[SigningKeyView],
    created: Option<(&str, &str)>,
    errors: &Errors,
    done: Option<&str>,
) -> Markup {
    let csrf = who.csrf();
    let shell = Shell {
        who,
        title: "Signing keys",
        section: Section::SigningKeys,
        project: None,
        refresh: None,
    };
    shell.render(html! {
        h1 { "Signing keys" }
        (notice(done))
        p { "With a signing key your server signs users' tokens itself (RS256, no call to Behest per mint). Tokens name the key by its kid; set "
            code { "BEHEST_KEY" } " to the private key and " code { "BEHEST_KID" } " to its kid." }
        @if let Some((kid, private_key)) = created {
            section.card aria-labelledby="new-signing-key" {
                h2 id="new-signing-key" { "New signing key " code { (kid) } }
                p.warning role="status" { "This private key is shown once. Copy or download it now and keep it on your server." }
                label for="private-key" { "Private key" }
                textarea id="private-key" readonly rows="8" { (private_key) }
                div.actions {
                    button type="button" data-copy="private-key" { "Copy" }
                    a.button.secondary hidden data-download="private-key" download={ (kid) ".pem" } href="#" { "Download" }
                }
            }
        }
        (errors.alert(&["name"]))
        form.card method="post" action="/signing-keys" {
            h2 { "Create signing key" }
            (page::csrf_input(&csrf))
            (field(errors, "name", "Key name", Input::Text(""), Some("Optional.")))
            div.actions { button type="submit" { "Create signing key" } }
        }
        h2 { "Active signing keys" }
        @if keys.is_empty() {
            p { "No signing keys." }
        } @else {
            div.table {
                table {
                    thead { tr { th scope="col" { "Kid" } th scope="col" { "Name" } th scope="col" { "Algorithm" } th scope="col" { "Created" } th scope="col" { "Actions" } } }
                    tbody {
                        @for key in keys {
                            tr {
                                td { code { (key.kid) } }
                                td { (key.name.as_deref().unwrap_or("—")) }
                                td { (key.algorithm) }
                                td { (key.created_at.format("%Y-%m-%d %H:%M UTC")) }
                                td { (button_form(&csrf, &format!("/signing-keys/{}/revoke", key.kid), "Revoke",
                                    Some("Revoke this signing key? Tokens it signed are refused at once."))) }
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
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let keys = signing_keys::list(&ctl, &who.actor(), who.tenant.id).await?;
    Ok(page::ok(render(
        &who,
        &keys,
        None,
        &Errors::default(),
        done_message(&done),
    )))
}

pub async fn create(
    State(ctl): State<ControlState>,
    Posted { who, form }: Posted,
) -> Result<Response, PageError> {
    let input = CreateSigningKeyInput {
        name: form.text("name"),
    };
    let created = signing_keys::create(&ctl, &who.actor(), who.tenant.id, input).await;
    let keys = signing_keys::list(&ctl, &who.actor(), who.tenant.id).await?;
    Ok(match created {
        Ok(key) => page::ok(render(
            &who,
            &keys,
            Some((&key.key.kid, &key.private_key)),
            &Errors::default(),
            None,
        )),
        Err(err) => {
            let errors = Errors::from(err);
            page::respond(errors.status, render(&who, &keys, None, &errors, None))
        }
    })
}

pub async fn revoke(
    State(ctl): State<ControlState>,
    Path(kid): Path<String>,
    Posted { who, .. }: Posted,
) -> Result<Response, PageError> {
    signing_keys::revoke(&ctl, &who.actor(), who.tenant.id, &kid).await?;
    Ok(page::see_other("/signing-keys?done=revoked"))
}
