//! The outermost layer, around routing: gives every request a trace id and a
//! [`ProjectHint`] (stripping a `/p/{slug}` prefix before the router sees the path),
//! writes one access-log line per request, and makes sure every response carries
//! `X-Trace-Id` and every error — the router's own 404/405 included — has the contract's
//! JSON body.

use crate::host::{split_path_prefix, ProjectHint, SiteDomain};
use crate::{ApiError, ErrorCode, TRACE_ID_HEADER};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use behest_core::LogLevel;
use std::sync::Arc;
use std::time::Instant;

/// The request's trace id (request extension).
#[derive(Debug, Clone)]
pub struct TraceId(pub Arc<str>);

/// When the edge took the request (request extension): the start of the time spent
/// inside Behest, which the data plane reports in `Server-Timing`.
#[derive(Debug, Clone, Copy)]
pub struct RequestStarted(pub Instant);

/// The matched route template, carried out on the response for the access log (the
/// router's own shared string: no copy per request).
#[derive(Debug, Clone)]
struct RouteTemplate(MatchedPath);

/// Wraps `routes` in the edge layer. Inner routes are tagged with their template so the
/// access log names `/auth/v1/projects/{projectId}` rather than a real id.
pub fn wrap(routes: Router, site: SiteDomain) -> Router {
    let routes = routes.layer(middleware::from_fn(record_route));
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(Arc::new(site), edge))
}

async fn record_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(RouteTemplate(matched));
    }
    response
}

async fn edge(State(site): State<Arc<SiteDomain>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let trace_id = inbound_trace_id(&req).unwrap_or_else(new_trace_id);
    let method = req.method().clone();

    let response = match project_hint(&site, &mut req) {
        Ok(hint) => {
            req.extensions_mut().insert(hint);
            req.extensions_mut().insert(TraceId(trace_id.clone()));
            req.extensions_mut().insert(RequestStarted(started));
            next.run(req).await
        }
        Err(err) => err.into_response(),
    };
    let mut response = normalise_error(response);
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert(TRACE_ID_HEADER, value);
    }

    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or("<unmatched>", |r| r.0.as_str());
    let status = response.status().as_u16();
    let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    // How loudly: the error code's level, else by status.
    let level = response
        .extensions()
        .get::<ErrorCode>()
        .map(|code| code.log_level())
        .unwrap_or(if status >= 500 {
            LogLevel::Error
        } else {
            LogLevel::Info
        });
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map(|c| c.as_str())
        .unwrap_or("");
    match level {
        LogLevel::Error => {
            tracing::error!(target: "behest::access", %method, route, status, code, latency_ms, trace_id = &*trace_id)
        }
        LogLevel::Warn => {
            tracing::warn!(target: "behest::access", %method, route, status, code, latency_ms, trace_id = &*trace_id)
        }
        LogLevel::Info | LogLevel::Debug => {
            tracing::info!(target: "behest::access", %method, route, status, code, latency_ms, trace_id = &*trace_id)
        }
    }
    response
}

fn project_hint(site: &SiteDomain, req: &mut Request) -> Result<ProjectHint, ApiError> {
    let host_slug = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .and_then(|host| site.slug_from_host(host));
    let prefix =
        split_path_prefix(req.uri().path()).map(|(slug, rest)| (slug.to_owned(), rest.to_owned()));
    let Some((prefix_slug, rest)) = prefix else {
        return Ok(host_slug.map_or(ProjectHint::None, ProjectHint::Host));
    };
    if host_slug.as_ref().is_some_and(|h| *h != prefix_slug) {
        return Err(ApiError::bad_request(
            "the host and the /p/ path prefix name different projects",
        ));
    }
    let new_uri = match req.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest,
    };
    *req.uri_mut() = new_uri
        .parse::<Uri>()
        .map_err(|_| ApiError::bad_request("invalid request path"))?;
    Ok(match host_slug {
        Some(slug) => ProjectHint::Host(slug),
        None => ProjectHint::PathPrefix(prefix_slug),
    })
}

/// Replaces a non-JSON error body (axum's own 404/405/413...) with the contract's.
fn normalise_error(response: Response) -> Response {
    let status = response.status();
    // JSON errors are already the contract's; HTML ones are the dashboard's own pages.
    let rendered = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || rendered {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (ErrorCode::UnsupportedMediaType, "unsupported content type")
        }
        s if s.is_server_error() => (ErrorCode::InternalError, "internal error"),
        _ => (ErrorCode::InvalidRequest, "invalid request"),
    };
    // The status stays the router's (a 408 or 411 has no code of its own).
    let error = ApiError::new(code, message);
    let mut replaced = (status, error.body()).into_response();
    replaced.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    replaced.extensions_mut().insert(code);
    // Keep headers such as `Allow` on a 405.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    replaced
}

fn inbound_trace_id(req: &Request) -> Option<Arc<str>> {
    let value = req.headers().get(TRACE_ID_HEADER)?.to_str().ok()?;
    let sane = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    sane.then(|| Arc::from(value))
}

fn new_trace_id() -> Arc<str> {
    Arc::from(format!("{:032x}", rand::random::<u128>()))
}
