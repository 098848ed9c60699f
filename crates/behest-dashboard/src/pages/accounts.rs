//! Sign up, sign in (limited exactly as the JSON login is: it is the same service), sign
//! out, the tenant switcher and the plan page.

use crate::extract::Posted;
use crate::forms::FormData;
use crate::page::{self, document, field, see_other, Errors, Input, PageError, Section, Shell};
use crate::session::{
    self, set_cookie, SignedIn, Visitor, PRE_SESSION_COOKIE, SESSION_COOKIE, TENANT_COOKIE,
};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use behest_control::service::accounts::{self, LoginInput, SignupInput};
use behest_control::service::tenants::{self, CreateTenantInput};
use behest_control::{ControlError, ControlState};
use behest_core::Plan;
use maud::{html, Markup};

pub async fn home(visitor: Visitor) -> Response {
    see_other(if visitor.signed_in {
        "/projects"
    } else {
        "/sign-in"
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    SignIn,
    SignUp,
}

fn account_form(kind: Kind, csrf: &str, email: &str, name: &str, errors: &Errors) -> Markup {
    let (title, action, other, other_href) = match kind {
        Kind::SignIn => ("Sign in", "/sign-in", "Sign up", "/sign-up"),
        Kind::SignUp => ("Sign up", "/sign-up", "Sign in", "/sign-in"),
    };
    document(
        title,
        None,
        html! {
            main id="main" .narrow {
                h1 { (title) }
                (errors.alert(&["email", "password", "tenant_name"]))
                form.card method="post" action=(action) {
                    (page::csrf_input(csrf))
                    (field(errors, "email", "Email", Input::Email(email), None))
                    (field(errors, "password", "Password", Input::Password,
                        (kind == Kind::SignUp).then_some("At least 8 characters.")))
                    @if kind == Kind::SignUp {
                        (field(errors, "tenant_name", "Organisation name", Input::Text(name),
                            Some("Optional: the tenant your projects belong to (default Personal).")))
                    }
                    div.actions { button type="submit" { (title) } }
                }
                p {
                    @if kind == Kind::SignIn { "No account yet? " } @else { "Already have an account? " }
                    a href=(other_href) { (other) }
                }
            }
        },
    )
}

/// The sign-in/up page, handing out the pre-session CSRF cookie if the browser has none.
fn account_page(
    kind: Kind,
    visitor: &Visitor,
    status: StatusCode,
    email: &str,
    name: &str,
    errors: &Errors,
) -> Response {
    let token = visitor
        .pre_session
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let mut response = page::respond(status, account_form(kind, &token, email, name, errors));
    if visitor.pre_session.is_none() {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(PRE_SESSION_COOKIE, &token, Some(3600), visitor.secure),
        );
    }
    response
}

pub async fn sign_in_page(visitor: Visitor) -> Response {
    account_page(
        Kind::SignIn,
        &visitor,
        StatusCode::OK,
        "",
        "",
        &Errors::default(),
    )
}

pub async fn sign_up_page(visitor: Visitor) -> Response {
    account_page(
        Kind::SignUp,
        &visitor,
        StatusCode::OK,
        "",
        "",
        &Errors::default(),
    )
}

/// The double-submit check of the forms shown before there is a session.
fn check_pre_session(visitor: &Visitor, form: &FormData) -> Result<(), PageError> {
    match (visitor.pre_session.as_deref(), form.get("_csrf")) {
        (Some(expected), Some(presented)) if behest_auth::constant_time_eq(expected, presented) => {
            Ok(())
        }
        _ => Err(PageError::Csrf),
    }
}

/// Signed in: the session cookie, and the way to the projects.
fn signed_in(token: &str, max_age: i64, secure: bool) -> Response {
    let mut response = see_other("/projects");
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, token, Some(max_age), secure),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(PRE_SESSION_COOKIE, "", None, secure),
    );
    response
}

fn refused(kind: Kind, visitor: &Visitor, email: &str, name: &str, err: ControlError) -> Response {
    let retry = match &err {
        ControlError::RetryLater { retry_after, .. } => Some(*retry_after),
        _ => None,
    };
    let errors = Errors::from(err);
    let mut response = account_page(kind, visitor, errors.status, email, name, &errors);
    if let Some(seconds) = retry.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    response
}

pub async fn sign_in(
    State(ctl): State<ControlState>,
    visitor: Visitor,
    form: FormData,
) -> Result<Response, PageError> {
    check_pre_session(&visitor, &form)?;
    let email = form.get("email").unwrap_or_default().to_owned();
    let input = LoginInput {
        email: Some(email.clone()),
        password: form.get("password").map(str::to_owned),
    };
    match accounts::login(&ctl, input, visitor.client).await {
        Ok(session) => Ok(signed_in(
            &session.session_token,
            ctl.config.session_ttl.num_seconds(),
            visitor.secure,
        )),
        Err(err) => Ok(refused(Kind::SignIn, &visitor, &email, "", err)),
    }
}

pub async fn sign_up(
    State(ctl): State<ControlState>,
    visitor: Visitor,
    form: FormData,
) -> Result<Response, PageError> {
    check_pre_session(&visitor, &form)?;
    let email = form.get("email").unwrap_or_default().to_owned();
    let name = form.get("tenant_name").unwrap_or_default().to_owned();
    let input = SignupInput {
        email: Some(email.clone()),
        password: form.get("password").map(str::to_owned),
        tenant_name: form.text("tenant_name"),
    };
    match accounts::signup(&ctl, input).await {
        Ok(view) => Ok(signed_in(
            &view.session_token,
            ctl.config.session_ttl.num_seconds(),
            visitor.secure,
        )),
        Err(err) => Ok(refused(Kind::SignUp, &visitor, &email, &name, err)),
    }
}

pub async fn sign_out(
    State(ctl): State<ControlState>,
    headers: HeaderMap,
    Posted { who, .. }: Posted,
) -> Result<Response, PageError> {
    accounts::logout(&ctl, &who.session).await?;
    let secure = session::is_https(&headers);
    let mut response = see_other("/sign-in");
    for name in [SESSION_COOKIE, TENANT_COOKIE] {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(name, "", None, secure));
    }
    Ok(response)
}

/// The tenant switcher: remembers the choice if the user is a member of that tenant.
pub async fn switch_tenant(
    headers: HeaderMap,
    Posted { who, form }: Posted,
) -> Result<Response, PageError> {
    let chosen = form
        .get("tenant_id")
        .and_then(|v| v.parse::<uuid::Uuid>().ok())
        .filter(|id| who.tenants.iter().any(|t| t.id == *id))
        .ok_or_else(|| PageError::Control(ControlError::not_found("tenant not found")))?;
    let mut response = see_other("/projects");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            TENANT_COOKIE,
            &chosen.to_string(),
            Some(365 * 86_400),
            session::is_https(&headers),
        ),
    );
    Ok(response)
}

/// What the tenant's plan allows, and what the other plan would; a new tenant.
pub async fn plan(who: SignedIn) -> Response {
    plan_page(&who, StatusCode::OK, &Errors::default())
}

fn plan_page(who: &SignedIn, status: StatusCode, errors: &Errors) -> Response {
    let current: Plan = who.tenant.plan.parse().unwrap_or(Plan::Free);
    let rows = [Plan::Free, Plan::Pro].map(|plan| {
        let projects = plan
            .active_project_limit()
            .map_or("unlimited".to_owned(), |n| n.to_string());
        let byok = if plan == Plan::Pro { "yes" } else { "no" };
        (plan, projects, byok)
    });
    let shell = Shell {
        who,
        title: "Plan",
        section: Section::None,
        project: None,
        refresh: None,
    };
    page::respond(status, shell.render(html! {
        h1 { "Plan" }
        p { "Tenant " strong { (who.tenant.name) } " is on the " strong { (current) } " plan." }
        div.table {
            table {
                caption.hint { "What each plan allows" }
                thead { tr { th scope="col" { "Plan" } th scope="col" { "Active projects" } th scope="col" { "Own provider keys (BYOK)" } } }
                tbody {
                    @for (plan, projects, byok) in &rows {
                        tr aria-current=[(*plan == current).then_some("true")] {
                            td { (plan) @if *plan == current { " (current)" } }
                            td.num { (projects) }
                            td { (byok) }
                        }
                    }
                }
            }
        }
        p.hint { "An operator changes a tenant's plan (PUT /auth/v1/admin/tenants/{id}/plan with the admin secret)." }
        h2 { "New tenant" }
        p { "A tenant is an organisation with its own projects, keys and plan; the switcher in the header moves between yours." }
        (errors.alert(&["name"]))
        form.card method="post" action="/tenants" {
            (page::csrf_input(&who.csrf()))
            (field(errors, "name", "Organisation name", Input::Text(""), None))
            div.actions { button type="submit" { "Create tenant" } }
        }
    }))
}

/// A new tenant owned by the user (within `[limits] tenants_per_user`), then chosen.
pub async fn create_tenant(
    State(ctl): State<ControlState>,
    headers: HeaderMap,
    Posted { who, form }: Posted,
) -> Result<Response, PageError> {
    let input = CreateTenantInput {
        name: form.text("name"),
    };
    match tenants::create(&ctl, &who.actor(), input).await {
        Ok(tenant) => {
            let mut response = see_other("/projects");
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    TENANT_COOKIE,
                    &tenant.id.to_string(),
                    Some(365 * 86_400),
                    session::is_https(&headers),
                ),
            );
            Ok(response)
        }
        Err(err) => {
            let errors = Errors::from(err);
            Ok(plan_page(&who, errors.status, &errors))
        }
    }
}
