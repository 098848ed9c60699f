//! Typed errors, one variant per class of the SDKs' taxonomy, each carrying the HTTP
//! status, the server's `error.code` and the trace id (`X-Trace-Id`). Messages never
//! carry a secret: whatever becomes a message goes through [`redact`].

use std::fmt;

/// An HTTP answer of 400 or more, as the server described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The server's `error.code` (or the class default when it sent none).
    pub code: String,
    /// The server's `error.message`, secrets removed.
    pub message: String,
    /// `X-Trace-Id`.
    pub trace_id: Option<String>,
    /// `Retry-After` in seconds (429).
    pub retry_after: Option<u64>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}, {}", self.message, self.status, self.code)?;
        if let Some(trace) = &self.trace_id {
            write!(f, ", trace {trace}")?;
        }
        write!(f, ")")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad or missing configuration (`missing_env`, `bad_key_format`, `invalid_signing_key`).
    #[error("{message}")]
    Config { code: &'static str, message: String },
    /// 401 (`invalid_token`, `token_expired`) or 403 (`forbidden`).
    #[error("{0}")]
    Auth(ApiError),
    /// 402 `quota_exceeded`.
    #[error("{0}")]
    Quota(ApiError),
    /// 429 `rate_limited`, with `retry_after`.
    #[error("{0}")]
    RateLimit(ApiError),
    /// 451 `content_blocked` or `pii_blocked`.
    #[error("{0}")]
    Content(ApiError),
    /// 400 or 422.
    #[error("{0}")]
    BadRequest(ApiError),
    /// 503 `kill_switch`.
    #[error("{0}")]
    KillSwitch(ApiError),
    /// Any other 5xx.
    #[error("{0}")]
    Server(ApiError),
    /// Any other status (404, 409...).
    #[error("{0}")]
    Http(ApiError),
    /// The request did not get an answer, or the answer was not what the API sends.
    #[error("network error: {0}")]
    Network(String),
}

impl Error {
    pub(crate) fn config(code: &'static str, message: impl Into<String>) -> Error {
        Error::Config {
            code,
            message: redact(&message.into(), &[]),
        }
    }

    /// The answer's details, for errors that came from an HTTP answer.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Auth(e)
            | Error::Quota(e)
            | Error::RateLimit(e)
            | Error::Content(e)
            | Error::BadRequest(e)
            | Error::KillSwitch(e)
            | Error::Server(e)
            | Error::Http(e) => Some(e),
            Error::Config { .. } | Error::Network(_) => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// The server's `error.code`, or the SDK's own (`missing_env`, `network_error`...).
    pub fn code(&self) -> &str {
        match self {
            Error::Config { code, .. } => code,
            Error::Network(_) => "network_error",
            other => other.api().map_or("", |e| e.code.as_str()),
        }
    }

    pub fn trace_id(&self) -> Option<&str> {
        self.api().and_then(|e| e.trace_id.as_deref())
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.api().and_then(|e| e.retry_after)
    }

    /// The typed error for an answer: `status`, its `X-Trace-Id` and `Retry-After`, and
    /// the body (`{"error": {"code", "message"}}`, or anything else).
    pub fn from_answer(
        status: u16,
        trace_id: Option<String>,
        retry_after: Option<&str>,
        body: &str,
        secrets: &[&str],
    ) -> Error {
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let error = &parsed["error"];
        let code = error["code"].as_str().filter(|c| !c.is_empty());
        let message = error["message"]
            .as_str()
            .or_else(|| error.as_str())
            .filter(|m| !m.is_empty())
            .map_or_else(|| format!("HTTP {status}"), str::to_owned);
        let default_code = match status {
            401 => "invalid_token",
            403 => "forbidden",
            402 => "quota_exceeded",
            429 => "rate_limited",
            451 => "content_blocked",
            400 | 422 => "validation_error",
            s if s >= 500 => "server_error",
            _ => "http_error",
        };
        let api = ApiError {
            status,
            code: code.unwrap_or(default_code).to_owned(),
            message: redact(&message, secrets),
            trace_id,
            retry_after: retry_after.and_then(|v| v.trim().parse().ok()),
        };
        match status {
            401 | 403 => Error::Auth(api),
            402 => Error::Quota(api),
            429 => Error::RateLimit(api),
            451 => Error::Content(api),
            503 if api.code == "kill_switch" => Error::KillSwitch(api),
            s if s >= 500 => Error::Server(api),
            400 | 422 => Error::BadRequest(api),
            _ => Error::Http(api),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=')
}

/// Replaces every run that starts with `marker` (and the token characters after it).
fn replace_runs(text: &str, marker: &str, keep_marker: bool, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let end = after.find(|c: char| !token_char(c)).unwrap_or(after.len());
        if keep_marker {
            out.push_str(marker);
        }
        out.push_str(with);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Removes secrets from `text`: the given ones wherever they appear, and anything shaped
/// like an API key, a private key (PEM, or its base64), a session token, a JWT or a
/// bearer credential.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(secret, "[redacted]");
    }
    // PEM private keys, whole or cut off.
    while let Some(start) = out.find("-----BEGIN") {
        let tail = &out[start..];
        if !tail[..tail.len().min(64)].contains("PRIVATE KEY") {
            break;
        }
        let end = tail
            .find("-----END")
            .and_then(|e| tail[e..].find("KEY-----").map(|k| e + k + "KEY-----".len()))
            .unwrap_or(tail.len());
        out.replace_range(start..start + end, "[redacted private key]");
    }
    out = replace_runs(&out, "LS0tLS1CRUdJTi", false, "[redacted private key]");
    out = replace_runs(&out, "behest_pk_", true, "[redacted]");
    out = replace_runs(&out, "behest_sk_live_", true, "[redacted]");
    out = replace_runs(&out, "behest_sess_", true, "[redacted]");
    out = replace_runs(&out, "eyJ", false, "[redacted token]");
    out = replace_runs(&out, "Bearer ", true, "[redacted]");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps_to_its_variant() {
        let body = |code: &str| {
            format!(r#"{{"error":{{"message":"m","type":"t","code":"{code}","param":null}}}}"#)
        };
        type Is = fn(&Error) -> bool;
        let cases: &[(u16, &str, Is)] = &[
            (400, "validation_error", |e| {
                matches!(e, Error::BadRequest(_))
            }),
            (422, "PROVIDER_NOT_CONFIGURED", |e| {
                matches!(e, Error::BadRequest(_))
            }),
            (401, "token_expired", |e| matches!(e, Error::Auth(_))),
            (403, "forbidden", |e| matches!(e, Error::Auth(_))),
            (402, "quota_exceeded", |e| matches!(e, Error::Quota(_))),
            (429, "rate_limited", |e| matches!(e, Error::RateLimit(_))),
            (451, "pii_blocked", |e| matches!(e, Error::Content(_))),
            (451, "content_blocked", |e| matches!(e, Error::Content(_))),
            (503, "kill_switch", |e| matches!(e, Error::KillSwitch(_))),
            (503, "budget_unavailable", |e| matches!(e, Error::Server(_))),
            (502, "upstream_error", |e| matches!(e, Error::Server(_))),
            (404, "not_found", |e| matches!(e, Error::Http(_))),
        ];
        for (status, code, is) in cases {
            let e = Error::from_answer(*status, Some("t-1".into()), Some("7"), &body(code), &[]);
            assert!(is(&e), "{status} {code}: {e:?}");
            assert_eq!(e.status(), Some(*status));
            assert_eq!(e.code(), *code);
            assert_eq!(e.trace_id(), Some("t-1"));
            assert_eq!(e.retry_after(), Some(7));
        }
        let bare = Error::from_answer(401, None, None, "not json", &[]);
        assert_eq!(
            (bare.code(), bare.to_string().as_str()),
            ("invalid_token", "HTTP 401 (HTTP 401, invalid_token)")
        );
    }

    #[test]
    fn redact_removes_every_shape_of_secret() {
        let text = "k=behest_sk_live_abcDEF123 pk=behest_pk_-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY----- t=eyJhbGc.eyJ1aWQ.SIG Authorization: Bearer opaque123 raw=mysecretvalue b64=LS0tLS1CRUdJTiBQUklW";
        let clean = redact(text, &["mysecretvalue"]);
        for s in [
            "abcDEF123",
            "MIIEv",
            "SIG",
            "opaque123",
            "mysecretvalue",
            "BQUklW",
        ] {
            assert!(!clean.contains(s), "{clean}");
        }
    }
}
