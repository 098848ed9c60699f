//! The one error type of the crate, and its mapping to OpenAI's error body.
//!
//! Upstream failures keep the upstream HTTP status and the provider's own
//! message, so a caller can log the truth while answering the client with
//! OpenAI's `{"error":{"message","type","code","param"}}` envelope.

use serde_json::{json, Value};

/// Everything that can go wrong translating a request or an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// The client's request cannot be expressed for this provider (HTTP 400).
    #[error("{message}")]
    InvalidRequest {
        message: String,
        /// The offending request field, e.g. `n` or `response_format`.
        param: Option<String>,
    },
    /// The upstream answered with an error, either as a non-2xx status or
    /// inside an HTTP-200 stream (`status` is then 200).
    #[error("{provider} upstream error (HTTP {status}): {message}")]
    Upstream {
        provider: &'static str,
        /// The upstream HTTP status.
        status: u16,
        /// The provider's own message, verbatim.
        message: String,
        /// The provider's error type or status string, when it gives one.
        kind: Option<String>,
        /// Whether the same request may succeed if retried (429, 5xx, overload).
        retryable: bool,
    },
    /// The upstream answered with something that is not its documented
    /// format, or a stream ended before its terminal event.
    #[error("{provider} upstream protocol error: {message}")]
    Protocol {
        provider: &'static str,
        message: String,
    },
}

impl ProviderError {
    /// A validation error naming the request field at fault.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ProviderError::InvalidRequest {
            message: message.into(),
            param: Some(param.to_string()),
        }
    }

    pub(crate) fn protocol(provider: &'static str, message: impl Into<String>) -> Self {
        ProviderError::Protocol {
            provider,
            message: message.into(),
        }
    }

    /// Whether retrying the same request could succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Upstream { retryable, .. } => *retryable,
            // A malformed answer or a bad request would most likely repeat.
            ProviderError::Protocol { .. } | ProviderError::InvalidRequest { .. } => false,
        }
    }

    /// The upstream HTTP status, for upstream errors.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            ProviderError::Upstream { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The HTTP status the gateway should answer its client with.
    pub fn http_status(&self) -> u16 {
        match self {
            ProviderError::InvalidRequest { .. } => 400,
            ProviderError::Upstream { .. } | ProviderError::Protocol { .. } => 502,
        }
    }

    /// OpenAI's error envelope: `{"error":{"message","type","code","param"}}`.
    pub fn to_openai_error(&self) -> Value {
        let (kind, code, param) = match self {
            ProviderError::InvalidRequest { param, .. } => (
                "invalid_request_error",
                "unsupported_parameter",
                param.clone(),
            ),
            ProviderError::Upstream { .. } | ProviderError::Protocol { .. } => {
                ("upstream_error", "upstream_error", None)
            }
        };
        let message = match self {
            ProviderError::InvalidRequest { message, .. } => message.clone(),
            ProviderError::Upstream { message, .. } => message.clone(),
            ProviderError::Protocol { .. } => self.to_string(),
        };
        json!({"error": {"message": message, "type": kind, "code": code, "param": param}})
    }
}

/// Whether an upstream HTTP status is worth retrying.
pub(crate) fn status_retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// Builds an upstream error from a status and whatever message could be found.
pub(crate) fn upstream(
    provider: &'static str,
    status: u16,
    message: Option<String>,
    kind: Option<String>,
    body: &[u8],
) -> ProviderError {
    let message = message.unwrap_or_else(|| fallback_message(status, body));
    ProviderError::Upstream {
        provider,
        status,
        message,
        kind,
        retryable: status_retryable(status),
    }
}

/// The raw body (trimmed, capped) when no documented message field exists.
fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("upstream returned HTTP {status} with an empty body");
    }
    const MAX: usize = 1000;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A string at a JSON pointer, if present.
pub(crate) fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_error_envelope() {
        let e = ProviderError::invalid("n", "n > 1 is not supported by anthropic");
        assert_eq!(e.http_status(), 400);
        assert_eq!(
            e.to_openai_error(),
            json!({"error": {"message": "n > 1 is not supported by anthropic", "type": "invalid_request_error", "code": "unsupported_parameter", "param": "n"}})
        );
        let e = upstream("anthropic", 529, Some("Overloaded".into()), None, b"");
        assert!(e.is_retryable());
        assert_eq!(e.http_status(), 502);
        assert_eq!(e.upstream_status(), Some(529));
        assert_eq!(e.to_openai_error()["error"]["code"], "upstream_error");
        assert_eq!(e.to_openai_error()["error"]["message"], "Overloaded");
    }

    #[test]
    fn retryable_statuses() {
        assert!(status_retryable(429));
        assert!(status_retryable(500));
        assert!(status_retryable(503));
        assert!(!status_retryable(400));
        assert!(!status_retryable(401));
        assert!(!status_retryable(404));
    }

    #[test]
    fn fallback_uses_body_text_and_caps_it() {
        let e = upstream("openai", 502, None, None, b"  Bad Gateway \n");
        assert!(
            matches!(e, ProviderError::Upstream { ref message, .. } if message == "Bad Gateway")
        );
        let long = "é".repeat(2000);
        let e = upstream("openai", 500, None, None, long.as_bytes());
        let ProviderError::Upstream { message, .. } = e else {
            panic!("not upstream")
        };
        assert!(message.len() <= 1004);
        let e = upstream("openai", 500, None, None, b"");
        assert!(e.to_string().contains("empty body"));
    }
}
