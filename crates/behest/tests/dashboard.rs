//! The dashboard end to end in a real browser against the real binary: headless
//! Chromium (driven by `tests/browser/dashboard.mjs`) clicks through the seed's whole
//! journey — sign up, create a project, wait for READY, allow an origin, see the diff,
//! deploy, create and copy an API key, mint with it and stream through the gateway, find
//! the user in Usage — plus a discarded draft, a validation error, another tenant's
//! project, a form without its CSRF token, keyboard-only sign-in, and per page axe-core,
//! 375 px width and first-load weight. Screenshots of every page are kept in
//! `target/dashboard-screenshots`. Needs `scripts/browser-setup.sh` (reported as
//! skipped without it, except in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::{Need, Tests};

use common::{Backend, Server};
use serde_json::{json, Value};
use std::time::Duration;

const EMAIL: &str = "dash@example.com";
const PASSWORD: &str = "correct horse battery staple";
const OTHER_PROJECT: &str = "Someone Else's Shop";

/// Every check `dashboard.mjs` reports (`checks` in its JSON line); each must be true.
const CHECKS: &[&str] = &[
    // Sign up, sign out, sign in (a wrong password first, then the keyboard only).
    "rootRedirectsToSignIn",
    "signInPage",
    "signUpPage",
    "signUpLandsOnProjects",
    "projectsPage",
    "planShown",
    "mainNav",
    "signOutButton",
    "signedOut",
    "signInErrorAlert",
    "keyboardReachesEmail",
    "keyboardReachesPassword",
    "keyboardEnterSignsIn",
    // A project, READY by itself; the projects table and the quickstart.
    "newProjectPage",
    "projectCreated",
    "overviewH1",
    "projectNav",
    "dnsReady",
    "pendingRefreshes",
    "suspendButton",
    "projectsTableColumns",
    "projectsTableRow",
    "projectsTableDnsReady",
    "quickstartHasHost",
    // Settings: allow http://localhost:3000, the diff, deploy, live.
    "settingsPage",
    "settingsFieldsets",
    "settingsLabels",
    "draftDiffShowsOrigin",
    "draftDiffOnlyOrigin",
    "draftNotLive",
    "deployedStatus",
    "diffMatchesAfterDeploy",
    "corsDeployedAllowed",
    // A discarded draft changes nothing live.
    "discardDraftDiffRows",
    "draftOriginNotLive",
    "discardRestoresRpm",
    "discardRestoresOrigins",
    "discardDiffMatches",
    "discardedOriginNotAllowed",
    "deployedOriginStillAllowed",
    // A validation error next to its field.
    "validationErrorShown",
    "validationAriaInvalid",
    "validationErrorNextToField",
    "validationAlert",
    "invalidDraftNotSaved",
    // An API key, copied; minted with and streamed through the gateway.
    "keysPage",
    "newSecretShown",
    "secretShownOnceWarning",
    "clipboardCopied",
    "keysTableRow",
    "keysRowButtons",
    "mintWithCopiedKey",
    "streamed",
    "streamedTwice",
    // Usage shows the end user.
    "usagePage",
    "usageShowsUser",
    "usageCharts",
    "usageControls",
    "usageTopSessions",
    "usageCsvLink",
    "usageCsvDownload",
    // The other pages.
    "tiersPage",
    "modelPage",
    "modelDraftSaved",
    "playgroundPage",
    "playgroundStreams",
    "playgroundTokens",
    "playgroundOutcome",
    "signingKeysPage",
    "providerKeysPage",
    "adminPage",
    "adminSignInForm",
    // Another tenant's project; forms without their CSRF token.
    "otherTenantStatus404",
    "otherTenantNotFound",
    "otherTenantSettings404",
    "otherTenantNoLeak",
    "unknownProject404",
    // A second tenant, the switcher, and back.
    "planPage",
    "tenantCreated",
    "tenantSwitcherShown",
    "tenantSwitchedBack",
    "csrfFetchRefused",
    "csrfFetchFormExpired",
    "csrfWrongTokenRefused",
    "csrfFormRefused",
    "csrfCreatedNothing",
    // Every page: axe-core, 375 px, first load < 150 KB; CSP holds; sign out.
    "noCspViolations",
    "noPageErrors",
    "auditRan",
    "axeClean",
    "fitsAt375",
    "firstLoadUnder150KB",
    "signOutEndsSession",
];

/// The pages the audit must have covered (`pages` in the JSON line).
const PAGES: &[&str] = &[
    "sign-in",
    "sign-up",
    "projects",
    "new-project",
    "overview",
    "keys",
    "settings",
    "tiers",
    "model",
    "usage",
    "playground",
    "signing-keys",
    "provider-keys",
    "admin",
    "plan",
    "not-found",
    "settings-invalid",
    "keys-new-secret",
    "form-expired",
    "sign-in-error",
];

/// What the server says the dashboard did, through the JSON API as the same user.
async fn server_side(server: &Server, result: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let login = server
        .call(
            "POST",
            "/auth/v1/login",
            None,
            Some(json!({"email": EMAIL, "password": PASSWORD})),
        )
        .await;
    if login.status != 200 {
        return vec![format!("the dashboard's user cannot log in: {login:?}")];
    }
    let session = login.str("session_token");
    let me = server
        .call("GET", "/auth/v1/me", Some(&session), None)
        .await;
    let tenant = me.body["tenants"][0]["id"].as_str().unwrap_or_default();
    let projects = server
        .call(
            "GET",
            &format!("/auth/v1/tenants/{tenant}/projects"),
            Some(&session),
            None,
        )
        .await;
    let list = projects.body.as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = list.iter().filter_map(|p| p["name"].as_str()).collect();
    // The forms posted without their CSRF token created nothing.
    if names != ["Dash Shop"] {
        wrong.push(format!("the tenant's projects are {names:?}: {projects:?}"));
    }
    let Some(id) = result["values"]["projectId"].as_str() else {
        wrong.push("the script found no project id".into());
        return wrong;
    };
    // Deployed http://localhost:3000; the discarded draft (rpm, :4000) left nothing.
    let settings = server
        .settings(
            &common::Account {
                session: session.clone(),
                tenant_id: tenant.into(),
                user_id: String::new(),
            },
            id,
            "GET",
            "",
            None,
        )
        .await;
    if settings.body["cors_origins"] != json!(["http://localhost:3000"]) {
        wrong.push(format!("settings after the journey: {settings:?}"));
    }
    if let Some(rpm) = result["values"]["rpmDeployed"].as_str() {
        let live = match &settings.body["rpm_limit"] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if live != rpm {
            wrong.push(format!(
                "rpm_limit {} after discarding, deployed {rpm}",
                settings.body["rpm_limit"]
            ));
        }
    }
    // The two completions streamed for dash-user-1 are in the project's usage.
    let mut requests = 0;
    for _ in 0..50 {
        let usage = server
            .call(
                "GET",
                &format!("/auth/v1/projects/{id}/usage?user_id=dash-user-1"),
                Some(&session),
                None,
            )
            .await;
        requests = usage.body["totals"]["requests"].as_i64().unwrap_or(0);
        if requests >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if requests < 2 {
        wrong.push(format!("dash-user-1 has {requests} requests in usage"));
    }
    wrong
}

async fn the_dashboard_in_a_real_browser() {
    let root = behest_testkit::repo_root();
    let server = Server::start(Backend::Sqlite).await;
    // Another tenant, with a project the dashboard's user must not see.
    let other = server.signup("other-tenant@example.com").await;
    let other_project = server.create_project(&other, OTHER_PROJECT).await;
    let other_id = other_project["id"].as_str().unwrap();

    let screenshots = root.join("target/dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).unwrap();

    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/dashboard.mjs"))
        .env("BEHEST_BASE", &server.base)
        .env("OTHER_PROJECT_ID", other_id)
        .env("OTHER_PROJECT_NAME", OTHER_PROJECT)
        .env("DASH_EMAIL", EMAIL)
        .env("DASH_PASSWORD", PASSWORD)
        .env("ADMIN_SECRET", common::ADMIN_SECRET)
        .env("SCREENSHOT_DIR", &screenshots)
        .kill_on_drop(true)
        .output();
    // The script's own hard timeout is 300 s.
    let output = tokio::time::timeout(Duration::from_secs(360), run)
        .await
        .expect("dashboard.mjs finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = || {
        format!(
            "stdout:\n{stdout}\nstderr:\n{stderr}\nserver log (tail):\n{}",
            tail(&server.log(), 60)
        )
    };
    let result: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("dashboard.mjs printed no JSON result\n{}", context()));

    // Each check by name, so a failure says what broke (and `details` why).
    let mut failed: Vec<String> = CHECKS
        .iter()
        .filter(|name| result["checks"][**name] != true)
        .map(|name| format!("{name}: {}", result["details"][*name]))
        .collect();
    let reported = result["checks"].as_object().cloned().unwrap_or_default();
    failed.extend(
        reported
            .keys()
            .filter(|name| !CHECKS.contains(&name.as_str()))
            .map(|name| format!("{name}: reported by the script but unknown here")),
    );
    for page in PAGES {
        let audit = &result["pages"][*page];
        if audit.is_null() {
            failed.push(format!("page {page}: not audited"));
        } else if audit["axe"] != json!([]) {
            failed.push(format!("page {page}: axe {}", audit["axe"]));
        }
    }
    // The echo model answers with the prompt.
    if result["values"]["streamText"] != "Hello from the dashboard" {
        failed.push(format!("streamed {}", result["values"]["streamText"]));
    }
    let shots = result["screenshots"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if shots.len() < PAGES.len() {
        failed.push(format!("only {} screenshots", shots.len()));
    }
    for shot in &shots {
        let path = shot.as_str().unwrap_or_default();
        if !std::path::Path::new(path).is_file() {
            failed.push(format!("screenshot {path} missing"));
        }
    }
    if !result["errors"].as_object().is_none_or(|e| e.is_empty()) {
        failed.push(format!("failed steps: {}", result["errors"]));
    }
    failed.extend(server_side(&server, &result).await);
    // Every check passed, yet the script failed: say so rather than pass.
    if !output.status.success() && failed.is_empty() {
        failed.push(format!("dashboard.mjs exited {}", output.status));
    }
    assert!(
        failed.is_empty(),
        "the dashboard journey failed:\n  {}\n{}",
        failed.join("\n  "),
        context()
    );
    eprintln!(
        "dashboard: {} checks passed, {} screenshots in {}",
        CHECKS.len(),
        shots.len(),
        screenshots.display()
    );
    server.stop().await;
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "the_dashboard_in_a_real_browser",
            &[Need::Browser],
            the_dashboard_in_a_real_browser,
        )
        .run()
}
