//! Settings as a tenant uses them: a draft that live traffic does not see, deploy,
//! discard, model selection, memory config, every range boundary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Account, Backend, Response, Server};
use serde_json::{json, Value};

async fn preflight(server: &Server, slug: &str, origin: &str) -> Option<String> {
    let response = server
        .http
        .request(
            reqwest::Method::OPTIONS,
            server.url(&format!("/p/{slug}/v1/chat/completions")),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn draft_deploy_discard(backend: Backend) {
    let Some(server) = Server::start(backend).await else {
        return;
    };
    let account = server.signup("settings@example.com").await;
    let fixture = server.project_with_token(&account, "Settings").await;
    let id = &fixture.id;

    let defaults = server.settings(&account, id, "GET", "", None).await;
    assert_eq!(defaults.status, 200);
    for (field, value) in [
        ("memory_window", json!(50)),
        ("rpm_limit", json!(60)),
        ("tokens_per_day", json!(1_000_000)),
        ("pii_mode", json!("disabled")),
        ("sentinel_mode", json!("disabled")),
        ("cors_origins", json!([])),
        ("cors_allow_credentials", json!(false)),
        ("memory_enabled", json!(true)),
        ("provider_model", Value::Null),
        ("draft_provider_model", Value::Null),
        ("deployed_at", Value::Null),
        ("project_id", json!(id)),
    ] {
        assert_eq!(defaults.body[field], value, "{field}");
    }

    let r = server
        .settings(&account, id, "POST", "/discard-draft", None)
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "NO_DEPLOYED_SNAPSHOT")
    );

    // A draft: saved, shown, not live.
    let origin = "http://localhost:3000";
    let r = server
        .settings(
            &account,
            id,
            "PUT",
            "",
            Some(json!({"cors_origins": [origin], "system_prompt": "Be brief."})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["cors_origins"], json!([origin]));
    assert!(r.body["draft_saved_at"].is_string());
    assert_eq!(
        preflight(&server, &fixture.slug, origin).await,
        None,
        "a draft is not live"
    );

    // Deploy: live at once.
    let r = server.settings(&account, id, "POST", "/deploy", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["deployed"], true);
    assert_eq!(r.body["project_id"], id.as_str());
    assert!(r.body["deployed_at"].is_string());
    assert_eq!(
        preflight(&server, &fixture.slug, origin).await.as_deref(),
        Some(origin)
    );
    let memory = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{id}/memory"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(memory.body["system_prompt"], "Be brief.");
    assert_eq!(memory.body["memory_window"], 50);

    // A partial PUT changes only what it sends; a new draft stays off live traffic.
    let other = "https://app.example.com";
    let r = server
        .settings(
            &account,
            id,
            "PUT",
            "",
            Some(json!({"cors_origins": [other]})),
        )
        .await;
    assert_eq!(
        r.body["system_prompt"], "Be brief.",
        "untouched fields keep their value"
    );
    let r = server
        .settings(&account, id, "PUT", "", Some(json!({"rpm_limit": 120})))
        .await;
    assert_eq!(
        (r.body["rpm_limit"].clone(), r.body["cors_origins"].clone()),
        (json!(120), json!([other]))
    );
    assert_eq!(
        preflight(&server, &fixture.slug, origin).await.as_deref(),
        Some(origin)
    );
    assert_eq!(preflight(&server, &fixture.slug, other).await, None);

    // Discard: back to what is deployed.
    let r = server
        .settings(&account, id, "POST", "/discard-draft", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["cors_origins"].clone(), r.body["rpm_limit"].clone()),
        (json!([origin]), json!(60))
    );
    server.stop().await;
}
on_both_backends!(draft_deploy_discard);

async fn every_range_boundary(backend: Backend) {
    let Some(server) = Server::start(backend).await else {
        return;
    };
    let account = server.signup("ranges@example.com").await;
    let id = server.create_project(&account, "Ranges").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = [
        json!({"memory_window": 0}),
        json!({"memory_window": 500}),
        json!({"rpm_limit": 1}),
        json!({"rpm_limit": 10000}),
        json!({"tokens_per_day": 1000}),
        json!({"retention_days": 1}),
        json!({"retention_days": 365}),
        json!({"retention_days": null}),
        json!({"system_prompt": "x".repeat(32000)}),
        json!({"sentinel_blocklist": (0..200).map(|i| format!("term{i}")).collect::<Vec<_>>()}),
        json!({"cors_origins": ["*"], "cors_allow_credentials": false}),
        json!({"cors_origins": ["http://localhost:3000", "https://a.example.com:8443"], "cors_allow_credentials": true}),
        json!({"pii_mode": "enforce", "sentinel_mode": "shadow", "pii_entities": {"EMAIL_ADDRESS": "MASK", "CREDIT_CARD": "BLOCK", "PERSON": "REDACT"}}),
        json!({"provider_model": "gpt-4o-mini"}),
        json!({"provider_model": null}),
    ];
    for change in accepted {
        let r = server
            .settings(&account, &id, "PUT", "", Some(change.clone()))
            .await;
        assert_eq!(r.status, 200, "{change} → {r:?}");
    }
    let refused = [
        (json!({"memory_window": -1}), "memory_window"),
        (json!({"memory_window": 501}), "memory_window"),
        (json!({"rpm_limit": 0}), "rpm_limit"),
        (json!({"rpm_limit": 10001}), "rpm_limit"),
        (json!({"tokens_per_day": 999}), "tokens_per_day"),
        (json!({"retention_days": 0}), "retention_days"),
        (json!({"retention_days": 366}), "retention_days"),
        (json!({"system_prompt": "x".repeat(32001)}), "system_prompt"),
        (
            json!({"sentinel_blocklist": (0..201).map(|i| format!("term{i}")).collect::<Vec<_>>()}),
            "sentinel_blocklist",
        ),
        (
            json!({"cors_origins": ["http://localhost:3000/"]}),
            "cors_origins",
        ),
        (json!({"cors_origins": ["localhost:3000"]}), "cors_origins"),
        (
            json!({"cors_origins": ["https://a.com/path"]}),
            "cors_origins",
        ),
        (
            json!({"cors_origins": ["*"], "cors_allow_credentials": true}),
            "cors_allow_credentials",
        ),
        (json!({"pii_mode": "sometimes"}), "pii_mode"),
        (json!({"sentinel_mode": "on"}), "sentinel_mode"),
        (
            json!({"pii_entities": {"SHOE_SIZE": "MASK"}}),
            "pii_entities",
        ),
        (
            json!({"pii_entities": {"EMAIL_ADDRESS": "HIDE"}}),
            "pii_entities",
        ),
        (json!({"provider_model": "gpt-9-ultra"}), "provider_model"),
        (json!({"memory_enabled": "yes"}), "memory_enabled"),
        (json!({"colour": "blue"}), "colour"),
    ];
    for (change, field) in refused {
        let r = server
            .settings(&account, &id, "PUT", "", Some(change.clone()))
            .await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "validation_error"),
            "{change}"
        );
        assert_eq!(r.param().as_deref(), Some(field), "{change}");
    }
    // Credentials on while "*" is already stored is refused too (the merged result).
    server
        .settings(
            &account,
            &id,
            "PUT",
            "",
            Some(json!({"cors_origins": ["*"], "cors_allow_credentials": false})),
        )
        .await;
    let r = server
        .settings(
            &account,
            &id,
            "PUT",
            "",
            Some(json!({"cors_allow_credentials": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.param().as_deref()),
        (400, Some("cors_allow_credentials"))
    );

    let r = server
        .settings(
            &account,
            &id,
            "PUT",
            "",
            Some(json!({"rpm_limit": 0, "pii_mode": "x", "memory_window": 9000})),
        )
        .await;
    assert_eq!(r.status, 400);
    let params = r.param().unwrap();
    for field in ["rpm_limit", "pii_mode", "memory_window"] {
        assert!(
            params.contains(field),
            "several violations name all: {params}"
        );
        assert!(r.body["error"]["message"].as_str().unwrap().contains(field));
    }
    // Nothing of a refused change was saved.
    let now = server.settings(&account, &id, "GET", "", None).await;
    assert_ne!(now.body["rpm_limit"], 0);
    server.stop().await;
}
on_both_backends!(every_range_boundary);

async fn model_selection(backend: Backend) {
    let config = "[providers.openai]\napi_key = \"sk-test-not-real\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
    let Some(server) = Server::start_with(backend, &[], config).await else {
        return;
    };
    let account = server.signup("models@example.com").await;
    let fixture = server.project_with_token(&account, "Models").await;
    let id = &fixture.id;

    let r = model(&server, &account, id, "PUT", "", Some(json!({}))).await;
    assert_eq!((r.status, r.error_code().as_str()), (400, "MISSING_MODEL"));
    let r = model(
        &server,
        &account,
        id,
        "PUT",
        "",
        Some(json!({"provider_model": ""})),
    )
    .await;
    assert_eq!((r.status, r.error_code().as_str()), (400, "MISSING_MODEL"));
    let r = model(
        &server,
        &account,
        id,
        "PUT",
        "",
        Some(json!({"provider_model": "gpt-9-ultra"})),
    )
    .await;
    assert_eq!((r.status, r.error_code().as_str()), (400, "UNKNOWN_MODEL"));
    let r = model(
        &server,
        &account,
        id,
        "PUT",
        "",
        Some(json!({"provider_model": "claude-sonnet-4-20250514"})),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "PROVIDER_NOT_CONFIGURED")
    );
    let r = model(
        &server,
        &account,
        id,
        "PUT",
        "",
        Some(json!({"provider_model": "gpt-4o-mini"})),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body,
        json!({"configured": true, "provider_model": "gpt-4o-mini", "provider_type": "openai"})
    );

    // Live at once: the data plane lists it.
    let models = server
        .call(
            "GET",
            &format!("/p/{}/v1/models", fixture.slug),
            Some(&fixture.token),
            None,
        )
        .await;
    assert_eq!(models.body["data"][0]["id"], "gpt-4o-mini");

    // Drafts: equal to live → cleared; otherwise saved, published on demand.
    let r = model(
        &server,
        &account,
        id,
        "PUT",
        "/draft",
        Some(json!({"provider_model": "gpt-4o-mini"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["draft_provider_model"].clone()),
        (200, Value::Null)
    );
    let r = model(&server, &account, id, "POST", "/publish", None).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "NO_DRAFT"));
    let r = model(
        &server,
        &account,
        id,
        "PUT",
        "/draft",
        Some(json!({"provider_model": "behest/echo"})),
    )
    .await;
    assert_eq!(r.body["draft_provider_model"], "behest/echo");
    assert!(r.body["draft_saved_at"].is_string());
    let models = server
        .call(
            "GET",
            &format!("/p/{}/v1/models", fixture.slug),
            Some(&fixture.token),
            None,
        )
        .await;
    assert_eq!(
        models.body["data"][0]["id"], "gpt-4o-mini",
        "a draft is not live"
    );
    let r = model(&server, &account, id, "POST", "/publish", None).await;
    assert_eq!(
        (r.status, r.body["provider_model"].clone()),
        (200, json!("behest/echo"))
    );
    let models = server
        .call(
            "GET",
            &format!("/p/{}/v1/models", fixture.slug),
            Some(&fixture.token),
            None,
        )
        .await;
    assert_eq!(models.body["data"][0]["id"], "behest/echo");
    let r = model(
        &server,
        &account,
        id,
        "PUT",
        "/draft",
        Some(json!({"provider_model": "gpt-4o"})),
    )
    .await;
    assert_eq!(r.body["draft_provider_model"], "gpt-4o");
    let r = model(&server, &account, id, "DELETE", "/draft", None).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        server.settings(&account, id, "GET", "", None).await.body["draft_provider_model"],
        Value::Null
    );

    // Reset to the platform default, once.
    let r = model(&server, &account, id, "DELETE", "", None).await;
    assert_eq!(r.status, 204);
    let r = model(&server, &account, id, "DELETE", "", None).await;
    assert_eq!(r.status, 404);
    let models = server
        .call(
            "GET",
            &format!("/p/{}/v1/models", fixture.slug),
            Some(&fixture.token),
            None,
        )
        .await;
    assert_eq!(
        models.body["data"][0]["id"], "behest/echo",
        "the platform default"
    );

    // A settings deploy carries a model draft saved through PUT .../settings.
    server
        .deploy_settings(&account, id, json!({"provider_model": "gpt-4o-mini"}))
        .await;
    let r = server.settings(&account, id, "GET", "", None).await;
    assert_eq!(
        (
            r.body["provider_model"].clone(),
            r.body["draft_provider_model"].clone()
        ),
        (json!("gpt-4o-mini"), Value::Null)
    );

    // Another tenant's project: 404 on every settings route.
    let intruder = server.signup("intruder@example.com").await;
    for (method, suffix) in [
        ("GET", ""),
        ("PUT", ""),
        ("POST", "/deploy"),
        ("POST", "/discard-draft"),
        ("PUT", "/model"),
        ("DELETE", "/model"),
        ("PUT", "/model/draft"),
        ("POST", "/model/publish"),
    ] {
        let body = (method == "PUT").then(|| json!({"provider_model": "behest/echo"}));
        let r = server.settings(&intruder, id, method, suffix, body).await;
        assert_eq!(r.status, 404, "{method} {suffix}");
    }
    server.stop().await;
}
on_both_backends!(model_selection);

async fn model(
    server: &Server,
    account: &Account,
    id: &str,
    method: &str,
    suffix: &str,
    body: Option<Value>,
) -> Response {
    server
        .settings(account, id, method, &format!("/model{suffix}"), body)
        .await
}
