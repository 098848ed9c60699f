//! The data plane's picture of the world, in memory: every project (by slug and by
//! id) with its policy resolved per tier, its CORS origins, and the tenants' signing
//! keys and own provider keys (opened here with the master key: the image holds them
//! sealed). The hot path reads one immutable [`DirectorySnapshot`] through an `ArcSwap`
//! (no lock, no store access). Snapshots are built from the *live image*
//! (`behest_core::image`, written by the control plane and shared by every replica)
//! and rebuilt whenever a change is announced; the gateway never reads the store.

use crate::guard::ActivePolicy;
use crate::upstream::Credentials;
use arc_swap::ArcSwap;
use behest_auth::envelope::Envelope;
use behest_core::image::{
    provider_key_context, ImageEntry, ProjectEntry, ProviderKeysEntry, SigningKeyEntry,
};
use behest_core::killswitch::{KillScope, KillSwitches};
use behest_core::mint::TierRef;
use behest_core::settings::SettingsValues;
use behest_providers::Provider;
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
    pub cors: CorsPolicy,
    /// The policy of requests without a (known) tier.
    pub policy: Arc<ActivePolicy>,
    /// Per tier, in `sort_order`: a token's integer `tier` indexes this.
    pub tiers: Vec<Arc<ActivePolicy>>,
    tier_names: Vec<String>,
    /// Tags ([`behest_core::mint::key_tag`]) of the API keys whose minted tokens are
    /// refused (revoked, not rotated).
    pub revoked_keys: HashSet<u64>,
}

impl ProjectSnapshot {
    /// Resolves every tier's policy once, with `default_model` for projects (and tiers)
    /// that chose no model.
    fn new(entry: ProjectEntry, default_model: &str) -> ProjectSnapshot {
        let policy = entry.policy;
        let tiers = (0..policy.tiers.len())
            .map(|i| Arc::new(ActivePolicy::new(policy.effective(Some(i), default_model))))
            .collect();
        ProjectSnapshot {
            id: entry.id,
            tenant_id: entry.tenant_id,
            slug: entry.slug,
            suspended: entry.suspended,
            cors: CorsPolicy::new(&policy.settings),
            policy: Arc::new(ActivePolicy::new(policy.effective(None, default_model))),
            tiers,
            tier_names: policy.tiers.iter().map(|t| t.name.clone()).collect(),
            revoked_keys: entry
                .revoked_keys
                .iter()
                .map(|id| behest_core::mint::key_tag(*id))
                .collect(),
        }
    }

    /// The policy for a token's `tier` claim (by name or index); the project's own for
    /// no claim or a tier the project does not have.
    pub fn policy_for(&self, claim: Option<&TierRef>) -> &Arc<ActivePolicy> {
        let index = claim.and_then(|claim| match claim {
            TierRef::Name(name) => self.tier_names.iter().position(|n| n == name),
            TierRef::Index(i) => usize::try_from(*i).ok(),
        });
        index
            .and_then(|i| self.tiers.get(i))
            .unwrap_or(&self.policy)
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
    pub kid: String,
    pub tenant_id: Uuid,
    pub decoding: DecodingKey,
}

impl TenantKey {
    fn new(entry: &SigningKeyEntry) -> Result<TenantKey, String> {
        let public = behest_auth::rsa_keys::public_from_pem(&entry.public_key_pem)
            .map_err(|e| e.to_string())?;
        let (n, e) = behest_auth::rsa_keys::components(&public);
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())?;
        Ok(TenantKey {
            kid: entry.kid.clone(),
            tenant_id: entry.tenant_id,
            decoding,
        })
    }
}

#[derive(Default)]
pub struct DirectorySnapshot {
    by_slug: HashMap<String, Arc<ProjectSnapshot>>,
    by_id: HashMap<Uuid, Arc<ProjectSnapshot>>,
    tenant_keys: HashMap<String, Arc<TenantKey>>,
    /// Tenants' own provider keys, opened, ready to send.
    tenant_credentials: HashMap<(Uuid, Provider), Credentials>,
    kill_switches: KillSwitches,
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

    pub fn tenant_key(&self, kid: &str) -> Option<&Arc<TenantKey>> {
        self.tenant_keys.get(kid)
    }

    /// The tenant's own key for `provider`, if it brought one.
    pub fn tenant_credentials(&self, tenant_id: Uuid, provider: Provider) -> Option<&Credentials> {
        self.tenant_credentials.get(&(tenant_id, provider))
    }

    /// The kill switch that stops this project, if one is on.
    pub fn stopping(&self, project: &ProjectSnapshot) -> Option<KillScope> {
        self.kill_switches.stopping(project.tenant_id, project.id)
    }

    pub fn kill_switches(&self) -> &KillSwitches {
        &self.kill_switches
    }
}

pub struct Directory {
    current: ArcSwap<DirectorySnapshot>,
    generations: AtomicU64,
    /// Ticks with every new snapshot: open streams watch it for kill switches.
    changed: tokio::sync::watch::Sender<u64>,
    /// The model of projects (and tiers) that chose none.
    default_model: String,
    /// The image `current` was built from, entry by entry with what each became: an
    /// identical image changes nothing, and an entry whose JSON did not change is not
    /// parsed, resolved or opened again (its `Arc`s are kept, so what was derived from
    /// one project or key, such as verified tokens, stays valid when another changes).
    loaded: std::sync::Mutex<HashMap<String, Loaded>>,
    /// Opens tenants' provider keys; without it they are ignored (logged).
    secrets: Option<TenantSecrets>,
}

/// One live image entry and what it was turned into.
struct Loaded {
    json: String,
    parsed: Parsed,
}

#[derive(Clone)]
enum Parsed {
    Project(Arc<ProjectSnapshot>),
    SigningKey(Arc<TenantKey>),
    ProviderKeys(Vec<((Uuid, Provider), Credentials)>),
    KillSwitches(KillSwitches),
    /// Unreadable (warned about once, when it arrived).
    Skipped,
}

/// What opening a tenant's provider key needs: the master key, and where the operator
/// says each provider lives (a key without its own base URL goes there).
pub struct TenantSecrets {
    pub envelope: Envelope,
    pub operator_urls: HashMap<Provider, String>,
}

impl Directory {
    pub fn new(default_model: impl Into<String>) -> Directory {
        Directory {
            current: ArcSwap::default(),
            generations: AtomicU64::new(0),
            changed: tokio::sync::watch::Sender::new(0),
            default_model: default_model.into(),
            loaded: std::sync::Mutex::new(HashMap::new()),
            secrets: None,
        }
    }

    pub fn with_secrets(mut self, secrets: TenantSecrets) -> Directory {
        self.secrets = Some(secrets);
        self
    }

    /// A tenant's sealed keys as credentials; one that does not open is skipped (its
    /// projects fall back to the platform's key, if any), logged without the key.
    fn open_tenant_keys(&self, entry: &ProviderKeysEntry) -> Vec<((Uuid, Provider), Credentials)> {
        let mut into = Vec::new();
        let Some(secrets) = &self.secrets else {
            tracing::warn!(tenant = %entry.tenant_id, "tenant provider keys present but no master key to open them");
            return into;
        };
        for key in &entry.keys {
            let Ok(provider) = key.provider.parse::<Provider>() else {
                continue;
            };
            let context = provider_key_context(entry.tenant_id, provider.as_str());
            match secrets.envelope.open_text(&key.sealed_key, &context) {
                Ok(api_key) => {
                    let credentials = Credentials::for_tenant(
                        provider,
                        key.base_url.as_deref(),
                        secrets.operator_urls.get(&provider).map(String::as_str),
                        &api_key,
                    );
                    into.push(((entry.tenant_id, provider), credentials));
                }
                Err(err) => tracing::error!(
                    tenant = %entry.tenant_id,
                    %provider,
                    error = %err,
                    "a tenant's provider key does not open; using the platform's"
                ),
            }
        }
        into
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<DirectorySnapshot>> {
        self.current.load()
    }

    /// Fires whenever a new snapshot is in place.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    /// Replaces the snapshot with one built from a live image. Entries that cannot be
    /// read (a malformed key, a policy of an unknown shape) are skipped with a warning
    /// rather than taking every other project down with them. An image identical to
    /// the one already loaded changes nothing.
    pub fn load_image(&self, image: &HashMap<String, String>) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let unchanged = loaded.len() == image.len()
            && image
                .iter()
                .all(|(key, json)| loaded.get(key).is_some_and(|l| l.json == *json));
        if unchanged && self.generations.load(Ordering::Relaxed) > 0 {
            return;
        }
        let mut next_loaded = HashMap::with_capacity(image.len());
        for (key, json) in image {
            let parsed = match loaded.remove(key) {
                Some(previous) if previous.json == *json => previous.parsed,
                _ => self.parse(key, json),
            };
            next_loaded.insert(
                key.clone(),
                Loaded {
                    json: json.clone(),
                    parsed,
                },
            );
        }
        *loaded = next_loaded;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut next = DirectorySnapshot {
            generation,
            ..DirectorySnapshot::default()
        };
        for entry in loaded.values() {
            match &entry.parsed {
                Parsed::Project(snapshot) => {
                    next.by_slug.insert(snapshot.slug.clone(), snapshot.clone());
                    next.by_id.insert(snapshot.id, snapshot.clone());
                }
                Parsed::SigningKey(key) => {
                    next.tenant_keys.insert(key.kid.clone(), key.clone());
                }
                Parsed::ProviderKeys(keys) => next.tenant_credentials.extend(keys.iter().cloned()),
                Parsed::KillSwitches(switches) => next.kill_switches = switches.clone(),
                Parsed::Skipped => {}
            }
        }
        self.current.store(Arc::new(next));
        self.changed.send_replace(generation);
    }

    /// One image entry, read. Entries that cannot be read are skipped with a warning.
    fn parse(&self, key: &str, json: &str) -> Parsed {
        match ImageEntry::parse(key, json) {
            Ok(ImageEntry::Project(entry)) => {
                Parsed::Project(Arc::new(ProjectSnapshot::new(*entry, &self.default_model)))
            }
            Ok(ImageEntry::KillSwitches(switches)) => Parsed::KillSwitches(switches),
            Ok(ImageEntry::ProviderKeys(entry)) => {
                Parsed::ProviderKeys(self.open_tenant_keys(&entry))
            }
            Ok(ImageEntry::SigningKey(entry)) => match TenantKey::new(&entry) {
                Ok(key) => Parsed::SigningKey(Arc::new(key)),
                Err(err) => {
                    tracing::warn!(%key, error = %err, "unusable tenant signing key in the live image");
                    Parsed::Skipped
                }
            },
            Err(err) => {
                tracing::warn!(%key, error = %err, "unreadable live image entry");
                Parsed::Skipped
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use behest_core::policy::{ProjectPolicy, TierPolicy};
    use behest_core::settings::SettingsPatch;

    fn entry(policy: ProjectPolicy) -> ProjectEntry {
        ProjectEntry {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            slug: "amber-fox-042".into(),
            suspended: false,
            policy,
            revoked_keys: Vec::new(),
        }
    }

    fn image_of(entry: &ProjectEntry) -> HashMap<String, String> {
        HashMap::from([ImageEntry::Project(Box::new(entry.clone()))
            .encode()
            .unwrap()])
    }

    #[test]
    fn tenant_keys_open_only_for_their_tenant_and_provider() {
        use behest_auth::envelope::MasterKey;
        use behest_core::image::SealedProviderKey;
        let envelope = Envelope::new(MasterKey::generate(), Vec::new());
        let tenant = Uuid::new_v4();
        let sealed = |owner: Uuid, provider: &str, key: &str| SealedProviderKey {
            provider: provider.to_owned(),
            sealed_key: envelope.seal(key.as_bytes(), &provider_key_context(owner, provider)),
            base_url: None,
        };
        let entry = ProviderKeysEntry {
            tenant_id: tenant,
            keys: vec![
                sealed(tenant, "openai", "sk-own-key"),
                // Copied from another tenant's row: it must not open as this tenant's.
                sealed(Uuid::new_v4(), "anthropic", "sk-ant-theirs"),
            ],
        };
        let image = HashMap::from([ImageEntry::ProviderKeys(entry).encode().unwrap()]);
        let directory = Directory::new("behest/echo").with_secrets(TenantSecrets {
            envelope: envelope.clone(),
            operator_urls: HashMap::new(),
        });
        directory.load_image(&image);
        let snapshot = directory.snapshot();
        assert!(snapshot
            .tenant_credentials(tenant, Provider::OpenAi)
            .is_some());
        assert!(snapshot
            .tenant_credentials(tenant, Provider::Anthropic)
            .is_none());
        assert!(snapshot
            .tenant_credentials(Uuid::new_v4(), Provider::OpenAi)
            .is_none());
        // Without the master key nothing opens.
        let blind = Directory::new("behest/echo");
        blind.load_image(&image);
        assert!(blind
            .snapshot()
            .tenant_credentials(tenant, Provider::OpenAi)
            .is_none());
    }

    #[test]
    fn one_tenants_new_key_leaves_every_other_entry_as_it_was() {
        let directory = Directory::new("behest/echo");
        let a = entry(ProjectPolicy::default());
        let b = ProjectEntry {
            id: Uuid::new_v4(),
            slug: "brave-owl-007".into(),
            ..entry(ProjectPolicy::default())
        };
        let mut image = image_of(&a);
        image.extend(image_of(&b));
        directory.load_image(&image);
        let before = directory.snapshot();
        let generated = behest_auth::tenant_keys::generate().unwrap();
        let key = ImageEntry::SigningKey(SigningKeyEntry {
            kid: generated.kid.clone(),
            tenant_id: a.tenant_id,
            public_key_pem: generated.public_pem,
        });
        image.extend([key.encode().unwrap()]);
        directory.load_image(&image);
        let after = directory.snapshot();
        assert!(after.tenant_key(&generated.kid).is_some());
        // The projects were not rebuilt: the same snapshots (so the tokens verified
        // against them stay cached).
        for id in [a.id, b.id] {
            assert!(Arc::ptr_eq(
                before.project_by_id(&id).unwrap(),
                after.project_by_id(&id).unwrap()
            ));
        }
        // A change to project a rebuilds a alone.
        let revoked = ProjectEntry {
            revoked_keys: vec![Uuid::new_v4()],
            ..a.clone()
        };
        image.extend(image_of(&revoked));
        directory.load_image(&image);
        let last = directory.snapshot();
        assert!(!Arc::ptr_eq(
            after.project_by_id(&a.id).unwrap(),
            last.project_by_id(&a.id).unwrap()
        ));
        assert!(Arc::ptr_eq(
            after.project_by_id(&b.id).unwrap(),
            last.project_by_id(&b.id).unwrap()
        ));
        assert!(Arc::ptr_eq(
            after.tenant_key(&generated.kid).unwrap(),
            last.tenant_key(&generated.kid).unwrap()
        ));
        assert_eq!(last.project_by_id(&a.id).unwrap().revoked_keys.len(), 1);
    }

    #[test]
    fn an_unchanged_image_keeps_the_snapshot_and_its_generation() {
        let directory = Directory::new("behest/echo");
        let mut image = image_of(&entry(ProjectPolicy::default()));
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
    fn policies_are_resolved_per_tier_when_loaded() {
        let policy = ProjectPolicy {
            settings: SettingsValues {
                rpm_limit: 10,
                ..SettingsValues::default()
            },
            model: None,
            tiers: vec![TierPolicy {
                name: "gold".into(),
                overrides: SettingsPatch {
                    rpm_limit: Some(500),
                    provider_model: Some(Some("gpt-4o".into())),
                    ..SettingsPatch::default()
                },
            }],
        };
        let directory = Directory::new("behest/echo");
        directory.load_image(&image_of(&entry(policy)));
        let snapshot = directory.snapshot();
        let project = snapshot.project_by_slug("amber-fox-042").unwrap();
        assert_eq!(project.policy.rpm_limit, 10);
        assert_eq!(project.policy.model, "behest/echo");
        let gold = project.policy_for(Some(&TierRef::Name("gold".into())));
        assert_eq!((gold.rpm_limit, gold.model.as_str()), (500, "gpt-4o"));
        assert!(Arc::ptr_eq(
            gold,
            project.policy_for(Some(&TierRef::Index(0)))
        ));
        assert!(Arc::ptr_eq(
            &project.policy,
            project.policy_for(Some(&TierRef::Index(3)))
        ));
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
