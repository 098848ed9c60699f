//! Runs `tests/sdk` (pytest, the published `behest-ai` SDK and PyJWT) against the real
//! binary on each backend. The Python environment comes from `BEHEST_TEST_PYTHON` or
//! `.venv/bin/python` at the repository root (`scripts/sdk-venv.sh` makes it); without
//! one the test is skipped (reported so), except in CI where it must run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::{Need, Tests};

use common::{Backend, Server};

async fn behest_ai_sdk(backend: Backend) {
    let python = behest_testkit::python().expect("the Python SDKs are a prerequisite");
    let server = Server::start(backend).await;
    let account = server.signup("sdk@example.com").await;
    let project = server.create_project(&account, "SDK").await;
    let project_id = project["id"].as_str().unwrap();
    let key = server.create_key(&account, project_id, None).await;
    let signing = server
        .call(
            "POST",
            &format!("/auth/v1/tenants/{}/signing-keys", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(signing.status, 201);

    let output = tokio::process::Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/sdk"])
        .current_dir(behest_testkit::repo_root())
        .env("BEHEST_TEST_BASE", &server.base)
        .env("BEHEST_TEST_SLUG", project["slug"].as_str().unwrap())
        .env("BEHEST_TEST_KEY", &key)
        .env("BEHEST_TEST_PROJECT_ID", project_id)
        .env("BEHEST_TEST_TENANT_ID", &account.tenant_id)
        .env("BEHEST_TEST_SIGNING_KEY", signing.str("private_key"))
        .env("BEHEST_TEST_SIGNING_KID", signing.str("kid"))
        .env(
            "BEHEST_TEST_SIGNING_PUBLIC_PEM",
            signing.str("public_key_pem"),
        )
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "pytest failed:\n{stdout}");
    assert!(stdout.contains(" passed"), "pytest ran nothing:\n{stdout}");
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends("behest_ai_sdk", &[Need::PythonSdks], behest_ai_sdk)
        .run()
}
