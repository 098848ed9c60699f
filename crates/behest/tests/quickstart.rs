//! The Next.js quickstart (`examples/nextjs-quickstart`, the seed's files) for real: a
//! production `next build` + `next start` of the example against the real binary, whose
//! project uses a fake OpenAI provider that streams slowly (`#slow`: 150 ms between
//! events), driven in headless Chromium by `examples/nextjs-quickstart/e2e/run.mjs`: the
//! answer streams into the page frame by frame, Stop ends it mid-stream and the gateway
//! records the client as gone; in both token modes (the API key minting over HTTP, and
//! local signing with a tenant signing key), with no code change. A page from an origin
//! the project does not allow fails with the CORS error the seed's troubleshooting
//! describes. The signed-in user's requests are listed under their id by `/v1/usage`.
//!
//! Needs `scripts/browser-setup.sh` (Chromium) and `scripts/quickstart-setup.sh` (the
//! example's npm packages and the packed SDK); reported as skipped without them, except
//! in CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_client::MintOptions;
use behest_fakes::FakeProviders;
use behest_testkit::{Need, Tests};
use common::{Backend, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

fn example_dir() -> PathBuf {
    behest_testkit::repo_root().join("examples/nextjs-quickstart")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn next_bin(dir: &Path) -> PathBuf {
    dir.join("node_modules/next/dist/bin/next")
}

/// `next build`, with the project host inlined as NEXT_PUBLIC_BEHEST_BASE_URL and no
/// Behest secret in the environment (the token route must load without one).
async fn next_build(dir: &Path, project_host: &str) -> Duration {
    let started = Instant::now();
    let output = Command::new("node")
        .arg(next_bin(dir))
        .arg("build")
        .current_dir(dir)
        .env("NEXT_PUBLIC_BEHEST_BASE_URL", project_host)
        .env("NEXT_TELEMETRY_DISABLED", "1")
        .env_remove("BEHEST_KEY")
        .env_remove("BEHEST_API_KEY")
        .output()
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "next build failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

/// `next start` on 127.0.0.1:`port` with `env`, ready when /chat answers.
async fn next_start(dir: &Path, port: u16, env: &[(&str, String)], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let mut command = Command::new("node");
    command
        .arg(next_bin(dir))
        .args(["start", "-p", &port.to_string(), "-H", "127.0.0.1"])
        .current_dir(dir)
        .env("NEXT_TELEMETRY_DISABLED", "1")
        .env_remove("BEHEST_API_KEY")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/chat"))
            .send()
            .await
        {
            if r.status() == 200 {
                return child;
            }
        }
        assert!(Instant::now() < deadline, "next start never answered /chat");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stop(mut child: Child) {
    let _ = child.kill().await;
    let _ = child.wait().await;
}

async fn run_driver(dir: &Path, env: &[(&str, String)]) -> Value {
    let mut command = Command::new("node");
    command.arg(dir.join("e2e/run.mjs")).current_dir(dir);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(150), command.output())
        .await
        .expect("the driver hung")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report from run.mjs:\n{stdout}\n{stderr}"));
    assert!(
        output.status.success() && report["ok"] == true,
        "run.mjs failed: {report:#}\n{stderr}"
    );
    report
}

fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

/// Waits up to 5 s for the outcome log to hold `n` lines containing `needle`.
async fn wait_outcomes(server: &Server, needle: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines = server.outcome_lines();
        if count(&lines, needle) >= n || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_quickstart_streams_stops_and_is_refused_elsewhere() {
    let dir = example_dir();
    let fakes = FakeProviders::start().await.unwrap();
    let config = format!(
        "[providers.openai]\napi_key = \"sk-quickstart\"\nbase_url = \"{}\"\n",
        fakes.openai_base_url()
    );
    let server = Server::start_with(Backend::Sqlite, &[], &config).await;
    let account = server.signup("quickstart@example.com").await;
    let project = server.project_with_token(&account, "Quickstart").await;
    let model = server
        .settings(
            &account,
            &project.id,
            "PUT",
            "/model",
            Some(json!({"provider_model": "gpt-4o-mini"})),
        )
        .await;
    assert_eq!(model.status, 200, "{model:?}");
    // Step 1 of the quickstart: the app's origin in Allowed Origins, deployed.
    let port = free_port();
    let allowed = format!("http://localhost:{port}");
    let disallowed = format!("http://127.0.0.1:{port}");
    server
        .deploy_settings(&account, &project.id, json!({"cors_origins": [allowed]}))
        .await;
    let (kid, private_key) = server.create_signing_key(&account).await;
    let host = server.project_host(&project.slug);

    let took = next_build(&dir, &host).await;
    eprintln!("quickstart: `next build` took {:.1} s", took.as_secs_f64());

    let modes: [(&str, Vec<(&str, String)>); 2] = [
        (
            "mint",
            vec![
                ("BEHEST_KEY", project.key.clone()),
                ("BEHEST_BASE_URL", host.clone()),
            ],
        ),
        (
            "sign",
            vec![
                ("BEHEST_KEY", private_key.clone()),
                ("BEHEST_KID", kid.clone()),
                ("BEHEST_TENANT_ID", account.tenant_id.clone()),
                ("BEHEST_PROJECT_ID", project.id.clone()),
                ("BEHEST_BASE_URL", host.clone()),
            ],
        ),
    ];
    for (mode, mut env) in modes {
        let user = format!("quickstart-{mode}-user");
        env.push(("DEMO_USER_ID", user.clone()));
        let log = server.dir.path().join(format!("next-{mode}.log"));
        let app = next_start(&dir, port, &env, &log).await;
        let before = server.outcome_lines();

        let message = format!("Hello from the {mode} quickstart #slow");
        let stop_message = format!(
            "Tell me a long story in {mode} mode #slow one two three four five six seven eight nine ten eleven twelve"
        );
        let report = run_driver(
            &dir,
            &[
                ("QUICKSTART_URL", allowed.clone()),
                ("MESSAGE", message.clone()),
                ("EXPECT_REPLY", format!("Hello from openai: {message}")),
                ("STOP_MESSAGE", stop_message.clone()),
                ("STOP_REPLY", format!("Hello from openai: {stop_message}")),
                ("DISALLOWED_URL", disallowed.clone()),
            ],
        )
        .await;
        eprintln!("quickstart ({mode}): {report}");
        let next_log = std::fs::read_to_string(&log).unwrap_or_default();

        // The whole answer, grown over several frames; the stopped one cut short.
        assert_eq!(
            report["complete"]["text"],
            format!("Hello from openai: {message}"),
            "{report:#}"
        );
        assert!(
            report["complete"]["frames"].as_u64().unwrap() >= 3,
            "{report:#}"
        );
        let stopped = report["stopped"]["textAfter"].as_str().unwrap();
        assert!(
            stopped.starts_with("Hello") && stopped.len() < stop_message.len(),
            "{report:#}"
        );
        // The browser's refusal, as the troubleshooting section describes it.
        assert_eq!(
            report["disallowed"]["noAllowOriginHeader"], true,
            "{report:#}"
        );

        // The gateway saw the first answer complete and the Stop as the client leaving.
        let gone_before = count(&before, "ending=\"client_gone\"");
        let lines = wait_outcomes(&server, "ending=\"client_gone\"", gone_before + 1).await;
        assert_eq!(
            count(&lines, "ending=\"client_gone\""),
            gone_before + 1,
            "{lines:#?}\n{next_log}"
        );
        assert!(
            count(&lines, "ending=\"complete\"") > count(&before, "ending=\"complete\""),
            "{lines:#?}"
        );
        stop(app).await;

        // "Check dashboard → Usage: requests appear under the signed-in user's id."
        let token = server
            .mint_via_client(&project.key, &project.slug, MintOptions::user(&user))
            .await;
        let usage = server
            .call_host(
                "GET",
                "/v1/usage?granularity=day",
                Some(&project.slug),
                Some(&token.token),
                None,
            )
            .await;
        assert_eq!(usage.status, 200, "{usage:?}");
        assert_eq!(usage.body["user_id"], user.as_str(), "{usage:?}");
        // The completed answer and the stopped one (the stopped one may be recorded a
        // moment after the disconnect).
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut usage = usage;
        while usage.body["totals"]["requests"].as_i64().unwrap_or(0) < 2
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            usage = server
                .call_host(
                    "GET",
                    "/v1/usage?granularity=day",
                    Some(&project.slug),
                    Some(&token.token),
                    None,
                )
                .await;
        }
        assert!(
            usage.body["totals"]["requests"].as_i64().unwrap_or(0) >= 2,
            "{usage:?}"
        );
    }

    // The preflight itself: an allowed origin gets its Access-Control-Allow-Origin, the
    // other none.
    for (origin, allowed_origin) in [(&allowed, true), (&disallowed, false)] {
        let r = server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/v1/chat/completions"))
            .header(
                reqwest::header::HOST,
                format!("{}.localhost:{}", project.slug, server.port),
            )
            .header("origin", origin.as_str())
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-session-id,x-thread-id",
            )
            .send()
            .await
            .unwrap();
        let acao = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        if allowed_origin {
            assert_eq!(acao.as_deref(), Some(origin.as_str()));
        } else {
            assert_eq!(acao, None);
        }
    }
    server.stop().await;
}

/// The TypeScript SDK itself against the binary (`sdk/typescript/e2e/live.mjs`): both
/// modes, chat as JSON and streamed, threads, usage, refusals typed.
async fn the_typescript_sdk_against_the_server() {
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("ts-sdk@example.com").await;
    let project = server.project_with_token(&account, "TS SDK").await;
    let (kid, private_key) = server.create_signing_key(&account).await;
    let sdk = behest_testkit::repo_root().join("sdk/typescript");
    let output = Command::new("node")
        .arg(sdk.join("e2e/live.mjs"))
        .current_dir(&sdk)
        .env("BEHEST_BASE_URL", server.project_host(&project.slug))
        .env("API_KEY", &project.key)
        .env("SIGNING_KEY", &private_key)
        .env("KID", &kid)
        .env("TENANT_ID", &account.tenant_id)
        .env("PROJECT_ID", &project.id)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert!(
        output.status.success() && report["ok"] == true,
        "{report:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("typescript sdk: {report}");
    assert_eq!(report["mint"]["mode"], "apiKey", "{report}");
    assert_eq!(report["sign"]["mode"], "sign", "{report}");
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "the_quickstart_streams_stops_and_is_refused_elsewhere",
            &[Need::Browser, Need::Quickstart],
            the_quickstart_streams_stops_and_is_refused_elsewhere,
        )
        .add(
            "the_typescript_sdk_against_the_server",
            &[Need::Quickstart],
            the_typescript_sdk_against_the_server,
        )
        .run()
}
