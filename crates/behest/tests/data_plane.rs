//! The data plane against the real binary with the built-in echo model: routing by
//! host, by `/p/{slug}` and by the token's `pid`; JSON and SSE answers; every kind of
//! bad token; tenant-signed tokens; suspension; CORS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Account, Backend, Server};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

fn hello() -> Value {
    json!({"messages": [{"role": "user", "content": "Hello gateway"}]})
}

/// Parses an SSE body into its `data:` payloads.
pub fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|event| {
            event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_owned)
        })
        .collect()
}

/// `Server-Timing: behest;dur=X, upstream;dur=Y`, both in milliseconds.
fn assert_server_timing(r: &common::Response) {
    let value = r
        .headers
        .get("server-timing")
        .unwrap_or_else(|| panic!("no Server-Timing: {r:?}"))
        .to_str()
        .unwrap();
    let parts: Vec<(&str, f64)> = value
        .split(", ")
        .map(|metric| {
            let (name, dur) = metric.split_once(";dur=").unwrap();
            (name, dur.parse().unwrap())
        })
        .collect();
    assert_eq!(parts.len(), 2, "{value}");
    assert_eq!((parts[0].0, parts[1].0), ("behest", "upstream"), "{value}");
    assert!(parts.iter().all(|(_, d)| *d >= 0.0), "{value}");
}

async fn routing_and_answers(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("chat@example.com").await;
    let fixture = server.project_with_token(&account, "Chat").await;

    // Three ways to name the project.
    let by_prefix = server.chat(&fixture.slug, &fixture.token, hello()).await;
    let by_host = server
        .call_host(
            "POST",
            "/v1/chat/completions",
            Some(&fixture.slug),
            Some(&fixture.token),
            Some(hello()),
        )
        .await;
    let by_pid = server
        .call(
            "POST",
            "/v1/chat/completions",
            Some(&fixture.token),
            Some(hello()),
        )
        .await;
    for r in [&by_prefix, &by_host, &by_pid] {
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["object"], "chat.completion");
        assert_eq!(r.body["model"], "behest/echo");
        assert_eq!(r.body["choices"][0]["message"]["content"], "Hello gateway");
        assert_eq!(r.body["choices"][0]["finish_reason"], "stop");
        assert!(r.body["usage"]["total_tokens"].as_u64().unwrap() > 0);
        assert!(r.headers.contains_key("x-trace-id"));
        assert_server_timing(r);
    }

    // Streaming, with and without the usage chunk.
    for include_usage in [true, false] {
        let mut body = hello();
        body["stream"] = json!(true);
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let r = server.chat(&fixture.slug, &fixture.token, body).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["content-type"], "text/event-stream");
        assert_server_timing(&r);
        let events = sse_data(&r.text);
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Hello gateway");
        assert!(chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"));
        let usage = chunks.last().unwrap();
        assert_eq!(
            usage["choices"] == json!([]) && usage["usage"].is_object(),
            include_usage,
            "{usage}"
        );
    }

    // The request's model is the project's decision, not the client's.
    let r = server
        .chat(
            &fixture.slug,
            &fixture.token,
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["model"].as_str()),
        (200, Some("behest/echo"))
    );

    // Bad bodies are 400s naming the field.
    for (body, param) in [
        (json!({}), "messages"),
        (json!({"messages": []}), "messages"),
        (json!({"messages": "hi"}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "n": 0}),
            "n",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}}),
            "stream_options",
        ),
    ] {
        let r = server
            .chat(&fixture.slug, &fixture.token, body.clone())
            .await;
        assert_eq!(
            (r.status, r.param().as_deref()),
            (400, Some(param)),
            "{body} → {r:?}"
        );
    }

    // Unknown project: 404 with the contract body.
    let r = server
        .chat("no-such-thing-000", &fixture.token, hello())
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    // Embeddings from the echo provider: deterministic, unit length.
    let embed = json!({"model": "echo:embed", "input": ["same", "same", "other"]});
    let r = server
        .call(
            "POST",
            &format!("/p/{}/v1/embeddings", fixture.slug),
            Some(&fixture.token),
            Some(embed),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let vectors: Vec<Vec<f64>> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(d["embedding"].clone()).unwrap())
        .collect();
    assert_eq!(vectors[0], vectors[1]);
    assert_ne!(vectors[0], vectors[2]);
    assert!((vectors[2].iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-9);
    // /v1/models.
    let r = server
        .call(
            "GET",
            &format!("/p/{}/v1/models", fixture.slug),
            Some(&fixture.token),
            None,
        )
        .await;
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["data"][0]["id"], "behest/echo");
    server.stop().await;
}
fn sign(private_pem: &str, kid: &str, claims: &Value, alg: Algorithm) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn sdk_claims(account: &Account, project_id: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "tid": account.tenant_id, "pid": project_id, "uid": "local-user", "role": "user", "scp": [],
        "iss": "https://api.behest.ai", "aud": "behest", "iat": now, "nbf": now, "exp": now + 600,
        "jti": uuid::Uuid::new_v4().to_string(), "sid": "s-1", "tier": 1
    })
}

async fn signing_key(server: &Server, account: &Account) -> (String, String) {
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/tenants/{}/signing-keys", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 201);
    let private = r
        .str("private_key")
        .strip_prefix("behest_pk_")
        .unwrap()
        .to_owned();
    (r.str("kid"), private)
}

async fn bad_tokens_are_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("tokens@example.com").await;
    let fixture = server.project_with_token(&account, "Tokens").await;
    let second = server.project_with_token(&account, "Second").await;
    let (kid, private) = signing_key(&server, &account).await;
    let stranger = server.signup("stranger@example.com").await;
    let (stranger_kid, stranger_private) = signing_key(&server, &stranger).await;

    // A locally signed token, as the SDK's sign mode makes it, is accepted.
    let good = sdk_claims(&account, &fixture.id);
    let local = sign(&private, &kid, &good, Algorithm::RS256);
    let r = server.chat(&fixture.slug, &local, hello()).await;
    assert_eq!(r.status, 200, "{r:?}");

    let now = chrono::Utc::now().timestamp();
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        sign(&private, &kid, &claims, Algorithm::RS256)
    };
    let without = |field: &str| {
        let mut claims = good.clone();
        claims.as_object_mut().unwrap().remove(field);
        sign(&private, &kid, &claims, Algorithm::RS256)
    };
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let alg_none = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "kid": kid, "typ": "JWT"})),
        encode(&good)
    );
    let public_pem = {
        let keys = server
            .call(
                "GET",
                &format!("/auth/v1/tenants/{}/signing-keys", account.tenant_id),
                Some(&account.session),
                None,
            )
            .await;
        keys.body[0]["public_key_pem"].as_str().unwrap().to_owned()
    };
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &header,
            &good,
            &EncodingKey::from_secret(public_pem.as_bytes()),
        )
        .unwrap()
    };
    let attacker = behest_auth::rsa_keys::generate().unwrap();
    let inline_jwk = {
        // A token carrying its own key in the header: never trusted.
        let (n, e) = behest_auth::rsa_keys::components(
            &behest_auth::rsa_keys::public_from_pem(&attacker.public_pem).unwrap(),
        );
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid, "jwk": {"kty": "RSA", "n": n, "e": e}});
        let signing_input = format!("{}.{}", encode(&header), encode(&good));
        let key = EncodingKey::from_rsa_pem(attacker.private_pem.as_bytes()).unwrap();
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::RS256).unwrap();
        format!("{signing_input}.{signature}")
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "expired",
            with("exp", json!(now - 3600)),
            401,
            "token_expired",
        ),
        (
            "not yet valid",
            with("nbf", json!(now + 3600)),
            401,
            "invalid_token",
        ),
        (
            "wrong audience",
            with("aud", json!("someone-else")),
            401,
            "invalid_token",
        ),
        (
            "wrong issuer",
            with("iss", json!("https://evil.example")),
            401,
            "invalid_token",
        ),
        ("no exp", without("exp"), 401, "invalid_token"),
        ("no nbf", without("nbf"), 401, "invalid_token"),
        ("no iss", without("iss"), 401, "invalid_token"),
        ("alg none", alg_none, 401, "invalid_token"),
        (
            "HS256 signed with the public key",
            hs256_with_public_key,
            401,
            "invalid_token",
        ),
        ("inline jwk", inline_jwk, 401, "invalid_token"),
        (
            "unknown kid",
            sign(
                &attacker.private_pem,
                &format!("sk_{}", "A".repeat(24)),
                &good,
                Algorithm::RS256,
            ),
            401,
            "invalid_token",
        ),
        (
            "kid with a path",
            sign(&private, "../../etc/passwd", &good, Algorithm::RS256),
            401,
            "invalid_token",
        ),
        (
            "kid with SQL",
            sign(&private, "' OR 1=1 --", &good, Algorithm::RS256),
            401,
            "invalid_token",
        ),
        (
            "another tenant's key, our tid",
            sign(&stranger_private, &stranger_kid, &good, Algorithm::RS256),
            401,
            "invalid_token",
        ),
        (
            "forged signature",
            {
                // One character inside the signature changed (to one it is not).
                let at = local.len() - 10;
                let swap = if &local[at..=at] == "A" { "B" } else { "A" };
                format!("{}{swap}{}", &local[..at], &local[at + 1..])
            },
            401,
            "invalid_token",
        ),
        ("garbage", "not.a.jwt".to_owned(), 401, "invalid_token"),
        (
            "a dashboard session",
            account.session.clone(),
            401,
            "invalid_token",
        ),
        ("an API key", fixture.key.clone(), 401, "invalid_token"),
        (
            "another project's token",
            second.token.clone(),
            403,
            "forbidden",
        ),
    ];
    for (what, token, status, code) in cases {
        let r = server.chat(&fixture.slug, &token, hello()).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (status, code),
            "{what}: {r:?}"
        );
    }
    let mut claims = sdk_claims(&stranger, &fixture.id);
    claims["tid"] = json!(stranger.tenant_id);
    let r = server
        .chat(
            &fixture.slug,
            &sign(&stranger_private, &stranger_kid, &claims, Algorithm::RS256),
            hello(),
        )
        .await;
    assert_eq!(r.status, 401, "another tenant's key for our project");
    let r = server
        .call(
            "POST",
            &format!("/p/{}/v1/chat/completions", fixture.slug),
            None,
            Some(hello()),
        )
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));

    // A revoked signing key stops verifying at once.
    let r = server
        .call(
            "DELETE",
            &format!("/auth/v1/tenants/{}/signing-keys/{kid}", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = server.chat(&fixture.slug, &local, hello()).await;
    assert_eq!(r.status, 401, "revoked key");

    // A suspended project serves nothing.
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{}/suspend", fixture.id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // Suspending revoked the project's API keys: their tokens stop (`security.rs`
    // checks every route, tenant-signed tokens included).
    let r = server.chat(&fixture.slug, &fixture.token, hello()).await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "invalid_token"));
    server.stop().await;
}
async fn cors(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("cors@example.com").await;
    let fixture = server.project_with_token(&account, "Cors").await;
    let allowed = "http://localhost:3000";
    server
        .deploy_settings(
            &account,
            &fixture.id,
            json!({"cors_origins": [allowed], "cors_allow_credentials": true}),
        )
        .await;
    let url = server.url(&format!("/p/{}/v1/chat/completions", fixture.slug));
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, url.clone())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-session-id, x-stainless-os, x-forbidden",
            )
            .send()
    };
    let r = preflight(allowed).await.unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], allowed);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Origin")));
    let allow_headers = h["access-control-allow-headers"].to_str().unwrap();
    assert!(allow_headers.contains("authorization") && allow_headers.contains("x-stainless-os"));
    assert!(!allow_headers.contains("x-forbidden"));
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    for origin in [
        "http://localhost:3001",
        "https://localhost:3000",
        "http://localhost:3000.evil.com",
        "null",
        "http://evil.com",
    ] {
        let r = preflight(origin).await.unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }

    // Actual requests: allowed origin streams with the headers; others never reach a model.
    let r = server
        .http
        .post(url.clone())
        .header("origin", allowed)
        .bearer_auth(&fixture.token)
        .json(&hello())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], allowed);
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in [
        "X-Trace-Id",
        "Retry-After",
        "Server-Timing",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ] {
        assert!(exposed.contains(header), "{header} not in {exposed}");
    }
    assert_eq!(r.headers()["timing-allow-origin"], allowed);
    assert!(r.headers().contains_key("server-timing"));
    let r = server
        .http
        .post(url.clone())
        .header("origin", "http://evil.com")
        .bearer_auth(&fixture.token)
        .json(&hello())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // No Origin (a server-side client): no CORS involved.
    let r = server
        .http
        .post(url.clone())
        .bearer_auth(&fixture.token)
        .json(&hello())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // "*": any origin but never null, never with credentials.
    server
        .deploy_settings(
            &account,
            &fixture.id,
            json!({"cors_origins": ["*"], "cors_allow_credentials": false}),
        )
        .await;
    let r = preflight("https://anywhere.example").await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    assert_eq!(preflight("null").await.unwrap().status(), 403);
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends("routing_and_answers", &[], routing_and_answers)
        .on_both_backends("bad_tokens_are_refused", &[], bad_tokens_are_refused)
        .on_both_backends("cors", &[], cors)
        .run()
}
