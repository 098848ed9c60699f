//! Calling providers: the operator's platform providers (trusted base URLs, loopback
//! included), credentials passed per call (the platform's, or later a tenant's own),
//! one pooled HTTP client with no redirects, the one retry loop — only before anything
//! reached the client, only on connect errors and 429/502/503/504, honouring
//! `Retry-After` up to a cap — and the one place provider errors become ours.

use behest_http::{ApiError, ErrorCode};
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
    /// Overrides the provider's public base URL (self-hosted servers, tests). Says only
    /// where the provider lives: it does not make the provider usable by itself.
    pub base_url: Option<String>,
    /// A self-hosted server that needs no key: usable without `api_key`.
    pub keyless: bool,
}

impl ProviderEndpoint {
    /// Whether platform traffic may use this provider: it has a key, or is keyless.
    pub fn is_usable(&self) -> bool {
        self.api_key.is_some() || self.keyless
    }
}

impl std::fmt::Debug for ProviderEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEndpoint")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("keyless", &self.keyless)
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

/// Where and as whom one call goes: a base URL and ready-made auth headers. Built once
/// per platform provider at start-up (and, for a tenant's own key, once per key), then
/// passed to every [`Upstreams::send`].
#[derive(Clone)]
pub struct Credentials {
    provider: Provider,
    base: String,
    headers: HeaderMap,
    /// A tenant chose `base`: it is reached through the public-only client.
    tenant_url: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("provider", &self.provider)
            .field("base", &self.base)
            .field("headers", &"<redacted>")
            .field("tenant_url", &self.tenant_url)
            .finish()
    }
}

impl Credentials {
    /// A tenant's own key, at the tenant's base URL (untrusted) or else where the
    /// operator says the provider lives (or its public API).
    pub fn for_tenant(
        provider: Provider,
        tenant_url: Option<&str>,
        operator_url: Option<&str>,
        api_key: &str,
    ) -> Credentials {
        let mut credentials =
            Credentials::new(provider, tenant_url.or(operator_url), Some(api_key));
        credentials.tenant_url = tenant_url.is_some();
        credentials
    }

    /// For `provider` at `base_url` (its public API when `None`) with `api_key`.
    pub fn new(provider: Provider, base_url: Option<&str>, api_key: Option<&str>) -> Credentials {
        let base = base_url
            .or(provider.default_base_url())
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        let mut headers = HeaderMap::new();
        if let (Some(key), Some(wire)) = (api_key, provider.wire_format()) {
            for (name, value) in wire.auth_headers(key) {
                if let (Ok(name), Ok(mut value)) =
                    (HeaderName::try_from(name), HeaderValue::try_from(value))
                {
                    value.set_sensitive(true);
                    headers.insert(name, value);
                }
            }
        }
        Credentials {
            provider,
            base,
            headers,
            tenant_url: false,
        }
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }
}

pub struct Upstreams {
    client: reqwest::Client,
    /// For tenants' own base URLs: public addresses only, checked at every connection.
    tenant_client: reqwest::Client,
    config: UpstreamConfig,
    /// The platform's own credentials, for each provider it may use.
    platform: HashMap<Provider, Credentials>,
    /// Parsed upstream URLs by text: parsing (IDNA and all) is not free on a hot path.
    urls: Mutex<HashMap<String, reqwest::Url>>,
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
        let platform = config
            .providers
            .iter()
            .filter(|(provider, endpoint)| provider.wire_format().is_some() && endpoint.is_usable())
            .map(|(provider, endpoint)| {
                (
                    *provider,
                    Credentials::new(
                        *provider,
                        endpoint.base_url.as_deref(),
                        endpoint.api_key.as_deref(),
                    ),
                )
            })
            .collect();
        let tenant_client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(behest_http::egress::PublicOnly))
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        Ok(Upstreams {
            client,
            tenant_client,
            config,
            platform,
            urls: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// The platform's credentials for `provider`, if the operator configured it with a
    /// key (or as keyless).
    pub fn platform(&self, provider: Provider) -> Option<&Credentials> {
        self.platform.get(&provider)
    }

    /// Where the operator says `provider` lives (`None`: its public API).
    pub fn operator_url(&self, provider: Provider) -> Option<&str> {
        self.config.providers.get(&provider)?.base_url.as_deref()
    }

    /// Whether the platform can serve this provider (echo needs nothing).
    pub fn is_configured(&self, provider: Provider) -> bool {
        provider == Provider::Echo || self.platform.contains_key(&provider)
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

    /// Sends `encoded` with `credentials`, retrying what is safe to retry: the one retry
    /// loop, only before anything reached the client, only on connect errors and
    /// 429/502/503/504, honouring `Retry-After` up to a cap. Returns the response once
    /// its status is a success; a final failure is the contract's error.
    pub async fn send(
        &self,
        credentials: &Credentials,
        encoded: &EncodedRequest,
    ) -> Result<UpstreamResponse, ApiError> {
        let provider = credentials.provider;
        let wire = provider
            .wire_format()
            .ok_or_else(|| ApiError::internal("send() called for a provider without upstream"))?;
        let url = self.url(format!("{}{}", credentials.base, encoded.path))?;
        let body =
            bytes::Bytes::from(serde_json::to_vec(&encoded.body).map_err(ApiError::internal)?);
        let accept = HeaderValue::from_static(if encoded.stream {
            "text/event-stream"
        } else {
            "application/json"
        });

        let mut attempt = 0;
        loop {
            let mut headers = credentials.headers.clone();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(ACCEPT, accept.clone());
            let client = if credentials.tenant_url {
                &self.tenant_client
            } else {
                &self.client
            };
            let request = client.post(url.clone()).headers(headers).body(body.clone());
            let outcome =
                tokio::time::timeout(self.config.first_byte_timeout, request.send()).await;
            let retry_in = match outcome {
                Err(_) => {
                    return Err(ApiError::new(
                        ErrorCode::UpstreamTimeout,
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
                        ErrorCode::UpstreamError,
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

    /// Reads a whole (non-streamed) answer body, each piece within the idle timeout.
    pub async fn read_body(
        &self,
        provider: Provider,
        upstream: UpstreamResponse,
    ) -> Result<bytes::Bytes, ApiError> {
        tokio::time::timeout(self.config.idle_timeout, upstream.response.bytes())
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::UpstreamTimeout,
                    format!("{provider} stopped sending its answer"),
                )
            })?
            .map_err(|err| {
                tracing::warn!(%provider, error = %err, "reading the upstream answer failed");
                ApiError::new(
                    ErrorCode::UpstreamError,
                    format!("{provider} answer broke off"),
                )
            })
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
            let mut api = ApiError::new(ErrorCode::ValidationError, message.clone());
            api.param = param.clone();
            api
        }
        ProviderError::Upstream {
            status, message, ..
        } => {
            let code = match status {
                400 | 404 | 413 | 422 => ErrorCode::UpstreamRejected,
                429 => ErrorCode::UpstreamRateLimited,
                _ => ErrorCode::UpstreamError,
            };
            let mut api = ApiError::new(code, format!("{provider}: {message}"));
            if code == ErrorCode::UpstreamRateLimited {
                api.retry_after = Some(retry_after.map_or(1, |d| d.as_secs().max(1)));
            }
            api
        }
        ProviderError::Protocol { .. } => ApiError::new(ErrorCode::UpstreamError, err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

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
            (api.status(), api.code.as_str()),
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
            (api.status(), api.retry_after),
            (StatusCode::TOO_MANY_REQUESTS, Some(7))
        );
    }

    #[test]
    fn endpoint_and_credentials_debug_hide_the_key() {
        let endpoint = ProviderEndpoint {
            api_key: Some("sk-secret".into()),
            base_url: None,
            keyless: false,
        };
        assert!(!format!("{endpoint:?}").contains("sk-secret"));
        let credentials = Credentials::new(Provider::OpenAi, None, Some("sk-secret"));
        assert!(!format!("{credentials:?}").contains("sk-secret"));
    }

    #[test]
    fn a_base_url_alone_does_not_make_a_platform_provider() {
        let mut providers = HashMap::new();
        providers.insert(
            Provider::OpenAi,
            ProviderEndpoint {
                api_key: None,
                base_url: Some("http://127.0.0.1:9/v1".into()),
                keyless: false,
            },
        );
        providers.insert(
            Provider::Mistral,
            ProviderEndpoint {
                api_key: None,
                base_url: Some("http://127.0.0.1:9/v1".into()),
                keyless: true,
            },
        );
        providers.insert(
            Provider::Anthropic,
            ProviderEndpoint {
                api_key: Some("sk-ant".into()),
                base_url: None,
                keyless: false,
            },
        );
        let upstreams = Upstreams::new(UpstreamConfig {
            providers,
            ..UpstreamConfig::default()
        })
        .unwrap();
        assert!(!upstreams.is_configured(Provider::OpenAi));
        assert!(upstreams.is_configured(Provider::Mistral));
        assert!(upstreams.is_configured(Provider::Anthropic));
        assert!(upstreams.is_configured(Provider::Echo));
        assert!(!upstreams.is_configured(Provider::Google));
    }
}
