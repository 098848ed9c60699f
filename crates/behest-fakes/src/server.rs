//! Routing, request recording and the behaviour shared by every provider.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::control::Control;
use crate::{anthropic, cohere, gemini, openai, sse, RecordedRequest};

/// Prompt tokens reported for every answer.
pub(crate) const PROMPT_TOKENS: u64 = 11;
/// Completion tokens reported for every answer.
pub(crate) const COMPLETION_TOKENS: u64 = 7;
/// The tool the model calls under `#tool`.
pub(crate) const TOOL_NAME: &str = "get_weather";
/// The tool arguments under `#tool`, as sent in one piece.
pub(crate) const TOOL_ARGS: &str = r#"{"city":"Paris"}"#;
/// The same arguments split the way streaming formats send them.
pub(crate) const TOOL_ARG_FRAGMENTS: [&str; 3] = [r#"{"city""#, r#":"Par"#, r#"is"}"#];
/// How long `#hang` waits before the response headers.
pub(crate) const HANG: Duration = Duration::from_secs(30);

/// Shared server state: the request log and the `#flaky:N` counters.
#[derive(Debug, Default)]
pub(crate) struct AppState {
    log: Mutex<Vec<RecordedRequest>>,
    flaky: Mutex<HashMap<String, u32>>,
    seq: AtomicU64,
}

impl AppState {
    pub(crate) async fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().await.clone()
    }

    pub(crate) async fn clear(&self) {
        self.log.lock().await.clear();
    }

    /// Counts one more request carrying `text`; returns the count including this one.
    async fn flaky_hit(&self, text: &str) -> u32 {
        let mut map = self.flaky.lock().await;
        let n = map.entry(text.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn next_id(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// The four fake providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    OpenAi,
    Anthropic,
    Google,
    Cohere,
}

impl Provider {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Google => "google",
            Provider::Cohere => "cohere",
        }
    }

    /// The provider's documented error body for `status`.
    pub(crate) fn error_body(self, status: StatusCode, message: &str) -> Value {
        match self {
            Provider::OpenAi => openai::error_body(status, message),
            Provider::Anthropic => anthropic::error_body(status, message),
            Provider::Google => gemini::error_body(status, message),
            Provider::Cohere => cohere::error_body(message),
        }
    }

    fn check_auth(self, headers: &HeaderMap, query: &str) -> Result<(), (StatusCode, String)> {
        match self {
            Provider::OpenAi => openai::check_auth(headers),
            Provider::Anthropic => anthropic::check_auth(headers),
            Provider::Google => gemini::check_auth(headers, query),
            Provider::Cohere => cohere::check_auth(headers),
        }
    }
}

/// What a request path maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    OpenAiChat,
    OpenAiEmbeddings,
    AnthropicMessages,
    Gemini { model: String, stream: bool },
    CohereChat,
}

impl Route {
    fn provider(&self) -> Provider {
        match self {
            Route::OpenAiChat | Route::OpenAiEmbeddings => Provider::OpenAi,
            Route::AnthropicMessages => Provider::Anthropic,
            Route::Gemini { .. } => Provider::Google,
            Route::CohereChat => Provider::Cohere,
        }
    }

    fn parse(path: &str) -> Option<Route> {
        match path {
            "/v1/chat/completions" => return Some(Route::OpenAiChat),
            "/v1/embeddings" => return Some(Route::OpenAiEmbeddings),
            "/v1/messages" => return Some(Route::AnthropicMessages),
            "/v2/chat" => return Some(Route::CohereChat),
            _ => {}
        }
        let rest = path
            .strip_prefix("/v1beta/models/")
            .or_else(|| path.strip_prefix("/v1/models/"))?;
        let (model, method) = rest.rsplit_once(':')?;
        if model.is_empty() || model.contains('/') {
            return None;
        }
        let stream = match method {
            "generateContent" => false,
            "streamGenerateContent" => true,
            _ => return None,
        };
        Some(Route::Gemini {
            model: model.to_string(),
            stream,
        })
    }

    /// Best-effort provider name for recording unrouted requests.
    fn guess_provider(path: &str) -> &'static str {
        if path.starts_with("/v1beta/") {
            "google"
        } else if path.starts_with("/v2/") {
            "cohere"
        } else {
            "unknown"
        }
    }
}

/// The last user turn as the fake reads it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct UserTurn {
    /// Text of the last user message that has text (text parts joined with `\n`).
    pub text: String,
    /// The conversation ends with a tool result, so `#tool` is not repeated.
    pub after_tool_result: bool,
}

/// Everything a provider needs to render one answer.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub provider: Provider,
    pub model: String,
    pub user_text: String,
    pub tool: bool,
    /// Per-request sequence number, used to make ids.
    pub seq: u64,
    /// Unix seconds.
    pub created: u64,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
}

/// A user text starting with this is answered with the rest, verbatim, streamed two
/// bytes at a time: what a test needs to put exact text at chunk boundaries.
const SPELL: &str = "spell:";
/// The same, with the rest reversed: the answer holds text the request did not (a
/// blocklisted term, a credential), as a model decoding something would write it.
const SPELL_REVERSED: &str = "spell-reversed:";

impl Ctx {
    /// `Hello from {provider}: {last user text}`, or what a `spell:` text spells.
    pub(crate) fn reply_text(&self) -> String {
        if let Some(rest) = self.user_text.strip_prefix(SPELL_REVERSED) {
            return rest.chars().rev().collect();
        }
        if let Some(rest) = self.user_text.strip_prefix(SPELL) {
            return rest.to_owned();
        }
        format!("Hello from {}: {}", self.provider.name(), self.user_text)
    }

    /// The reply split into streamed pieces (at least three; two bytes each for a
    /// `spell:` text).
    pub(crate) fn reply_pieces(&self) -> Vec<String> {
        let text = self.reply_text();
        if self.user_text.starts_with(SPELL) || self.user_text.starts_with(SPELL_REVERSED) {
            return split_every(&text, 2);
        }
        split_pieces(&text)
    }
}

/// Pieces of `n` bytes (a character is never cut: a piece may be longer).
fn split_every(text: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + n).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(text[start..end].to_owned());
        start = end;
    }
    out
}

/// Splits before every space, so `Hello from x: y` gives `Hello`, ` from`, ` x:`, ` y`.
pub(crate) fn split_pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c == ' ' && !cur.is_empty() && !cur.chars().all(|c| c == ' ') {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Text of a content value that is a string or an array of `{type:"text", text}` parts.
pub(crate) fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            if texts.is_empty() {
                None
            } else {
                Some(texts.join("\n"))
            }
        }
        _ => None,
    }
}

/// A JSON response with the given status.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, Json(body.clone())).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The provider's error response; 429 also carries `Retry-After: 1`.
pub(crate) fn error_response(provider: Provider, status: StatusCode, message: &str) -> Response {
    let mut resp = json_response(status, &provider.error_body(status, message));
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

fn body_value(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn dispatch(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    if path == "/_fake/requests" {
        return admin(&state, &method).await;
    }
    if let Some(check) = crate::keys::KeyCheck::parse(&method, &path, &headers) {
        state.log.lock().await.push(RecordedRequest {
            provider: check.provider_name().to_string(),
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            headers: header_map(&headers),
            body: body_value(&body),
        });
        return check.answer(&headers, &query);
    }
    let route = Route::parse(&path);
    let provider_name = route
        .as_ref()
        .map_or_else(|| Route::guess_provider(&path), |r| r.provider().name());
    state.log.lock().await.push(RecordedRequest {
        provider: provider_name.to_string(),
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: header_map(&headers),
        body: body_value(&body),
    });
    let Some(route) = route else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("behest-fakes: no fake route for {method} {path}")}),
        );
    };
    let provider = route.provider();
    if method != Method::POST {
        return error_response(
            provider,
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {method} not allowed on {path}"),
        );
    }
    if let Err((status, message)) = provider.check_auth(&headers, &query) {
        return error_response(provider, status, &message);
    }
    let Ok(json_body) = serde_json::from_slice::<Value>(&body) else {
        return error_response(
            provider,
            StatusCode::BAD_REQUEST,
            "request body is not valid JSON",
        );
    };
    handle(&state, route, &query, &json_body).await
}

async fn admin(state: &AppState, method: &Method) -> Response {
    if *method == Method::GET {
        json_response(StatusCode::OK, &json!(state.requests().await))
    } else if *method == Method::DELETE {
        state.clear().await;
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::METHOD_NOT_ALLOWED.into_response()
    }
}

async fn handle(state: &AppState, route: Route, query: &str, body: &Value) -> Response {
    let provider = route.provider();
    let turn = match &route {
        Route::OpenAiChat => openai::last_user(body),
        Route::OpenAiEmbeddings => openai::embedding_turn(body),
        Route::AnthropicMessages => anthropic::last_user(body),
        Route::Gemini { .. } => gemini::last_user(body),
        Route::CohereChat => cohere::last_user(body),
    };
    let control = Control::parse(&turn.text);
    if control.hang {
        tokio::time::sleep(HANG).await;
    }
    if let Some(code) = control.error {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error_response(
            provider,
            status,
            &format!("fake {} error {}", provider.name(), status.as_u16()),
        );
    }
    if let Some(n) = control.flaky {
        if state.flaky_hit(&turn.text).await <= n {
            return error_response(
                provider,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("fake {} error 503", provider.name()),
            );
        }
    }
    let str_field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let model = match &route {
        Route::Gemini { model, .. } => model.clone(),
        _ => str_field("model").unwrap_or_else(|| "fake-model".to_string()),
    };
    let ctx = Ctx {
        provider,
        model,
        user_text: turn.text.clone(),
        tool: control.tool && !turn.after_tool_result,
        seq: state.next_id(),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let wants_stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    match route {
        Route::OpenAiEmbeddings => json_response(StatusCode::OK, &openai::embeddings(&ctx, body)),
        Route::OpenAiChat if wants_stream => sse::response(openai::stream(&ctx), &control),
        Route::OpenAiChat => json_response(StatusCode::OK, &openai::complete(&ctx)),
        Route::AnthropicMessages if wants_stream => {
            sse::response(anthropic::stream(&ctx), &control)
        }
        Route::AnthropicMessages => json_response(StatusCode::OK, &anthropic::complete(&ctx)),
        Route::CohereChat if wants_stream => sse::response(cohere::stream(&ctx), &control),
        Route::CohereChat => json_response(StatusCode::OK, &cohere::complete(&ctx)),
        Route::Gemini { stream: false, .. } => {
            json_response(StatusCode::OK, &gemini::complete(&ctx))
        }
        Route::Gemini { stream: true, .. } => {
            let sse = query.split('&').any(|kv| kv == "alt=sse");
            if sse {
                sse::response(gemini::stream(&ctx), &control)
            } else {
                // Without `alt=sse` the API answers a JSON array of the same chunks.
                json_response(StatusCode::OK, &Value::Array(gemini::chunks(&ctx)))
            }
        }
    }
}

/// The bearer token of an `Authorization: Bearer` header, when present and non-empty.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// A non-empty header value.
pub(crate) fn has_header(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_on_spaces_and_rejoin() {
        let p = split_pieces("Hello from openai: hi there");
        assert_eq!(p, vec!["Hello", " from", " openai:", " hi", " there"]);
        assert_eq!(p.concat(), "Hello from openai: hi there");
        assert_eq!(split_pieces("a  b").concat(), "a  b");
        assert_eq!(split_every("abcdé", 2), ["ab", "cd", "é"]);
    }

    #[test]
    fn routes() {
        assert_eq!(
            Route::parse("/v1beta/models/gemini-2.0-flash:streamGenerateContent"),
            Some(Route::Gemini {
                model: "gemini-2.0-flash".into(),
                stream: true
            })
        );
        assert_eq!(Route::parse("/v1beta/models/x:countTokens"), None);
        assert_eq!(
            Route::parse("/v1/chat/completions"),
            Some(Route::OpenAiChat)
        );
        assert_eq!(Route::parse("/v2/chat"), Some(Route::CohereChat));
        assert_eq!(Route::parse("/nope"), None);
    }
}
