//! The answer's guard against the real binary and the fake providers: a blocklisted
//! term or a credential in a streamed answer ends the stream with an error event and
//! none of it reaches the client; PII the model writes is masked or redacted, also when
//! it straddles chunks; with `pii_restore_output` the values MASK took out of the request
//! come back in the answer (streamed two bytes at a time, so placeholders are split),
//! while the provider, memory and the usage records only ever see placeholders; shadow
//! mode lets the answer through and records what it found. The same through the
//! `openai` Python and Node SDKs (`tests/sdk_answer`, `tests/browser/answer_guard.mjs`).
//!
//! The fakes answer a user text `spell:<text>` with `<text>` and `spell-reversed:<text>`
//! with `<text>` reversed, two bytes per chunk: the reversed form puts text in the answer
//! that the request did not hold, as a model decoding something would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_fakes::FakeProviders;
use behest_testkit::{Need, Tests};
use common::{Account, Backend, ProjectFixture, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn fake_config(fakes: &FakeProviders) -> String {
    format!(
        "[providers.openai]\napi_key = \"sk-openai-test\"\nbase_url = \"{}\"\n\
         [providers.anthropic]\napi_key = \"sk-ant-test\"\nbase_url = \"{}\"\n",
        fakes.openai_base_url(),
        fakes.origin()
    )
}

fn reversed(text: &str) -> String {
    format!("spell-reversed:{}", text.chars().rev().collect::<String>())
}

/// A streamed answer as the client got it: the content deltas joined, and the error
/// event it ended with, if any.
struct Streamed {
    content: String,
    error: Option<Value>,
    done: bool,
}

async fn stream(
    server: &Server,
    project: &ProjectFixture,
    text: &str,
    thread: Option<&str>,
) -> Streamed {
    let mut request = server
        .http
        .post(server.url(&format!("/p/{}/v1/chat/completions", project.slug)))
        .bearer_auth(&project.token)
        .json(&json!({"stream": true, "messages": [{"role": "user", "content": text}]}));
    if let Some(thread) = thread {
        request = request.header("x-thread-id", thread);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let mut streamed = Streamed {
        content: String::new(),
        error: None,
        done: false,
    };
    for event in body.split("\n\n").filter(|e| !e.is_empty()) {
        let data = event.strip_prefix("data: ").expect("SSE data lines only");
        if data == "[DONE]" {
            streamed.done = true;
            continue;
        }
        let value: Value = serde_json::from_str(data).unwrap();
        if let Some(error) = value.get("error") {
            streamed.error = Some(error.clone());
            continue;
        }
        for choice in value["choices"].as_array().unwrap() {
            if let Some(piece) = choice["delta"]["content"].as_str() {
                streamed.content.push_str(piece);
            }
        }
    }
    streamed
}

async fn usage_hits(server: &Server, account: &Account, project: &ProjectFixture) -> Vec<Value> {
    let usage = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{}/usage", project.id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(usage.status, 200, "{usage:?}");
    usage.body["guard_hits"].as_array().unwrap().clone()
}

/// A project on the fakes' OpenAI model with `settings` deployed.
struct Fixture {
    fakes: FakeProviders,
    server: Server,
    account: Account,
    project: ProjectFixture,
}

async fn fixture(email: &str, settings: Value) -> Fixture {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(Backend::Sqlite, &[], &fake_config(&fakes)).await;
    let account = server.signup(email).await;
    let project = server.project_with_token(&account, "Answers").await;
    server
        .choose_model(&account, &project.id, "gpt-4o-mini")
        .await;
    if !settings.is_null() {
        server
            .deploy_settings(&account, &project.id, settings)
            .await;
    }
    Fixture {
        fakes,
        server,
        account,
        project,
    }
}

async fn the_answer_is_guarded_as_it_streams() {
    let Fixture {
        fakes: _fakes,
        server,
        account,
        project,
    } = fixture(
        "answers@example.com",
        json!({
            "sentinel_mode": "enforce",
            "sentinel_blocklist": ["Project Titan"],
            "pii_mode": "enforce",
            "pii_entities": {"EMAIL_ADDRESS": "MASK", "IP_ADDRESS": "REDACT", "CREDIT_CARD": "BLOCK"},
            "rpm_limit": 10000,
        }),
    )
    .await;

    // A blocklisted term: the stream ends with content_blocked naming the rule, and
    // what got out is the text before the term, never a byte of it.
    let answer = "Sure. The codename you asked about is Project  TITAN, and it ships in May.";
    for model in ["gpt-4o-mini", "claude-sonnet-4-20250514"] {
        server.choose_model(&account, &project.id, model).await;
        let got = stream(&server, &project, &reversed(answer), None).await;
        let error = got.error.expect("an error event");
        assert_eq!(error["code"], "content_blocked", "{model}");
        assert!(error["message"].as_str().unwrap().contains("blocklist:0"));
        assert!(!got.done, "{model}: no [DONE] after the error event");
        let before = answer.find("Project").unwrap();
        assert!(
            answer.starts_with(&got.content) && got.content.len() <= before,
            "{model}: {:?}",
            got.content
        );
    }
    server
        .choose_model(&account, &project.id, "gpt-4o-mini")
        .await;
    // A credential the model writes out.
    let got = stream(
        &server,
        &project,
        &reversed("Use this key: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD to call it."),
        None,
    )
    .await;
    let error = got.error.expect("an error event");
    assert_eq!(error["code"], "content_blocked");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("credential:openai_api_key"));
    assert!(!got.content.contains("sk-"), "{:?}", got.content);

    // PII the model writes, across chunk boundaries: masked and redacted in place.
    let got = stream(
        &server,
        &project,
        // (Reversed, the address has no domain and the IP no valid octets: the request
        // holds no PII, and the answer's guard is what masks them.)
        &reversed("Reach me at ops@example.org or at host 10.20.30.40 today."),
        None,
    )
    .await;
    assert!(got.error.is_none() && got.done, "{:?}", got.error);
    assert_eq!(
        got.content,
        "Reach me at ***@*******.*** or at host <IP_ADDRESS> today."
    );
    // BLOCK in the answer ends it with pii_blocked.
    let got = stream(
        &server,
        &project,
        &reversed("Your card is 4111 1111 1111 1111, ok?"),
        None,
    )
    .await;
    assert_eq!(got.error.expect("an error event")["code"], "pii_blocked");
    assert!(!got.content.contains("4111"));

    // The same rules for a whole JSON answer.
    let r = server
        .chat(
            &project.slug,
            &project.token,
            json!({"messages": [{"role": "user", "content": reversed(answer)}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (451, "content_blocked")
    );
    let r = server
        .chat(
            &project.slug,
            &project.token,
            json!({"messages": [{"role": "user", "content": reversed("Mail ops@example.org now.")}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "Mail ***@*******.*** now."
    );

    // The usage records keep the answer's findings apart from the request's.
    let hit = |hits: &[Value], guard: &str, name: &str, action: Option<&str>, requests: i64| {
        hits.iter().any(|h| {
            h["direction"] == "answer"
                && h["guard"] == guard
                && h["name"] == name
                && h["action"] == json!(action)
                && h["requests"] == requests
        })
    };
    let all = |hits: &[Value]| {
        hit(hits, "sentinel", "blocklist:0", Some("blocked"), 3)
            && hit(
                hits,
                "sentinel",
                "credential:openai_api_key",
                Some("blocked"),
                1,
            )
            && hit(hits, "pii", "EMAIL_ADDRESS", Some("rewritten"), 2)
            && hit(hits, "pii", "IP_ADDRESS", Some("rewritten"), 1)
            && hit(hits, "pii", "CREDIT_CARD", Some("blocked"), 1)
    };
    let mut hits = Vec::new();
    for _ in 0..50 {
        hits = usage_hits(&server, &account, &project).await;
        if all(&hits) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(all(&hits), "{hits:?}");
    assert!(
        hits.iter().all(|h| h["direction"] == "answer"),
        "the requests held nothing: {hits:?}"
    );
    let refusals = server
        .db
        .query_strings("SELECT ending FROM usage_records WHERE ending = 'answer_blocked'")
        .await;
    assert_eq!(refusals.len(), 5, "{refusals:?}");

    // Shadow: the answer goes out whole, and the finding is recorded.
    server
        .deploy_settings(
            &account,
            &project.id,
            json!({"sentinel_mode": "shadow", "pii_mode": "disabled"}),
        )
        .await;
    let got = stream(&server, &project, &reversed(answer), None).await;
    assert!(got.error.is_none() && got.done);
    assert_eq!(got.content, answer);
    let mut found = false;
    for _ in 0..50 {
        found = usage_hits(&server, &account, &project)
            .await
            .iter()
            .any(|h| {
                h["direction"] == "answer" && h["mode"] == "shadow" && h["name"] == "blocklist:0"
            });
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the shadow finding is recorded");
    let records = server
        .db
        .query_strings("SELECT CAST(guard AS TEXT) FROM usage_records")
        .await;
    assert!(
        records
            .iter()
            .all(|g| !g.contains("Titan") && !g.contains("bob.smith") && !g.contains("sk-proj")),
        "{records:?}"
    );
    server.stop().await;
}

async fn masked_values_come_back_in_the_answer() {
    let Fixture {
        fakes,
        server,
        account,
        project,
    } = fixture("restore@example.com", Value::Null).await;
    // Validated like every setting.
    let r = server
        .call(
            "PUT",
            &format!("/auth/v1/projects/{}/settings", project.id),
            Some(&account.session),
            Some(json!({"pii_restore_output": "yes"})),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.param().as_deref(), Some("pii_restore_output"));
    server
        .deploy_settings(
            &account,
            &project.id,
            json!({
                "pii_mode": "enforce",
                "pii_restore_output": true,
                "pii_entities": {"EMAIL_ADDRESS": "MASK", "PHONE_NUMBER": "MASK"},
                "rpm_limit": 10000,
            }),
        )
        .await;

    let said = "spell:Write to ada@example.com, copy ada@example.com and bob@example.net.";
    let got = stream(&server, &project, said, Some("t1")).await;
    assert!(got.error.is_none() && got.done, "{:?}", got.error);
    assert_eq!(
        got.content,
        "Write to ada@example.com, copy ada@example.com and bob@example.net."
    );
    // The provider saw placeholders only (the same value, the same placeholder).
    let sent = fakes.requests().await;
    let text = sent.last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        text,
        "spell:Write to <EMAIL_ADDRESS_1>, copy <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>."
    );
    // Memory keeps the placeholders, for the user's turn and for the answer.
    let mut stored = Value::Null;
    for _ in 0..50 {
        stored = server
            .call(
                "GET",
                &format!("/p/{}/v1/threads/t1/messages", project.slug),
                Some(&project.token),
                None,
            )
            .await
            .body;
        if stored.as_array().is_some_and(|m| m.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = stored.to_string();
    assert!(stored.contains("<EMAIL_ADDRESS_2>"), "{stored}");
    assert!(
        !stored.contains("ada@") && !stored.contains("bob@"),
        "{stored}"
    );
    // The thread's next turn numbers after the placeholders it already holds.
    let got = stream(
        &server,
        &project,
        "spell:and carol@example.com?",
        Some("t1"),
    )
    .await;
    assert_eq!(got.content, "and carol@example.com?");
    let sent = fakes.requests().await;
    let text = sent.last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(text, "spell:and <EMAIL_ADDRESS_3>?");

    // A whole JSON answer too.
    let r = server
        .chat(
            &project.slug,
            &project.token,
            json!({"messages": [{"role": "user", "content": "spell:Call +44 20 7946 0958 please"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "Call +44 20 7946 0958 please"
    );
    // Usage and the outcome log never hold the values.
    let records = server
        .db
        .query_strings("SELECT CAST(guard AS TEXT) FROM usage_records")
        .await;
    let log = server.log();
    for value in ["ada@example.com", "bob@example.net", "7946 0958"] {
        assert!(!log.contains(value), "{value} in the log");
        assert!(records.iter().all(|r| !r.contains(value)), "{records:?}");
    }
    // Off (the default), MASK stars the value and nothing comes back.
    server
        .deploy_settings(&account, &project.id, json!({"pii_restore_output": false}))
        .await;
    let got = stream(&server, &project, "spell:to ada@example.com", None).await;
    assert_eq!(got.content, "to ***@*******.***");
    server.stop().await;
}

/// The `openai` Python and Node SDKs stream a guarded answer and get the error event as
/// an exception, and a restored answer whole.
async fn through_the_openai_sdks() {
    let python = behest_testkit::python().expect("the Python SDKs are a prerequisite");
    let Fixture {
        fakes: _fakes,
        server,
        project,
        ..
    } = fixture(
        "answer-sdk@example.com",
        json!({
            "sentinel_mode": "enforce",
            "sentinel_blocklist": ["Project Titan"],
            "pii_mode": "enforce",
            "pii_restore_output": true,
            "pii_entities": {"EMAIL_ADDRESS": "MASK"},
        }),
    )
    .await;
    let output = tokio::process::Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/sdk_answer",
        ])
        .current_dir(behest_testkit::repo_root())
        .env(
            "BEHEST_TEST_BASE_URL",
            server.url(&format!("/p/{}/v1", project.slug)),
        )
        .env("BEHEST_TEST_TOKEN", &project.token)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "pytest failed:\n{stdout}");
    assert!(
        stdout.contains("2 passed"),
        "pytest ran something else:\n{stdout}"
    );

    // And the `openai` Node SDK (the browser tests' packages).
    let output = tokio::process::Command::new("node")
        .arg("tests/browser/answer_guard.mjs")
        .current_dir(behest_testkit::repo_root())
        .env(
            "BEHEST_TEST_BASE_URL",
            server.url(&format!("/p/{}/v1", project.slug)),
        )
        .env("BEHEST_TEST_TOKEN", &project.token)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node failed:\n{stdout}{stderr}");
    assert!(stdout.contains("2 checks passed"), "{stdout}");
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "the_answer_is_guarded_as_it_streams",
            &[],
            the_answer_is_guarded_as_it_streams,
        )
        .add(
            "masked_values_come_back_in_the_answer",
            &[],
            masked_values_come_back_in_the_answer,
        )
        .add(
            "through_the_openai_sdks",
            &[Need::PythonSdks, Need::Browser],
            through_the_openai_sdks,
        )
        .run()
}
