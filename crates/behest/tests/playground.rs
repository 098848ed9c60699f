//! The playground through the real binary: the draft's model, system prompt and guards
//! answer (streamed) while live traffic keeps the deployed settings; every refusal of
//! the seed; usage marked `playground`; and the 51st call of the hour refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_fakes::FakeProviders;
use behest_testkit::Tests;
use common::{Backend, Server};
use serde_json::{json, Value};

fn config(fakes: &FakeProviders) -> String {
    format!(
        "[providers.openai]\napi_key = \"sk-platform-key-000000000000\"\nbase_url = \"{}\"\n",
        fakes.openai_base_url()
    )
}

fn ask(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

/// The answer's text, joined from the SSE deltas.
fn streamed_text(sse: &str) -> String {
    sse.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// The system message of the last chat call the fake received.
async fn last_system(fakes: &FakeProviders) -> Option<String> {
    let seen = fakes.requests().await;
    let call = seen
        .iter()
        .rev()
        .find(|r| r.path == "/v1/chat/completions")?;
    call.body["messages"]
        .as_array()?
        .iter()
        .find(|m| m["role"] == "system")
        .and_then(|m| m["content"].as_str().map(str::to_owned))
}

async fn the_playground_runs_the_draft(backend: Backend) {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(backend, &[], &config(&fakes)).await;
    let account = server.signup("playground@example.com").await;
    let project = server.project_with_token(&account, "Try").await;
    let path = format!("/auth/v1/projects/{}/playground", project.id);
    let play = |body: Value| server.call("POST", &path, Some(&account.session), Some(body));

    // No model chosen yet (the platform default is not a draft): 404.
    let r = play(ask("hi")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "not_found"),
        "{r:?}"
    );

    // A draft model and draft settings, not deployed.
    server
        .choose_model(&account, &project.id, "gpt-4o-mini")
        .await;
    let draft = json!({
        "system_prompt": "You are the draft.",
        "sentinel_mode": "enforce",
        "sentinel_blocklist": ["forbidden"],
    });
    let r = server
        .settings(&account, &project.id, "PUT", "", Some(draft))
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    let r = play(ask("hello draft")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    assert_eq!(
        streamed_text(&r.text),
        "Hello from openai: hello draft",
        "{}",
        r.text
    );
    assert!(r.text.trim_end().ends_with("data: [DONE]"), "{}", r.text);
    assert_eq!(
        last_system(&fakes).await.as_deref(),
        Some("You are the draft.")
    );
    let seen = fakes.requests().await;
    assert_eq!(seen.last().unwrap().body["model"], "gpt-4o-mini");

    assert!(
        !r.headers.contains_key("x-behest-guard"),
        "nothing found, nothing said"
    );

    // The draft's guards apply too, and the answer says what they found (the rule,
    // never the text) for the page to show.
    let r = play(ask("something forbidden here")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (451, "content_blocked"),
        "{r:?}"
    );
    let guard: Value = serde_json::from_str(r.headers["x-behest-guard"].to_str().unwrap()).unwrap();
    assert_eq!(guard["sentinel"], json!(["blocklist:0"]), "{guard}");
    assert_eq!(guard["action"], "blocked", "{guard}");
    assert!(!guard.to_string().contains("forbidden"), "{guard}");

    // Live traffic still runs the deployed settings: no draft system prompt.
    fakes.clear().await;
    let r = server
        .chat(&project.slug, &project.token, ask("live"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(last_system(&fakes).await, None);

    // Refusals.
    let r = play(json!({"messages": []})).await;
    assert_eq!(
        (r.status, r.param().as_deref()),
        (400, Some("messages")),
        "{r:?}"
    );
    let r = play(json!({})).await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = server.call("POST", &path, None, Some(ask("hi"))).await;
    assert_eq!(r.status, 401);
    let stranger = server.signup("stranger-playground@example.com").await;
    let r = server
        .call("POST", &path, Some(&stranger.session), Some(ask("hi")))
        .await;
    assert_eq!(
        r.status, 404,
        "another tenant's project does not exist for them"
    );
    // A draft model whose provider has no key: 422.
    let r = server
        .settings(
            &account,
            &project.id,
            "PUT",
            "/model",
            Some(json!({"provider_model": "claude-haiku-4-5"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "PROVIDER_NOT_CONFIGURED"),
        "the draft itself is refused"
    );

    // Usage records the playground's calls as such.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let origins = server
        .db
        .query_strings("SELECT origin FROM usage_records ORDER BY origin")
        .await;
    assert!(
        origins.iter().filter(|o| *o == "playground").count() >= 2,
        "{origins:?}"
    );
    assert!(origins.iter().any(|o| o == "live"), "{origins:?}");

    // 50 calls an hour per user per project: two were counted above.
    let mut answered = 2;
    loop {
        let r = play(ask("again")).await;
        if r.status == 429 {
            assert_eq!(r.error_code(), "rate_limited");
            break;
        }
        assert_eq!(r.status, 200, "{r:?}");
        answered += 1;
        assert!(answered <= 50, "the limit did not hold");
    }
    assert_eq!(answered, 50);
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends(
            "the_playground_runs_the_draft",
            &[],
            the_playground_runs_the_draft,
        )
        .run()
}
