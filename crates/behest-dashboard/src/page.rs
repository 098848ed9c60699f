//! The page shell every dashboard page shares (head, navigation, tenant switcher, plan),
//! the security headers every HTML answer carries, and how a refusal becomes a page.

use crate::assets;
use crate::session::SignedIn;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use behest_control::ControlError;
use behest_core::settings::FieldError;
use behest_core::ErrorCode;
use behest_http::ApiError;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// No inline script, no inline style, nothing from elsewhere; forms post only here.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Which project page is showing (its sub-navigation marks it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ProjectTab {
    Overview,
    Keys,
    Settings,
    Tiers,
    Model,
    Usage,
    Playground,
}

impl ProjectTab {
    const ALL: [(ProjectTab, &'static str, &'static str); 7] = [
        (ProjectTab::Overview, "Overview", ""),
        (ProjectTab::Keys, "API keys", "/keys"),
        (ProjectTab::Settings, "Settings", "/settings"),
        (ProjectTab::Tiers, "Tiers", "/tiers"),
        (ProjectTab::Model, "Model", "/model"),
        (ProjectTab::Usage, "Usage", "/usage"),
        (ProjectTab::Playground, "Playground", "/playground"),
    ];
}

/// The top-level section, for the main navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Projects,
    SigningKeys,
    ProviderKeys,
    Admin,
    None,
}

/// A page of a signed-in user.
pub struct Shell<'a> {
    pub who: &'a SignedIn,
    pub title: &'a str,
    pub section: Section,
    /// The project's id, name and tab, on project pages.
    pub project: Option<(uuid::Uuid, &'a str, ProjectTab)>,
    /// Refresh the page after this many seconds (a PENDING project).
    pub refresh: Option<u32>,
}

impl Shell<'_> {
    pub fn render(&self, body: Markup) -> Markup {
        let who = self.who;
        let csrf = who.csrf();
        let nav = [
            (Section::Projects, "Projects", "/projects"),
            (Section::SigningKeys, "Signing keys", "/signing-keys"),
            (Section::ProviderKeys, "Provider keys", "/provider-keys"),
            (Section::Admin, "Admin", "/admin"),
        ];
        let header = html! {
            header.top {
                a.brand href="/projects" { "Behest" }
                nav aria-label="Main" {
                    @for (section, name, href) in nav {
                        a href=(href) aria-current=[(section == self.section).then_some("page")] { (name) }
                    }
                }
                div.account {
                    @if who.tenants.len() > 1 {
                        form.switcher method="post" action="/tenant" {
                            input type="hidden" name="_csrf" value=(csrf);
                            label for="tenant" { "Tenant" }
                            select id="tenant" name="tenant_id" {
                                @for t in &who.tenants {
                                    option value=(t.id) selected[t.id == who.tenant.id] { (t.name) }
                                }
                            }
                            button type="submit" { "Switch" }
                        }
                    } @else {
                        span.tenant { (who.tenant.name) }
                    }
                    a.plan href="/plan" { "Plan: " (who.tenant.plan) }
                    span.email { (who.session.user.email) }
                    form method="post" action="/sign-out" {
                        input type="hidden" name="_csrf" value=(csrf);
                        button type="submit" { "Sign out" }
                    }
                }
            }
        };
        let project_nav = self.project.map(|(id, name, tab)| {
            html! {
                p.crumbs { a href="/projects" { "Projects" } " / " (name) }
                nav.tabs aria-label="Project" {
                    @for (t, label, suffix) in ProjectTab::ALL {
                        a href={ "/projects/" (id) (suffix) } aria-current=[(t == tab).then_some("page")] { (label) }
                    }
                }
            }
        });
        document(
            self.title,
            self.refresh,
            html! {
                (header)
                main id="main" {
                    @if let Some(nav) = project_nav { (nav) }
                    (body)
                }
            },
        )
    }
}

/// A whole HTML document.
pub fn document(title: &str, refresh: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh {
                    meta http-equiv="refresh" content=(seconds);
                }
                title { (title) " · Behest" }
                link rel="stylesheet" href=(assets::CSS.path());
                link rel="icon" href=(assets::ICON.path()) type="image/svg+xml";
                script src=(assets::JS.path()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                (body)
            }
        }
    }
}

/// An HTML answer with the dashboard's headers: the CSP, no caching (pages show
/// secrets once and per-user data), no sniffing, no framing.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

pub fn ok(markup: Markup) -> Response {
    respond(StatusCode::OK, markup)
}

/// After a successful POST: back to a page (303, so a reload does not post again).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No session (or an expired one): to the sign-in page.
    SignIn,
    /// A form without this session's CSRF token.
    Csrf,
    /// A service refusal, shown as its own page with the contract's status.
    Control(ControlError),
    /// A plain message (400).
    Message(String),
}

impl From<ControlError> for PageError {
    fn from(err: ControlError) -> PageError {
        PageError::Control(err)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn => see_other("/sign-in"),
            PageError::Csrf => plain_page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from a current Behest page (its CSRF token is missing or stale). Go back, reload the page and try again.",
            ),
            PageError::Message(message) => {
                plain_page(StatusCode::BAD_REQUEST, "Cannot do that", &message)
            }
            PageError::Control(err) => {
                let api = ApiError::from(err);
                let title = match api.code {
                    ErrorCode::NotFound | ErrorCode::TenantNotFound => "Not found",
                    _ => "Cannot do that",
                };
                if api.code == ErrorCode::InternalError {
                    tracing::error!(message = %api.message, "dashboard page failed");
                }
                plain_page(api.status(), title, &api.message)
            }
        }
    }
}

/// A page with only a heading and a message (errors, not-found), with a way back.
pub fn plain_page(status: StatusCode, title: &str, message: &str) -> Response {
    respond(
        status,
        document(
            title,
            None,
            html! {
                main id="main" .narrow {
                    h1 { (title) }
                    p role="alert" { (message) }
                    p { a href="/projects" { "Back to projects" } }
                }
            },
        ),
    )
}

/// A refused form: the status to answer with, and the messages by field (`""`: the
/// form's banner) to show next to the inputs they name.
#[derive(Default)]
pub struct Errors {
    pub status: StatusCode,
    fields: Vec<(String, String)>,
}

impl From<ControlError> for Errors {
    fn from(err: ControlError) -> Errors {
        match err {
            ControlError::Invalid(errors) => Errors {
                status: StatusCode::BAD_REQUEST,
                fields: errors
                    .into_iter()
                    .map(|FieldError { field, message }| (field, message))
                    .collect(),
            },
            // The one conversion into the contract's error (an internal one is logged
            // there with its cause, and shown without it).
            other => {
                let api = ApiError::from(other);
                Errors::message(api.status(), api.message)
            }
        }
    }
}

impl Errors {
    /// One message for the form's banner.
    pub fn message(status: StatusCode, message: impl Into<String>) -> Errors {
        Errors {
            status,
            fields: vec![(String::new(), message.into())],
        }
    }

    pub fn for_field(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Errors no input shows: the banner's.
    pub fn banner(&self, fields: &[&str]) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(f, _)| !fields.contains(&f.as_str()))
            .map(|(_, m)| m.as_str())
            .collect()
    }

    pub fn alert(&self, fields: &[&str]) -> Markup {
        let banner = self.banner(fields);
        html! {
            @if !banner.is_empty() {
                div.alert role="alert" {
                    @for message in banner { p { (message) } }
                }
            } @else if !self.fields.is_empty() {
                div.alert role="alert" { p { "Please correct the fields marked below." } }
            }
        }
    }
}

/// What an input is.
pub enum Input<'a> {
    Text(&'a str),
    Number(&'a str),
    Email(&'a str),
    Password,
    Area(&'a str, u32),
    Check(bool),
    Select(&'a [&'a str], &'a str),
    /// Options as (value, label).
    Choice(&'a [(&'a str, &'a str)], &'a str),
}

/// A labelled input named `name`, with its error (if any) right after it and tied to it
/// by `aria-describedby`.
pub fn field(
    errors: &Errors,
    name: &str,
    label: &str,
    input: Input<'_>,
    hint: Option<&str>,
) -> Markup {
    let error = errors.for_field(name);
    let error_id = format!("{name}-error");
    let hint_id = format!("{name}-hint");
    let described = match (error.is_some(), hint.is_some()) {
        (true, true) => Some(format!("{error_id} {hint_id}")),
        (true, false) => Some(error_id.clone()),
        (false, true) => Some(hint_id.clone()),
        (false, false) => None,
    };
    let invalid = error.map(|_| "true");
    let check = matches!(&input, Input::Check(_));
    let control = match input {
        Input::Text(value) => {
            html! { input id=(name) name=(name) type="text" value=(value) aria-invalid=[invalid] aria-describedby=[described.as_deref()]; }
        }
        Input::Number(value) => {
            html! { input id=(name) name=(name) type="text" inputmode="decimal" value=(value) aria-invalid=[invalid] aria-describedby=[described.as_deref()]; }
        }
        Input::Email(value) => {
            html! { input id=(name) name=(name) type="email" autocomplete="username" required value=(value) aria-invalid=[invalid] aria-describedby=[described.as_deref()]; }
        }
        Input::Password => {
            html! { input id=(name) name=(name) type="password" autocomplete="current-password" required aria-invalid=[invalid] aria-describedby=[described.as_deref()]; }
        }
        Input::Area(value, rows) => {
            html! { textarea id=(name) name=(name) rows=(rows) aria-invalid=[invalid] aria-describedby=[described.as_deref()] { (value) } }
        }
        Input::Check(checked) => {
            html! {
                input type="hidden" name=(name) value="false";
                input id=(name) name=(name) type="checkbox" value="true" checked[checked] aria-invalid=[invalid] aria-describedby=[described.as_deref()];
            }
        }
        Input::Choice(options, selected) => html! {
            select id=(name) name=(name) aria-invalid=[invalid] aria-describedby=[described.as_deref()] {
                @for (value, text) in options {
                    option value=(value) selected[*value == selected] { (text) }
                }
            }
        },
        Input::Select(options, selected) => html! {
            select id=(name) name=(name) aria-invalid=[invalid] aria-describedby=[described.as_deref()] {
                @for option in options {
                    option value=(option) selected[*option == selected] { (option) }
                }
            }
        },
    };
    html! {
        div.field.check[check] {
            label for=(name) { (label) }
            (control)
            @if let Some(hint) = hint { p.hint id=(hint_id) { (hint) } }
            @if let Some(message) = error { p.error id=(error_id) { (message) } }
        }
    }
}

/// The hidden CSRF input of a form.
pub fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name="_csrf" value=(token); }
}

/// A one-button form posting to `action` (with an optional confirmation question).
pub fn button_form(csrf: &str, action: &str, label: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            (csrf_input(csrf))
            // An action that asks first is one that destroys something.
            button.danger[confirm.is_some()] type="submit" { (label) }
        }
    }
}

/// A short status line after an action (`?done=...`), for screen readers too.
pub fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.notice role="status" { (message) }
        }
    }
}

/// Pre-escaped markup (the SVG charts build their own).
pub fn raw(markup: String) -> Markup {
    PreEscaped(markup)
}
