//! CORS for the data plane (`/v1/...` on a project host or under `/p/{slug}`), against
//! the project's deployed `cors_origins`: exact origin match, `null` never, credentials
//! only when allowed and never with `*`, `Vary: Origin` whenever an origin is echoed.
//! Preflights are answered from the host or path alone (they carry no token). A
//! request from an origin that is not allowed is refused here, before authentication,
//! so it never reaches a provider.

use crate::directory::CorsPolicy;
use crate::outcome::Operation;
use crate::pipeline::{refused, RequestContext};
use crate::GatewayState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use behest_http::{ApiError, ProjectHint};

const ALLOWED_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Response headers a web app may read: the trace id, the rate-limit state, and the
/// gateway's own timing (`Server-Timing`, readable in DevTools and by scripts).
const EXPOSED_HEADERS: &str =
    "X-Trace-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Server-Timing";
/// Request headers a browser may send: ours, and those the OpenAI SDKs add.
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "x-session-id",
    "x-thread-id",
    "x-end-user-id",
    "x-trace-id",
    "openai-organization",
    "openai-project",
    "openai-beta",
    // The OpenAI SDKs set User-Agent; Chromium drops it, Firefox asks for it.
    "user-agent",
];

pub async fn cors(State(gateway): State<GatewayState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/v1/") {
        return next.run(req).await;
    }
    let slug = req
        .extensions()
        .get::<ProjectHint>()
        .and_then(|h| h.slug().map(str::to_owned));
    let Some(slug) = slug else {
        // The bare host: no project to take a policy from, so no CORS headers at all.
        return next.run(req).await;
    };
    let Some(project) = gateway
        .directory()
        .snapshot()
        .project_by_slug(&slug)
        .cloned()
    else {
        return refuse(
            &gateway,
            &req,
            ApiError::not_found(format!("no project {slug:?}")),
        );
    };
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let Some(origin) = origin else {
        return if preflight {
            StatusCode::NO_CONTENT.into_response()
        } else {
            next.run(req).await
        };
    };
    if !project.cors.allows(&origin) && !preflight {
        let error = ApiError::forbidden(format!("origin {origin} is not allowed for this project"));
        let mut refused = refuse(&gateway, &req, error);
        refused
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        return refused;
    }
    if !project.cors.allows(&origin) {
        let mut refused =
            ApiError::forbidden(format!("origin {origin} is not allowed for this project"))
                .into_response();
        refused
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        return refused;
    }
    if preflight {
        return preflight_response(&project.cors, &origin, req.headers());
    }
    let mut response = next.run(req).await;
    allow(response.headers_mut(), &project.cors, &origin);
    if let Ok(value) = HeaderValue::from_str(EXPOSED_HEADERS) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
    }
    response
}

/// A request refused here never reaches its handler: its outcome is recorded here (a
/// preflight is not a request of its own and records none).
fn refuse(gateway: &GatewayState, req: &Request, error: ApiError) -> Response {
    if req.method() == Method::OPTIONS {
        return error.into_response();
    }
    let operation = match req.uri().path() {
        "/v1/chat/completions" => Operation::Chat,
        "/v1/embeddings" => Operation::Embeddings,
        "/v1/models" => Operation::Models,
        _ => return error.into_response(),
    };
    let context = RequestContext::from_parts(req.headers(), req.extensions());
    refused(gateway.begin(operation, &context), error).into_response()
}

fn allow(headers: &mut HeaderMap, policy: &CorsPolicy, origin: &str) {
    let value = if policy.any_origin {
        HeaderValue::from_static("*")
    } else {
        match HeaderValue::from_str(origin) {
            Ok(v) => v,
            Err(_) => return,
        }
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value.clone());
    // Lets the page's Resource Timing (and DevTools) see `Server-Timing` too.
    headers.insert("timing-allow-origin", value);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if policy.allow_credentials {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

fn preflight_response(policy: &CorsPolicy, origin: &str, request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow(headers, policy, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    headers.append(
        header::VARY,
        HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers"),
    );
    let requested = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let allowed: Vec<String> = requested
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| ALLOWED_HEADERS.contains(&h.as_str()) || h.starts_with("x-stainless-"))
        .collect();
    if !allowed.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
    }
    response
}
