//! Liveness, readiness and the public JWKS.

use crate::state::ControlState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use behest_http::ApiError;
use serde_json::json;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 once the store is migrated and the workers run; 503 before, and while draining.
pub async fn readyz(State(state): State<ControlState>) -> axum::response::Response {
    if state.is_ready() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "not ready").into_response()
    }
}

/// Every platform key still valid for verification. Cached only briefly, since a
/// rotation brings in a new key; verifiers should also refetch on an unknown `kid`.
pub async fn jwks(State(state): State<ControlState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(json!({ "keys": state.keyring.jwks() })),
    )
}
