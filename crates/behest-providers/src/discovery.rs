//! Which models a provider offers: the request to its models endpoint and how to read
//! each documented answer. Pure: the caller sends the request (the admin catalog's
//! sync). Ids come back as the provider names them (Gemini's `models/` prefix removed).
//!
//! | provider          | request                                   | answer |
//! |-------------------|-------------------------------------------|--------|
//! | openai, mistral, openrouter | `GET {base}/models`             | `data[].id` (+ Mistral `max_context_length`, OpenRouter `name`, `context_length`) |
//! | anthropic         | `GET {base}/v1/models?limit=1000`         | `data[].{id, display_name}` |
//! | google            | `GET {base}/v1beta/models?pageSize=1000`  | `models[].{name, displayName, inputTokenLimit, outputTokenLimit}` that can `generateContent` |
//! | cohere            | `GET {base}/v1/models?page_size=1000&endpoint=chat` | `models[].{name, context_length}` |

use crate::keycheck::KeyCheckRequest;
use crate::Provider;
use serde_json::Value;

/// One model a provider listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredModel {
    pub id: String,
    pub display_name: Option<String>,
    pub context_window: Option<u32>,
    pub max_output_tokens: Option<u32>,
}

impl Provider {
    /// The request listing the provider's models (`None` for echo).
    pub fn models_list(self, key: &str) -> Option<KeyCheckRequest> {
        let wire = self.wire_format()?;
        let path = match self {
            Provider::OpenAi | Provider::Mistral | Provider::OpenRouter => "/models",
            Provider::Anthropic => "/v1/models?limit=1000",
            Provider::Google => "/v1beta/models?pageSize=1000",
            Provider::Cohere => "/v1/models?page_size=1000&endpoint=chat",
            Provider::Echo => return None,
        };
        let mut headers = wire.auth_headers(key);
        if self == Provider::Cohere {
            // Cohere's documented client header: who is calling.
            headers.push(("x-client-name".to_owned(), "behest".to_owned()));
        }
        Some(KeyCheckRequest {
            post: false,
            path,
            headers,
        })
    }

    /// The models in the provider's answer; an answer of another shape is an error.
    pub fn parse_models_list(self, body: &[u8]) -> Result<Vec<DiscoveredModel>, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let (list, id_field) = match self {
            Provider::Google | Provider::Cohere => ("models", "name"),
            _ => ("data", "id"),
        };
        let entries = value
            .get(list)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("no `{list}` array in the answer"))?;
        let number = |entry: &Value, field: &str| {
            entry
                .get(field)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        let text = |entry: &Value, field: &str| {
            entry.get(field).and_then(Value::as_str).map(str::to_owned)
        };
        let mut models = Vec::new();
        for entry in entries {
            let Some(raw_id) = entry.get(id_field).and_then(Value::as_str) else {
                continue;
            };
            let model = match self {
                Provider::Google => {
                    let can_chat = entry
                        .get("supportedGenerationMethods")
                        .and_then(Value::as_array)
                        .is_some_and(|m| m.iter().any(|m| m == "generateContent"));
                    if !can_chat {
                        continue;
                    }
                    DiscoveredModel {
                        id: raw_id.strip_prefix("models/").unwrap_or(raw_id).to_owned(),
                        display_name: text(entry, "displayName"),
                        context_window: number(entry, "inputTokenLimit"),
                        max_output_tokens: number(entry, "outputTokenLimit"),
                    }
                }
                Provider::Anthropic => DiscoveredModel {
                    id: raw_id.to_owned(),
                    display_name: text(entry, "display_name"),
                    context_window: None,
                    max_output_tokens: None,
                },
                Provider::Cohere => DiscoveredModel {
                    id: raw_id.to_owned(),
                    display_name: None,
                    context_window: number(entry, "context_length"),
                    max_output_tokens: None,
                },
                Provider::OpenRouter => DiscoveredModel {
                    id: raw_id.to_owned(),
                    display_name: text(entry, "name"),
                    context_window: number(entry, "context_length"),
                    max_output_tokens: entry
                        .get("top_provider")
                        .and_then(|t| number(t, "max_completion_tokens")),
                },
                Provider::Mistral => DiscoveredModel {
                    id: raw_id.to_owned(),
                    display_name: text(entry, "name"),
                    context_window: number(entry, "max_context_length"),
                    max_output_tokens: None,
                },
                Provider::OpenAi | Provider::Echo => DiscoveredModel {
                    id: raw_id.to_owned(),
                    display_name: None,
                    context_window: None,
                    max_output_tokens: None,
                },
            };
            if !model.id.is_empty() {
                models.push(model);
            }
        }
        Ok(models)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(provider: Provider, body: &str) -> Vec<DiscoveredModel> {
        provider
            .parse_models_list(body.as_bytes())
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn each_documented_answer_is_read() {
        let openai = parse(
            Provider::OpenAi,
            r#"{"object":"list","data":[{"id":"gpt-5-mini","object":"model","created":1,"owned_by":"system"}]}"#,
        );
        assert_eq!(openai[0].id, "gpt-5-mini");
        let anthropic = parse(
            Provider::Anthropic,
            r#"{"data":[{"type":"model","id":"claude-haiku-4-5","display_name":"Claude Haiku 4.5","created_at":"2025-10-15T00:00:00Z"}],"has_more":false,"first_id":"claude-haiku-4-5","last_id":"claude-haiku-4-5"}"#,
        );
        assert_eq!(
            anthropic[0].display_name.as_deref(),
            Some("Claude Haiku 4.5")
        );
        let google = parse(
            Provider::Google,
            r#"{"models":[
                {"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash","inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":["generateContent","countTokens"]},
                {"name":"models/text-embedding-004","supportedGenerationMethods":["embedContent"]}
            ]}"#,
        );
        assert_eq!(google.len(), 1, "embedding-only models are not chat models");
        assert_eq!(google[0].id, "gemini-2.5-flash");
        assert_eq!(google[0].context_window, Some(1_048_576));
        assert_eq!(google[0].max_output_tokens, Some(65_536));
        let cohere = parse(
            Provider::Cohere,
            r#"{"models":[{"name":"command-a-03-2025","endpoints":["chat"],"context_length":256000}],"next_page_token":""}"#,
        );
        assert_eq!(
            (cohere[0].id.as_str(), cohere[0].context_window),
            ("command-a-03-2025", Some(256_000))
        );
        let openrouter = parse(
            Provider::OpenRouter,
            r#"{"data":[{"id":"anthropic/claude-haiku-4.5","name":"Anthropic: Claude Haiku 4.5","context_length":200000,"top_provider":{"max_completion_tokens":64000}}]}"#,
        );
        assert_eq!(openrouter[0].max_output_tokens, Some(64_000));
        let mistral = parse(
            Provider::Mistral,
            r#"{"object":"list","data":[{"id":"mistral-small-latest","object":"model","max_context_length":131072,"name":"mistral-small-2506"}]}"#,
        );
        assert_eq!(mistral[0].context_window, Some(131_072));
    }

    #[test]
    fn another_shape_is_an_error_not_an_empty_catalog() {
        assert!(Provider::OpenAi
            .parse_models_list(b"{\"models\":[]}")
            .is_err());
        assert!(Provider::Google.parse_models_list(b"<html>").is_err());
        assert_eq!(
            Provider::Cohere
                .models_list("k")
                .unwrap_or_else(|| unreachable!())
                .headers
                .iter()
                .filter(|(n, _)| n == "x-client-name")
                .count(),
            1
        );
    }
}
