//! Admin (signed in with the admin secret, a cookie apart from the user's session):
//! kill switches with their state, the provider catalog and its model sync. Without
//! `ADMIN_SECRET` configured the page says the admin routes are off.

use crate::extract::Posted;
use crate::page::{self, button_form, notice, Errors, PageError, Section, Shell};
use crate::pages::{done_message, Done};
use crate::session::{self, set_cookie, SignedIn, ADMIN_COOKIE};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use behest_control::service::catalog;
use behest_control::service::killswitch::{self, SwitchInput};
use behest_control::{Actor, ControlError, ControlState};
use behest_core::killswitch::KillScope;
use maud::{html, Markup};

async fn render(
    ctl: &ControlState,
    who: &SignedIn,
    admin: bool,
    errors: &Errors,
    done: Option<&str>,
    synced: Option<String>,
) -> Result<Markup, PageError> {
    let csrf = who.csrf();
    let shell = Shell {
        who,
        title: "Admin",
        section: Section::Admin,
        project: None,
        refresh: None,
    };
    let configured = ctl.config.admin_secret.is_some();
    let (status, providers) = if admin {
        (
            Some(killswitch::status(ctl, &Actor::Admin).await?),
            catalog::list(ctl, &Actor::Admin).await?.providers,
        )
    } else {
        (None, Vec::new())
    };
    Ok(shell.render(html! {
        h1 { "Admin" }
        (notice(done))
        @if let Some(message) = synced { p.notice role="status" { (message) } }
        (errors.alert(&["admin_secret"]))
        @if !configured {
            p { "The admin routes are off: no " code { "ADMIN_SECRET" } " is configured for this server." }
        } @else if let Some(status) = status {
            div.actions {
                span { "Signed in as operator." }
                (button_form(&csrf, "/admin/sign-out", "Sign out of admin", None))
            }
            h2 { "Kill switches" }
            section.card {
                p { "Global: " strong id="kill-global" { (if status.global { "ON — all traffic refused" } else { "off" }) } }
                form.inline method="post" action="/admin/killswitch" data-confirm=(if status.global { "Turn the global kill switch off?" } else { "Refuse ALL traffic on every project?" }) {
                    (page::csrf_input(&csrf))
                    input type="hidden" name="scope" value="global";
                    input type="hidden" name="enabled" value=(!status.global);
                    button.danger type="submit" { (if status.global { "Turn global off" } else { "Turn global on" }) }
                }
                h3 { "Tenants switched off" }
                @if status.tenants.is_empty() { p { "None." } }
                ul { @for id in &status.tenants { li { code { (id) } " " (switch_form(&csrf, "tenant", &id.to_string(), false)) } } }
                h3 { "Projects switched off" }
                @if status.projects.is_empty() { p { "None." } }
                ul { @for id in &status.projects { li { code { (id) } " " (switch_form(&csrf, "project", &id.to_string(), false)) } } }
                form method="post" action="/admin/killswitch" {
                    (page::csrf_input(&csrf))
                    input type="hidden" name="enabled" value="true";
                    div.field {
                        label for="scope" { "Scope" }
                        select id="scope" name="scope" { option value="project" { "project" } option value="tenant" { "tenant" } }
                    }
                    div.field {
                        label for="target" { "Id" }
                        input id="target" name="id" type="text" required;
                    }
                    div.actions { button.danger type="submit" { "Switch off" } }
                }
            }
            h2 { "Provider catalog" }
            div.table { table {
                thead { tr { th scope="col" { "Provider" } th scope="col" { "Slug" } th scope="col" { "Active" } th.num scope="col" { "Models" } th scope="col" { "Actions" } } }
                tbody { @for p in &providers { tr {
                    td { (p.display_name) } td { code { (p.slug) } } td { (if p.is_active { "yes" } else { "no" }) } td.num { (p.model_count) }
                    td { (button_form(&csrf, &format!("/admin/providers/{}/sync", p.id), "Sync models", None)) }
                } } }
            } }
        } @else {
            form.card method="post" action="/admin/sign-in" {
                (page::csrf_input(&csrf))
                div.field {
                    label for="admin_secret" { "Admin secret" }
                    input id="admin_secret" name="admin_secret" type="password" autocomplete="off" required;
                }
                div.actions { button type="submit" { "Sign in as admin" } }
            }
        }
    }))
}

fn switch_form(csrf: &str, scope: &str, id: &str, enabled: bool) -> Markup {
    html! {
        form.inline method="post" action="/admin/killswitch" {
            (page::csrf_input(csrf))
            input type="hidden" name="scope" value=(scope);
            input type="hidden" name="id" value=(id);
            input type="hidden" name="enabled" value=(enabled);
            button.secondary type="submit" { "Turn back on" }
        }
    }
}

pub async fn page(
    State(ctl): State<ControlState>,
    who: SignedIn,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let admin = session::is_admin(&headers, &ctl);
    let markup = render(
        &ctl,
        &who,
        admin,
        &Errors::default(),
        done_message(&done),
        None,
    )
    .await?;
    Ok(page::ok(markup))
}

pub async fn sign_in(
    State(ctl): State<ControlState>,
    headers: HeaderMap,
    Posted { who, form }: Posted,
) -> Result<Response, PageError> {
    let presented = form.get("admin_secret").unwrap_or_default();
    match ctl.config.admin_secret.as_deref() {
        Some(secret) if behest_auth::constant_time_eq(presented, secret) => {
            let (value, age) = session::new_admin_cookie(secret);
            let mut response = page::see_other("/admin");
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(ADMIN_COOKIE, &value, Some(age), session::is_https(&headers)),
            );
            Ok(response)
        }
        _ => {
            let errors = Errors::message(StatusCode::UNAUTHORIZED, "That is not the admin secret.");
            let markup = render(&ctl, &who, false, &errors, None, None).await?;
            Ok(page::respond(errors.status, markup))
        }
    }
}

pub async fn sign_out(headers: HeaderMap, _: Posted) -> Result<Response, PageError> {
    let mut response = page::see_other("/admin");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(ADMIN_COOKIE, "", None, session::is_https(&headers)),
    );
    Ok(response)
}

fn require_admin(headers: &HeaderMap, ctl: &ControlState) -> Result<(), PageError> {
    if session::is_admin(headers, ctl) {
        Ok(())
    } else {
        Err(PageError::Control(ControlError::forbidden(
            "sign in as admin first",
        )))
    }
}

pub async fn killswitch(
    State(ctl): State<ControlState>,
    headers: HeaderMap,
    Posted { form, .. }: Posted,
) -> Result<Response, PageError> {
    require_admin(&headers, &ctl)?;
    let target = || {
        form.text("id")
            .and_then(|v| v.parse::<uuid::Uuid>().ok())
            .ok_or_else(|| PageError::Control(ControlError::invalid("id", "id must be a UUID")))
    };
    let scope = match form.get("scope") {
        Some("global") => KillScope::Global,
        Some("tenant") => KillScope::Tenant(target()?),
        Some("project") => KillScope::Project(target()?),
        _ => {
            return Err(PageError::Control(ControlError::invalid(
                "scope",
                "unknown scope",
            )))
        }
    };
    let input = SwitchInput {
        enabled: Some(form.get("enabled") == Some("true")),
    };
    killswitch::set(&ctl, &Actor::Admin, scope, input).await?;
    Ok(page::see_other("/admin?done=switched"))
}

pub async fn sync(
    State(ctl): State<ControlState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Posted { who, .. }: Posted,
) -> Result<Response, PageError> {
    require_admin(&headers, &ctl)?;
    let message = match catalog::sync(&ctl, &Actor::Admin, &id).await {
        Ok(view) => format!(
            "Synced {}: {} models discovered, {} in the catalog.",
            view.provider_id, view.discovered, view.model_count
        ),
        Err(err) => {
            let errors = Errors::from(err);
            let markup = render(&ctl, &who, true, &errors, None, None).await?;
            return Ok(page::respond(errors.status, markup));
        }
    };
    Ok(page::ok(
        render(&ctl, &who, true, &Errors::default(), None, Some(message)).await?,
    ))
}
