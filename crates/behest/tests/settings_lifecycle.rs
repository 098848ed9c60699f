//! Settings as a tenant uses them: a draft that live traffic does not see, deploy,
//! discard, model selection, memory config, every range boundary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

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
    let server = Server::start(backend).await;
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
async fn every_range_boundary(backend: Backend) {
    let server = Server::start(backend).await;
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
async fn model_selection(backend: Backend) {
    let config = "[providers.openai]\napi_key = \"sk-test-not-real\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
    let server = Server::start_with(backend, &[], config).await;
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
    // Going back to the live model is no draft at all: its time goes too.
    let live = Some(json!({"provider_model": "gpt-4o-mini"}));
    let r = model(&server, &account, id, "PUT", "/draft", live).await;
    assert_eq!(
        (
            r.body["draft_provider_model"].clone(),
            r.body["draft_saved_at"].clone()
        ),
        (Value::Null, Value::Null)
    );
    let settings = server.settings(&account, id, "GET", "", None).await;
    assert_eq!(settings.body["draft_saved_at"], Value::Null);
    let echo = Some(json!({"provider_model": "behest/echo"}));
    let r = model(&server, &account, id, "PUT", "/draft", echo).await;
    assert_eq!(r.body["draft_provider_model"], "behest/echo");
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

async fn tiers(backend: Backend) {
    let config = "[providers.openai]\napi_key = \"sk-test-not-real\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
    let server = Server::start_with(backend, &[], config).await;
    let account = server.signup("tiers@example.com").await;
    let fixture = server.project_with_token(&account, "Tiers").await;
    let id = &fixture.id;
    let path = format!("/auth/v1/projects/{id}/tiers");
    let call = |method: &'static str, suffix: String, body: Option<Value>| {
        let url = format!("{path}{suffix}");
        let session = account.session.clone();
        let server = &server;
        async move { server.call(method, &url, Some(&session), body).await }
    };
    server
        .deploy_settings(
            &account,
            id,
            json!({"rpm_limit": 100, "system_prompt": "project prompt"}),
        )
        .await;

    // Three tiers; a fourth, or a taken name, is a 409.
    let mut ids = Vec::new();
    for (name, order, overrides) in [
        ("free", 0, json!({"rpm_limit": 10})),
        (
            "silver",
            1,
            json!({"rpm_limit": 50, "system_prompt": "silver prompt"}),
        ),
        (
            "gold",
            2,
            json!({"rpm_limit": 500, "provider_model": "gpt-4o-mini", "pii_mode": "enforce"}),
        ),
    ] {
        let r = call(
            "POST",
            String::new(),
            Some(json!({"name": name, "sort_order": order, "overrides": overrides})),
        )
        .await;
        assert_eq!(r.status, 201, "{r:?}");
        assert_eq!(
            (r.body["name"].as_str(), r.body["sort_order"].as_i64()),
            (Some(name), Some(order))
        );
        assert!(
            r.body.get("resolved").is_none(),
            "created tiers come without resolved"
        );
        ids.push(r.str("id"));
    }
    let r = call("POST", String::new(), Some(json!({"name": "platinum"}))).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "TIER_LIMIT_REACHED")
    );
    let r = call("PUT", format!("/{}", ids[0]), Some(json!({"name": "gold"}))).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "TIER_NAME_TAKEN")
    );

    // Overrides follow the settings rules; a model needs a configured provider.
    for (overrides, status, param) in [
        (json!({"rpm_limit": 0}), 400, "overrides.rpm_limit"),
        (
            json!({"memory_window": 501}),
            400,
            "overrides.memory_window",
        ),
        (
            json!({"cors_origins": ["*"]}),
            400,
            "overrides.cors_origins",
        ),
        (
            json!({"provider_model": "gpt-9"}),
            400,
            "overrides.provider_model",
        ),
        (
            json!({"provider_model": "claude-sonnet-4-20250514"}),
            422,
            "overrides.provider_model",
        ),
    ] {
        let r = call(
            "PUT",
            format!("/{}", ids[0]),
            Some(json!({"overrides": overrides})),
        )
        .await;
        assert_eq!(
            (r.status, r.param().as_deref()),
            (status, Some(param)),
            "{overrides}"
        );
    }

    // Resolved = the project's settings with the tier's overrides on top.
    let listed = call("GET", String::new(), None).await;
    let names: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["free", "silver", "gold"]);
    let gold = &listed.body[2]["resolved"];
    assert_eq!(
        (
            gold["rpm_limit"].as_i64(),
            gold["provider_model"].as_str(),
            gold["pii_mode"].as_str()
        ),
        (Some(500), Some("gpt-4o-mini"), Some("enforce"))
    );
    assert_eq!(
        gold["system_prompt"], "project prompt",
        "not overridden: the project's value"
    );
    let r = call("GET", format!("/{}/resolved", ids[1]), None).await;
    assert_eq!(
        (
            r.body["rpm_limit"].as_i64(),
            r.body["system_prompt"].as_str()
        ),
        (Some(50), Some("silver prompt"))
    );
    let r = call("GET", format!("/{}/resolved", uuid::Uuid::new_v4()), None).await;
    assert_eq!(r.status, 404);

    // Tokens select tiers by name or by index; tiers are live only once deployed.
    let model_for = |tier: Option<Value>| {
        let server = &server;
        let fixture = &fixture;
        async move {
            let mut body = json!({"user_id": "tiered"});
            if let Some(tier) = tier {
                body["tier"] = tier;
            }
            let token = server.mint(&fixture.key, body).await.str("access_token");
            let models = server
                .call(
                    "GET",
                    &format!("/p/{}/v1/models", fixture.slug),
                    Some(&token),
                    None,
                )
                .await;
            models.body["data"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(
        model_for(Some(json!("gold"))).await,
        "behest/echo",
        "a tier not yet deployed is not live"
    );
    server.deploy_settings(&account, id, json!({})).await;
    assert_eq!(model_for(Some(json!("gold"))).await, "gpt-4o-mini");
    assert_eq!(
        model_for(Some(json!(2))).await,
        "gpt-4o-mini",
        "index by sort_order"
    );
    assert_eq!(model_for(Some(json!(0))).await, "behest/echo");
    assert_eq!(model_for(Some(json!("nope"))).await, "behest/echo");
    assert_eq!(model_for(None).await, "behest/echo");

    // Deleting is a draft change too; discarding brings the deployed tiers back.
    let r = call("DELETE", format!("/{}", ids[2]), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        call("DELETE", format!("/{}", ids[2]), None).await.status,
        404
    );
    assert_eq!(
        model_for(Some(json!("gold"))).await,
        "gpt-4o-mini",
        "still deployed"
    );
    let r = server
        .settings(&account, id, "POST", "/discard-draft", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        call("GET", String::new(), None)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Someone else's project: 403, as the seed says for tiers.
    let intruder = server.signup("tier-intruder@example.com").await;
    let r = server
        .call(
            "POST",
            &path,
            Some(&intruder.session),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (403, "forbidden"));
    let r = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{}/tiers", uuid::Uuid::new_v4()),
            Some(&intruder.session),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends("draft_deploy_discard", &[], draft_deploy_discard)
        .on_both_backends("every_range_boundary", &[], every_range_boundary)
        .on_both_backends("model_selection", &[], model_selection)
        .on_both_backends("tiers", &[], tiers)
        .run()
}
