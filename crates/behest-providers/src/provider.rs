//! Provider names and the wire format each one speaks, plus enum dispatch
//! over the per-format codecs (no trait objects: a `match` per call).

use std::fmt;
use std::str::FromStr;

use crate::error::ProviderError;
use crate::stream::{Codec, StreamDecoder};
use crate::types::{ChatRequest, ChatResponse, EncodedRequest};
use crate::{anthropic, cohere, gemini, openai};

/// A provider Behest knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Google,
    OpenRouter,
    Mistral,
    Cohere,
    /// Built-in, no upstream: answers with the last user message.
    Echo,
}

impl Provider {
    /// Every provider, in display order.
    pub const ALL: [Provider; 7] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Google,
        Provider::OpenRouter,
        Provider::Mistral,
        Provider::Cohere,
        Provider::Echo,
    ];

    /// The lower-case name used in configuration and model ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Google => "google",
            Provider::OpenRouter => "openrouter",
            Provider::Mistral => "mistral",
            Provider::Cohere => "cohere",
            Provider::Echo => "echo",
        }
    }

    /// The provider's name as people write it.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::OpenAi => "OpenAI",
            Provider::Anthropic => "Anthropic",
            Provider::Google => "Google",
            Provider::OpenRouter => "OpenRouter",
            Provider::Mistral => "Mistral",
            Provider::Cohere => "Cohere",
            Provider::Echo => "Behest",
        }
    }

    /// The wire format to talk to this provider, or `None` for [`Provider::Echo`],
    /// which has no upstream (use [`crate::echo`]).
    pub fn wire_format(self) -> Option<WireFormat> {
        match self {
            Provider::OpenAi | Provider::OpenRouter | Provider::Mistral => {
                Some(WireFormat::OpenAiCompatible)
            }
            Provider::Anthropic => Some(WireFormat::Anthropic),
            Provider::Google => Some(WireFormat::Gemini),
            Provider::Cohere => Some(WireFormat::Cohere),
            Provider::Echo => None,
        }
    }

    /// The public API base URL that [`EncodedRequest::path`] is relative to.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Provider::OpenAi => Some("https://api.openai.com/v1"),
            Provider::OpenRouter => Some("https://openrouter.ai/api/v1"),
            Provider::Mistral => Some("https://api.mistral.ai/v1"),
            Provider::Anthropic => Some("https://api.anthropic.com"),
            Provider::Google => Some("https://generativelanguage.googleapis.com"),
            Provider::Cohere => Some("https://api.cohere.com"),
            Provider::Echo => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider `{0}`")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownProvider(s.to_string()))
    }
}

/// One variant per upstream wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// OpenAI Chat Completions: OpenAI, OpenRouter, Mistral, vLLM, llama.cpp.
    OpenAiCompatible,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini API (`generateContent`).
    Gemini,
    /// Cohere Chat API v2.
    Cohere,
}

impl WireFormat {
    /// Translates an OpenAI request into the upstream body and path.
    pub fn encode_request(
        self,
        req: &ChatRequest,
        model: &str,
    ) -> Result<EncodedRequest, ProviderError> {
        match self {
            WireFormat::OpenAiCompatible => openai::encode_request(req, model),
            WireFormat::Anthropic => anthropic::encode_request(req, model),
            WireFormat::Gemini => gemini::encode_request(req, model),
            WireFormat::Cohere => cohere::encode_request(req, model),
        }
    }

    /// The authentication headers to send with `api_key`.
    pub fn auth_headers(self, api_key: &str) -> Vec<(String, String)> {
        match self {
            WireFormat::OpenAiCompatible => openai::auth_headers(api_key),
            WireFormat::Anthropic => anthropic::auth_headers(api_key),
            WireFormat::Gemini => gemini::auth_headers(api_key),
            WireFormat::Cohere => cohere::auth_headers(api_key),
        }
    }

    /// Translates a non-streamed upstream answer (any status) into a `chat.completion`.
    pub fn decode_response(self, status: u16, body: &[u8]) -> Result<ChatResponse, ProviderError> {
        match self {
            WireFormat::OpenAiCompatible => openai::decode_response(status, body),
            WireFormat::Anthropic => anthropic::decode_response(status, body),
            WireFormat::Gemini => gemini::decode_response(status, body),
            WireFormat::Cohere => cohere::decode_response(status, body),
        }
    }

    /// Extracts the provider's error message from a failed upstream answer.
    pub fn decode_error(self, status: u16, body: &[u8]) -> ProviderError {
        match self {
            WireFormat::OpenAiCompatible => openai::decode_error(status, body),
            WireFormat::Anthropic => anthropic::decode_error(status, body),
            WireFormat::Gemini => gemini::decode_error(status, body),
            WireFormat::Cohere => cohere::decode_error(status, body),
        }
    }

    /// A decoder for this format's stream. `model` labels the chunks;
    /// `include_usage` is the client's `stream_options.include_usage`.
    pub fn stream_decoder(self, model: &str, include_usage: bool) -> StreamDecoder {
        StreamDecoder::new(match self {
            WireFormat::OpenAiCompatible => {
                Codec::OpenAi(openai::StreamState::new(model, include_usage))
            }
            WireFormat::Anthropic => {
                Codec::Anthropic(anthropic::StreamState::new(model, include_usage))
            }
            WireFormat::Gemini => Codec::Gemini(gemini::StreamState::new(model, include_usage)),
            WireFormat::Cohere => Codec::Cohere(cohere::StreamState::new(model, include_usage)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!("OpenRouter".parse::<Provider>(), Ok(Provider::OpenRouter));
        assert!("bedrock".parse::<Provider>().is_err());
    }

    #[test]
    fn wire_formats() {
        assert_eq!(
            Provider::Mistral.wire_format(),
            Some(WireFormat::OpenAiCompatible)
        );
        assert_eq!(Provider::Google.wire_format(), Some(WireFormat::Gemini));
        assert_eq!(Provider::Echo.wire_format(), None);
        assert_eq!(Provider::Echo.default_base_url(), None);
    }

    #[test]
    fn auth_headers_per_format() {
        let h = |w: WireFormat| w.auth_headers("k");
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            h(WireFormat::OpenAiCompatible),
            vec![pair("authorization", "Bearer k")]
        );
        assert_eq!(
            h(WireFormat::Anthropic),
            vec![
                pair("x-api-key", "k"),
                pair("anthropic-version", "2023-06-01")
            ]
        );
        assert_eq!(h(WireFormat::Gemini), vec![pair("x-goog-api-key", "k")]);
        assert_eq!(
            h(WireFormat::Cohere),
            vec![pair("authorization", "Bearer k")]
        );
    }
}
