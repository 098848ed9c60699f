//! Configuration: defaults, then the `--config` TOML file, then environment variables,
//! then command-line flags (clap reads the last two). `validate` names every problem.

use anyhow::{bail, Context};
use behest_auth::envelope::MasterKey;
use behest_gateway::upstream::{ProviderEndpoint, UpstreamConfig};
use behest_providers::{ModelRegistry, Provider};
use clap::Args;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// Directory for the SQLite file and other local state [default: ./behest-data].
    #[arg(long, env = "BEHEST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://...` [default: SQLite in the data directory].
    #[arg(long, env = "BEHEST_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A TOML file with any of the settings below (flags and env win over it).
    #[arg(long, env = "BEHEST_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The master key that seals secrets at rest.
#[derive(Args, Debug, Clone, Default)]
pub struct MasterKeyArgs {
    /// The master key that seals secrets at rest (tenants' provider keys): 64 hex
    /// digits or base64 of 32 bytes [default: `<data-dir>/master.key`, created on first
    /// start].
    #[arg(long, env = "BEHEST_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Earlier master keys, comma-separated, still accepted for values not yet
    /// re-sealed (`behest keys rotate-master`).
    #[arg(
        long,
        env = "BEHEST_PREVIOUS_MASTER_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub previous_master_keys: Option<Vec<String>>,
}

impl MasterKeyArgs {
    /// The configured keys (current, previous), or `None` to use the key file.
    pub fn resolve(self) -> Result<Option<(MasterKey, Vec<MasterKey>)>, String> {
        let Some(current) = self.master_key.filter(|k| !k.trim().is_empty()) else {
            return Ok(None);
        };
        let current = MasterKey::parse(&current)
            .map_err(|err| format!("master_key (BEHEST_MASTER_KEY): {err}"))?;
        let previous = self
            .previous_master_keys
            .unwrap_or_default()
            .iter()
            .filter(|k| !k.trim().is_empty())
            .map(|k| MasterKey::parse(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| format!("previous_master_keys (BEHEST_PREVIOUS_MASTER_KEYS): {err}"))?;
        Ok(Some((current, previous)))
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "BEHEST_LISTEN")]
    pub listen: Option<String>,
    /// Domain project hosts live under: `{slug}.{domain}` [default: localhost].
    #[arg(long, env = "BEHEST_DOMAIN")]
    pub domain: Option<String>,
    /// `iss` of minted tokens [default: behest].
    #[arg(long, env = "BEHEST_ISSUER")]
    pub issuer: Option<String>,
    /// Secret for the admin API (`X-Admin-Secret`); admin routes are off without it.
    #[arg(long, env = "ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "BEHEST_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// The model of projects that chose none [default: behest/echo].
    #[arg(long, env = "BEHEST_DEFAULT_MODEL")]
    pub default_model: Option<String>,
    /// Accepted token issuers, comma-separated [default: the issuer and https://api.behest.ai].
    #[arg(long, env = "BEHEST_ACCEPTED_ISSUERS", value_delimiter = ',')]
    pub accepted_issuers: Option<Vec<String>>,
    /// Redis for the live state shared by replicas [default: in-process].
    #[arg(long, env = "BEHEST_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// A TOML model catalog extending (and, for ids it repeats, overriding) the built-in one.
    #[arg(long, env = "BEHEST_MODELS_FILE")]
    pub models_file: Option<PathBuf>,
    /// An OTLP/HTTP collector's base URL (`http://collector:4318`): traces are exported
    /// to `{url}/v1/traces` [default: off].
    #[arg(long, env = "BEHEST_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// A bearer token `GET /metrics` requires [default: none; keep /metrics off the
    /// public network].
    #[arg(long, env = "BEHEST_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Seconds a connection may take to send a request head: from its opening for the
    /// first request, from the head's first byte on a keep-alive connection [default: 10].
    #[arg(long, env = "BEHEST_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a keep-alive connection may wait for its next request [default: 30].
    #[arg(long, env = "BEHEST_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request body may pause before the request is answered 408 [default: 30].
    #[arg(long, env = "BEHEST_REQUEST_BODY_TIMEOUT_SECS")]
    pub request_body_timeout_secs: Option<u64>,
    /// Connections served at once; beyond it a connection is answered 503 [default: 10000].
    #[arg(long, env = "BEHEST_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    #[command(flatten)]
    pub master: MasterKeyArgs,
    /// Create (once) a demo account, project and API key, and print how to use them.
    #[arg(long)]
    pub demo: bool,
}

/// The `--config` file. Unknown keys are an error, not silently ignored.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub domain: Option<String>,
    pub issuer: Option<String>,
    pub admin_secret: Option<String>,
    pub log_format: Option<String>,
    pub session_ttl_hours: Option<i64>,
    pub key_reload_secs: Option<u64>,
    pub directory_reload_secs: Option<u64>,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (several deployments may share one Redis).
    pub redis_namespace: Option<String>,
    pub default_model: Option<String>,
    pub accepted_issuers: Option<Vec<String>>,
    pub drain_secs: Option<u64>,
    pub models_file: Option<PathBuf>,
    /// Development only: a tenant's `base_url_override` may be plain http.
    pub allow_http_base_urls: Option<bool>,
    pub header_read_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub request_body_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    #[serde(default)]
    pub dns: DnsFileConfig,
    #[serde(default)]
    pub upstream: UpstreamFileConfig,
    #[serde(default)]
    pub limits: LimitsFileConfig,
    #[serde(default)]
    pub telemetry: TelemetryFileConfig,
    /// `[providers.openai] api_key = "...", base_url = "..."`, one table per provider.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderFileConfig>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFileConfig {
    pub connect_timeout_ms: Option<u64>,
    pub first_byte_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
}

/// `[limits]`: the counters behind rate limits and budgets.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitsFileConfig {
    /// How long a call to the shared counters (Redis) may take before the fallback.
    pub redis_timeout_ms: Option<u64>,
    /// The output cap reserved (and sent) for a model the catalog does not know.
    pub default_output_cap: Option<u32>,
    /// Quotas on free objects (defaults: 5, 25, 10).
    pub tenants_per_user: Option<usize>,
    pub api_keys_per_project: Option<usize>,
    pub signing_keys_per_tenant: Option<usize>,
}

/// `[telemetry]`: metrics and traces.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct TelemetryFileConfig {
    pub otlp_endpoint: Option<String>,
    pub metrics_token: Option<String>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProviderFileConfig {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    /// A self-hosted server that needs no key (vLLM, llama.cpp, Ollama).
    pub keyless: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct DnsFileConfig {
    pub max_attempts: Option<i64>,
    pub backoff_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `serve` runs with, resolved and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub domain: String,
    pub issuer: String,
    pub admin_secret: Option<String>,
    pub log_format: LogFormat,
    pub session_ttl: chrono::Duration,
    pub key_reload: std::time::Duration,
    pub dns_max_attempts: i64,
    pub dns_backoff: std::time::Duration,
    pub directory_reload: Duration,
    pub default_model: String,
    pub accepted_issuers: Vec<String>,
    pub drain: Duration,
    pub upstream: UpstreamConfig,
    pub redis_url: Option<String>,
    pub redis_namespace: String,
    pub counters_timeout: Duration,
    pub default_output_cap: u32,
    pub models: Arc<ModelRegistry>,
    pub otlp_endpoint: Option<String>,
    pub metrics_token: Option<String>,
    /// From `BEHEST_MASTER_KEY` (else the data dir's key file is used).
    pub master_keys: Option<(MasterKey, Vec<MasterKey>)>,
    pub allow_http_base_urls: bool,
    /// `[limits]`: tenants per user, API keys per project, signing keys per tenant.
    pub object_limits: behest_control::ObjectLimits,
    /// The accept loop's limits (`behest_http::conn`).
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_body_timeout: Duration,
    pub max_connections: usize,
    pub demo: bool,
}

/// The platform providers: `[providers.<type>]` in the file, overridden per field by
/// `BEHEST_PROVIDER_<TYPE>_API_KEY`, `_BASE_URL` and `_KEYLESS`. A provider serves
/// platform traffic with a key, or when marked keyless; a base URL alone only says where
/// it lives.
fn providers(
    file: &BTreeMap<String, ProviderFileConfig>,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> HashMap<Provider, ProviderEndpoint> {
    let mut out = HashMap::new();
    for name in file.keys() {
        if name
            .parse::<Provider>()
            .map_or(true, |p| p == Provider::Echo)
        {
            problems.push(format!("providers.{name}: unknown provider (openai, anthropic, google, openrouter, mistral, cohere)"));
        }
    }
    for provider in Provider::ALL.into_iter().filter(|p| *p != Provider::Echo) {
        let from_file = file.get(provider.as_str()).cloned().unwrap_or_default();
        let upper = provider.as_str().to_ascii_uppercase();
        let api_key = env(&format!("BEHEST_PROVIDER_{upper}_API_KEY"))
            .or(from_file.api_key)
            .filter(|k| !k.is_empty());
        let base_url = env(&format!("BEHEST_PROVIDER_{upper}_BASE_URL"))
            .or(from_file.base_url)
            .filter(|u| !u.is_empty());
        if let Some(url) = &base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!(
                    "providers.{provider}.base_url: {url:?} is not an http(s) URL"
                ));
            }
        }
        let keyless = match env(&format!("BEHEST_PROVIDER_{upper}_KEYLESS")) {
            Some(raw) => match raw.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                other => {
                    problems.push(format!(
                        "BEHEST_PROVIDER_{upper}_KEYLESS: {other:?} is not true or false"
                    ));
                    false
                }
            },
            None => from_file.keyless.unwrap_or(false),
        };
        if api_key.is_none() && !keyless && base_url.is_some() {
            tracing::warn!(
                %provider,
                "a base URL but no API key: platform traffic will not use this provider (set keyless = true for a server that needs no key)"
            );
        }
        if api_key.is_some() || base_url.is_some() || keyless {
            out.insert(
                provider,
                ProviderEndpoint {
                    api_key,
                    base_url,
                    keyless,
                },
            );
        }
    }
    out
}

pub fn load_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// The store URL: explicit, else the SQLite file in the data directory.
pub fn database_url(args: &StoreArgs, file: &FileConfig) -> (PathBuf, String) {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./behest-data"));
    let url = args
        .database_url
        .clone()
        .or_else(|| file.database_url.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("behest.db").display()));
    (data_dir, url)
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
        let file = load_file(args.store.config.as_deref())?;
        let (data_dir, database_url) = database_url(&args.store, &file);
        let mut problems = Vec::new();

        let listen_raw = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen = listen_raw.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "listen: {listen_raw:?} is not an address like 127.0.0.1:8080"
            ));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let domain = args
            .domain
            .or(file.domain)
            .unwrap_or_else(|| "localhost".to_owned());
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !domain_ok {
            problems.push(format!("domain: {domain:?} is not a DNS name"));
        }
        let issuer = args
            .issuer
            .or(file.issuer)
            .unwrap_or_else(|| "behest".to_owned());
        if issuer.trim().is_empty() {
            problems.push("issuer: must not be empty".to_owned());
        }
        let admin_secret = args
            .admin_secret
            .or(file.admin_secret)
            .filter(|s| !s.is_empty());
        if admin_secret.as_ref().is_some_and(|s| s.len() < 16) {
            problems.push("admin_secret (ADMIN_SECRET): must be at least 16 characters".to_owned());
        }
        let otlp_endpoint = args
            .otlp_endpoint
            .or(file.telemetry.otlp_endpoint)
            .filter(|s| !s.is_empty());
        if let Some(url) = &otlp_endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!(
                    "otlp_endpoint (BEHEST_OTLP_ENDPOINT): {url:?} is not an http(s) URL"
                ));
            }
        }
        let metrics_token = args
            .metrics_token
            .or(file.telemetry.metrics_token)
            .filter(|s| !s.is_empty());
        if metrics_token.as_ref().is_some_and(|s| s.len() < 16) {
            problems.push(
                "metrics_token (BEHEST_METRICS_TOKEN): must be at least 16 characters".to_owned(),
            );
        }
        let master_keys = args.master.resolve().unwrap_or_else(|problem| {
            problems.push(problem);
            None
        });
        let log_format = match args.log_format.or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(format!("log_format: {other:?} is not \"text\" or \"json\""));
                LogFormat::Text
            }
        };
        let session_hours = file.session_ttl_hours.unwrap_or(24 * 7);
        if !(1..=24 * 90).contains(&session_hours) {
            problems.push("session_ttl_hours: must be 1-2160".to_owned());
        }
        let dns_max_attempts = file.dns.max_attempts.unwrap_or(3);
        if !(1..=20).contains(&dns_max_attempts) {
            problems.push("dns.max_attempts: must be 1-20".to_owned());
        }
        let env = |name: &str| std::env::var(name).ok();
        let providers = providers(&file.providers, &env, &mut problems);
        let default_model = args
            .default_model
            .or(file.default_model)
            .unwrap_or_else(|| "behest/echo".to_owned());
        let models_file = args.models_file.or(file.models_file);
        let models = match &models_file {
            None => ModelRegistry::builtin().clone(),
            Some(path) => match std::fs::read_to_string(path) {
                Err(err) => {
                    problems.push(format!(
                        "models_file: cannot read {}: {err}",
                        path.display()
                    ));
                    ModelRegistry::builtin().clone()
                }
                Ok(text) => ModelRegistry::with_operator_file(&text).unwrap_or_else(|err| {
                    problems.push(format!("models_file {}: {err}", path.display()));
                    ModelRegistry::builtin().clone()
                }),
            },
        };
        match models.resolve(&default_model) {
            None => problems.push(format!(
                "default_model: {default_model:?} is not a known model (or provider:model)"
            )),
            Some(route)
                if route.provider != Provider::Echo
                    && !providers
                        .get(&route.provider)
                        .is_some_and(ProviderEndpoint::is_usable) =>
            {
                problems.push(format!(
                    "default_model: {default_model:?} needs provider {} to be configured",
                    route.provider
                ))
            }
            Some(_) => {}
        }
        let accepted_issuers = args
            .accepted_issuers
            .or(file.accepted_issuers)
            .unwrap_or_else(|| vec![issuer.clone(), "https://api.behest.ai".to_owned()]);
        if accepted_issuers.iter().all(|i| i.trim().is_empty()) {
            problems.push("accepted_issuers: must name at least one issuer".to_owned());
        }
        let ms = |value: Option<u64>, default: u64| {
            Duration::from_millis(value.unwrap_or(default).max(1))
        };
        let upstream = UpstreamConfig {
            providers,
            connect_timeout: ms(file.upstream.connect_timeout_ms, 5_000),
            first_byte_timeout: ms(file.upstream.first_byte_timeout_ms, 60_000),
            idle_timeout: ms(file.upstream.idle_timeout_ms, 60_000),
            max_retries: file.upstream.max_retries.unwrap_or(2).min(5),
        };
        let redis_url = args.redis_url.or(file.redis_url).filter(|u| !u.is_empty());
        if redis_url
            .as_ref()
            .is_some_and(|u| !(u.starts_with("redis://") || u.starts_with("rediss://")))
        {
            problems.push("redis_url: must start with redis:// or rediss://".to_owned());
        }
        let connections = behest_http::conn::ConnConfig::default();
        let secs = |value: Option<u64>, default: Duration| {
            value.map_or(default, |secs| Duration::from_secs(secs.max(1)))
        };
        let header_read_timeout = secs(
            args.header_read_timeout_secs
                .or(file.header_read_timeout_secs),
            connections.header_read_timeout,
        );
        let idle_timeout = secs(
            args.idle_timeout_secs.or(file.idle_timeout_secs),
            connections.idle_timeout,
        );
        let request_body_timeout = secs(
            args.request_body_timeout_secs
                .or(file.request_body_timeout_secs),
            connections.request_body_timeout,
        );
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(connections.max_connections);
        if !(1..=behest_http::conn::MAX_CONNECTIONS_LIMIT).contains(&max_connections) {
            problems.push(format!(
                "max_connections (BEHEST_MAX_CONNECTIONS): must be 1-{}",
                behest_http::conn::MAX_CONNECTIONS_LIMIT
            ));
        }
        if !problems.is_empty() {
            bail!("invalid configuration:\n  {}", problems.join("\n  "));
        }
        Ok(Settings {
            listen,
            data_dir,
            database_url,
            domain,
            issuer,
            admin_secret,
            log_format,
            session_ttl: chrono::Duration::hours(session_hours),
            key_reload: std::time::Duration::from_secs(file.key_reload_secs.unwrap_or(30).max(1)),
            dns_max_attempts,
            dns_backoff: std::time::Duration::from_secs(file.dns.backoff_secs.unwrap_or(2)),
            directory_reload: Duration::from_secs(file.directory_reload_secs.unwrap_or(5).max(1)),
            default_model,
            accepted_issuers,
            drain: Duration::from_secs(file.drain_secs.unwrap_or(10)),
            upstream,
            redis_url,
            redis_namespace: file.redis_namespace.unwrap_or_else(|| "behest".to_owned()),
            counters_timeout: Duration::from_millis(
                file.limits.redis_timeout_ms.unwrap_or(100).clamp(5, 10_000),
            ),
            default_output_cap: file.limits.default_output_cap.unwrap_or(4096).max(1),
            object_limits: {
                let defaults = behest_control::ObjectLimits::default();
                behest_control::ObjectLimits {
                    tenants_per_user: file
                        .limits
                        .tenants_per_user
                        .unwrap_or(defaults.tenants_per_user)
                        .max(1),
                    api_keys_per_project: file
                        .limits
                        .api_keys_per_project
                        .unwrap_or(defaults.api_keys_per_project)
                        .max(1),
                    signing_keys_per_tenant: file
                        .limits
                        .signing_keys_per_tenant
                        .unwrap_or(defaults.signing_keys_per_tenant)
                        .max(1),
                }
            },
            models: Arc::new(models),
            otlp_endpoint,
            metrics_token,
            master_keys,
            allow_http_base_urls: file.allow_http_base_urls.unwrap_or(false),
            header_read_timeout,
            idle_timeout,
            request_body_timeout,
            max_connections,
            demo: args.demo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = Settings::resolve(ServeArgs::default()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.domain, "localhost");
        assert_eq!(settings.issuer, "behest");
        assert_eq!(settings.data_dir, PathBuf::from("./behest-data"));
        assert_eq!(settings.database_url, "sqlite://./behest-data/behest.db");
        assert_eq!(settings.admin_secret, None);
    }

    #[test]
    fn flags_win_over_the_file_and_every_problem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("behest.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndomain = \"example.com\"\n",
        )
        .unwrap();
        let mut args = ServeArgs::default();
        args.store.config = Some(path.clone());
        args.domain = Some("flag.test".into());
        let settings = Settings::resolve(args).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(settings.domain, "flag.test");

        let bad = ServeArgs {
            listen: Some("nowhere".into()),
            domain: Some("bad domain".into()),
            admin_secret: Some("short".into()),
            ..ServeArgs::default()
        };
        let err = Settings::resolve(bad).unwrap_err().to_string();
        for field in ["listen", "domain", "admin_secret"] {
            assert!(err.contains(field), "{err}");
        }

        std::fs::write(&path, "listne = \"typo\"\n").unwrap();
        let mut typo = ServeArgs::default();
        typo.store.config = Some(path);
        let err = format!("{:#}", Settings::resolve(typo).unwrap_err());
        assert!(err.contains("listne"), "{err}");
    }

    #[test]
    fn a_base_url_alone_is_not_a_platform_provider_but_keyless_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("behest.toml");
        std::fs::write(
            &path,
            "default_model = \"gpt-4o-mini\"\n[providers.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\n",
        )
        .unwrap();
        let mut args = ServeArgs::default();
        args.store.config = Some(path.clone());
        let err = format!("{:#}", Settings::resolve(args.clone()).unwrap_err());
        assert!(err.contains("needs provider openai"), "{err}");

        std::fs::write(
            &path,
            "default_model = \"openai:llama3.1\"\n[providers.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\nkeyless = true\n",
        )
        .unwrap();
        let settings = Settings::resolve(args).unwrap();
        let openai = &settings.upstream.providers[&Provider::OpenAi];
        assert!(openai.keyless && openai.is_usable() && openai.api_key.is_none());
    }

    #[test]
    fn an_operator_models_file_extends_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models.toml");
        std::fs::write(
            &models,
            "[[model]]\nid = \"our-llama\"\nprovider = \"openai\"\ndisplay_name = \"Ours\"\ncontext_window = 8192\nmax_output_tokens = 1024\ninput_usd_per_mtok = 0\noutput_usd_per_mtok = 0\n",
        )
        .unwrap();
        let settings = Settings::resolve(ServeArgs {
            models_file: Some(models.clone()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert!(settings.models.find("our-llama").is_some());
        assert!(settings.models.find("claude-haiku-4-5").is_some());

        std::fs::write(&models, "[[model]]\nid = \"broken\"\n").unwrap();
        let err = format!(
            "{:#}",
            Settings::resolve(ServeArgs {
                models_file: Some(models),
                ..ServeArgs::default()
            })
            .unwrap_err()
        );
        assert!(err.contains("models_file"), "{err}");
    }
}
