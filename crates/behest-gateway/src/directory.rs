//! The data plane's picture of the world, in memory: every project (by slug and by
//! id) with the settings live traffic uses, its tiers, and the tenants' signing keys.
//! The hot path reads one immutable [`DirectorySnapshot`] through an `ArcSwap` (no lock,
//! no store access). Snapshots are built from the *live image* (`behest-live`): one
//! JSON entry per project and per signing key, derived from the store
//! ([`Directory::image_from_store`]), shared by every replica, and reloaded whenever a
//! change is announced. The control plane applies its own changes before answering, so
//! a project is routable the moment its creation returns.

use arc_swap::ArcSwap;
use behest_core::settings::SettingsValues;
use behest_core::ProjectStatus;
use behest_store::{SettingsRow, Store, StoreError};
use jsonwebtoken::DecodingKey;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// One project as live traffic sees it.
#[derive(Debug)]
pub struct ProjectSnapshot {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub slug: String,
    pub suspended: bool,
    /// The deployed settings (the draft, until a first deploy).
    pub settings: SettingsValues,
    /// Ordered by `sort_order`: a token's integer `tier` indexes this.
    pub tiers: Vec<TierSnapshot>,
    pub cors: CorsPolicy,
}

#[derive(Debug, Clone)]
pub struct TierSnapshot {
    pub name: String,
    pub provider_model: Option<String>,
    pub system_prompt: Option<String>,
    /// Every override, for the stages that read the others (limits, guard, memory).
    pub overrides: serde_json::Value,
}

/// The tiers of a deployed snapshot, ordered by `sort_order` (then creation).
fn deployed_tiers(deployed: &serde_json::Value) -> Vec<TierSnapshot> {
    let mut tiers: Vec<(i64, String, TierSnapshot)> = deployed
        .get("tiers")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let overrides = item.get("overrides").cloned().unwrap_or_default();
            let text = |field: &str| {
                overrides
                    .get(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let tier = TierSnapshot {
                name: item.get("name")?.as_str()?.to_owned(),
                provider_model: text("provider_model"),
                system_prompt: text("system_prompt"),
                overrides: overrides.clone(),
            };
            let order = item.get("sort_order").and_then(|v| v.as_i64()).unwrap_or(0);
            let created = item
                .get("created_at")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            Some((order, created, tier))
        })
        .collect();
    tiers.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    tiers.into_iter().map(|(_, _, tier)| tier).collect()
}

impl ProjectSnapshot {
    /// The tier a token's `tier` claim names, by name or by index.
    pub fn tier(&self, claim: &behest_core::mint::TierRef) -> Option<&TierSnapshot> {
        match claim {
            behest_core::mint::TierRef::Name(name) => self.tiers.iter().find(|t| &t.name == name),
            behest_core::mint::TierRef::Index(i) => {
                usize::try_from(*i).ok().and_then(|i| self.tiers.get(i))
            }
        }
    }
}

/// The project's browser origins, ready for exact matching.
#[derive(Debug, Default)]
pub struct CorsPolicy {
    pub any_origin: bool,
    pub origins: HashSet<String>,
    pub allow_credentials: bool,
}

impl CorsPolicy {
    fn new(settings: &SettingsValues) -> CorsPolicy {
        let any_origin = settings.cors_origins.iter().any(|o| o == "*");
        CorsPolicy {
            any_origin,
            origins: settings
                .cors_origins
                .iter()
                .filter(|o| *o != "*")
                .cloned()
                .collect(),
            // Never credentials with "*", whatever the store says.
            allow_credentials: settings.cors_allow_credentials && !any_origin,
        }
    }

    /// Whether a browser at `origin` may call: exact match on scheme, host and port;
    /// `null` never matches, not even `*`.
    pub fn allows(&self, origin: &str) -> bool {
        origin != "null" && (self.any_origin || self.origins.contains(origin))
    }
}

/// A tenant's registered signing key.
pub struct TenantKey {
    pub tenant_id: Uuid,
    pub decoding: DecodingKey,
}

#[derive(Default)]
pub struct DirectorySnapshot {
    by_slug: HashMap<String, Arc<ProjectSnapshot>>,
    by_id: HashMap<Uuid, Arc<ProjectSnapshot>>,
    tenant_keys: HashMap<String, TenantKey>,
    /// Increases with every reload; caches derived from a snapshot compare it.
    pub generation: u64,
}

impl DirectorySnapshot {
    pub fn project_by_slug(&self, slug: &str) -> Option<&Arc<ProjectSnapshot>> {
        self.by_slug.get(slug)
    }

    pub fn project_by_id(&self, id: &Uuid) -> Option<&Arc<ProjectSnapshot>> {
        self.by_id.get(id)
    }

    pub fn tenant_key(&self, kid: &str) -> Option<&TenantKey> {
        self.tenant_keys.get(kid)
    }
}

#[derive(Default)]
pub struct Directory {
    current: ArcSwap<DirectorySnapshot>,
    generations: AtomicU64,
    /// The image `current` was built from: an identical image is not rebuilt, so the
    /// generation (and the verified-token cache keyed on it) survives reloads that
    /// change nothing.
    loaded: std::sync::Mutex<HashMap<String, String>>,
}

impl Directory {
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<DirectorySnapshot>> {
        self.current.load()
    }

    /// Builds the live image from the store: one entry per project (its deployed
    /// settings, live model and tiers) and per active tenant signing key.
    pub async fn image_from_store(
        store: &dyn Store,
    ) -> Result<HashMap<String, String>, StoreError> {
        let (projects, settings, keys) = tokio::try_join!(
            store.all_projects(),
            store.all_settings(),
            store.active_tenant_signing_keys(),
        )?;
        let mut settings_by_project: HashMap<Uuid, SettingsRow> = settings
            .into_iter()
            .map(|row| (row.project_id, row))
            .collect();
        let mut image = HashMap::new();
        for project in projects {
            let row = settings_by_project.remove(&project.id);
            let entry = ProjectEntry {
                id: project.id,
                tenant_id: project.tenant_id,
                slug: project.slug,
                suspended: project.status == ProjectStatus::Suspended,
                deployed: row.as_ref().and_then(|r| r.deployed.clone()),
                provider_model: row.and_then(|r| r.provider_model),
            };
            if let Ok(json) = serde_json::to_string(&entry) {
                image.insert(format!("{PROJECT_PREFIX}{}", entry.id), json);
            }
        }
        for key in keys {
            let entry = KeyEntry {
                kid: key.kid,
                tenant_id: key.tenant_id,
                public_key_pem: key.public_key_pem,
            };
            if let Ok(json) = serde_json::to_string(&entry) {
                image.insert(format!("{KEY_PREFIX}{}", entry.kid), json);
            }
        }
        Ok(image)
    }

    /// Replaces the snapshot with one built from a live image. Entries that cannot be
    /// read (a malformed key, settings of an unknown shape) are skipped with a warning
    /// rather than taking every other project down with them. An image identical to
    /// the one already loaded changes nothing.
    pub fn load_image(&self, image: &HashMap<String, String>) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if *loaded == *image && self.generations.load(Ordering::Relaxed) > 0 {
            return;
        }
        loaded.clone_from(image);
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut next = DirectorySnapshot {
            generation,
            ..DirectorySnapshot::default()
        };
        for (key, json) in image {
            if key.starts_with(PROJECT_PREFIX) {
                match serde_json::from_str::<ProjectEntry>(json) {
                    Ok(entry) => {
                        let snapshot = Arc::new(entry.into_snapshot());
                        next.by_slug.insert(snapshot.slug.clone(), snapshot.clone());
                        next.by_id.insert(snapshot.id, snapshot);
                    }
                    Err(err) => {
                        tracing::warn!(%key, error = %err, "unreadable project in the live image")
                    }
                }
            } else if key.starts_with(KEY_PREFIX) {
                match serde_json::from_str::<KeyEntry>(json)
                    .map_err(|e| e.to_string())
                    .and_then(|entry| {
                        let public = behest_auth::rsa_keys::public_from_pem(&entry.public_key_pem)
                            .map_err(|e| e.to_string())?;
                        let (n, e) = behest_auth::rsa_keys::components(&public);
                        let decoding =
                            DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())?;
                        Ok((
                            entry.kid,
                            TenantKey {
                                tenant_id: entry.tenant_id,
                                decoding,
                            },
                        ))
                    }) {
                    Ok((kid, key)) => {
                        next.tenant_keys.insert(kid, key);
                    }
                    Err(err) => {
                        tracing::warn!(%key, error = %err, "unusable tenant signing key in the live image")
                    }
                }
            }
        }
        self.current.store(Arc::new(next));
    }

    /// Loads straight from the store (no live state in between).
    pub async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let image = Self::image_from_store(store).await?;
        self.load_image(&image);
        Ok(())
    }
}

const PROJECT_PREFIX: &str = "project:";
const KEY_PREFIX: &str = "signing_key:";

/// A project as the live image stores it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ProjectEntry {
    id: Uuid,
    tenant_id: Uuid,
    slug: String,
    suspended: bool,
    /// The deployed snapshot (settings and `tiers`); `None` before the first deploy.
    deployed: Option<serde_json::Value>,
    provider_model: Option<String>,
}

impl ProjectEntry {
    fn into_snapshot(self) -> ProjectSnapshot {
        // Live traffic sees the deployed snapshot (the defaults until a first deploy),
        // its tiers and the live model; a draft is never live.
        let mut settings = match self
            .deployed
            .as_ref()
            .map(|d| serde_json::from_value::<SettingsValues>(d.clone()))
        {
            None => SettingsValues::default(),
            Some(Ok(values)) => values,
            Some(Err(err)) => {
                tracing::warn!(project = %self.id, error = %err, "unreadable deployed settings; using defaults");
                SettingsValues::default()
            }
        };
        settings.provider_model = self.provider_model;
        ProjectSnapshot {
            id: self.id,
            tenant_id: self.tenant_id,
            slug: self.slug,
            suspended: self.suspended,
            cors: CorsPolicy::new(&settings),
            tiers: self
                .deployed
                .as_ref()
                .map(deployed_tiers)
                .unwrap_or_default(),
            settings,
        }
    }
}

/// A tenant signing key's public half as the live image stores it.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeyEntry {
    kid: String,
    tenant_id: Uuid,
    public_key_pem: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_image_keeps_the_snapshot_and_its_generation() {
        let directory = Directory::default();
        let project = ProjectEntry {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            slug: "amber-fox-042".into(),
            suspended: false,
            deployed: None,
            provider_model: None,
        };
        let mut image = HashMap::from([(
            format!("{PROJECT_PREFIX}{}", project.id),
            serde_json::to_string(&project).unwrap(),
        )]);
        directory.load_image(&HashMap::new());
        assert_eq!(
            directory.snapshot().generation,
            1,
            "the first load always builds"
        );
        directory.load_image(&image);
        let first = directory.snapshot().generation;
        assert!(directory
            .snapshot()
            .project_by_slug("amber-fox-042")
            .is_some());
        directory.load_image(&image.clone());
        assert_eq!(
            directory.snapshot().generation,
            first,
            "nothing changed, nothing rebuilt"
        );
        image.clear();
        directory.load_image(&image);
        assert_eq!(directory.snapshot().generation, first + 1);
        assert!(directory
            .snapshot()
            .project_by_slug("amber-fox-042")
            .is_none());
    }

    #[test]
    fn cors_matches_exactly() {
        let settings = SettingsValues {
            cors_origins: vec![
                "http://localhost:3000".into(),
                "https://app.example.com".into(),
            ],
            cors_allow_credentials: true,
            ..SettingsValues::default()
        };
        let policy = CorsPolicy::new(&settings);
        assert!(policy.allows("http://localhost:3000"));
        assert!(policy.allows("https://app.example.com"));
        for origin in [
            "http://localhost:3001",
            "https://localhost:3000",
            "http://localhost:3000/",
            "https://app.example.com.evil.com",
            "https://evil-app.example.com",
            "https://example.com",
            "null",
            "",
        ] {
            assert!(!policy.allows(origin), "{origin}");
        }
        assert!(policy.allow_credentials);
    }

    #[test]
    fn star_allows_any_origin_but_never_null_nor_credentials() {
        let settings = SettingsValues {
            cors_origins: vec!["*".into()],
            cors_allow_credentials: true,
            ..SettingsValues::default()
        };
        let policy = CorsPolicy::new(&settings);
        assert!(policy.allows("https://anything.example"));
        assert!(!policy.allows("null"));
        assert!(!policy.allow_credentials);
    }
}
