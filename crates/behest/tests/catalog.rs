//! The admin's provider catalog through the real binary: the built-in providers listed
//! with their model counts, a provider added (validation, uniqueness), and a sync that
//! reads each provider's models endpoint (the fakes, in each documented shape) with the
//! platform's key, and counts what the registry did not know. Admin secret only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_fakes::FakeProviders;
use behest_testkit::Tests;
use common::{Backend, Server};
use serde_json::{json, Value};

fn config(fakes: &FakeProviders) -> String {
    let root = format!("http://{}", fakes.addr());
    format!(
        "[providers.openai]\napi_key = \"sk-platform-openai-000000000000\"\nbase_url = \"{root}/v1\"\n\
         [providers.google]\napi_key = \"AIzaSyPlatformKey0000000000000000000000\"\nbase_url = \"{root}\"\n\
         [providers.cohere]\napi_key = \"platformcoherekey000000000000000000000000\"\nbase_url = \"{root}\"\n\
         [providers.anthropic]\nbase_url = \"{root}\"\n"
    )
}

/// A self-hosted, keyless OpenAI-compatible server's `GET /v1/models` (vLLM's shape).
async fn keyless_models_server() -> String {
    let app = axum::Router::new().route(
        "/v1/models",
        axum::routing::get(|| async {
            axum::Json(json!({
                "object": "list",
                "data": [
                    {"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "created": 1, "owned_by": "vllm", "max_model_len": 131072},
                    {"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "created": 1, "owned_by": "vllm", "max_model_len": 32768}
                ]
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1/models")
}

fn entry<'a>(list: &'a common::Response, slug: &str) -> &'a Value {
    list.body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} not listed: {list:?}"))
}

async fn the_catalog_lists_adds_and_syncs(backend: Backend) {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(backend, &[], &config(&fakes)).await;
    let path = "/auth/v1/admin/providers";

    // Without the secret, nothing (401); a dashboard session is no admin.
    let r = server.call("GET", path, None, None).await;
    assert_eq!(r.status, 401);
    let account = server.signup("catalog@example.com").await;
    let r = server.call("GET", path, Some(&account.session), None).await;
    assert_eq!(r.status, 401);

    let r = server.admin("GET", path, None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let slugs: Vec<&str> = r.body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    for slug in [
        "openai",
        "anthropic",
        "google",
        "openrouter",
        "mistral",
        "cohere",
    ] {
        assert!(slugs.contains(&slug), "{slugs:?}");
    }
    let openai = entry(&r, "openai");
    assert_eq!(openai["display_name"], "OpenAI");
    assert_eq!(openai["is_active"], true, "the platform has a key");
    assert_eq!(
        entry(&r, "anthropic")["is_active"],
        false,
        "a base URL is not a key"
    );
    let openai_before = openai["model_count"].as_u64().unwrap();
    assert!(openai_before > 0, "the registry's models count");
    let cohere_before = entry(&r, "cohere")["model_count"].as_u64().unwrap();

    // Sync: each provider's own models endpoint, with the platform key.
    fakes.clear().await;
    let r = server
        .admin("POST", &format!("{path}/google/sync-models"), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["discovered"], 1, "{r:?}");
    let seen = fakes.requests().await;
    assert_eq!(seen[0].path, "/v1beta/models");
    assert_eq!(
        seen[0].headers.get("x-goog-api-key").map(String::as_str),
        Some("AIzaSyPlatformKey0000000000000000000000")
    );
    let r = server
        .admin("POST", &format!("{path}/cohere/sync-models"), None)
        .await;
    assert_eq!(
        (r.status, r.body["discovered"].clone()),
        (200, json!(2)),
        "{r:?}"
    );
    let r = server
        .admin("POST", &format!("{path}/openai/sync-models"), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = server.admin("GET", path, None).await;
    let cohere_after = entry(&r, "cohere")["model_count"].as_u64().unwrap();
    assert!(
        cohere_after > cohere_before,
        "a model the registry did not know is counted: {cohere_before} → {cohere_after}"
    );
    // Syncing again changes no count (upsert, not append).
    server
        .admin("POST", &format!("{path}/cohere/sync-models"), None)
        .await;
    let again = server.admin("GET", path, None).await;
    assert_eq!(
        entry(&again, "cohere")["model_count"].as_u64().unwrap(),
        cohere_after
    );

    // No platform key: nothing to sync with.
    let r = server
        .admin("POST", &format!("{path}/anthropic/sync-models"), None)
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "PROVIDER_NOT_CONFIGURED"),
        "{r:?}"
    );
    let r = server
        .admin("POST", &format!("{path}/nope/sync-models"), None)
        .await;
    assert_eq!(r.status, 404);

    // Adding a provider: validated, unique, synced from its endpoint without credentials.
    let r = server
        .admin("POST", path, Some(json!({"name": "", "slug": "Bad Slug"})))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let params = r.param().unwrap();
    for field in ["name", "slug", "displayName"] {
        assert!(params.contains(field), "{params}");
    }
    let body = json!({
        "name": "Local vLLM",
        "slug": "local-vllm",
        "displayName": "Local vLLM",
        "modelsEndpointUrl": keyless_models_server().await,
        "modelsEndpointAuthType": "none",
        "supportedFeatures": {"streaming": true},
    });
    let r = server.admin("POST", path, Some(body.clone())).await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.str("id");
    assert_eq!(
        (r.body["model_count"].clone(), r.body["is_active"].clone()),
        (json!(0), json!(true))
    );
    let r = server.admin("POST", path, Some(body)).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "conflict"));
    let r = server
        .admin("POST", &format!("{path}/{id}/sync-models"), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["model_count"], 2,
        "the fake's two OpenAI models: {r:?}"
    );
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends(
            "the_catalog_lists_adds_and_syncs",
            &[],
            the_catalog_lists_adds_and_syncs,
        )
        .run()
}
