//! Runs the real `behest` binary on a free port for a test, with SQLite in a temporary
//! directory or a fresh PostgreSQL database (from `BEHEST_TEST_DATABASE_URL`, required
//! when `CI` is set), and talks HTTP to it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::header::HOST;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub const ADMIN_SECRET: &str = "test-admin-secret-0123456789";
/// The master key of servers on PostgreSQL (64 hex digits).
pub const TEST_MASTER_KEY: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub use behest_testkit::Backend;

/// Where a test's data lives; dropped (PostgreSQL: the database) by [`Server::stop`].
pub struct Database {
    pub url: String,
    pg: Option<(String, String)>,
}

impl Database {
    /// The test harness runs PostgreSQL tests only where PostgreSQL answers.
    pub async fn create(backend: Backend, dir: &std::path::Path) -> Database {
        match backend {
            Backend::Sqlite => Database {
                url: format!("sqlite://{}", dir.join("behest.db").display()),
                pg: None,
            },
            Backend::Postgres => {
                let admin_url = behest_testkit::postgres_url()
                    .expect("PostgreSQL is a prerequisite of this test (see behest-testkit)");
                let name = format!("behest_e2e_{}", uuid::Uuid::new_v4().simple());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .unwrap();
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap();
                let (base, _) = admin_url.rsplit_once('/').unwrap();
                Database {
                    url: format!("{base}/{name}"),
                    pg: Some((admin_url, name)),
                }
            }
        }
    }

    /// Runs `sql` (one text column) against the database directly, as an operator's
    /// `psql` or `sqlite3` would: for asserting what the server wrote.
    pub async fn query_strings(&self, sql: &str) -> Vec<String> {
        if self.url.starts_with("sqlite:") {
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        } else {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
    }

    /// The same database, for a second server; dropping stays with the first.
    pub fn shared(&self) -> Database {
        Database {
            url: self.url.clone(),
            pg: None,
        }
    }

    async fn drop_database(&self) {
        if let Some((admin_url, name)) = &self.pg {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url)
                .await
                .unwrap();
            sqlx::Executor::execute(
                &mut conn,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
            )
            .await
            .unwrap();
        }
    }
}

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub db: Database,
    pub http: reqwest::Client,
    log_path: PathBuf,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_behest")
}

impl Server {
    /// Starts a server on `backend`.
    pub async fn start(backend: Backend) -> Server {
        Self::start_with(backend, &[], "").await
    }

    pub async fn start_with(backend: Backend, args: &[&str], config_toml: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(backend, dir.path()).await;
        Self::start_in(dir, db, args, config_toml).await
    }

    pub async fn start_in(
        dir: tempfile::TempDir,
        db: Database,
        args: &[&str],
        config_toml: &str,
    ) -> Server {
        let port = free_port();
        let config = dir.path().join("behest.toml");
        std::fs::write(&config, config_toml).unwrap();
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(binary())
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--database-url", &db.url])
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("ADMIN_SECRET", ADMIN_SECRET)
            .env("RUST_LOG", "info")
            .envs(
                // A PostgreSQL store may be shared by replicas: they share the master
                // key, as in production. SQLite servers keep theirs in the data dir.
                (!db.url.starts_with("sqlite:")).then_some(("BEHEST_MASTER_KEY", TEST_MASTER_KEY)),
            )
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let server = Server {
            child: Some(child),
            port,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            db,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            log_path,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "server not ready: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The request outcomes logged so far (target `behest::outcome`), one line each.
    pub fn outcome_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("behest::outcome"))
            .map(str::to_owned)
            .collect()
    }

    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().unwrap()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let pid = child.id().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap()
    }

    /// Waits for a process already signalled to exit.
    pub async fn terminate_wait(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("exits")
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        self.db.drop_database().await;
    }

    // --- requests ---------------------------------------------------------------------

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        self.call_host(method, path, None, bearer, body).await
    }

    /// A request carrying the admin secret.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .header("x-admin-secret", ADMIN_SECRET);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Response::from_reqwest(request.send().await.unwrap()).await
    }

    /// A request with the `Host` header of a project host (`{slug}.localhost:PORT`).
    pub async fn call_host(
        &self,
        method: &str,
        path: &str,
        host_slug: Option<&str>,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(slug) = host_slug {
            request = request.header(HOST, format!("{slug}.localhost:{}", self.port));
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Response::from_reqwest(request.send().await.unwrap()).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Vec<u8>,
    ) -> Response {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        Response::from_reqwest(request.send().await.unwrap()).await
    }

    // --- the quickstart's steps -----------------------------------------------------------

    pub async fn signup(&self, email: &str) -> Account {
        let r = self
            .call(
                "POST",
                "/auth/v1/signup",
                None,
                Some(json!({"email": email, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        Account {
            session: r.str("session_token"),
            tenant_id: r.str("tenant_id"),
            user_id: r.str("user_id"),
        }
    }

    pub async fn create_project(&self, account: &Account, name: &str) -> Value {
        let path = format!("/auth/v1/tenants/{}/projects", account.tenant_id);
        let r = self
            .call(
                "POST",
                &path,
                Some(&account.session),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body
    }

    pub async fn create_key(
        &self,
        account: &Account,
        project_id: &str,
        role: Option<&str>,
    ) -> String {
        let path = format!("/auth/v1/projects/{project_id}/api-keys");
        let body = match role {
            Some(role) => json!({"name": "test", "role": role}),
            None => json!({"name": "test"}),
        };
        let r = self
            .call("POST", &path, Some(&account.session), Some(body))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.str("api_key")
    }

    pub async fn mint(&self, key: &str, body: Value) -> Response {
        self.call("POST", "/auth/v1/auth/mint", Some(key), Some(body))
            .await
    }

    /// A project with an API key and a minted token for `user_id`.
    pub async fn project_with_token(&self, account: &Account, name: &str) -> ProjectFixture {
        let project = self.create_project(account, name).await;
        let id = project["id"].as_str().unwrap().to_owned();
        let slug = project["slug"].as_str().unwrap().to_owned();
        let key = self.create_key(account, &id, None).await;
        let minted = self.mint(&key, json!({"user_id": "end-user-1"})).await;
        assert_eq!(minted.status, 200, "{minted:?}");
        ProjectFixture {
            id,
            slug,
            key,
            token: minted.str("access_token"),
        }
    }

    pub async fn settings(
        &self,
        account: &Account,
        project_id: &str,
        method: &str,
        suffix: &str,
        body: Option<Value>,
    ) -> Response {
        let path = format!("/auth/v1/projects/{project_id}/settings{suffix}");
        self.call(method, &path, Some(&account.session), body).await
    }

    /// `PUT .../settings/model`: the draft model, asserted to be accepted.
    pub async fn choose_model(&self, account: &Account, project_id: &str, model: &str) {
        let r = self
            .settings(
                account,
                project_id,
                "PUT",
                "/model",
                Some(json!({"provider_model": model})),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    /// The model chosen and deployed: live traffic uses it from now on.
    pub async fn deploy_model(&self, account: &Account, project_id: &str, model: &str) {
        self.choose_model(account, project_id, model).await;
        self.deploy_settings(account, project_id, json!({})).await;
    }

    /// `PUT .../settings` then `POST .../settings/deploy`, both asserted to succeed.
    pub async fn deploy_settings(&self, account: &Account, project_id: &str, change: Value) {
        let put = self
            .settings(account, project_id, "PUT", "", Some(change))
            .await;
        assert_eq!(put.status, 200, "{put:?}");
        let deploy = self
            .settings(account, project_id, "POST", "/deploy", None)
            .await;
        assert_eq!(deploy.status, 200, "{deploy:?}");
    }

    /// A chat completion on the project's `/p/{slug}` path.
    pub async fn chat(&self, slug: &str, token: &str, body: Value) -> Response {
        self.call(
            "POST",
            &format!("/p/{slug}/v1/chat/completions"),
            Some(token),
            Some(body),
        )
        .await
    }

    /// Waits for the project's DNS status to become `want`.
    pub async fn wait_dns(&self, account: &Account, project_id: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let path = format!("/auth/v1/projects/{project_id}/provisioning");
            let r = self.call("GET", &path, Some(&account.session), None).await;
            assert_eq!(r.status, 200, "{r:?}");
            if r.body["dns_status"] == want {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "dns_status stayed {}",
                r.body["dns_status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProjectFixture {
    pub id: String,
    pub slug: String,
    pub key: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub session: String,
    pub tenant_id: String,
    pub user_id: String,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    pub async fn from_reqwest(response: reqwest::Response) -> Response {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {self:?}"))
            .to_owned()
    }

    /// Asserts the contract's error shape and returns `error.code`.
    pub fn error_code(&self) -> String {
        let error = &self.body["error"];
        assert!(
            error["message"].is_string(),
            "not a contract error: {self:?}"
        );
        assert!(error["type"].is_string(), "not a contract error: {self:?}");
        assert!(
            error.get("param").is_some(),
            "not a contract error: {self:?}"
        );
        assert!(
            self.headers.contains_key("x-trace-id"),
            "no X-Trace-Id: {self:?}"
        );
        error["code"].as_str().unwrap().to_owned()
    }

    pub fn param(&self) -> Option<String> {
        self.body["error"]["param"].as_str().map(str::to_owned)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// --- through the Rust client (behest-client), as an app's Rust server would -----------

impl Server {
    /// The project host of `slug`, as the SDKs' base URL: `http://{slug}.localhost:PORT`
    /// (behest-client resolves `*.localhost` to loopback).
    pub fn project_host(&self, slug: &str) -> String {
        format!("http://{slug}.localhost:{}", self.port)
    }

    /// A behest-client for `key` (`behest_sk_live_...`) on the project host of `slug`.
    pub fn client(&self, key: &str, slug: &str) -> behest_client::Behest {
        let config = behest_client::Config::new(key)
            .unwrap()
            .base_url(self.project_host(slug));
        behest_client::Behest::new(config).unwrap()
    }

    /// Mints through behest-client (`POST {project host}/v1/auth/mint`), asserted to
    /// succeed.
    pub async fn mint_via_client(
        &self,
        key: &str,
        slug: &str,
        options: behest_client::MintOptions,
    ) -> behest_client::MintResult {
        self.client(key, slug).mint(options).await.unwrap()
    }

    /// A new tenant signing key: `(kid, private_key)`, the private key as the API returns
    /// it once (`behest_pk_<PKCS#8 PEM>`).
    pub async fn create_signing_key(&self, account: &Account) -> (String, String) {
        let path = format!("/auth/v1/tenants/{}/signing-keys", account.tenant_id);
        let r = self.call("POST", &path, Some(&account.session), None).await;
        assert_eq!(r.status, 201, "{r:?}");
        (r.str("kid"), r.str("private_key"))
    }
}
