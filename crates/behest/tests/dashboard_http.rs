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

    /// A browser already signed in with a session the JSON API opened.
    fn signed_in(server: &'a Server, session: &str) -> Visitor<'a> {
        let mut visitor = Visitor::new(server);
        visitor
            .cookies
            .insert("behest_session".to_owned(), session.to_owned());
        visitor
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

async fn provider_keys_are_validated_saved_and_removed_on_the_page() {
    let fakes = behest_fakes::FakeProviders::start().await.unwrap();
    let root = format!("http://{}", fakes.addr());
    let config = format!(
        "[providers.openai]\nbase_url = \"{root}/v1\"\n[providers.anthropic]\nbase_url = \"{root}\"\n[providers.cohere]\nbase_url = \"{root}\"\n"
    );
    let server = Server::start_with(Backend::Sqlite, &[], &config).await;
    let account = server.signup("byok-page@example.com").await;
    let mut browser = Visitor::signed_in(&server, &account.session);

    // A free tenant sees why it cannot, and where to look; a save is refused anyway.
    let page = browser.get("/provider-keys").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("needs the pro plan"), "{}", page.body);
    assert!(page.body.contains("href=\"/plan\""));
    assert!(page.body.contains(" disabled"));
    let csrf = page.csrf();
    let openai_key = "sk-proj-tenantOwnKeyAAAAAAAAAAAAAAAA1111";
    let page = browser
        .post(
            "/provider-keys/openai",
            &[
                ("_csrf", &csrf),
                ("action", "save"),
                ("api_key", openai_key),
            ],
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("needs the pro plan"));

    let r = server
        .admin(
            "PUT",
            &format!("/auth/v1/admin/tenants/{}/plan", account.tenant_id),
            Some(serde_json::json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let page = browser.get("/provider-keys").await;
    assert!(!page.body.contains("needs the pro plan"));

    // Validate: the provider's verdict, shown at that provider.
    let page = browser
        .post(
            "/provider-keys/anthropic",
            &[
                ("_csrf", &csrf),
                ("action", "validate"),
                ("api_key", "sk-ant-api03-anotherValidKeyXXXXXXXXX"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Valid: the provider accepted this key."));
    let page = browser
        .post(
            "/provider-keys/cohere",
            &[
                ("_csrf", &csrf),
                ("action", "validate"),
                ("api_key", "revokedKeyGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG"),
            ],
        )
        .await;
    assert!(
        page.body.contains("Not valid: invalid key."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("revokedKeyGGGG"), "the key came back");

    // Save: the last four only; then remove.
    let page = browser
        .post(
            "/provider-keys/openai",
            &[
                ("_csrf", &csrf),
                ("action", "save"),
                ("api_key", openai_key),
            ],
        )
        .await;
    assert_eq!(
        (page.status, location(&page)),
        (303, "/provider-keys?done=key-saved")
    );
    let page = browser.get("/provider-keys?done=key-saved").await;
    assert!(page.body.contains("Provider key saved."));
    assert!(
        page.body.contains("key ending <code>1111</code>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&openai_key[..openai_key.len() - 4]));
    let page = browser
        .post("/provider-keys/openai?remove=1", &[("_csrf", &csrf)])
        .await;
    assert_eq!(location(&page), "/provider-keys?done=key-removed");
    let r = server
        .call(
            "GET",
            &format!("/auth/v1/tenants/{}/providers", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.body["providers"], serde_json::json!([]), "{r:?}");
}

async fn the_admin_signs_in_with_the_secret_and_flips_kill_switches() {
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("operator@example.com").await;
    let mut browser = Visitor::signed_in(&server, &account.session);
    let page = browser.get("/admin").await;
    assert!(page.body.contains("Admin secret") && !page.body.contains("Kill switches"));
    let csrf = page.csrf();

    let page = browser
        .post(
            "/admin/sign-in",
            &[("_csrf", &csrf), ("admin_secret", "not-the-secret-at-all")],
        )
        .await;
    assert_eq!(page.status, 401);
    assert!(page.set_cookie("behest_admin").is_none());
    // Not signed in as admin: the switch is refused.
    let page = browser
        .post(
            "/admin/killswitch",
            &[("_csrf", &csrf), ("scope", "global"), ("enabled", "true")],
        )
        .await;
    assert_eq!(page.status, 403);

    let page = browser
        .post(
            "/admin/sign-in",
            &[("_csrf", &csrf), ("admin_secret", common::ADMIN_SECRET)],
        )
        .await;
    assert_eq!((page.status, location(&page)), (303, "/admin"));
    let cookie = page.set_cookie("behest_admin").unwrap();
    assert!(
        cookie.contains("; HttpOnly; SameSite=Lax; Max-Age=43200"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(common::ADMIN_SECRET),
        "the cookie proves, not holds"
    );
    let page = browser.get("/admin").await;
    assert!(page.body.contains("<h2>Kill switches</h2>"));
    assert!(page.body.contains("<code>openai</code>"), "the catalog");

    let page = browser
        .post(
            "/admin/killswitch",
            &[("_csrf", &csrf), ("scope", "global"), ("enabled", "true")],
        )
        .await;
    assert_eq!(location(&page), "/admin?done=switched");
    let status = server
        .admin("GET", "/v1/admin/killswitch/status", None)
        .await;
    assert_eq!(status.body["global"], true, "{status:?}");
    let page = browser.get("/admin").await;
    assert!(page.body.contains("ON — all traffic refused"));
    browser
        .post(
            "/admin/killswitch",
            &[("_csrf", &csrf), ("scope", "global"), ("enabled", "false")],
        )
        .await;
    let status = server
        .admin("GET", "/v1/admin/killswitch/status", None)
        .await;
    assert_eq!(status.body["global"], false, "{status:?}");

    // A project switched off by id, and back on from its row.
    let project = server.create_project(&account, "Switched").await;
    let id = project["id"].as_str().unwrap();
    browser
        .post(
            "/admin/killswitch",
            &[
                ("_csrf", &csrf),
                ("scope", "project"),
                ("id", id),
                ("enabled", "true"),
            ],
        )
        .await;
    let status = server
        .admin("GET", "/v1/admin/killswitch/status", None)
        .await;
    assert_eq!(
        status.body["projects"],
        serde_json::json!([id]),
        "{status:?}"
    );
    let page = browser
        .post(
            "/admin/killswitch",
            &[
                ("_csrf", &csrf),
                ("scope", "project"),
                ("id", "nope"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(page.status, 400, "a bad id is named: {}", page.body);

    // Signed out of admin: refused again.
    browser.post("/admin/sign-out", &[("_csrf", &csrf)]).await;
    assert!(!browser.cookies.contains_key("behest_admin"));
    let page = browser
        .post(
            "/admin/killswitch",
            &[("_csrf", &csrf), ("scope", "global"), ("enabled", "true")],
        )
        .await;
    assert_eq!(page.status, 403);
}

async fn usage_shows_refusals_and_guard_hits() {
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("usage-page@example.com").await;
    let project = server.project_with_token(&account, "Guarded").await;
    server
        .deploy_settings(
            &account,
            &project.id,
            serde_json::json!({"sentinel_mode": "enforce", "sentinel_blocklist": ["forbidden"]}),
        )
        .await;
    let ask = |text: &str| serde_json::json!({"messages": [{"role": "user", "content": text}]});
    let r = server
        .chat(&project.slug, &project.token, ask("hello"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = server
        .chat(&project.slug, &project.token, ask("something forbidden"))
        .await;
    assert_eq!(r.status, 451, "{r:?}");

    let mut browser = Visitor::signed_in(&server, &account.session);
    let path = format!("/projects/{}/usage", project.id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let page = browser.get(&path).await;
        // Both records in (the page's queries are separate reads of a growing table).
        let both = page.body.contains("content_blocked")
            && page.body.contains("<div class=\"stat\">Requests<b>2</b>");
        if both || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        page.body.contains("<code>content_blocked</code>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<code>blocklist:0</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<code>end-user-1</code>"), "top users");
    assert!(!page.body.contains("something forbidden"), "never the text");
    // Seven daily bars, the empty days included.
    assert_eq!(
        page.body.matches("<rect class=\"bar\"").count(),
        3 * 7,
        "{}",
        page.body
    );
    let csv = browser.get(&format!("{path}.csv?days=7")).await;
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    assert!(csv
        .header("content-disposition")
        .starts_with("attachment; filename=\"usage-"));
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        rows[0],
        "start,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd"
    );
    assert_eq!(rows.len(), 1 + 7, "{}", csv.body);
    let requests: i64 = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(1).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(requests, 2, "{}", csv.body);
}

/// The text between `start` and the next `end` after it.
fn between<'b>(body: &'b str, start: &str, end: &str) -> &'b str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {body}"))
        + start.len();
    let len = body[from..].find(end).unwrap();
    &body[from..from + len]
}

async fn project_pages_act_through_the_services() {
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("pages@example.com").await;
    let mut browser = Visitor::signed_in(&server, &account.session);
    let csrf = browser.get("/projects").await.csrf();

    // The free plan's limit, explained where the form is.
    for name in ["One", "Two", "Three"] {
        let page = browser
            .post("/projects/new", &[("_csrf", &csrf), ("name", name)])
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
    }
    let page = browser
        .post("/projects/new", &[("_csrf", &csrf), ("name", "Four")])
        .await;
    assert_eq!(page.status, 403);
    assert!(
        page.body
            .contains("The free plan runs at most 3 active projects"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"Four\""), "what was typed stays");
    let page = browser
        .post("/projects/new", &[("_csrf", &csrf), ("name", "")])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("id=\"name-error\""), "{}", page.body);

    let id = first_project_id(&browser.get("/projects").await.body);
    let base = format!("/projects/{id}");

    // API keys: create, rotate (the old one stops minting), revoke.
    let page = browser
        .post(
            &format!("{base}/keys"),
            &[("_csrf", &csrf), ("name", "web"), ("role", "user")],
        )
        .await;
    let first = between(&page.body, "id=\"new-secret\">", "<").to_owned();
    assert!(first.starts_with("behest_sk_"), "{first}");
    let keys = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    let key_id = keys.body[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .mint(&first, serde_json::json!({"user_id": "u1"}))
            .await
            .status,
        200
    );
    let page = browser.get(&format!("{base}/keys")).await;
    assert!(!page.body.contains(&first), "a listed key is never shown");
    assert!(
        !page.body.contains(">never<"),
        "it minted: last used is set"
    );
    let page = browser
        .post(&format!("{base}/keys/{key_id}/rotate"), &[("_csrf", &csrf)])
        .await;
    let second = between(&page.body, "id=\"new-secret\">", "<").to_owned();
    assert!(second.starts_with("behest_sk_") && second != first);
    assert_eq!(
        server
            .mint(&first, serde_json::json!({"user_id": "u1"}))
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .mint(&second, serde_json::json!({"user_id": "u1"}))
            .await
            .status,
        200
    );
    let keys = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    let second_id = keys.body[0]["id"].as_str().unwrap().to_owned();
    let page = browser
        .post(
            &format!("{base}/keys/{second_id}/revoke"),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(location(&page), format!("{base}/keys?done=revoked"));
    assert_eq!(
        server
            .mint(&second, serde_json::json!({"user_id": "u1"}))
            .await
            .status,
        401
    );

    // Signing keys: the private key once, the kid listed, revoked.
    let page = browser
        .post("/signing-keys", &[("_csrf", &csrf), ("name", "edge")])
        .await;
    assert_eq!(page.status, 200);
    let private = between(&page.body, "id=\"private-key\" readonly rows=\"8\">", "<");
    assert!(
        private.starts_with("behest_pk_-----BEGIN PRIVATE KEY-----"),
        "{private}"
    );
    let kid = between(&page.body, "New signing key <code>", "<").to_owned();
    let page = browser.get("/signing-keys").await;
    assert!(page.body.contains(&format!("<code>{kid}</code>")));
    assert!(!page.body.contains("BEGIN PRIVATE KEY"), "shown once");
    let page = browser
        .post(&format!("/signing-keys/{kid}/revoke"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(location(&page), "/signing-keys?done=revoked");
    assert!(!browser.get("/signing-keys").await.body.contains(&kid));

    // Tiers: an override refused at its field, then one saved with its resolved view.
    let page = browser
        .post(
            &format!("{base}/tiers"),
            &[
                ("_csrf", &csrf),
                ("name", "pro"),
                ("overrides.rpm_limit", "0"),
            ],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("id=\"overrides.rpm_limit-error\""),
        "{}",
        page.body
    );
    let page = browser
        .post(
            &format!("{base}/tiers"),
            &[
                ("_csrf", &csrf),
                ("name", "pro"),
                ("overrides.rpm_limit", "120"),
            ],
        )
        .await;
    assert_eq!(location(&page), format!("{base}/tiers?done=tier-saved"));
    let page = browser.get(&format!("{base}/tiers")).await;
    assert!(
        page.body.contains("Rate limit (rpm): <code>120</code>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<li>Rate limit (rpm): 120</li>"),
        "resolved"
    );
    let page = browser.get(&format!("{base}/settings")).await;
    assert!(
        page.body.contains("data-field=\"tiers\""),
        "a deploy would change the tiers"
    );

    // Model: a draft, then published.
    let page = browser
        .post(
            &format!("{base}/model"),
            &[
                ("_csrf", &csrf),
                ("provider_model", "behest/echo"),
                ("action", "draft"),
            ],
        )
        .await;
    assert_eq!(location(&page), format!("{base}/model?done=model-draft"));
    let settings = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{id}/settings"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(settings.body["draft_provider_model"], "behest/echo");
    assert_eq!(settings.body["provider_model"], serde_json::Value::Null);
    let page = browser
        .post(
            &format!("{base}/model"),
            &[("_csrf", &csrf), ("action", "publish")],
        )
        .await;
    assert_eq!(
        location(&page),
        format!("{base}/model?done=model-published")
    );
    let settings = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{id}/settings"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(settings.body["provider_model"], "behest/echo");
    let page = browser
        .post(
            &format!("{base}/model"),
            &[
                ("_csrf", &csrf),
                ("provider_model", "no-such-model"),
                ("action", "live"),
            ],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page
        .body
        .contains("&quot;no-such-model&quot; is not a known model"));

    // Suspended: the page says so, and the data plane refuses its tokens.
    let fixture_key = server.create_key(&account, &id, None).await;
    let token = server
        .mint(&fixture_key, serde_json::json!({"user_id": "u2"}))
        .await
        .str("access_token");
    let page = browser
        .post(&format!("{base}/suspend"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(location(&page), format!("{base}?done=suspended"));
    let page = browser.get(&format!("{base}?done=suspended")).await;
    assert!(
        page.body.contains("Project suspended.") && page.body.contains("This project is suspended")
    );
    assert!(!page.body.contains(">Suspend project<"));
    let slug = between(&page.body, "Slug<b><code>", "<").to_owned();
    let r = server
        .chat(
            &slug,
            &token,
            serde_json::json!({"messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
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
        .add(
            "provider_keys_are_validated_saved_and_removed_on_the_page",
            &[],
            provider_keys_are_validated_saved_and_removed_on_the_page,
        )
        .add(
            "the_admin_signs_in_with_the_secret_and_flips_kill_switches",
            &[],
            the_admin_signs_in_with_the_secret_and_flips_kill_switches,
        )
        .add(
            "project_pages_act_through_the_services",
            &[],
            project_pages_act_through_the_services,
        )
        .add(
            "usage_shows_refusals_and_guard_hits",
            &[],
            usage_shows_refusals_and_guard_hits,
        )
        .run()
}
