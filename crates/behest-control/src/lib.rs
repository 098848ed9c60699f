//! The control plane: dashboard accounts, tenants, projects, API keys, token minting,
//! signing keys, health and the JWKS — everything under `/auth/v1`, plus the mint route
//! the SDKs call on a project host (`/v1/auth/mint`). Reads and writes the store; never
//! on the data plane's hot path.

mod access;
mod accounts;
mod api_keys;
mod health;
mod input;
mod mint;
mod models;
mod projects;
pub mod provisioning;
mod settings;
mod signing_keys;
mod state;
mod tenants;
mod tiers;
mod views;

use axum::routing::{delete, get, post, put};
use axum::Router;

pub use state::{ChangeFeed, ControlConfig, ControlState, NoChangeFeed};

/// Every control-plane route. Authentication is explicit per route: each handler takes
/// the extractor of its credential (`DashboardUser`, `AdminSecret`, or an API key read
/// by the mint); only health and the JWKS take none.
pub fn routes(state: ControlState) -> Router {
    Router::new()
        // public
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/jwks.json", get(health::jwks))
        // API key
        .route("/auth/v1/auth/mint", post(mint::mint))
        .route("/v1/auth/mint", post(mint::mint))
        // dashboard session
        .route("/auth/v1/signup", post(accounts::signup))
        .route("/auth/v1/login", post(accounts::login))
        .route("/auth/v1/logout", post(accounts::logout))
        .route("/auth/v1/me", get(accounts::me))
        .route("/auth/v1/tenants", post(tenants::create))
        .route(
            "/auth/v1/tenants/{tenant_id}/projects",
            get(projects::list).post(projects::create),
        )
        .route("/auth/v1/projects/{project_id}", get(projects::show))
        .route(
            "/auth/v1/projects/{project_id}/provisioning",
            get(projects::provisioning),
        )
        .route(
            "/auth/v1/projects/{project_id}/provisioning/retry",
            post(projects::retry_provisioning),
        )
        .route(
            "/auth/v1/projects/{project_id}/suspend",
            post(projects::suspend),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings",
            get(settings::get).put(settings::put),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/deploy",
            post(settings::deploy),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/discard-draft",
            post(settings::discard_draft),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/model",
            put(settings::set_model).delete(settings::reset_model),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/model/draft",
            put(settings::set_model_draft).delete(settings::discard_model_draft),
        )
        .route(
            "/auth/v1/projects/{project_id}/settings/model/publish",
            post(settings::publish_model),
        )
        .route(
            "/auth/v1/projects/{project_id}/memory",
            get(settings::memory),
        )
        .route(
            "/auth/v1/projects/{project_id}/tiers",
            get(tiers::list).post(tiers::create),
        )
        .route(
            "/auth/v1/projects/{project_id}/tiers/{tier_id}",
            put(tiers::update).delete(tiers::delete),
        )
        .route(
            "/auth/v1/projects/{project_id}/tiers/{tier_id}/resolved",
            get(tiers::show_resolved),
        )
        .route(
            "/auth/v1/projects/{project_id}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/auth/v1/projects/{project_id}/api-keys/{key_id}/rotate",
            post(api_keys::rotate),
        )
        .route(
            "/auth/v1/projects/{project_id}/api-keys/{key_id}/revoke",
            post(api_keys::revoke),
        )
        .route(
            "/auth/v1/api-keys/{key_id}/rotate",
            post(api_keys::rotate_by_id),
        )
        .route("/auth/v1/api-keys/{key_id}", delete(api_keys::revoke_by_id))
        .route(
            "/auth/v1/tenants/{tenant_id}/signing-keys",
            get(signing_keys::list).post(signing_keys::create),
        )
        .route(
            "/auth/v1/tenants/{tenant_id}/signing-keys/{kid}",
            delete(signing_keys::revoke),
        )
        // admin secret
        .route(
            "/auth/v1/admin/tenants/{tenant_id}/plan",
            put(tenants::set_plan),
        )
        .with_state(state)
}
