//! DNS provisioning through the HTTP API with a provisioner that fails on demand: the
//! retries, `FAILED` with the error shown, retry from `FAILED` only, and suspension
//! removing DNS once. Real SQLite store, real HTTP on a random port.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use behest_control::provisioning::{DnsProvisioner, ProjectHosts, Worker, WorkerConfig};
use behest_control::{ControlConfig, ControlState};
use behest_http::{edge, SiteDomain};
use behest_store::{SqliteStore, Store};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Fails while `failures_left` > 0; records what it was asked to do.
#[derive(Default)]
struct Flaky {
    failures_left: AtomicUsize,
    provisioned: Mutex<Vec<ProjectHosts>>,
    removed: Mutex<Vec<ProjectHosts>>,
}

#[async_trait]
impl DnsProvisioner for Flaky {
    async fn provision(&self, hosts: &ProjectHosts) -> Result<(), String> {
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(format!("zone refused record for {}", hosts.fqdn_prod));
        }
        self.provisioned.lock().unwrap().push(hosts.clone());
        Ok(())
    }

    async fn remove(&self, hosts: &ProjectHosts) -> Result<(), String> {
        self.removed.lock().unwrap().push(hosts.clone());
        Ok(())
    }
}

struct App {
    base: String,
    http: reqwest::Client,
    provisioner: Arc<Flaky>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn start() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("p.db")).await.unwrap());
    store.migrate().await.unwrap();
    let keyring = Arc::new(
        behest_control::platform_keys::load_or_init(
            store.as_ref(),
            &behest_auth::envelope::Envelope::new(
                behest_auth::envelope::MasterKey::generate(),
                Vec::new(),
            ),
        )
        .await
        .unwrap(),
    );
    let site = SiteDomain::new("example.test");
    let state = ControlState::new(
        store.clone(),
        keyring,
        ControlConfig {
            site: site.clone(),
            issuer: "behest".into(),
            admin_secret: None,
            session_ttl: chrono::Duration::hours(1),
            platform_providers: Vec::new(),
            models: Arc::new(behest_providers::ModelRegistry::builtin().clone()),
            object_limits: Default::default(),
            sign_in_limits: Default::default(),
        },
    );
    let provisioner = Arc::new(Flaky::default());
    let shutdown = CancellationToken::new();
    let worker = Worker {
        store,
        provisioner: provisioner.clone(),
        site: site.clone(),
        wake: state.jobs.clone(),
        config: WorkerConfig {
            max_attempts: 3,
            backoff: Duration::from_millis(20),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(20),
        },
    };
    tokio::spawn(worker.run(shutdown.clone()));
    let app = edge::wrap(behest_control::routes(state.clone()), site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state.mark_ready();
    App {
        base,
        http: reqwest::Client::new(),
        provisioner,
        shutdown,
        _dir: dir,
    }
}

impl App {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn wait_dns(&self, token: &str, project: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, body) = self
                .send(
                    reqwest::Method::GET,
                    &format!("/auth/v1/projects/{project}/provisioning"),
                    Some(token),
                    None,
                )
                .await;
            if body["dns_status"] == want {
                return body;
            }
            assert!(Instant::now() < deadline, "still {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provisioner_ends_in_failed_and_retry_recovers() {
    let app = start().await;
    let (status, account) = app
        .send(
            reqwest::Method::POST,
            "/auth/v1/signup",
            None,
            Some(json!({"email": "dns@example.com", "password": "correct horse"})),
        )
        .await;
    assert_eq!(status, 201);
    let token = account["session_token"].as_str().unwrap();
    let tenant = account["tenant_id"].as_str().unwrap();

    // Three attempts, all refused: FAILED, with the provisioner's message.
    app.provisioner.failures_left.store(3, Ordering::SeqCst);
    let (status, project) = app
        .send(
            reqwest::Method::POST,
            &format!("/auth/v1/tenants/{tenant}/projects"),
            Some(token),
            Some(json!({"name": "Flaky"})),
        )
        .await;
    assert_eq!(status, 201);
    let id = project["id"].as_str().unwrap();
    let slug = project["slug"].as_str().unwrap();
    let failed = app.wait_dns(token, id, "FAILED").await;
    assert_eq!(
        failed["dns_last_error"],
        format!("zone refused record for {slug}.example.test")
    );
    assert_eq!(failed["fqdn_prod"], format!("{slug}.example.test"));
    assert!(app.provisioner.provisioned.lock().unwrap().is_empty());

    // Retry: PENDING at once, READY once the provisioner agrees.
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            &format!("/auth/v1/projects/{id}/provisioning/retry"),
            Some(token),
            None,
        )
        .await;
    assert_eq!((status, body), (200, json!({"dns_status": "PENDING"})));
    let ready = app.wait_dns(token, id, "READY").await;
    assert_eq!(ready["dns_last_error"], Value::Null);
    assert_eq!(
        app.provisioner.provisioned.lock().unwrap()[0].fqdn_dev,
        format!("{slug}.dev.example.test")
    );
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            &format!("/auth/v1/projects/{id}/provisioning/retry"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 400, "retry only from FAILED");

    // One transient failure is retried without the tenant ever seeing FAILED.
    app.provisioner.failures_left.store(1, Ordering::SeqCst);
    let (_, second) = app
        .send(
            reqwest::Method::POST,
            &format!("/auth/v1/tenants/{tenant}/projects"),
            Some(token),
            Some(json!({"name": "Transient"})),
        )
        .await;
    app.wait_dns(token, second["id"].as_str().unwrap(), "READY")
        .await;

    // Suspension removes DNS exactly once, however often it is asked.
    for _ in 0..3 {
        let (status, body) = app
            .send(
                reqwest::Method::POST,
                &format!("/auth/v1/projects/{id}/suspend"),
                Some(token),
                None,
            )
            .await;
        assert_eq!((status, body), (200, json!({"status": "suspended"})));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.provisioner.removed.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "DNS never removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let removed = app.provisioner.removed.lock().unwrap().clone();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].slug, slug);
    app.shutdown.cancel();
}
