//! The dashboard: server-rendered HTML pages (maud) on the bare host, over the very
//! control-plane services the JSON API calls — never the API over HTTP — so every rule
//! (validation, tenant ownership, plan limits, draft → deploy) holds identically. Forms
//! post and redirect; the little JavaScript there is (confirmations, copy, the
//! playground's stream) is an external file, so the Content-Security-Policy needs no
//! `unsafe-inline`.
//!
//! The playground's stream needs the data plane, which this crate does not depend on:
//! the binary mounts it and uses [`SignedIn`] and [`session::SignedIn::check_csrf`].

mod assets;
mod extract;
mod forms;
mod page;
mod pages;
pub mod session;

pub use page::PageError;
pub use session::SignedIn;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use behest_control::ControlState;
use behest_http::ProjectHint;

/// Every dashboard route. They answer on the bare host only: on a project's host the
/// same paths are unknown routes, as they were before the dashboard existed.
pub fn routes(state: ControlState) -> Router {
    use pages::*;
    Router::new()
        .route("/", get(accounts::home))
        .route(
            "/sign-up",
            get(accounts::sign_up_page).post(accounts::sign_up),
        )
        .route(
            "/sign-in",
            get(accounts::sign_in_page).post(accounts::sign_in),
        )
        .route("/sign-out", post(accounts::sign_out))
        .route("/tenant", post(accounts::switch_tenant))
        .route("/plan", get(accounts::plan))
        .route("/tenants", post(accounts::create_tenant))
        .route("/projects", get(projects::list))
        .route(
            "/projects/new",
            get(projects::new_page).post(projects::create),
        )
        .route("/projects/{id}", get(projects::overview))
        .route("/projects/{id}/retry", post(projects::retry))
        .route("/projects/{id}/suspend", post(projects::suspend))
        .route("/projects/{id}/keys", get(keys::list).post(keys::create))
        .route("/projects/{id}/keys/{key}/rotate", post(keys::rotate))
        .route("/projects/{id}/keys/{key}/revoke", post(keys::revoke))
        .route(
            "/projects/{id}/settings",
            get(settings::page).post(settings::save),
        )
        .route("/projects/{id}/settings/deploy", post(settings::deploy))
        .route("/projects/{id}/settings/discard", post(settings::discard))
        .route("/projects/{id}/tiers", get(tiers::page).post(tiers::create))
        .route("/projects/{id}/tiers/{tier}/delete", post(tiers::delete))
        .route("/projects/{id}/model", get(model::page).post(model::act))
        .route("/projects/{id}/usage", get(usage::page))
        .route("/projects/{id}/usage.csv", get(usage::csv))
        .route("/projects/{id}/playground", get(playground::page))
        .route(
            "/signing-keys",
            get(signing_keys::list).post(signing_keys::create),
        )
        .route("/signing-keys/{kid}/revoke", post(signing_keys::revoke))
        .route("/provider-keys", get(providers::page))
        .route("/provider-keys/{provider}", post(providers::act))
        .route("/admin", get(admin::page))
        .route("/admin/sign-in", post(admin::sign_in))
        .route("/admin/sign-out", post(admin::sign_out))
        .route("/admin/killswitch", post(admin::killswitch))
        .route("/admin/providers/{id}/sync", post(admin::sync))
        .route("/assets/{name}", get(assets::serve))
        .layer(middleware::from_fn(server_timing))
        .layer(middleware::from_fn(bare_host_only))
        .with_state(state)
}

async fn bare_host_only(req: Request, next: Next) -> Response {
    match req.extensions().get::<ProjectHint>() {
        Some(ProjectHint::None) | None => next.run(req).await,
        Some(_) => behest_http::ApiError::not_found("no such route").into_response(),
    }
}

/// `Server-Timing: page;dur=…` on every page: the time spent rendering it here (the
/// target is under 20 ms), visible in the browser's developer tools.
async fn server_timing(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(req).await;
    let millis = started.elapsed().as_secs_f64() * 1e3;
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("page;dur={millis:.2}")) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}
