//! Every error row of the seed for the foundation's routes, bad input of every kind, and
//! another tenant's ids on every dashboard route — each answered with the contract's
//! error body, never a 500.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

use common::{Account, Backend, Server, ADMIN_SECRET};
use serde_json::json;

async fn mint_error_rows(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("mint@example.com").await;
    let project = server.create_project(&account, "Mint").await;
    let project_id = project["id"].as_str().unwrap();
    let slug = project["slug"].as_str().unwrap();
    let key = server.create_key(&account, project_id, None).await;
    let ok = json!({"user_id": "user-1"});

    // 401: missing, invalid format, damaged, not found.
    let r = server
        .call("POST", "/auth/v1/auth/mint", None, Some(ok.clone()))
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing"));
    // Damaged: the last character changed (to one it is not already).
    let last = if key.ends_with('x') { "y" } else { "x" };
    let damaged = format!("{}{last}", &key[..key.len() - 1]);
    assert_ne!(damaged, key);
    for bad in ["sk-proj-abc", "behest_sk_live_short", &damaged] {
        let r = server.mint(bad, ok.clone()).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (401, "invalid_token"),
            "{bad}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("format"),
            "{r:?}"
        );
    }
    let unknown = behest_auth::api_key::generate().plaintext;
    let r = server.mint(&unknown, ok.clone()).await;
    assert_eq!(r.status, 401);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not found"));
    // Authentication comes before the body: no key, bad body → still 401.
    let r = server
        .raw("POST", "/auth/v1/auth/mint", None, b"{not json".to_vec())
        .await;
    assert_eq!(r.status, 401);

    // 400: user_id, role, ttl, session_id, malformed JSON.
    let cases = [
        (json!({}), "user_id"),
        (json!({"user_id": ""}), "user_id"),
        (json!({"user_id": "x".repeat(256)}), "user_id"),
        (json!({"user_id": "system"}), "user_id"),
        (json!({"user_id": "ROOT"}), "user_id"),
        (json!({"user_id": 42}), "user_id"),
        (json!({"user_id": "u", "role": "superuser"}), "role"),
        (json!({"user_id": "u", "ttl": 59}), "ttl"),
        (json!({"user_id": "u", "ttl": 86401}), "ttl"),
        (json!({"user_id": "u", "ttl": "3600"}), "ttl"),
        (json!({"user_id": "u", "session_id": ""}), "session_id"),
    ];
    for (body, param) in cases {
        let r = server.mint(&key, body.clone()).await;
        assert_eq!(r.status, 400, "{body} → {r:?}");
        assert_eq!(
            (r.error_code(), r.param()),
            ("validation_error".to_owned(), Some(param.to_owned())),
            "{body}"
        );
    }
    let r = server
        .raw(
            "POST",
            "/auth/v1/auth/mint",
            Some(&key),
            b"{\"user_id\":".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "validation_error")
    );
    for (ttl, user) in [(60, "x".repeat(255)), (86400, "u".to_owned())] {
        let r = server
            .mint(&key, json!({"user_id": user, "ttl": ttl}))
            .await;
        assert_eq!(r.status, 200, "boundary ttl {ttl}: {r:?}");
    }

    // Roles: a user key cannot mint above itself; an admin key can mint any role.
    let r = server
        .mint(&key, json!({"user_id": "u", "role": "admin"}))
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (403, "forbidden"));
    let admin_key = server.create_key(&account, project_id, Some("admin")).await;
    for role in ["user", "dashboard-service", "admin"] {
        let r = server
            .mint(&admin_key, json!({"user_id": "u", "role": role}))
            .await;
        assert_eq!(r.status, 200, "{role}");
    }
    let r = server.mint(&admin_key, json!({"user_id": "u"})).await;
    let claims = decode_claims(&r.str("access_token"));
    assert_eq!(claims["role"], "admin", "the default role is the key's");

    // A key only mints for its own project.
    let other = server.create_project(&account, "Other").await;
    let other_slug = other["slug"].as_str().unwrap();
    let r = server
        .call_host(
            "POST",
            "/v1/auth/mint",
            Some(other_slug),
            Some(&key),
            Some(ok.clone()),
        )
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));
    let r = server
        .call(
            "POST",
            &format!("/p/{other_slug}/v1/auth/mint"),
            Some(&key),
            Some(ok.clone()),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = server
        .call_host(
            "POST",
            "/v1/auth/mint",
            Some(slug),
            Some(&key),
            Some(ok.clone()),
        )
        .await;
    assert_eq!(r.status, 200);

    // Revoked key, suspended project.
    let doomed = server.create_key(&account, project_id, None).await;
    let listed = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{project_id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    let doomed_id = listed.body.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{project_id}/api-keys/{doomed_id}/revoke"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.str("message").as_str()),
        (200, "API key revoked")
    );
    let r = server.mint(&doomed, ok.clone()).await;
    assert_eq!(r.status, 401);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{project_id}/suspend"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!((r.status, r.str("status").as_str()), (200, "suspended"));
    let r = server.mint(&key, ok.clone()).await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));
    server.stop().await;
}
async fn dashboard_error_rows(backend: Backend) {
    let server = Server::start(backend).await;

    // Signup and login.
    let cases = [
        (json!({"password": "correct horse"}), "email"),
        (
            json!({"email": "not-an-email", "password": "correct horse"}),
            "email",
        ),
        (json!({"email": "a@example.com"}), "password"),
        (
            json!({"email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse", "tenant_name": "x".repeat(101)}),
            "tenant_name",
        ),
        (json!({"email": 7, "password": "correct horse"}), "email"),
    ];
    for (body, param) in cases {
        let r = server
            .call("POST", "/auth/v1/signup", None, Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, r.param()),
            (400, Some(param.to_owned())),
            "{body} → {r:?}"
        );
    }
    let r = server
        .call(
            "POST",
            "/auth/v1/signup",
            None,
            Some(json!({"email": "a@example.com", "password": "correct horse", "admin": true})),
        )
        .await;
    assert_eq!(r.status, 400, "unknown fields are refused: {r:?}");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("admin"));
    let account = server.signup("owner@example.com").await;
    let r = server
        .call(
            "POST",
            "/auth/v1/signup",
            None,
            Some(json!({"email": "Owner@Example.com", "password": "another password"})),
        )
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "email_taken"));
    let r = server
        .call(
            "POST",
            "/auth/v1/login",
            None,
            Some(json!({"email": "owner@example.com", "password": "wrong password"})),
        )
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));
    let r = server
        .call(
            "POST",
            "/auth/v1/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": "wrong password"})),
        )
        .await;
    assert_eq!(r.status, 401);

    // Sessions: missing, garbage.
    let tenants_path = format!("/auth/v1/tenants/{}/projects", account.tenant_id);
    for bearer in [None, Some("behest_sess_nope"), Some("garbage")] {
        let r = server.call("GET", &tenants_path, bearer, None).await;
        assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));
    }

    // Bad input on every kind of route: UUIDs, JSON, sizes, methods.
    let r = server
        .call(
            "GET",
            "/auth/v1/tenants/not-a-uuid/projects",
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("tenantId")));
    let r = server
        .call(
            "GET",
            "/auth/v1/projects/123/provisioning",
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("projectId")));
    let r = server
        .raw(
            "POST",
            &tenants_path,
            Some(&account.session),
            b"[1,2".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "validation_error")
    );
    let r = server
        .raw("POST", &tenants_path, Some(&account.session), Vec::new())
        .await;
    assert_eq!(r.status, 400);
    let r = server
        .call(
            "POST",
            &tenants_path,
            Some(&account.session),
            Some(json!({"name": 12})),
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("name")));
    let r = server
        .call(
            "POST",
            &tenants_path,
            Some(&account.session),
            Some(json!({})),
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("name")));
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    // The server answers 413 without reading the body and closes that connection, so
    // this request gets a connection of its own rather than one from the shared pool.
    let lone = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = lone
        .post(server.url(&tenants_path))
        .bearer_auth(&account.session)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.headers().contains_key("x-trace-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    let r = server
        .call("DELETE", "/auth/v1/me", Some(&account.session), None)
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (405, "method_not_allowed")
    );
    let r = server.call("GET", "/no/such/route", None, None).await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    let r = server
        .call(
            "POST",
            "/auth/v1/tenants",
            Some(&account.session),
            Some(json!({"name": "  "})),
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("name")));
    let r = server
        .call(
            "POST",
            "/auth/v1/tenants",
            Some(&account.session),
            Some(json!({"name": "Acme Corp"})),
        )
        .await;
    assert_eq!((r.status, r.str("name").as_str()), (201, "Acme Corp"));

    // Free plan: three active projects, then 403; pro (admin secret) lifts it.
    let mut projects = Vec::new();
    for i in 0..3 {
        projects.push(server.create_project(&account, &format!("P{i}")).await);
    }
    let r = server
        .call(
            "POST",
            &tenants_path,
            Some(&account.session),
            Some(json!({"name": "P3"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "PROJECT_LIMIT_REACHED")
    );
    let plan_path = format!("/auth/v1/admin/tenants/{}/plan", account.tenant_id);
    let r = server
        .http
        .put(server.url(&plan_path))
        .json(&json!({"plan": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no admin secret");
    let r = server
        .http
        .put(server.url(&plan_path))
        .header("x-admin-secret", "wrong-secret-wrong-secret")
        .json(&json!({"plan": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let admin = |body: serde_json::Value, path: String| {
        server
            .http
            .put(server.url(&path))
            .header("x-admin-secret", ADMIN_SECRET)
            .json(&body)
            .send()
    };
    let r = admin(json!({"plan": "platinum"}), plan_path.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = admin(
        json!({"plan": "pro"}),
        format!("/auth/v1/admin/tenants/{}/plan", uuid::Uuid::new_v4()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let r = admin(json!({"plan": "pro"}), plan_path.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.create_project(&account, "P3").await;
    admin(json!({"plan": "free"}), plan_path).await.unwrap();
    let r = server
        .call(
            "POST",
            &tenants_path,
            Some(&account.session),
            Some(json!({"name": "P4"})),
        )
        .await;
    assert_eq!(r.status, 403, "back on free with four active projects");

    // Provisioning retry only from FAILED; suspend is idempotent.
    let project_id = projects[0]["id"].as_str().unwrap().to_owned();
    server.wait_dns(&account, &project_id, "READY").await;
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{project_id}/provisioning/retry"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (400, "DNS_NOT_FAILED"));
    for _ in 0..2 {
        let r = server
            .call(
                "POST",
                &format!("/auth/v1/projects/{project_id}/suspend"),
                Some(&account.session),
                None,
            )
            .await;
        assert_eq!((r.status, r.str("status").as_str()), (200, "suspended"));
    }
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{project_id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "no new keys on a suspended project");

    // API keys: rotate atomically, revoke, 404 on a revoked key.
    let live_id = projects[1]["id"].as_str().unwrap().to_owned();
    let key = server.create_key(&account, &live_id, None).await;
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{live_id}/api-keys"),
            Some(&account.session),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("role")));
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{live_id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (201, Some("default")),
        "the body is optional"
    );
    let key_id = key_id_of(&server, &account, &live_id, 0).await;
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{live_id}/api-keys/{key_id}/rotate"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.str("message").as_str()),
        (200, "New key generated. Old key is revoked.")
    );
    let rotated = r.str("api_key");
    assert_eq!(server.mint(&key, json!({"user_id": "u"})).await.status, 401);
    assert_eq!(
        server.mint(&rotated, json!({"user_id": "u"})).await.status,
        200
    );
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{live_id}/api-keys/{key_id}/rotate"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "rotating a revoked key");
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{live_id}/api-keys/{key_id}/revoke"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "revoking a revoked key");
    let new_id = r_key_id(&server, &account, &live_id, &rotated).await;
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/api-keys/{new_id}/rotate"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let newest = r.str("api_key");
    let newest_id = r.str("id");
    let r = server
        .call(
            "DELETE",
            &format!("/auth/v1/api-keys/{newest_id}"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.str("message").as_str()),
        (200, "API key revoked")
    );
    assert_eq!(
        server.mint(&newest, json!({"user_id": "u"})).await.status,
        401
    );
    let r = server
        .call(
            "DELETE",
            &format!("/auth/v1/api-keys/{newest_id}"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    server.stop().await;
}
/// Another tenant's user reaches none of a tenant's objects: 404 everywhere, no change.
async fn cross_tenant_access(backend: Backend) {
    let server = Server::start(backend).await;
    let owner = server.signup("owner@example.com").await;
    let intruder = server.signup("intruder@example.com").await;
    let project = server.create_project(&owner, "Private").await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    let key = server.create_key(&owner, &project_id, None).await;
    let key_id = key_id_of(&server, &owner, &project_id, 0).await;
    let signing = server
        .call(
            "POST",
            &format!("/auth/v1/tenants/{}/signing-keys", owner.tenant_id),
            Some(&owner.session),
            None,
        )
        .await;
    assert_eq!(signing.status, 201);
    let kid = signing.str("kid");

    let t = &owner.tenant_id;
    let attempts: Vec<(&str, String)> = vec![
        ("GET", format!("/auth/v1/tenants/{t}/projects")),
        ("POST", format!("/auth/v1/tenants/{t}/projects")),
        ("GET", format!("/auth/v1/projects/{project_id}")),
        (
            "GET",
            format!("/auth/v1/projects/{project_id}/provisioning"),
        ),
        (
            "POST",
            format!("/auth/v1/projects/{project_id}/provisioning/retry"),
        ),
        ("POST", format!("/auth/v1/projects/{project_id}/suspend")),
        ("GET", format!("/auth/v1/projects/{project_id}/api-keys")),
        ("POST", format!("/auth/v1/projects/{project_id}/api-keys")),
        (
            "POST",
            format!("/auth/v1/projects/{project_id}/api-keys/{key_id}/rotate"),
        ),
        (
            "POST",
            format!("/auth/v1/projects/{project_id}/api-keys/{key_id}/revoke"),
        ),
        ("POST", format!("/auth/v1/api-keys/{key_id}/rotate")),
        ("DELETE", format!("/auth/v1/api-keys/{key_id}")),
        ("GET", format!("/auth/v1/tenants/{t}/signing-keys")),
        ("POST", format!("/auth/v1/tenants/{t}/signing-keys")),
        ("DELETE", format!("/auth/v1/tenants/{t}/signing-keys/{kid}")),
    ];
    for (method, path) in &attempts {
        let body = (*method == "POST").then(|| json!({"name": "mine now"}));
        let r = server
            .call(method, path, Some(&intruder.session), body)
            .await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (404, "not_found"),
            "{method} {path}"
        );
        assert!(
            !r.text.contains(&project_id) || path.contains(&project_id),
            "no data leaks"
        );
    }
    // The intruder's own key on the owner's project host is refused too.
    let own = server.create_project(&intruder, "Mine").await;
    let own_key = server
        .create_key(&intruder, own["id"].as_str().unwrap(), None)
        .await;
    let slug = project["slug"].as_str().unwrap();
    let r = server
        .call_host(
            "POST",
            "/v1/auth/mint",
            Some(slug),
            Some(&own_key),
            Some(json!({"user_id": "u"})),
        )
        .await;
    assert_eq!(r.status, 401);

    // Nothing changed for the owner.
    assert_eq!(server.mint(&key, json!({"user_id": "u"})).await.status, 200);
    let projects = server
        .call(
            "GET",
            &format!("/auth/v1/tenants/{t}/projects"),
            Some(&owner.session),
            None,
        )
        .await;
    assert_eq!(projects.body.as_array().unwrap().len(), 1);
    assert_eq!(projects.body[0]["status"], "active");
    let keys = server
        .call(
            "GET",
            &format!("/auth/v1/tenants/{t}/signing-keys"),
            Some(&owner.session),
            None,
        )
        .await;
    assert_eq!(keys.body.as_array().unwrap().len(), 1);
    server.stop().await;
}
async fn tenant_signing_keys(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("signer@example.com").await;
    let path = format!("/auth/v1/tenants/{}/signing-keys", account.tenant_id);
    let created = server
        .call(
            "POST",
            &path,
            Some(&account.session),
            Some(json!({"name": "ci"})),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let kid = created.str("kid");
    assert!(kid.starts_with("sk_"));
    let private = created.str("private_key");
    assert!(
        private.starts_with("behest_pk_-----BEGIN PRIVATE KEY-----"),
        "{private}"
    );
    assert!(created
        .str("public_key_pem")
        .starts_with("-----BEGIN PUBLIC KEY-----"));

    let listed = server
        .call("GET", &path, Some(&account.session), None)
        .await;
    assert_eq!(listed.body[0]["kid"], kid.as_str());
    assert_eq!(listed.body[0]["name"], "ci");
    assert!(
        !listed.text.contains("PRIVATE"),
        "the private half is shown once only"
    );

    for bad in ["sk_../../etc", "sk_'%20OR%201=1", "nope"] {
        let r = server
            .call(
                "DELETE",
                &format!("{path}/{bad}"),
                Some(&account.session),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{bad}");
    }
    let r = server
        .call(
            "DELETE",
            &format!("{path}/{kid}"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = server
        .call(
            "DELETE",
            &format!("{path}/{kid}"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let listed = server
        .call("GET", &path, Some(&account.session), None)
        .await;
    assert_eq!(listed.body, json!([]));
    server.stop().await;
}
async fn key_id_of(server: &Server, account: &Account, project_id: &str, index: usize) -> String {
    let r = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{project_id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    r.body[index]["id"].as_str().unwrap().to_owned()
}

/// The id of the listed key whose prefix matches `plaintext`'s hash.
async fn r_key_id(server: &Server, account: &Account, project_id: &str, plaintext: &str) -> String {
    let hash = behest_auth::sha256_hex(plaintext);
    let r = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{project_id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    let key = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| hash.starts_with(k["prefix"].as_str().unwrap().trim_end_matches('…')))
        .unwrap();
    key["id"].as_str().unwrap().to_owned()
}

fn decode_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends("mint_error_rows", &[], mint_error_rows)
        .on_both_backends("dashboard_error_rows", &[], dashboard_error_rows)
        .on_both_backends("cross_tenant_access", &[], cross_tenant_access)
        .on_both_backends("tenant_signing_keys", &[], tenant_signing_keys)
        .run()
}
