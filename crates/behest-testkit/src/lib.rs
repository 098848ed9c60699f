//! The harness of the test binaries whose tests need something beyond Rust: a
//! PostgreSQL or Redis server, the Python SDK environment, the browser. Built on
//! `libtest-mimic`, it decides per test, when the binary starts, whether its
//! prerequisites are here:
//!
//! - PostgreSQL: `BEHEST_TEST_DATABASE_URL`, else the machine's own on 127.0.0.1:5432
//!   if it answers; Redis: `BEHEST_TEST_REDIS_URL`, else 127.0.0.1:6379.
//! - The Python SDKs: `BEHEST_TEST_PYTHON`, else `.venv/bin/python` (`scripts/sdk-venv.sh`).
//! - The browser: Chromium (`CHROMIUM_PATH`, else `/usr/bin/chromium`) and the npm
//!   packages of `tests/browser` (`scripts/browser-setup.sh`).
//!
//! A test whose prerequisites are missing is marked *ignored*: `cargo nextest run` (and
//! `cargo test`) report it as skipped, never as passed, and `--run-ignored all` (nextest)
//! or `--include-ignored` runs it anyway — it then fails, naming what is missing. With
//! `CI` set nothing is ignored: a missing prerequisite is a failure.

use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub use libtest_mimic::Failed;
use libtest_mimic::{Arguments, Trial};

/// Something a test needs beyond Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Postgres,
    Redis,
    /// The `redis-server` program, for tests that run a private Redis they can stop.
    RedisServer,
    PythonSdks,
    Browser,
    /// The Next.js quickstart's npm packages (`examples/nextjs-quickstart`, with the
    /// packed TypeScript SDK), for the tests that build and run it.
    Quickstart,
}

impl Need {
    /// How to provide it, for the message of a test that cannot run.
    fn how(self) -> &'static str {
        match self {
            Need::Postgres => {
                "PostgreSQL: set BEHEST_TEST_DATABASE_URL or run one on 127.0.0.1:5432"
            }
            Need::Redis => "Redis: set BEHEST_TEST_REDIS_URL or run one on 127.0.0.1:6379",
            Need::RedisServer => "the redis-server program on the PATH",
            Need::PythonSdks => {
                "the Python SDKs: run scripts/sdk-venv.sh (or set BEHEST_TEST_PYTHON)"
            }
            Need::Browser => "Chromium and the npm packages: run scripts/browser-setup.sh",
            Need::Quickstart => {
                "the Next.js quickstart's npm packages: run scripts/quickstart-setup.sh"
            }
        }
    }

    fn is_met(self) -> bool {
        match self {
            Need::Postgres => postgres_url().is_some(),
            Need::Redis => redis_url().is_some(),
            Need::RedisServer => std::process::Command::new("redis-server")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            Need::PythonSdks => python().is_some(),
            Need::Browser => browser_ready(),
            Need::Quickstart => quickstart_ready(),
        }
    }
}

/// Whether a server answers on `addr` (a TCP connect within a short timeout).
fn answers(addr: &str) -> bool {
    addr.parse::<SocketAddr>()
        .ok()
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok())
}

/// The PostgreSQL server tests create their databases in (an admin URL).
pub fn postgres_url() -> Option<String> {
    if let Ok(url) = std::env::var("BEHEST_TEST_DATABASE_URL") {
        return Some(url);
    }
    answers("127.0.0.1:5432").then(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis server tests share (each in its own namespace).
pub fn redis_url() -> Option<String> {
    if let Ok(url) = std::env::var("BEHEST_TEST_REDIS_URL") {
        return Some(url);
    }
    answers("127.0.0.1:6379").then(|| "redis://127.0.0.1:6379".to_owned())
}

/// The repository's root (this crate lives in `crates/behest-testkit`).
pub fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The Python with the published SDKs installed.
pub fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BEHEST_TEST_PYTHON") {
        return Some(PathBuf::from(path));
    }
    let venv = repo_root().join(".venv/bin/python");
    venv.exists().then_some(venv)
}

/// Chromium's path.
pub fn chromium() -> PathBuf {
    PathBuf::from(std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()))
}

fn browser_ready() -> bool {
    chromium().exists()
        && repo_root()
            .join("tests/browser/node_modules/playwright-core")
            .exists()
}

fn quickstart_ready() -> bool {
    let modules = repo_root().join("examples/nextjs-quickstart/node_modules");
    [
        "next",
        "react",
        "openai",
        "playwright-core",
        "@behest/client-ts",
    ]
    .iter()
    .all(|package| modules.join(package).join("package.json").exists())
}

/// A `redis-server` of the test's own, on a free port, that the test may stop and
/// start again (needs [`Need::RedisServer`]). Killed when dropped.
pub struct PrivateRedis {
    child: Option<std::process::Child>,
    pub port: u16,
}

impl PrivateRedis {
    /// Starts one on a free port.
    pub fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0);
        Self::start_on(port)
    }

    /// Starts one on `port` (again, after [`PrivateRedis::stop`]).
    pub fn start_on(port: u16) -> PrivateRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while child.is_some()
            && !answers(&format!("127.0.0.1:{port}"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        PrivateRedis { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (the port stays reserved for [`PrivateRedis::start_on`]).
    pub fn stop(mut self) -> u16 {
        self.kill();
        self.port
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The store backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The tests of one binary.
#[derive(Default)]
pub struct Tests {
    trials: Vec<Trial>,
    in_ci: bool,
}

impl Tests {
    pub fn new() -> Tests {
        Tests {
            trials: Vec::new(),
            in_ci: std::env::var_os("CI").is_some(),
        }
    }

    /// An async test, run on its own multi-threaded runtime (two workers), needing
    /// `needs`.
    pub fn add<F, Fut>(mut self, name: &str, needs: &[Need], test: F) -> Tests
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let missing: Vec<Need> = needs.iter().copied().filter(|n| !n.is_met()).collect();
        let ignored = !missing.is_empty() && !self.in_ci;
        let trial = Trial::test(name, move || {
            if let Some(need) = missing.first() {
                return Err(format!("cannot run without {}", need.how()).into());
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|err| Failed::from(format!("cannot start a runtime: {err}")))?;
            runtime.block_on(test());
            Ok(())
        })
        .with_ignored_flag(ignored);
        self.trials.push(trial);
        self
    }

    /// `name::sqlite` and `name::postgres`: one test run on both store backends, the
    /// PostgreSQL one needing PostgreSQL (and `also`, both of them).
    pub fn on_both_backends<F, Fut>(self, name: &str, also: &[Need], test: F) -> Tests
    where
        F: Fn(Backend) -> Fut + Send + Clone + 'static,
        Fut: Future<Output = ()>,
    {
        let postgres = test.clone();
        let mut with_postgres = also.to_vec();
        with_postgres.push(Need::Postgres);
        self.add(&format!("{name}::sqlite"), also, move || {
            test(Backend::Sqlite)
        })
        .add(&format!("{name}::postgres"), &with_postgres, move || {
            postgres(Backend::Postgres)
        })
    }

    /// Runs what the command line selects, as `cargo test` and nextest expect.
    pub fn run(self) -> ExitCode {
        libtest_mimic::run(&Arguments::from_args(), self.trials).exit_code()
    }
}
