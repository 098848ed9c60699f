//! A tenant's own provider key, checked before it is stored: the key's documented
//! shape (so a key pasted into the wrong provider is caught without a network call),
//! and the provider's cheapest authenticated request with how to read its answer. Pure:
//! the caller sends the request.
//!
//! | provider   | request                              | documented at |
//! |------------|--------------------------------------|---------------|
//! | openai     | `GET {base}/models`                  | platform.openai.com/docs/api-reference/models/list |
//! | mistral    | `GET {base}/models`                  | docs.mistral.ai/api (models) |
//! | openrouter | `GET {base}/key`                     | openrouter.ai/docs/api/api-reference/api-keys/get-current-key |
//! | anthropic  | `GET {base}/v1/models?limit=1`       | docs.anthropic.com/en/api/models-list |
//! | google     | `GET {base}/v1beta/models?pageSize=1`| ai.google.dev/api/rest/v1beta/models/list |
//! | cohere     | `POST {base}/v1/check-api-key`       | docs.cohere.com/reference/check-api-key |

use crate::Provider;

/// One HTTP request that succeeds only with a valid key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheckRequest {
    pub post: bool,
    /// Relative to the provider's base URL, query included.
    pub path: &'static str,
    pub headers: Vec<(String, String)>,
}

/// What the provider's answer says about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyVerdict {
    Valid,
    Invalid,
    RateLimited,
    /// Any other answer (5xx, an unexpected status): the provider could not tell us.
    Unavailable,
}

impl Provider {
    /// Whether `key` has this provider's documented shape. Deliberately loose where the
    /// provider changes formats (OpenAI's `sk-proj-`, `sk-svcacct-`, legacy `sk-`), strict
    /// where another provider's key would otherwise pass (`sk-ant-` is not an OpenAI key).
    pub fn accepts_key_format(self, key: &str) -> bool {
        let token = |s: &str, min: usize| {
            s.len() >= min
                && s.len() <= 512
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        match self {
            Provider::OpenAi => {
                key.starts_with("sk-")
                    && !key.starts_with("sk-ant-")
                    && !key.starts_with("sk-or-")
                    && token(&key[3..], 20)
            }
            Provider::Anthropic => key.strip_prefix("sk-ant-").is_some_and(|k| token(k, 20)),
            Provider::OpenRouter => key.strip_prefix("sk-or-").is_some_and(|k| token(k, 20)),
            Provider::Google => key.len() == 39 && key.starts_with("AIza") && token(&key[4..], 35),
            Provider::Mistral => key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric()),
            Provider::Cohere => key.len() == 40 && key.bytes().all(|b| b.is_ascii_alphanumeric()),
            Provider::Echo => false,
        }
    }

    /// What a key must look like, for the error message.
    pub fn key_format_hint(self) -> &'static str {
        match self {
            Provider::OpenAi => "an OpenAI key starts with sk- (sk-proj-, sk-svcacct-, …)",
            Provider::Anthropic => "an Anthropic key starts with sk-ant-",
            Provider::OpenRouter => "an OpenRouter key starts with sk-or-",
            Provider::Google => "a Google AI Studio key is 39 characters starting with AIza",
            Provider::Mistral => "a Mistral key is 32 letters and digits",
            Provider::Cohere => "a Cohere key is 40 letters and digits",
            Provider::Echo => "the echo provider takes no key",
        }
    }

    /// The cheapest request that needs a valid key (`None` for echo).
    pub fn key_check(self, key: &str) -> Option<KeyCheckRequest> {
        let wire = self.wire_format()?;
        let (post, path) = match self {
            Provider::OpenAi | Provider::Mistral => (false, "/models"),
            Provider::OpenRouter => (false, "/key"),
            Provider::Anthropic => (false, "/v1/models?limit=1"),
            Provider::Google => (false, "/v1beta/models?pageSize=1"),
            Provider::Cohere => (true, "/v1/check-api-key"),
            Provider::Echo => return None,
        };
        Some(KeyCheckRequest {
            post,
            path,
            headers: wire.auth_headers(key),
        })
    }

    /// Reads the key check's answer. Cohere answers 200 `{"valid": false}` for a key it
    /// knows is not active.
    pub fn key_verdict(self, status: u16, body: &[u8]) -> KeyVerdict {
        match status {
            200..=299 => {
                if self == Provider::Cohere {
                    let valid = serde_json::from_slice::<serde_json::Value>(body)
                        .ok()
                        .and_then(|v| v.get("valid").and_then(serde_json::Value::as_bool));
                    if valid == Some(false) {
                        return KeyVerdict::Invalid;
                    }
                }
                KeyVerdict::Valid
            }
            // Google answers an unknown key with 400 API_KEY_INVALID.
            400 if self == Provider::Google => KeyVerdict::Invalid,
            401 | 403 => KeyVerdict::Invalid,
            429 => KeyVerdict::RateLimited,
            _ => KeyVerdict::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats_catch_a_key_pasted_into_the_wrong_provider() {
        let openai = "sk-proj-abcdefghijklmnopqrstuvwxyz012345";
        let anthropic = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345";
        let openrouter = "sk-or-v1-0123456789abcdef0123456789abcdef";
        let google = "AIzaSyA1234567890abcdefghijklmnopqrstuv";
        let mistral = "abcdefghijklmnopqrstuvwxyz012345";
        let cohere = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";
        let keys = [openai, anthropic, openrouter, google, mistral, cohere];
        let providers = [
            Provider::OpenAi,
            Provider::Anthropic,
            Provider::OpenRouter,
            Provider::Google,
            Provider::Mistral,
            Provider::Cohere,
        ];
        for (i, provider) in providers.iter().enumerate() {
            for (j, key) in keys.iter().enumerate() {
                assert_eq!(
                    provider.accepts_key_format(key),
                    i == j,
                    "{provider} with key #{j}"
                );
            }
        }
        assert!(Provider::OpenAi.accepts_key_format("sk-abcdefghijklmnopqrstuvwx"));
        assert!(!Provider::OpenAi.accepts_key_format("sk-short"));
        assert!(!Provider::OpenAi.accepts_key_format("sk-abcdefghijklmnop qrstuvwxyz"));
        assert!(!Provider::OpenAi.accepts_key_format(""));
        assert!(!Provider::Echo.accepts_key_format(openai));
    }

    #[test]
    fn key_checks_use_each_providers_auth_and_cheapest_endpoint() {
        let check = Provider::Anthropic
            .key_check("sk-ant-x")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(check.path, "/v1/models?limit=1");
        assert!(check
            .headers
            .iter()
            .any(|(n, v)| n == "x-api-key" && v == "sk-ant-x"));
        let check = Provider::Cohere
            .key_check("k")
            .unwrap_or_else(|| unreachable!());
        assert!(check.post);
        assert!(check
            .headers
            .iter()
            .any(|(n, v)| n == "authorization" && v == "Bearer k"));
        assert_eq!(
            Provider::Google.key_check("k").map(|c| c.path),
            Some("/v1beta/models?pageSize=1")
        );
        assert_eq!(Provider::Echo.key_check("k"), None);
    }

    #[test]
    fn verdicts_read_status_and_cohere_body() {
        assert_eq!(Provider::OpenAi.key_verdict(200, b"{}"), KeyVerdict::Valid);
        assert_eq!(Provider::OpenAi.key_verdict(401, b""), KeyVerdict::Invalid);
        assert_eq!(
            Provider::OpenAi.key_verdict(429, b""),
            KeyVerdict::RateLimited
        );
        assert_eq!(
            Provider::OpenAi.key_verdict(503, b""),
            KeyVerdict::Unavailable
        );
        assert_eq!(
            Provider::OpenAi.key_verdict(400, b""),
            KeyVerdict::Unavailable
        );
        assert_eq!(Provider::Google.key_verdict(400, b""), KeyVerdict::Invalid);
        assert_eq!(
            Provider::Cohere.key_verdict(200, br#"{"valid":false}"#),
            KeyVerdict::Invalid
        );
        assert_eq!(
            Provider::Cohere.key_verdict(200, br#"{"valid":true,"organization_id":"o"}"#),
            KeyVerdict::Valid
        );
    }
}
