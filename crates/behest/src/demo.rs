//! `serve --demo`: a ready-made account, project (echo model live, browsers at
//! `http://localhost:3000` allowed) and API key of role `user` on first start, reused
//! on later starts, and the commands to try them printed to stdout. Everything goes
//! through the control plane's services, exactly as the API would do it. The demo key
//! is kept in the data directory (mode 0600) because its plaintext cannot be shown
//! twice.

use crate::config::Settings;
use anyhow::Context;
use behest_control::service::accounts::{self, LoginInput, SignupInput};
use behest_control::service::api_keys::{self, CreateKeyInput};
use behest_control::service::mint;
use behest_control::service::projects::{self, CreateProjectInput};
use behest_control::service::settings::{self, ModelInput};
use behest_control::{Actor, ControlError, ControlState};
use behest_core::{ErrorCode, Role};
use std::net::SocketAddr;
use uuid::Uuid;

pub const EMAIL: &str = "demo@behest.local";
pub const PASSWORD: &str = "behest-demo-password";
const KEY_FILE: &str = "demo-api-key";
const KEY_NAME: &str = "demo";
const ORIGIN: &str = "http://localhost:3000";

pub async fn prepare(
    ctl: &ControlState,
    settings: &Settings,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let (session, tenant_id, created) = demo_account(ctl).await?;
    let actor = Actor::User(session.user.clone());
    let project = match projects::list(ctl, &actor, tenant_id)
        .await?
        .into_iter()
        .next()
    {
        Some(project) => project,
        None => {
            projects::create(
                ctl,
                &actor,
                tenant_id,
                CreateProjectInput {
                    name: Some("Demo".to_owned()),
                },
            )
            .await?
        }
    };
    if created {
        // The draft → deploy lifecycle, as a tenant would run it.
        let change = serde_json::json!({ "cors_origins": [ORIGIN] });
        let change = change.as_object().cloned().unwrap_or_default();
        settings::update(ctl, &actor, project.id, &change).await?;
        settings::deploy(ctl, &actor, project.id).await?;
        settings::set_model(
            ctl,
            &actor,
            project.id,
            ModelInput {
                provider_model: Some(behest_providers::echo::ECHO_MODEL.to_owned()),
            },
        )
        .await?;
    }
    let key = demo_key(ctl, &actor, settings, project.id).await?;
    accounts::logout(ctl, &session).await?;

    let port = addr.port();
    let site = &ctl.config.site;
    let host = format!("http://{}:{port}", site.prod_fqdn(&project.slug));
    println!(
        "\nBehest demo is ready (its API key mints tokens of role user).\n\
         \n  project   {slug}  ({host})\
         \n  API key   {key}\
         \n\nMint a token for one of your users:\n\
         \n  curl -s {host}/v1/auth/mint \\\
         \n    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\
         \n    -d '{{\"user_id\": \"user-123\", \"ttl\": 900}}'\
         \n\nThen call the model (the built-in echo model) with its access_token, as a browser would:\n\
         \n  curl -sN {host}/v1/chat/completions \\\
         \n    -H 'Authorization: Bearer ACCESS_TOKEN' -H 'Content-Type: application/json' \\\
         \n    -d '{{\"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}], \"stream\": true}}'\
         \n\nBrowsers at {ORIGIN} are allowed (CORS). Without DNS for *.{domain},\
         \nuse http://127.0.0.1:{port}/p/{slug}/v1/... instead of the project host.\n\
         \nThe dashboard: http://localhost:{port}/  (sign in as {EMAIL} / {PASSWORD})\n",
        slug = project.slug,
        domain = site.domain(),
    );
    Ok(())
}

/// A session of the demo user, its tenant, and whether the account is new.
async fn demo_account(ctl: &ControlState) -> anyhow::Result<(accounts::Session, Uuid, bool)> {
    let signup = accounts::signup(
        ctl,
        SignupInput {
            email: Some(EMAIL.to_owned()),
            password: Some(PASSWORD.to_owned()),
            tenant_name: Some("Demo".to_owned()),
        },
    )
    .await;
    let (token, created) = match signup {
        Ok(view) => (view.session_token, true),
        Err(ControlError::Refused {
            code: ErrorCode::EmailTaken,
            ..
        }) => {
            let login = accounts::login(
                ctl,
                LoginInput {
                    email: Some(EMAIL.to_owned()),
                    password: Some(PASSWORD.to_owned()),
                },
                None,
            )
            .await
            .context("the demo account exists with another password; remove the data directory to start over")?;
            (login.session_token, false)
        }
        Err(other) => return Err(other.into()),
    };
    let session = accounts::session(ctl, &token).await?;
    let me = accounts::me(ctl, &Actor::User(session.user.clone())).await?;
    let tenant = me
        .tenants
        .first()
        .map(|t| t.id)
        .context("the demo account has no tenant; remove the data directory to start over")?;
    Ok((session, tenant, created))
}

/// The saved demo key if it is still valid and of role `user`; otherwise a new one
/// (and earlier demo keys of a higher role, from older versions, are revoked).
async fn demo_key(
    ctl: &ControlState,
    actor: &Actor,
    settings: &Settings,
    project_id: Uuid,
) -> anyhow::Result<String> {
    let path = settings.data_dir.join(KEY_FILE);
    if let Ok(saved) = std::fs::read_to_string(&path) {
        let saved = saved.trim().to_owned();
        if let Ok(holder) = mint::authenticate(ctl, Some(&saved), None).await {
            if holder.role() == Role::User && holder.project_id() == project_id {
                return Ok(saved);
            }
        }
    }
    for old in api_keys::list(ctl, actor, project_id).await? {
        if old.name.as_deref() == Some(KEY_NAME) && old.role != Role::User.as_str() {
            api_keys::revoke(ctl, actor, project_id, old.id).await?;
        }
    }
    let created = api_keys::create(
        ctl,
        actor,
        project_id,
        CreateKeyInput {
            name: Some(KEY_NAME.to_owned()),
            role: Some(Role::User.as_str().to_owned()),
        },
    )
    .await?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    write_private(&path, &created.api_key)?;
    Ok(created.api_key)
}

fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
