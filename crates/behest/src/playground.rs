//! `POST /auth/v1/projects/:projectId/playground` (dashboard session): streams the
//! draft's answer through the data plane's own pipeline, called in process with the
//! draft as the policy (the control plane decides the plan, see
//! `behest_control::service::playground`). The call is recorded in usage with origin
//! `playground`, under the end user `X-User-Id` names (default `anonymous`).

use axum::body::Bytes;
use axum::extract::{FromRef, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use behest_control::service::{accounts, playground, Actor};
use behest_control::ControlState;
use behest_dashboard::SignedIn;
use behest_gateway::guard::ActivePolicy;
use behest_gateway::outcome::{Operation, Origin};
use behest_gateway::pipeline::{self, RequestContext};
use behest_gateway::verify::Principal;
use behest_gateway::GatewayState;
use behest_http::{bearer_token, parse_json, parse_uuid, ApiError};
use behest_providers::ChatRequest;
use std::sync::Arc;

#[derive(Clone)]
pub struct PlaygroundRoute {
    pub control: ControlState,
    pub gateway: GatewayState,
}

/// The guard's findings on a playground answer, as JSON.
pub const GUARD_HEADER: &str = "x-behest-guard";

/// The longest `X-User-Id` kept (a label for usage, not an identity).
const MAX_USER_LABEL: usize = 128;

pub async fn playground(
    State(app): State<PlaygroundRoute>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match authenticated(&app, &project_id, &headers, &body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

impl FromRef<PlaygroundRoute> for ControlState {
    fn from_ref(app: &PlaygroundRoute) -> ControlState {
        app.control.clone()
    }
}

/// `POST /projects/:projectId/playground/stream`: the dashboard page's call, with the
/// session cookie and the page's CSRF token in `X-CSRF-Token` (a cookie alone would
/// let another site's form start calls).
pub async fn dashboard_playground(
    State(app): State<PlaygroundRoute>,
    who: SignedIn,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if who.check_csrf(csrf).is_err() {
        return ApiError::forbidden("missing or stale X-CSRF-Token").into_response();
    }
    match run(&app, who.session, &project_id, &headers, &body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn authenticated(
    app: &PlaygroundRoute,
    project_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let token = bearer_token(headers)
        .ok_or_else(|| ApiError::unauthorized("missing dashboard session token"))?;
    let session = accounts::session(&app.control, token).await?;
    run(app, session, project_id, headers, body).await
}

async fn run(
    app: &PlaygroundRoute,
    session: accounts::Session,
    project_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let project_id = parse_uuid(project_id, "projectId")?;
    let mut request: ChatRequest = parse_json(body)?;
    if request.messages.is_empty() {
        return Err(ApiError::validation(
            "messages",
            "messages must not be empty",
        ));
    }
    let actor = Actor::User(session.user);
    let plan = playground::prepare(&app.control, &actor, project_id).await?;
    let project = app
        .gateway
        .directory()
        .snapshot()
        .project_by_id(&plan.project_id)
        .cloned()
        .ok_or_else(|| ApiError::new(behest_core::ErrorCode::NotFound, "project not found"))?;
    let uid = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_USER_LABEL)
        .unwrap_or("anonymous")
        .to_owned();
    let policy = Arc::new(ActivePolicy::new(
        plan.policy
            .effective(None, app.gateway.directory().default_model()),
    ));
    let principal = Principal {
        project,
        uid,
        role: "dashboard-service".to_owned(),
        session_id: None,
        tier: None,
        exp: chrono::Utc::now().timestamp() + 60,
    };
    // The playground always streams, as the dashboard shows the answer growing.
    request.stream = Some(true);
    let context = RequestContext::in_process(Origin::Playground);
    let outcome = app.gateway.begin(Operation::Chat, &context);
    let call = app
        .gateway
        .call_with_policy(principal, policy, context, outcome);
    let answer = pipeline::complete(&app.gateway, call, request).await;
    // What the guard found (rules and entity types, never text), for the page to show.
    let guard = answer
        .guard
        .as_ref()
        .map(|findings| findings.to_json().to_string());
    let mut response = answer.into_response();
    if let Some(value) = guard.and_then(|g| axum::http::HeaderValue::from_str(&g).ok()) {
        response.headers_mut().insert(GUARD_HEADER, value);
    }
    Ok(response)
}
