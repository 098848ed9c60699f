//! `serve --demo`: a ready-made account, project and API key on first start, reused on
//! later starts, and the commands to try them printed to stdout. The demo key is kept
//! in the data directory (mode 0600) because its plaintext cannot be shown twice.

use crate::config::Settings;
use anyhow::Context;
use behest_auth::{api_key, password};
use behest_core::settings::SettingsValues;
use behest_core::Role;
use behest_http::SiteDomain;
use behest_store::{NewAccount, NewApiKey, NewProject, Project, Store};
use std::net::SocketAddr;

pub const EMAIL: &str = "demo@behest.local";
pub const PASSWORD: &str = "behest-demo-password";
const KEY_FILE: &str = "demo-api-key";

pub async fn prepare(
    store: &dyn Store,
    settings: &Settings,
    site: &SiteDomain,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let project = demo_project(store).await?;
    let key = demo_key(store, settings, &project).await?;
    let port = addr.port();
    let host = format!("http://{}:{port}", site.prod_fqdn(&project.slug));
    println!(
        "\nBehest demo is ready.\n\
         \n  dashboard login  {EMAIL} / {PASSWORD}\
         \n  project          {slug}  ({host})\
         \n  API key          {key}\
         \n\nMint a token for one of your users:\n\
         \n  curl -s {host}/v1/auth/mint \\\
         \n    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\
         \n    -d '{{\"user_id\": \"user-123\", \"ttl\": 900}}'\
         \n\nThen call the model (the built-in echo model) with its access_token, as a browser would:\n\
         \n  curl -sN {host}/v1/chat/completions \\\
         \n    -H 'Authorization: Bearer ACCESS_TOKEN' -H 'Content-Type: application/json' \\\
         \n    -d '{{\"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}], \"stream\": true}}'\
         \n\nBrowsers at http://localhost:3000 are allowed (CORS). Without DNS for *.{domain},\
         \nuse http://127.0.0.1:{port}/p/{slug}/v1/... instead of the project host.\n",
        slug = project.slug,
        domain = site.domain(),
    );
    Ok(())
}

async fn demo_project(store: &dyn Store) -> anyhow::Result<Project> {
    if let Some(user) = store.user_by_email(EMAIL).await? {
        let memberships = store.memberships(user.id).await?;
        for membership in memberships {
            if let Some(project) = store
                .projects(membership.tenant.id)
                .await?
                .into_iter()
                .next()
            {
                return Ok(project);
            }
        }
        anyhow::bail!(
            "the demo account exists but has no project; remove the data directory to start over"
        );
    }
    let password_hash = tokio::task::spawn_blocking(|| password::hash(PASSWORD))
        .await?
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    let (_, tenant) = store
        .create_account(NewAccount {
            email: EMAIL.to_owned(),
            password_hash,
            tenant_name: "Demo".to_owned(),
        })
        .await?;
    let settings = SettingsValues {
        cors_origins: vec!["http://localhost:3000".to_owned()],
        ..SettingsValues::default()
    };
    let project = store
        .create_project(NewProject {
            tenant_id: tenant.id,
            name: "Demo".to_owned(),
            slug: behest_core::slug::random(),
            active_limit: tenant.plan.active_project_limit(),
            settings: serde_json::to_value(settings)?,
        })
        .await?;
    // Deployed at once, with the echo model live: the demo works with no provider key.
    store
        .update_settings(
            project.id,
            Box::new(|row| {
                row.deployed = Some(row.draft.clone());
                row.provider_model = Some(behest_providers::echo::ECHO_MODEL.to_owned());
                row.deployed_at = Some(behest_store::now());
                Ok(())
            }),
        )
        .await?;
    Ok(project)
}

async fn demo_key(
    store: &dyn Store,
    settings: &Settings,
    project: &Project,
) -> anyhow::Result<String> {
    let path = settings.data_dir.join(KEY_FILE);
    if let Ok(saved) = std::fs::read_to_string(&path) {
        let saved = saved.trim().to_owned();
        if let Ok(hash) = api_key::lookup_hash(&saved) {
            let active = store
                .api_key_by_hash(&hash)
                .await?
                .is_some_and(|k| k.revoked_at.is_none());
            if active {
                return Ok(saved);
            }
        }
    }
    let generated = api_key::generate();
    store
        .create_api_key(NewApiKey {
            project_id: project.id,
            name: Some("demo".to_owned()),
            role: Role::Admin,
            key_hash: generated.hash,
        })
        .await?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    write_private(&path, &generated.plaintext)?;
    Ok(generated.plaintext)
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
