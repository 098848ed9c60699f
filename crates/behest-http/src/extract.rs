//! Extractors whose rejections are [`ApiError`]s that name the problem.

use crate::{ApiError, ErrorCode};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A JSON request body. Malformed JSON, a wrong type or a missing field is a 400 naming
/// the field (`param`); a body over the size limit is a 413.
pub struct ApiJson<T>(pub T);

/// Like [`ApiJson`], but an empty body means `T::default()` (endpoints whose body is
/// optional, such as creating an API key with no name).
pub struct OptionalJson<T>(pub T);

async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
        } else {
            ApiError::bad_request(format!("could not read the request body: {rejection}"))
        }
    })
}

/// Parses a JSON body, with errors that name the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("request body is not valid JSON: {inner}"))
        } else if let Some(field) = missing_field(&inner.to_string()) {
            // serde reports a missing field at its parent; name the field itself.
            let param = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            ApiError::validation(param.clone(), format!("{param} is required"))
        } else if path == "." {
            ApiError::bad_request(format!("invalid request body: {inner}"))
        } else {
            ApiError::validation(path.clone(), format!("{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|err| ApiError::bad_request(format!("request body is not valid JSON: {err}")))?;
    Ok(value)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("request body must be a JSON object"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// The field of serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(field, _)| field)
}

/// Parses a UUID path segment, naming the parameter when it is not one.
pub fn parse_uuid(raw: &str, name: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::validation(name, format!("{name} must be a UUID, got {raw:?}")))
}

/// The token of an `Authorization: Bearer ...` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// RFC 3339, or a naive date-time (taken as UTC: Python's `isoformat()`), or a date.
pub fn parse_time(raw: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    Err(ApiError::validation(
        field,
        format!("{field} must be an ISO 8601 date or date-time"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Mint {
        #[allow(dead_code)]
        user_id: String,
        #[allow(dead_code)]
        ttl: Option<i64>,
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = parse_json::<Mint>(br#"{"user_id": "u", "ttl": "soon"}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("ttl"));
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.message.contains("ttl"), "{}", err.message);
    }

    #[test]
    fn syntax_and_unknown_fields_are_400s() {
        let err = parse_json::<Mint>(b"{\"user_id\": ").unwrap_err();
        assert!(err.message.contains("not valid JSON"), "{}", err.message);
        let err = parse_json::<Mint>(br#"{"user_id": "u", "nope": 1}"#).unwrap_err();
        assert!(err.message.contains("nope"), "{}", err.message);
        let err = parse_json::<Mint>(br#"{"ttl": 5}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("user_id"));
        assert!(err.message.contains("user_id"), "{}", err.message);
        let err = parse_json::<Mint>(br#"{"user_id": "u"} trailing"#).unwrap_err();
        assert!(err.message.contains("not valid JSON"), "{}", err.message);
    }

    #[test]
    fn uuids_and_bearer_tokens() {
        assert!(parse_uuid("not-a-uuid", "projectId")
            .unwrap_err()
            .message
            .contains("projectId"));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn times_in_the_forms_clients_send() {
        let t = |raw: &str| parse_time(raw, "from").unwrap().to_rfc3339();
        assert_eq!(t("2026-12-01T10:00:00Z"), "2026-12-01T10:00:00+00:00");
        assert_eq!(t("2026-12-01T12:00:00+02:00"), "2026-12-01T10:00:00+00:00");
        assert_eq!(t("2026-12-01T10:00:00"), "2026-12-01T10:00:00+00:00");
        assert_eq!(
            t("2026-12-01T10:00:00.123456"),
            "2026-12-01T10:00:00.123456+00:00"
        );
        assert_eq!(t("2026-12-01"), "2026-12-01T00:00:00+00:00");
        let err = parse_time("yesterday", "from").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("from"));
    }
}
