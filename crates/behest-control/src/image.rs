//! Builds the live image from the store: one entry per project (its deployed policy
//! and live model), per active tenant signing key, per tenant with its own provider
//! keys (sealed), and one of the kill switches. The control plane is the image's
//! only writer; the gateway only reads it (see `behest_core::image`).

use behest_core::image::{
    ImageEntry, ProjectEntry, ProviderKeysEntry, SealedProviderKey, SigningKeyEntry,
};
use behest_core::killswitch::KillSwitches;
use behest_core::policy::ProjectPolicy;
use behest_core::ProjectStatus;
use behest_store::{SettingsRow, Store, StoreError};
use std::collections::HashMap;
use uuid::Uuid;

/// Seconds past a token's longest lifetime that a revoked key stays in the image (the
/// verifier's clock skew, rounded up).
const REVOCATION_MARGIN_SECS: i64 = 60;

/// The whole image, keyed as the live state keeps it.
pub async fn build(store: &dyn Store) -> Result<HashMap<String, String>, StoreError> {
    // Tokens live at most a day (plus the clock skew): keys revoked before that can
    // have no token left, and leave the image.
    let revoked_since = chrono::Utc::now()
        - chrono::Duration::seconds(*behest_core::mint::TTL_RANGE.end() + REVOCATION_MARGIN_SECS);
    let (projects, settings, keys, switches, provider_keys, revoked) = tokio::try_join!(
        store.all_projects(),
        store.all_settings(),
        store.active_tenant_signing_keys(),
        store.kill_switches(),
        store.all_provider_keys(),
        store.revoked_api_keys_since(revoked_since),
    )?;
    let mut revoked_by_project: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (project_id, key_id) in revoked {
        revoked_by_project
            .entry(project_id)
            .or_default()
            .push(key_id);
    }
    let mut by_tenant: HashMap<Uuid, Vec<SealedProviderKey>> = HashMap::new();
    for key in provider_keys {
        by_tenant
            .entry(key.tenant_id)
            .or_default()
            .push(SealedProviderKey {
                provider: key.provider_type,
                sealed_key: key.sealed_key,
                base_url: key.base_url,
            });
    }
    let mut settings_by_project: HashMap<Uuid, SettingsRow> = settings
        .into_iter()
        .map(|row| (row.project_id, row))
        .collect();
    let mut image = HashMap::new();
    let entries = projects
        .into_iter()
        .map(|project| {
            let row = settings_by_project.remove(&project.id);
            let (deployed, model) = row.map_or((None, None), |r| (r.deployed, r.provider_model));
            ImageEntry::Project(Box::new(ProjectEntry {
                id: project.id,
                tenant_id: project.tenant_id,
                slug: project.slug,
                suspended: project.status == ProjectStatus::Suspended,
                // Live traffic sees the deployed snapshot and the live model; a draft
                // is never live.
                policy: ProjectPolicy::new(deployed, model),
                revoked_keys: {
                    let mut keys = revoked_by_project.remove(&project.id).unwrap_or_default();
                    // A stable order: an unchanged set must encode to the same entry.
                    keys.sort_unstable();
                    keys
                },
            }))
        })
        .chain(keys.into_iter().map(|key| {
            ImageEntry::SigningKey(SigningKeyEntry {
                kid: key.kid,
                tenant_id: key.tenant_id,
                public_key_pem: key.public_key_pem,
            })
        }))
        .chain(by_tenant.into_iter().map(|(tenant_id, keys)| {
            ImageEntry::ProviderKeys(ProviderKeysEntry { tenant_id, keys })
        }))
        .chain(std::iter::once(ImageEntry::KillSwitches(
            KillSwitches::from_scopes(switches),
        )));
    for entry in entries {
        match entry.encode() {
            Ok((key, json)) => {
                image.insert(key, json);
            }
            Err(err) => tracing::error!(error = %err, "cannot encode a live image entry"),
        }
    }
    Ok(image)
}
