//! The dashboard's security rules over plain HTTP against the real binary (the browser
//! journey is `dashboard.rs`): cookies and headers, assets, the bare host only, the
//! session shared with the JSON API, sign-in limits, and every state-changing route
//! refusing a form without this session's CSRF token — before it acts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;
use common::{Backend, Server};
use reqwest::header::{HeaderMap, HOST, SET_COOKIE};
use std::collections::BTreeMap;

const PASSWORD: &str = "correct horse battery";

/// A browser without a browser: a cookie jar, no redirects followed.
struct Visitor<'a> {
    server: &'a Server,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }

    /// The first form's CSRF token on the page.
    fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with _csrf") + marker.len();
        self.body[start..start + 32].to_owned()
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

impl<'a> Visitor<'a> {
    fn new(server: &'a Server) -> Visitor<'a> {
        Visitor {
            server,
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, attrs) = value.split_once(';').unwrap_or((value, ""));
            let (name, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), val.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.server.http.get(self.server.url(path));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.server.http.post(self.server.url(path)).form(form);
        self.send(request).await
    }

    /// Signs up through the form: the pre-session CSRF cookie, then the session's.
    async fn sign_up(&mut self, email: &str) -> Page {
        let csrf = self.get("/sign-up").await.csrf();
        let page = self
            .post(
                "/sign-up",
                &[("_csrf", &csrf), ("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        page
    }

    fn session(&self) -> String {
        self.cookies["behest_session"].clone()
    }
}

fn location(page: &Page) -> &str {
    page.header("location")
}

/// The id in the first `/projects/{id}` link of a page.
fn first_project_id(body: &str) -> String {
    project_ids(body)
        .into_iter()
        .next()
        .expect("a project link")
}

/// Every project id the page links to, once each.
fn project_ids(body: &str) -> Vec<String> {
    let marker = "href=\"/projects/";
    let mut ids: Vec<String> = body
        .match_indices(marker)
        .filter_map(|(at, _)| body.get(at + marker.len()..at + marker.len() + 36))
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(str::to_owned)
        .collect();
    ids.dedup();
    ids
}

async fn cookies_headers_and_assets_follow_the_rules() {
    let server = Server::start(Backend::Sqlite).await;
    let mut browser = Visitor::new(&server);

    let page = browser.get("/").await;
    assert_eq!((page.status, location(&page)), (303, "/sign-in"));
    let page = browser.get("/sign-up").await;
    assert_eq!(page.status, 200);
    let pre = page.set_cookie("behest_csrf").unwrap();
    assert!(
        pre.contains("; HttpOnly") && pre.contains("; SameSite=Lax") && !pre.contains("Secure"),
        "{pre}"
    );
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(page.header("server-timing").starts_with("page;dur="));
    assert!(!page.body.contains("<script>") && !page.body.contains(" style="));

    // Every asset the page names, under its hashed name, cached for good.
    let mut assets = Vec::new();
    for marker in ["href=\"/assets/", "src=\"/assets/"] {
        for (at, _) in page.body.match_indices(marker) {
            let from = at + marker.len() - "/assets/".len();
            let end = page.body[from..].find('"').unwrap();
            assets.push(page.body[from..from + end].to_owned());
        }
    }
    assert_eq!(assets.len(), 3, "{assets:?}");
    for asset in &assets {
        let r = server.http.get(server.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(!r.bytes().await.unwrap().is_empty());
    }
    let stale = server
        .http
        .get(server.url("/assets/app.0000000000.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);

    // Signed up: the session cookie, the same session the JSON API takes.
    let page = browser.sign_up("cookies@example.com").await;
    assert_eq!(location(&page), "/projects");
    let session = page.set_cookie("behest_session").unwrap();
    assert!(
        session.contains("; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800")
            && !session.contains("Secure"),
        "{session}"
    );
    assert!(!browser.cookies.contains_key("behest_csrf"), "cleared");
    let me = server
        .call("GET", "/auth/v1/me", Some(&browser.session()), None)
        .await;
    assert_eq!(me.body["user"]["email"], "cookies@example.com", "{me:?}");

    // Over https (as the TLS proxy says), the cookies are Secure.
    let csrf = browser.get("/projects").await.csrf();
    let mut secure = Visitor::new(&server);
    let pre = secure.get("/sign-in").await.csrf();
    let request = server
        .http
        .post(server.url("/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("_csrf", pre.as_str()),
            ("email", "cookies@example.com"),
            ("password", PASSWORD),
        ]);
    let page = secure.send(request).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page
        .set_cookie("behest_session")
        .unwrap()
        .ends_with("; Secure"));

    // On a project's host the dashboard does not exist.
    let project = server
        .create_project(
            &common::Account {
                session: browser.session(),
                tenant_id: me.body["tenants"][0]["id"].as_str().unwrap().to_owned(),
                user_id: String::new(),
            },
            "Hosted",
        )
        .await;
    let host = format!(
        "{}.localhost:{}",
        project["slug"].as_str().unwrap(),
        server.port
    );
    let request = server.http.get(server.url("/projects")).header(HOST, host);
    let page = browser.send(request).await;
    assert_eq!(page.status, 404);
    assert!(page.header("content-type").starts_with("application/json"));

    // Signing out ends the session for the JSON API too.
    let token = browser.session();
    let page = browser.post("/sign-out", &[("_csrf", &csrf)]).await;
    assert_eq!((page.status, location(&page)), (303, "/sign-in"));
    assert!(!browser.cookies.contains_key("behest_session"));
    let page = browser.get("/projects").await;
    assert_eq!((page.status, location(&page)), (303, "/sign-in"));
    let me = server.call("GET", "/auth/v1/me", Some(&token), None).await;
    assert_eq!(me.status, 401);
}

async fn sign_in_failures_are_limited_like_the_json_login() {
    let server = Server::start(Backend::Sqlite).await;
    Visitor::new(&server).sign_up("limited@example.com").await;
    let mut browser = Visitor::new(&server);
    let csrf = browser.get("/sign-in").await.csrf();
    let attempt = |password: &'static str| {
        [
            ("_csrf", csrf.clone()),
            ("email", "limited@example.com".to_owned()),
            ("password", password.to_owned()),
        ]
    };
    for _ in 0..5 {
        let form = attempt("wrong password!");
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = browser.post("/sign-in", &pairs).await;
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(page.body.contains("role=\"alert\""));
        assert!(page.body.contains("invalid email or password"));
        // What was typed stays (the email), what was secret does not.
        assert!(page.body.contains("value=\"limited@example.com\""));
        assert!(!page.body.contains("wrong password!"));
    }
    // The sixth comes too soon: the same delay as the JSON login's, even with the
    // right password.
    let form = attempt(PASSWORD);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = browser.post("/sign-in", &pairs).await;
    assert_eq!(page.status, 429, "{}", page.body);
    let wait: u64 = page.header("retry-after").parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let json = server
        .call(
            "POST",
            "/auth/v1/login",
            None,
            Some(serde_json::json!({"email": "limited@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(json.status, 429, "one limit for both: {json:?}");
}

async fn every_state_changing_route_needs_its_csrf_token() {
    let server = Server::start(Backend::Sqlite).await;
    let mut browser = Visitor::new(&server);
    browser.sign_up("csrf@example.com").await;
    let csrf = browser.get("/projects/new").await.csrf();
    let page = browser
        .post("/projects/new", &[("_csrf", &csrf), ("name", "Guarded")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let id = first_project_id(&browser.get("/projects").await.body);
    let page = browser
        .post(
            &format!("/projects/{id}/keys"),
            &[("_csrf", &csrf), ("name", "kept"), ("role", "user")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);

    // Another signed-in user's token is not this session's.
    let mut other = Visitor::new(&server);
    other.sign_up("csrf-other@example.com").await;
    let foreign = other.get("/projects/new").await.csrf();
    assert_ne!(foreign, csrf);

    let random = uuid::Uuid::new_v4().to_string();
    let routes = [
        "/sign-out".to_owned(),
        "/tenant".to_owned(),
        "/tenants".to_owned(),
        "/projects/new".to_owned(),
        format!("/projects/{id}/retry"),
        format!("/projects/{id}/suspend"),
        format!("/projects/{id}/keys"),
        format!("/projects/{id}/keys/{random}/rotate"),
        format!("/projects/{id}/keys/{random}/revoke"),
        format!("/projects/{id}/settings"),
        format!("/projects/{id}/settings/deploy"),
        format!("/projects/{id}/settings/discard"),
        format!("/projects/{id}/tiers"),
        format!("/projects/{id}/tiers/{random}/delete"),
        format!("/projects/{id}/model"),
        "/signing-keys".to_owned(),
        format!("/signing-keys/{random}/revoke"),
        "/provider-keys/openai".to_owned(),
        "/admin/sign-in".to_owned(),
        "/admin/sign-out".to_owned(),
        "/admin/killswitch".to_owned(),
        "/admin/providers/openai/sync".to_owned(),
    ];
    for route in &routes {
        for token in [None, Some(foreign.as_str())] {
            let mut form = vec![
                ("name", "forged"),
                ("rpm_limit", "7"),
                ("scope", "global"),
                ("enabled", "true"),
                ("admin_secret", common::ADMIN_SECRET),
            ];
            if let Some(token) = token {
                form.push(("_csrf", token));
            }
            let page = browser.post(route, &form).await;
            assert_eq!(page.status, 403, "{route} with {token:?}: {}", page.body);
            assert!(page.body.contains("<h1>Form expired</h1>"), "{route}");
        }
    }
    // The playground's stream takes the token in a header.
    let r = server
        .http
        .post(server.url(&format!("/projects/{id}/playground/stream")))
        .header("cookie", format!("behest_session={}", browser.session()))
        .json(&serde_json::json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Nothing happened: still signed in, one project, one key, the default rate limit,
    // no kill switch.
    let page = browser.get("/projects").await;
    assert_eq!(page.status, 200);
    assert_eq!(project_ids(&page.body), vec![id.clone()]);
    let session = browser.session();
    let keys = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{id}/api-keys"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(keys.body.as_array().unwrap().len(), 1, "{keys:?}");
    let settings = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{id}/settings"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(settings.body["rpm_limit"], 60);
    let status = server
        .admin("GET", "/v1/admin/killswitch/status", None)
        .await;
    assert_eq!(status.body["global"], false, "{status:?}");
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "cookies_headers_and_assets_follow_the_rules",
            &[],
            cookies_headers_and_assets_follow_the_rules,
        )
        .add(
            "sign_in_failures_are_limited_like_the_json_login",
            &[],
            sign_in_failures_are_limited_like_the_json_login,
        )
        .add(
            "every_state_changing_route_needs_its_csrf_token",
            &[],
            every_state_changing_route_needs_its_csrf_token,
        )
        .run()
}
