//! Wiring: open and migrate the store, load the signing keys, start the workers, serve
//! until a signal, then drain.

use crate::config::{self, LogFormat, ServeArgs, Settings, StoreArgs};
use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use behest_auth::keyring::Keyring;
use behest_control::platform_keys;
use behest_control::provisioning::{LocalProvisioner, Worker, WorkerConfig};
use behest_control::{ChangeFeed, ControlConfig, ControlState, ProviderAccess};
use behest_gateway::directory::{Directory, TenantSecrets};
use behest_gateway::{GatewayConfig, GatewayState};
use behest_http::{edge, SiteDomain};
use behest_live::{
    Counters, InProcess, InProcessCounters, LiveState, RedisCounters, RedisLive, Resilient,
};
use behest_store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Largest control-plane request body.
const CONTROL_BODY_LIMIT: usize = 1024 * 1024;
/// Largest data-plane request body (long conversations, inline images).
const DATA_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// How long background workers get to finish after the listener stops.
const WORKER_DRAIN: Duration = Duration::from_secs(5);

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(args)?;
    init_logging(settings.log_format);
    crate::secrets::prepare_data_dir(&settings.data_dir)?;
    crate::secrets::prepare_sqlite_file(&settings.database_url)?;
    let envelope = crate::secrets::envelope(&settings.data_dir, settings.master_keys.as_ref())
        .context("loading the master key")?;
    let store = open_store(&settings.database_url).await?;
    store.migrate().await.context("migrating the store")?;
    let keyring = Arc::new(
        platform_keys::load_or_init(store.as_ref(), &envelope)
            .await
            .context("loading the platform signing keys")?,
    );
    let site = SiteDomain::new(&settings.domain);
    let operator_urls: std::collections::HashMap<_, _> = settings
        .upstream
        .providers
        .iter()
        .filter_map(|(provider, endpoint)| Some((*provider, endpoint.base_url.clone()?)))
        .collect();
    let directory = Arc::new(Directory::new(settings.default_model.clone()).with_secrets(
        TenantSecrets {
            envelope: envelope.clone(),
            operator_urls: operator_urls.clone(),
        },
    ));
    let live: Arc<dyn LiveState> = match &settings.redis_url {
        Some(url) => Arc::new(
            RedisLive::connect(url, &settings.redis_namespace)
                .await
                .context("cannot reach Redis for the live state")?,
        ),
        None => Arc::new(InProcess::default()),
    };
    let feed = Arc::new(LiveFeed {
        directory: directory.clone(),
        store: store.clone(),
        live: live.clone(),
        unpublished: AtomicBool::new(false),
    });
    // The live state is derived: rebuilt from the store at every start.
    feed.publish()
        .await
        .map_err(anyhow::Error::msg)
        .context("building the live state")?;
    let shutdown = CancellationToken::new();
    // The counters behind rate limits and budgets: shared through Redis when there is
    // one (falling back per replica while it is away), else in this process; rebuilt
    // from the token ledger and the usage records once the spool is replayed.
    let counters: Arc<dyn Counters> = match &settings.redis_url {
        Some(url) => {
            let redis =
                RedisCounters::connect(url, &settings.redis_namespace, settings.counters_timeout)
                    .await
                    .context("cannot reach Redis for the counters")?;
            let resilient = Resilient::new(redis);
            resilient.start(shutdown.clone());
            resilient
        }
        None => Arc::new(InProcessCounters::default()),
    };
    tokio::task::spawn_blocking(behest_providers::tokens::TokenCounter::warm_up);
    // What outlives the listener: the token ledger and the usage spool are flushed
    // once every request has ended.
    let ledger_shutdown = CancellationToken::new();
    let (ledger, ledger_task) = crate::ledger::start(store.clone(), ledger_shutdown.clone());
    let spool = crate::usage::UsageSpool::open(&settings.data_dir.join("usage-spool"))
        .context("opening the usage spool")?;
    let replayed = spool
        .flush(store.as_ref())
        .await
        .context("replaying the usage spool")?;
    if replayed > 0 {
        tracing::info!(replayed, "usage records replayed from the spool");
    }
    let restored = crate::ledger::restore(store.as_ref(), counters.as_ref())
        .await
        .context("rebuilding the counters from the token ledger")?;
    tracing::debug!(
        restored,
        counters = counters.name(),
        "counters rebuilt from the ledger"
    );
    let spool_task = tokio::spawn(spool.clone().run(store.clone(), ledger_shutdown.clone()));
    let metrics = Arc::new(crate::metrics::Metrics::new(Some(spool.clone())));
    let traces = match &settings.otlp_endpoint {
        Some(endpoint) => Some(Arc::new(crate::traces::Traces::start(endpoint)?)),
        None => None,
    };
    let mut sinks: Vec<Arc<dyn behest_gateway::outcome::OutcomeSink>> = vec![
        Arc::new(ledger),
        Arc::new(crate::usage::UsageSink(spool)),
        Arc::new(crate::metrics::MetricsSink(metrics.clone())),
        Arc::new(crate::outcomes::LogOutcomes),
    ];
    if let Some(traces) = &traces {
        sinks.push(Arc::new(crate::traces::TraceSink(traces.clone())));
    }
    let outcomes = Arc::new(crate::ledger::Fanout(sinks));
    // Failed sign-ins are counted where rate limits are: shared across replicas.
    let sign_in_counters = counters.clone();
    let backends = behest_gateway::Backends {
        counters,
        memory: Arc::new(crate::memory::StoreMemory::new(
            store.clone(),
            settings.redis_url.is_none(),
        )),
        usage: Arc::new(crate::usage::StoreUsage(store.clone())),
        outcomes,
    };
    let gateway = GatewayState::new(
        GatewayConfig {
            upstream: settings.upstream.clone(),
            accepted_issuers: settings.accepted_issuers.clone(),
            drain: settings.drain,
            models: settings.models.clone(),
            default_output_cap: settings.default_output_cap,
        },
        directory.clone(),
        keyring.clone(),
        backends,
        shutdown.clone(),
    )
    .context("building the upstream HTTP client")?;
    let state = ControlState::new(
        store.clone(),
        keyring.clone(),
        ControlConfig {
            site: site.clone(),
            issuer: settings.issuer.clone(),
            admin_secret: settings.admin_secret.clone(),
            session_ttl: settings.session_ttl,
            platform_providers: settings
                .upstream
                .providers
                .iter()
                .filter(|(_, endpoint)| endpoint.is_usable())
                .map(|(provider, _)| *provider)
                .collect(),
            models: settings.models.clone(),
            object_limits: settings.object_limits,
            sign_in_limits: Default::default(),
        },
    )
    .with_counters(sign_in_counters)
    .with_change_feed(feed.clone())
    .with_provider_access(
        ProviderAccess::new(
            envelope.clone(),
            operator_urls,
            settings
                .upstream
                .providers
                .iter()
                .filter_map(|(provider, endpoint)| Some((*provider, endpoint.api_key.clone()?)))
                .collect(),
            settings.allow_http_base_urls,
        )
        .context("building the provider-key HTTP clients")?,
    );
    behest_control::service::catalog::ensure_builtin(&state)
        .await
        .context("adding the built-in providers to the catalog")?;

    let mut workers = tokio::task::JoinSet::new();
    let worker = Worker {
        store: store.clone(),
        provisioner: Arc::new(LocalProvisioner),
        site: site.clone(),
        wake: state.jobs.clone(),
        config: WorkerConfig {
            max_attempts: settings.dns_max_attempts,
            backoff: settings.dns_backoff,
            ..WorkerConfig::default()
        },
    };
    workers.spawn(worker.run(shutdown.clone()));
    workers.spawn(reload_keys(
        store.clone(),
        keyring,
        envelope,
        settings.key_reload,
        shutdown.clone(),
    ));
    workers.spawn(crate::memory::retention(
        store.clone(),
        Duration::from_secs(3600),
        shutdown.clone(),
    ));
    workers.spawn(follow_live_state(
        feed,
        settings.directory_reload,
        shutdown.clone(),
    ));

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener.local_addr().context("reading the bound address")?;
    if settings.demo {
        crate::demo::prepare(&state, &settings, local).await?;
    }

    let metrics_route = axum::Router::new()
        .route("/metrics", axum::routing::get(crate::metrics::scrape))
        .with_state(crate::metrics::MetricsRoute {
            metrics,
            token: settings.metrics_token.as_deref().map(Arc::from),
        });
    let playground_route = axum::Router::new()
        .route(
            "/auth/v1/projects/{project_id}/playground",
            axum::routing::post(crate::playground::playground),
        )
        .route(
            "/projects/{project_id}/playground/stream",
            axum::routing::post(crate::playground::dashboard_playground),
        )
        .with_state(crate::playground::PlaygroundRoute {
            control: state.clone(),
            gateway: gateway.clone(),
        })
        .layer(DefaultBodyLimit::max(CONTROL_BODY_LIMIT));
    let routes = behest_control::routes(state.clone())
        .layer(DefaultBodyLimit::max(CONTROL_BODY_LIMIT))
        .merge(playground_route)
        .merge(
            behest_dashboard::routes(state.clone())
                .layer(DefaultBodyLimit::max(CONTROL_BODY_LIMIT)),
        )
        .merge(metrics_route)
        .merge(
            behest_gateway::routes(gateway.clone()).layer(DefaultBodyLimit::max(DATA_BODY_LIMIT)),
        )
        .layer(axum::middleware::from_fn_with_state(
            gateway,
            behest_gateway::cors::cors,
        ));
    let app = edge::wrap(routes, site);
    state.mark_ready();
    tracing::info!(
        addr = %local,
        backend = ?store.backend(),
        domain = %settings.domain,
        default_model = %settings.default_model,
        "listening"
    );

    let on_signal = {
        let state = state.clone();
        let shutdown = shutdown.clone();
        async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: draining");
            state.mark_not_ready();
            shutdown.cancel();
        }
    };
    // Our own accept loop: TCP_NODELAY, header/idle/body timeouts, a connection cap and
    // JSON bodies on hyper's own error answers; it returns once every connection ended.
    let connections = behest_http::conn::ConnConfig {
        header_read_timeout: settings.header_read_timeout,
        idle_timeout: settings.idle_timeout,
        request_body_timeout: settings.request_body_timeout,
        max_connections: settings.max_connections,
    };
    behest_http::conn::serve(listener, app, connections, on_signal).await;

    let drained = tokio::time::timeout(WORKER_DRAIN, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "workers did not stop in time; a claimed job will be retried after its lease"
        );
    }
    // Every request has ended: what the ledger still holds goes to the store now.
    ledger_shutdown.cancel();
    if tokio::time::timeout(WORKER_DRAIN, ledger_task)
        .await
        .is_err()
    {
        tracing::warn!("the token ledger could not be flushed in time");
    }
    if tokio::time::timeout(WORKER_DRAIN, spool_task)
        .await
        .is_err()
    {
        tracing::warn!("usage stays spooled; the next start writes it");
    }
    if let Some(traces) = traces {
        // The SDK's flush blocks: off the runtime's threads.
        let flushed = tokio::task::spawn_blocking(move || traces.shutdown());
        if tokio::time::timeout(WORKER_DRAIN, flushed).await.is_err() {
            tracing::warn!("the last traces could not be sent in time");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

pub async fn migrate(args: StoreArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let file = config::load_file(args.config.as_deref())?;
    let (_, url) = config::database_url(&args, &file);
    open_store(&url)
        .await?
        .migrate()
        .await
        .context("migrating the store")?;
    println!("migrations applied");
    Ok(())
}

pub async fn rotate_keys(args: StoreArgs, master: config::MasterKeyArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let file = config::load_file(args.config.as_deref())?;
    let (data_dir, url) = config::database_url(&args, &file);
    let configured = master.resolve().map_err(anyhow::Error::msg)?;
    let envelope = crate::secrets::existing_envelope(&data_dir, configured.as_ref())?;
    let store = open_store(&url).await?;
    store.migrate().await.context("migrating the store")?;
    let kid = platform_keys::rotate(store.as_ref(), &envelope)
        .await
        .context("rotating the signing key")?;
    println!("new signing key: {kid}");
    Ok(())
}

pub async fn rotate_master(args: StoreArgs, master: config::MasterKeyArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let file = config::load_file(args.config.as_deref())?;
    let (data_dir, url) = config::database_url(&args, &file);
    let configured = master.resolve().map_err(anyhow::Error::msg)?;
    let store = open_store(&url).await?;
    store.migrate().await.context("migrating the store")?;
    let (key_id, resealed) =
        crate::secrets::rotate_master(store.as_ref(), &data_dir, configured.as_ref()).await?;
    println!("master key {key_id} is current; {resealed} secrets re-sealed");
    Ok(())
}

async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    // The URL may hold a password: name the backend, never the URL.
    let backend = url.split("://").next().unwrap_or("unknown");
    behest_store::open(url)
        .await
        .with_context(|| format!("cannot open the {backend} store"))
}

/// Reloads the platform keys so a `behest keys rotate` reaches running servers.
async fn reload_keys(
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    envelope: behest_auth::envelope::Envelope,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(err) = platform_keys::reload(store.as_ref(), &keyring, &envelope).await {
            tracing::warn!(error = %err, "could not reload the signing keys; keeping the current ones");
        }
    }
}

/// Keeps every process's in-memory directory in step: a change is written to the
/// live image (rebuilt from the store), applied here at once, and announced to the
/// other replicas.
struct LiveFeed {
    directory: Arc<Directory>,
    store: Arc<dyn Store>,
    live: Arc<dyn LiveState>,
    /// A change failed to publish (Redis down): the next tick publishes again.
    unpublished: AtomicBool,
}

impl LiveFeed {
    async fn publish(&self) -> Result<(), String> {
        let published = self.try_publish().await;
        self.unpublished
            .store(published.is_err(), Ordering::Release);
        published
    }

    async fn try_publish(&self) -> Result<(), String> {
        let image = behest_control::image::build(self.store.as_ref())
            .await
            .map_err(|err| format!("reading the store: {err}"))?;
        let current = self.live.read_all().await.map_err(|err| err.to_string())?;
        if current == image {
            // Nothing to write or announce (a periodic re-read of an unchanged store);
            // this process may still be behind (start-up), so load it here.
            self.directory.load_image(&image);
            return Ok(());
        }
        let removed = current
            .keys()
            .filter(|k| !image.contains_key(*k))
            .cloned()
            .collect();
        // Only what changed is written: one tenant's key does not rewrite every project.
        let entries = image
            .iter()
            .filter(|(k, v)| current.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.live
            .write(entries, removed)
            .await
            .map_err(|err| err.to_string())?;
        self.directory.load_image(&image);
        self.live.notify().await.map_err(|err| err.to_string())
    }

    /// Reloads this process's directory from the live image. An image without the
    /// entry every published image has (the kill switches) is one Redis lost (restarted
    /// without persistence, flushed, evicted): it is rebuilt from the store, never
    /// loaded, or every project would vanish from live traffic until the next change.
    async fn follow(&self) {
        match self.live.read_all().await {
            Ok(image) if !image.contains_key(behest_core::image::KILL_SWITCHES_KEY) => {
                tracing::warn!(
                    "the live image is missing from Redis; republishing it from the store"
                );
                let _ = self.publish().await;
            }
            Ok(image) => self.directory.load_image(&image),
            Err(err) => {
                tracing::warn!(error = %err, "live state unreachable; serving the last known directory")
            }
        }
    }
}

#[async_trait::async_trait]
impl ChangeFeed for LiveFeed {
    async fn changed(&self) -> Result<(), String> {
        self.publish().await.map_err(|err| {
            tracing::error!(error = %err, "live state not updated");
            err
        })
    }
}

/// Applies other replicas' changes as they are announced, and re-reads periodically as
/// a safety net. Without Redis there is nobody to announce them, so the periodic
/// re-read goes to the store (replicas sharing PostgreSQL still converge).
async fn follow_live_state(feed: Arc<LiveFeed>, every: Duration, shutdown: CancellationToken) {
    let mut changes = feed.live.changes();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let shared = feed.live.name() != "in-process";
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            change = changes.recv() => match change {
                Ok(()) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => feed.follow().await,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = ticker.tick() => {
                if shared && !feed.unpublished.load(Ordering::Acquire) {
                    feed.follow().await;
                } else {
                    // A failure is logged inside; the next tick tries again.
                    let _ = feed.publish().await;
                }
            }
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
