//! The endpoints a gateway calls to check a key, in each provider's documented shape:
//! OpenAI's (and Mistral's) `GET /v1/models`, Anthropic's `GET /v1/models` (told apart
//! by its `x-api-key` auth), Gemini's `GET /v1beta/models`, OpenRouter's `GET /v1/key`,
//! Cohere's `POST /v1/check-api-key` and its `GET /v1/models` (told apart by the
//! `X-Client-Name` its clients send).
//!
//! Every key is valid, except: a key containing `revoked` is refused as the provider
//! refuses an unknown key (401; Gemini's 400 `API_KEY_INVALID`; Cohere's 200
//! `{"valid": false}`), and one containing `ratelimited` gets 429.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::server::{bearer, error_response, json_response, Provider};

/// Which check endpoint a request is for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyCheck {
    OpenAiModels,
    AnthropicModels,
    GeminiModels,
    OpenRouterKey,
    CohereCheck,
    CohereModels,
}

impl KeyCheck {
    pub(crate) fn parse(method: &Method, path: &str, headers: &HeaderMap) -> Option<KeyCheck> {
        match (method.as_str(), path) {
            ("GET", "/v1/models") if headers.contains_key("x-api-key") => {
                Some(KeyCheck::AnthropicModels)
            }
            // Cohere's clients name themselves (`X-Client-Name`); OpenAI's do not.
            ("GET", "/v1/models") if headers.contains_key("x-client-name") => {
                Some(KeyCheck::CohereModels)
            }
            ("GET", "/v1/models") => Some(KeyCheck::OpenAiModels),
            ("GET", "/v1beta/models") => Some(KeyCheck::GeminiModels),
            ("GET", "/v1/key") => Some(KeyCheck::OpenRouterKey),
            ("POST", "/v1/check-api-key") => Some(KeyCheck::CohereCheck),
            _ => None,
        }
    }

    pub(crate) fn provider_name(self) -> &'static str {
        match self {
            KeyCheck::OpenAiModels => "openai",
            KeyCheck::AnthropicModels => "anthropic",
            KeyCheck::GeminiModels => "google",
            KeyCheck::OpenRouterKey => "openrouter",
            KeyCheck::CohereCheck | KeyCheck::CohereModels => "cohere",
        }
    }

    fn family(self) -> Provider {
        match self {
            KeyCheck::OpenAiModels | KeyCheck::OpenRouterKey => Provider::OpenAi,
            KeyCheck::AnthropicModels => Provider::Anthropic,
            KeyCheck::GeminiModels => Provider::Google,
            KeyCheck::CohereCheck | KeyCheck::CohereModels => Provider::Cohere,
        }
    }

    fn key(self, headers: &HeaderMap, query: &str) -> Option<String> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match self {
            KeyCheck::AnthropicModels => header("x-api-key"),
            KeyCheck::GeminiModels => header("x-goog-api-key").or_else(|| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("key="))
                    .map(str::to_owned)
            }),
            _ => bearer(headers),
        }
    }

    /// The provider's answer for the key the request carries.
    pub(crate) fn answer(self, headers: &HeaderMap, query: &str) -> Response {
        let family = self.family();
        let Some(key) = self.key(headers, query).filter(|k| !k.is_empty()) else {
            return error_response(family, StatusCode::UNAUTHORIZED, "no API key supplied");
        };
        if key.contains("ratelimited") {
            return error_response(family, StatusCode::TOO_MANY_REQUESTS, "Rate limit reached");
        }
        if key.contains("revoked") {
            return match self {
                KeyCheck::GeminiModels => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": {
                        "code": 400,
                        "message": "API key not valid. Please pass a valid API key.",
                        "status": "INVALID_ARGUMENT",
                        "details": [{
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com"
                        }]
                    }}),
                ),
                KeyCheck::AnthropicModels => {
                    error_response(family, StatusCode::UNAUTHORIZED, "invalid x-api-key")
                }
                KeyCheck::OpenRouterKey => json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": {"message": "User not found.", "code": 401}}),
                ),
                KeyCheck::CohereCheck => json_response(StatusCode::OK, &json!({"valid": false})),
                KeyCheck::CohereModels => {
                    error_response(family, StatusCode::UNAUTHORIZED, "invalid api token")
                }
                KeyCheck::OpenAiModels => error_response(
                    family,
                    StatusCode::UNAUTHORIZED,
                    "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                ),
            };
        }
        let body = match self {
            KeyCheck::OpenAiModels => json!({
                "object": "list",
                "data": [
                    {"id": "gpt-5-mini", "object": "model", "created": 1754425928, "owned_by": "system"},
                    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}
                ]
            }),
            KeyCheck::AnthropicModels => json!({
                "data": [{
                    "type": "model",
                    "id": "claude-haiku-4-5-20251001",
                    "display_name": "Claude Haiku 4.5",
                    "created_at": "2025-10-15T00:00:00Z"
                }],
                "has_more": true,
                "first_id": "claude-haiku-4-5-20251001",
                "last_id": "claude-haiku-4-5-20251001"
            }),
            KeyCheck::GeminiModels => json!({
                "models": [{
                    "name": "models/gemini-2.5-flash",
                    "version": "001",
                    "displayName": "Gemini 2.5 Flash",
                    "inputTokenLimit": 1048576,
                    "outputTokenLimit": 65536,
                    "supportedGenerationMethods": ["generateContent", "countTokens"]
                }],
                "nextPageToken": "Ch1tb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaA=="
            }),
            KeyCheck::OpenRouterKey => json!({
                "data": {
                    "label": format!("sk-or-v1-{}...", &key.chars().rev().take(3).collect::<String>()),
                    "limit": null,
                    "usage": 0,
                    "is_free_tier": false,
                    "is_provisioning_key": false,
                    "limit_remaining": null
                }
            }),
            KeyCheck::CohereModels => json!({
                "models": [
                    {"name": "command-a-03-2025", "endpoints": ["chat", "generate"], "finetuned": false, "context_length": 256000, "features": ["tools"]},
                    {"name": "command-r7b-arabic-02-2025", "endpoints": ["chat"], "finetuned": false, "context_length": 128000}
                ],
                "next_page_token": ""
            }),
            KeyCheck::CohereCheck => json!({
                "valid": true,
                "organization_id": "org-fake",
                "owner_id": "owner-fake"
            }),
        };
        json_response(StatusCode::OK, &body)
    }
}
