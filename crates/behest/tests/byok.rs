//! A tenant's own provider keys through the real binary, against fake provider servers
//! on loopback (the operator's `[providers.<type>] base_url`): every provider's key
//! saved after the provider's own key check, every refusal code of the seed, the
//! 500 ms floor, validation and its limit, a tenant's SSRF attempts, and the key nowhere
//! in the database, the logs or a response but its last four characters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_fakes::FakeProviders;
use behest_testkit::Tests;
use common::{Account, Backend, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A key of each provider's documented shape, which the fakes accept.
const KEYS: [(&str, &str); 6] = [
    ("openai", "sk-proj-tenantOwnKeyAAAAAAAAAAAAAAAA1111"),
    ("anthropic", "sk-ant-api03-tenantOwnKeyBBBBBBBBBBBB2222"),
    ("google", "AIzaSyTenantOwnKeyCCCCCCCCCCCCCCCCC3333"),
    ("openrouter", "sk-or-v1-tenantownkeydddddddddddddddd4444"),
    ("mistral", "tenantOwnKeyEEEEEEEEEEEEEEEE5555"),
    ("cohere", "tenantOwnKeyFFFFFFFFFFFFFFFFFFFFFFFF6666"),
];

/// The path each provider's key check must arrive at on the fake.
const CHECK_PATHS: [(&str, &str, &str); 6] = [
    ("openai", "GET", "/v1/models"),
    ("anthropic", "GET", "/v1/models"),
    ("google", "GET", "/v1beta/models"),
    ("openrouter", "GET", "/v1/key"),
    ("mistral", "GET", "/v1/models"),
    ("cohere", "POST", "/v1/check-api-key"),
];

/// Every provider lives on the fakes; only OpenAI has a platform key (so a project can
/// run an OpenAI model and count as using that provider).
fn config(fakes: &FakeProviders) -> String {
    let root = format!("http://{}", fakes.addr());
    format!(
        "[providers.openai]\napi_key = \"sk-platform-key-000000000000\"\nbase_url = \"{root}/v1\"\n\
         [providers.openrouter]\nbase_url = \"{root}/v1\"\n\
         [providers.mistral]\nbase_url = \"{root}/v1\"\n\
         [providers.anthropic]\nbase_url = \"{root}\"\n\
         [providers.google]\nbase_url = \"{root}\"\n\
         [providers.cohere]\nbase_url = \"{root}\"\n"
    )
}

async fn put_key(
    server: &Server,
    account: &Account,
    provider: &str,
    body: Value,
) -> (common::Response, Duration) {
    let started = Instant::now();
    let r = server
        .call(
            "PUT",
            &format!(
                "/auth/v1/tenants/{}/providers/{provider}",
                account.tenant_id
            ),
            Some(&account.session),
            Some(body),
        )
        .await;
    (r, started.elapsed())
}

async fn make_pro(server: &Server, account: &Account) {
    let path = format!("/auth/v1/admin/tenants/{}/plan", account.tenant_id);
    let r = server
        .admin("PUT", &path, Some(json!({"plan": "pro"})))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

async fn provider_keys_are_checked_sealed_and_never_shown(backend: Backend) {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(backend, &[], &config(&fakes)).await;
    let account = server.signup("byok@example.com").await;
    let (openai, openai_key) = KEYS[0];

    // The free plan may not bring keys; the refusal takes the same 500 ms as a save.
    let (r, took) = put_key(&server, &account, openai, json!({"api_key": openai_key})).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "BYOAK_REQUIRES_PRO"),
        "{r:?}"
    );
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(
        fakes.requests().await.is_empty(),
        "a refused save called the provider"
    );
    make_pro(&server, &account).await;

    // Each provider's key is checked with the provider's own request and auth, then saved.
    for ((provider, key), (_, method, path)) in KEYS.iter().zip(CHECK_PATHS) {
        fakes.clear().await;
        let (r, took) = put_key(&server, &account, provider, json!({"api_key": key})).await;
        assert_eq!(r.status, 200, "{provider}: {r:?}");
        assert!(took >= Duration::from_millis(500), "{provider}: {took:?}");
        assert_eq!(r.body["configured"], true);
        assert_eq!(r.body["provider_type"], *provider);
        assert_eq!(r.str("key_last4"), key[key.len() - 4..]);
        assert!(r.body["key_set_at"].as_str().unwrap().contains('T'));
        assert!(
            !r.text.contains(&key[..key.len() - 4]),
            "{provider}: the key came back"
        );
        let seen = fakes.requests().await;
        assert_eq!(seen.len(), 1, "{provider}: {seen:?}");
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            (method, path),
            "{provider}"
        );
        assert!(
            seen[0].headers.values().any(|v| v.contains(key)),
            "{provider}: the check did not carry the key: {:?}",
            seen[0].headers.keys()
        );
    }

    // The list: last four only, and which projects use each provider.
    let project = server.create_project(&account, "Uses OpenAI").await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    server
        .deploy_model(&account, &project_id, "gpt-5-mini")
        .await;
    let list_path = format!("/auth/v1/tenants/{}/providers", account.tenant_id);
    let r = server
        .call("GET", &list_path, Some(&account.session), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let listed = r.body["providers"].as_array().unwrap();
    assert_eq!(listed.len(), 6, "{r:?}");
    for entry in listed {
        let provider = entry["provider_type"].as_str().unwrap();
        let key = KEYS.iter().find(|(p, _)| *p == provider).unwrap().1;
        assert_eq!(entry["key_last4"], key[key.len() - 4..]);
        let using = if provider == "openai" { 1 } else { 0 };
        assert_eq!(entry["projects_using_count"], using, "{provider}");
    }
    for (_, key) in KEYS {
        assert!(!r.text.contains(&key[..key.len() - 4]));
    }
    let r = server
        .call(
            "GET",
            &format!("{list_path}?fields=types"),
            Some(&account.session),
            None,
        )
        .await;
    let mut types: Vec<&str> = r.body["provider_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "anthropic",
            "cohere",
            "google",
            "mistral",
            "openai",
            "openrouter"
        ]
    );

    // Refusals, each with its code and the field it is about.
    let revoked = "sk-proj-revokedKeyAAAAAAAAAAAAAAAAAAA9999";
    let cases = [
        (
            "azure",
            json!({"api_key": openai_key}),
            400,
            "UNSUPPORTED_PROVIDER",
        ),
        (
            "openai",
            json!({"api_key": "AIzaSyNotAnOpenAiKey"}),
            400,
            "INVALID_KEY_FORMAT",
        ),
        (
            "anthropic",
            json!({"api_key": openai_key}),
            400,
            "INVALID_KEY_FORMAT",
        ),
        ("openai", json!({}), 400, "validation_error"),
        (
            "openai",
            json!({"api_key": revoked}),
            422,
            "KEY_VALIDATION_FAILED",
        ),
        (
            "openai",
            json!({"api_key": "sk-proj-ratelimitedAAAAAAAAAAAAAAAAAAAAA"}),
            422,
            "KEY_VALIDATION_FAILED",
        ),
        (
            "openai",
            json!({"api_key": openai_key, "base_url_override": "https://169.254.169.254/v1"}),
            400,
            "INVALID_BASE_URL",
        ),
        (
            "openai",
            json!({"api_key": openai_key, "base_url_override": format!("http://{}/v1", fakes.addr())}),
            400,
            "INVALID_BASE_URL",
        ),
        (
            "openai",
            json!({"api_key": openai_key, "base_url_override": "https://localhost:9/v1"}),
            400,
            "INVALID_BASE_URL",
        ),
    ];
    for (provider, body, status, code) in cases {
        let (r, took) = put_key(&server, &account, provider, body.clone()).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (status, code),
            "{provider} {body}: {r:?}"
        );
        assert!(
            took >= Duration::from_millis(500),
            "{provider} {body}: {took:?}"
        );
        assert!(!r.text.contains("revokedKey"), "{r:?}");
    }
    let (r, _) = put_key(
        &server,
        &account,
        "openai",
        json!({"api_key": openai_key, "base_url_override": "https://169.254.169.254/v1"}),
    )
    .await;
    assert_eq!(r.param().as_deref(), Some("base_url_override"));
    let elsewhere = format!("/auth/v1/tenants/{}/providers/openai", uuid::Uuid::new_v4());
    let r = server
        .call(
            "PUT",
            &elsewhere,
            Some(&account.session),
            Some(json!({"api_key": openai_key})),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "TENANT_NOT_FOUND")
    );
    // Another tenant's user sees this tenant as not existing.
    let stranger = server.signup("stranger@example.com").await;
    let r = server
        .call("GET", &list_path, Some(&stranger.session), None)
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "TENANT_NOT_FOUND")
    );

    // Validate: the provider's verdict, no storing, 5 per minute.
    let validate = |provider: &'static str, key: &'static str| {
        let server = &server;
        let account = &account;
        async move {
            server
                .call(
                    "POST",
                    &format!(
                        "/auth/v1/tenants/{}/providers/{provider}/validate",
                        account.tenant_id
                    ),
                    Some(&account.session),
                    Some(json!({"api_key": key})),
                )
                .await
        }
    };
    let r = validate("anthropic", "sk-ant-api03-anotherValidKeyXXXXXXXXX").await;
    assert_eq!(r.body, json!({"valid": true}), "{r:?}");
    let r = validate("openai", revoked).await;
    assert_eq!(r.body, json!({"valid": false, "reason": "invalid_key"}));
    let r = validate("google", "AIzaSyratelimitedXXXXXXXXXXXXXXXXXXXXXX").await;
    assert_eq!(
        r.body,
        json!({"valid": false, "reason": "rate_limited"}),
        "{r:?}"
    );
    let r = validate("cohere", "revokedKeyGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG").await;
    assert_eq!(
        r.body,
        json!({"valid": false, "reason": "invalid_key"}),
        "{r:?}"
    );
    let r = validate("mistral", "short").await;
    assert_eq!(r.body, json!({"valid": false, "reason": "invalid_key"}));
    let r = validate("openai", openai_key).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (429, "rate_limited"),
        "{r:?}"
    );
    let r = server
        .call("GET", &list_path, Some(&account.session), None)
        .await;
    assert_eq!(
        r.body["providers"].as_array().unwrap().len(),
        6,
        "validate stored a key"
    );

    // The keys are nowhere at rest or in the logs.
    let dump = match backend {
        Backend::Sqlite => {
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(server.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() && path.to_string_lossy().contains("behest.db") {
                    bytes.extend(std::fs::read(&path).unwrap());
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Backend::Postgres => server
            .db
            .query_strings(
                "SELECT concat_ws(' ', provider_type, sealed_key, key_last4) FROM provider_keys",
            )
            .await
            .join("\n"),
    };
    assert!(
        dump.contains("v1."),
        "the sealed values are not where they were looked for"
    );
    for (_, key) in KEYS {
        assert!(
            !dump.contains(key),
            "a key lies in the database in the clear"
        );
    }
    let log = server.log();
    for key in KEYS.iter().map(|(_, k)| *k).chain([revoked]) {
        assert!(!log.contains(key), "a key is in the log");
    }

    // Delete: gone at once, a second time is 404.
    let one = format!("{list_path}/mistral");
    let r = server
        .call("DELETE", &one, Some(&account.session), None)
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    let r = server
        .call("DELETE", &one, Some(&account.session), None)
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    let r = server
        .call("GET", &list_path, Some(&account.session), None)
        .await;
    assert_eq!(r.body["providers"].as_array().unwrap().len(), 5);

    // The data dir and the secrets in it are private (the umask notwithstanding).
    if backend == Backend::Sqlite {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: std::path::PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let data = server.dir.path().join("data");
        assert_eq!(mode(data.clone()), 0o700);
        assert_eq!(mode(data.join("master.key")), 0o600);
        assert_eq!(mode(server.dir.path().join("behest.db")), 0o600);
    }
    server.stop().await;
}

/// The `Authorization` or `x-api-key` the fake saw on the last chat call.
async fn last_upstream_key(fakes: &FakeProviders, path: &str) -> String {
    let seen = fakes.requests().await;
    let call = seen
        .iter()
        .rev()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no call to {path}: {seen:?}"));
    call.headers
        .get("x-api-key")
        .or_else(|| call.headers.get("authorization"))
        .cloned()
        .unwrap_or_default()
}

async fn a_tenants_own_key_serves_its_traffic(backend: Backend) {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(backend, &[], &config(&fakes)).await;
    let account = server.signup("own-key@example.com").await;
    make_pro(&server, &account).await;
    let hello = json!({"messages": [{"role": "user", "content": "hi"}]});

    // The models the tenant can choose: the platform's (OpenAI, echo), then Anthropic's
    // too once it brings a key.
    let models_path = format!("/auth/v1/tenants/{}/providers/models", account.tenant_id);
    let providers_of = |r: &common::Response| {
        let mut seen: Vec<String> = r.body["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["providerSlug"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        seen.dedup();
        seen
    };
    let r = server
        .call("GET", &models_path, Some(&account.session), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(providers_of(&r), ["echo", "openai"]);
    let gpt = r.body["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["modelId"] == "gpt-4o-mini")
        .unwrap()
        .clone();
    assert_eq!(gpt["providerDisplayName"], "OpenAI");
    assert!(gpt["contextWindow"].as_u64().unwrap() > 0);
    assert_eq!(gpt["supportsStreaming"], true);
    assert_eq!(gpt["capabilities"]["tools"], gpt["supportsToolUse"]);

    // Anthropic has no platform key: its models need the tenant's own.
    let project = server.project_with_token(&account, "Claude").await;
    let model = json!({"provider_model": "claude-haiku-4-5"});
    let r = server
        .settings(&account, &project.id, "PUT", "/model", Some(model.clone()))
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "PROVIDER_NOT_CONFIGURED"),
        "{r:?}"
    );
    let (anthropic, anthropic_key) = KEYS[1];
    let (r, _) = put_key(
        &server,
        &account,
        anthropic,
        json!({"api_key": anthropic_key}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = server
        .settings(&account, &project.id, "PUT", "/model", Some(model))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    server
        .deploy_settings(&account, &project.id, json!({}))
        .await;
    let r = server
        .chat(&project.slug, &project.token, hello.clone())
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        last_upstream_key(&fakes, "/v1/messages").await,
        anthropic_key
    );

    // OpenAI: the platform's key until the tenant brings one, then the tenant's at
    // once, and the platform's again once it is removed.
    let openai_project = server.project_with_token(&account, "GPT").await;
    server
        .deploy_model(&account, &openai_project.id, "gpt-4o-mini")
        .await;
    let chat = || server.chat(&openai_project.slug, &openai_project.token, hello.clone());
    assert_eq!(chat().await.status, 200);
    let platform = "Bearer sk-platform-key-000000000000";
    assert_eq!(
        last_upstream_key(&fakes, "/v1/chat/completions").await,
        platform
    );
    let (openai, openai_key) = KEYS[0];
    let (r, _) = put_key(&server, &account, openai, json!({"api_key": openai_key})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(chat().await.status, 200);
    assert_eq!(
        last_upstream_key(&fakes, "/v1/chat/completions").await,
        format!("Bearer {openai_key}"),
        "the tenant's key is not used at once"
    );
    // Another tenant's traffic never carries this tenant's key.
    let other = server.signup("other-tenant@example.com").await;
    let other_project = server.project_with_token(&other, "Theirs").await;
    server
        .deploy_model(&other, &other_project.id, "gpt-4o-mini")
        .await;
    let r = server
        .chat(&other_project.slug, &other_project.token, hello.clone())
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        last_upstream_key(&fakes, "/v1/chat/completions").await,
        platform
    );
    // Removing the key takes effect on the next request.
    let r = server
        .call(
            "DELETE",
            &format!("/auth/v1/tenants/{}/providers/openai", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(chat().await.status, 200);
    assert_eq!(
        last_upstream_key(&fakes, "/v1/chat/completions").await,
        platform
    );
    // And without the Anthropic key the Claude project has no provider left.
    let r = server
        .call(
            "DELETE",
            &format!("/auth/v1/tenants/{}/providers/anthropic", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = server.chat(&project.slug, &project.token, hello).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (502, "upstream_error"),
        "{r:?}"
    );
    // The live image carries the keys sealed only.
    assert!(!server.log().contains(anthropic_key));
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends(
            "a_tenants_own_key_serves_its_traffic",
            &[],
            a_tenants_own_key_serves_its_traffic,
        )
        .on_both_backends(
            "provider_keys_are_checked_sealed_and_never_shown",
            &[],
            provider_keys_are_checked_sealed_and_never_shown,
        )
        .run()
}
