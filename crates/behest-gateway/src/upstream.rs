//! Calling providers: the operator's platform providers (trusted base URLs, loopback
//! included), model → provider resolution, one pooled HTTP client with no redirects,
//! and the one retry loop — only before anything reached the client, only on connect
//! errors and 429/502/503/504, honouring `Retry-After` up to a cap.

use axum::http::StatusCode;
use behest_http::ApiError;
use behest_providers::{EncodedRequest, Provider, ProviderError, WireFormat};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Longest `Retry-After` we wait for before retrying ourselves.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// One platform provider as the operator configured it.
#[derive(Clone, Default)]
pub struct ProviderEndpoint {
    pub api_key: Option<String>,
    /// Overrides the provider's public base URL (self-hosted servers, tests).
    pub base_url: Option<String>,
}

impl std::fmt::Debug for ProviderEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEndpoint")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub providers: HashMap<Provider, ProviderEndpoint>,
    pub connect_timeout: Duration,
    /// From sending the request to the response headers.
    pub first_byte_timeout: Duration,
    /// Longest silence between two pieces of a response body.
    pub idle_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            providers: HashMap::new(),
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_retries: 2,
        }
    }
}

pub use behest_providers::{resolve_model, ModelRoute};

pub struct Upstreams {
    client: reqwest::Client,
    config: UpstreamConfig,
    /// Per provider: its base URL and its ready-made auth headers (built once, not per
    /// request).
    endpoints: HashMap<Provider, Endpoint>,
    /// Parsed upstream URLs by text: parsing (IDNA and all) is not free on a hot path.
    urls: Mutex<HashMap<String, reqwest::Url>>,
}

struct Endpoint {
    base: String,
    headers: HeaderMap,
}

/// A request that reached the provider and got a successful status.
pub struct UpstreamResponse {
    pub response: reqwest::Response,
    pub wire: WireFormat,
}

impl Upstreams {
    pub fn new(config: UpstreamConfig) -> Result<Upstreams, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()?;
        let mut endpoints = HashMap::new();
        for provider in Provider::ALL {
            let Some(wire) = provider.wire_format() else {
                continue;
            };
            let configured = config.providers.get(&provider);
            let base = configured
                .and_then(|p| p.base_url.as_deref())
                .or(provider.default_base_url())
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned();
            let mut headers = HeaderMap::new();
            if let Some(key) = configured.and_then(|p| p.api_key.as_deref()) {
                for (name, value) in wire.auth_headers(key) {
                    if let (Ok(name), Ok(mut value)) =
                        (HeaderName::try_from(name), HeaderValue::try_from(value))
                    {
                        value.set_sensitive(true);
                        headers.insert(name, value);
                    }
                }
            }
            endpoints.insert(provider, Endpoint { base, headers });
        }
        Ok(Upstreams {
            client,
            config,
            endpoints,
            urls: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// Whether the platform can serve this provider: echo always; others need an API
    /// key or an explicit base URL (a keyless self-hosted server).
    pub fn is_configured(&self, provider: Provider) -> bool {
        provider == Provider::Echo
            || self
                .config
                .providers
                .get(&provider)
                .is_some_and(|p| p.api_key.is_some() || p.base_url.is_some())
    }

    fn url(&self, text: String) -> Result<reqwest::Url, ApiError> {
        let mut urls = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(url) = urls.get(&text) {
            return Ok(url.clone());
        }
        let url = reqwest::Url::parse(&text)
            .map_err(|err| ApiError::internal(format!("bad upstream URL: {err}")))?;
        // Paths are few (one per provider and model); bound the cache all the same.
        if urls.len() >= 1024 {
            urls.clear();
        }
        urls.insert(text, url.clone());
        Ok(url)
    }

    /// Sends `encoded` to `provider`, retrying what is safe to retry. Returns the
    /// response once its status is a success; a final failure is the contract's error.
    pub async fn send(
        &self,
        provider: Provider,
        encoded: &EncodedRequest,
    ) -> Result<UpstreamResponse, ApiError> {
        let wire = provider
            .wire_format()
            .ok_or_else(|| ApiError::internal("send() called for a provider without upstream"))?;
        let endpoint = self
            .endpoints
            .get(&provider)
            .ok_or_else(|| ApiError::internal("no endpoint for provider"))?;
        let url = self.url(format!("{}{}", endpoint.base, encoded.path))?;
        let body =
            bytes::Bytes::from(serde_json::to_vec(&encoded.body).map_err(ApiError::internal)?);
        let accept = HeaderValue::from_static(if encoded.stream {
            "text/event-stream"
        } else {
            "application/json"
        });

        let mut attempt = 0;
        loop {
            let mut headers = endpoint.headers.clone();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(ACCEPT, accept.clone());
            let request = self
                .client
                .post(url.clone())
                .headers(headers)
                .body(body.clone());
            let outcome =
                tokio::time::timeout(self.config.first_byte_timeout, request.send()).await;
            let retry_in = match outcome {
                Err(_) => {
                    return Err(ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "upstream_timeout",
                        format!(
                            "{provider} did not answer within {} s",
                            self.config.first_byte_timeout.as_secs()
                        ),
                    ))
                }
                Ok(Err(err)) if err.is_connect() && attempt < self.config.max_retries => {
                    Some(backoff(attempt))
                }
                Ok(Err(err)) => {
                    tracing::warn!(%provider, error = %err, "upstream request failed");
                    return Err(ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "upstream_error",
                        format!("could not reach {provider}"),
                    ));
                }
                Ok(Ok(response)) if response.status().is_success() => {
                    return Ok(UpstreamResponse { response, wire });
                }
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    if matches!(status, 429 | 502 | 503 | 504) && attempt < self.config.max_retries
                    {
                        Some(retry_after(&response).unwrap_or_else(|| backoff(attempt)))
                    } else {
                        let retry_after = retry_after(&response);
                        let body = read_error_body(response, self.config.idle_timeout).await;
                        return Err(upstream_error(
                            provider,
                            &wire.decode_error(status, &body),
                            retry_after,
                        ));
                    }
                }
            };
            if let Some(delay) = retry_in {
                attempt += 1;
                tracing::debug!(%provider, attempt, ?delay, "retrying upstream");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

async fn read_error_body(response: reqwest::Response, limit: Duration) -> Vec<u8> {
    match tokio::time::timeout(limit, response.bytes()).await {
        Ok(Ok(bytes)) => bytes.to_vec(),
        _ => Vec::new(),
    }
}

/// A provider's failure as the contract's error: its message kept, its status mapped
/// (the client's fault stays a 400, the provider's rate limit a 429, the rest 502).
pub fn upstream_error(
    provider: Provider,
    err: &ProviderError,
    retry_after: Option<Duration>,
) -> ApiError {
    match err {
        ProviderError::InvalidRequest { message, param } => {
            let mut api =
                ApiError::new(StatusCode::BAD_REQUEST, "validation_error", message.clone());
            api.param = param.clone();
            api
        }
        ProviderError::Upstream {
            status, message, ..
        } => {
            let status_out = match status {
                400 | 404 | 413 | 422 => StatusCode::BAD_REQUEST,
                429 => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_GATEWAY,
            };
            let mut api = ApiError::new(
                status_out,
                "upstream_error",
                format!("{provider}: {message}"),
            );
            if status_out == StatusCode::TOO_MANY_REQUESTS {
                api.retry_after = Some(retry_after.map_or(1, |d| d.as_secs().max(1)));
            }
            api
        }
        ProviderError::Protocol { .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_keep_their_message_and_map_status() {
        let err = ProviderError::Upstream {
            provider: "anthropic",
            status: 529,
            message: "Overloaded".into(),
            kind: Some("overloaded_error".into()),
            retryable: true,
        };
        let api = upstream_error(Provider::Anthropic, &err, None);
        assert_eq!(
            (api.status, api.code.as_ref()),
            (StatusCode::BAD_GATEWAY, "upstream_error")
        );
        assert_eq!(api.message, "anthropic: Overloaded");
        let limited = ProviderError::Upstream {
            provider: "openai",
            status: 429,
            message: "slow down".into(),
            kind: None,
            retryable: true,
        };
        let api = upstream_error(Provider::OpenAi, &limited, Some(Duration::from_secs(7)));
        assert_eq!(
            (api.status, api.retry_after),
            (StatusCode::TOO_MANY_REQUESTS, Some(7))
        );
    }

    #[test]
    fn endpoint_debug_hides_the_key() {
        let endpoint = ProviderEndpoint {
            api_key: Some("sk-secret".into()),
            base_url: None,
        };
        assert!(!format!("{endpoint:?}").contains("sk-secret"));
    }
}
