//! One test suite, run against every backend: SQLite on a temporary file, PostgreSQL
//! in a fresh schema of `BEHEST_TEST_DATABASE_URL` or of the machine's own server (the
//! PostgreSQL half is reported as skipped where there is none, except in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_core::settings::{DeployedSnapshot, SettingsPatch, SettingsRejection, SettingsValues};
use behest_core::{DnsStatus, MemberRole, Plan, ProjectStatus, Role};
use behest_store::*;
use behest_testkit::{Backend, Need, Tests};
use chrono::{Duration, Utc};
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

/// A migrated store plus whatever must be cleaned up after it.
struct Harness {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl Harness {
    async fn new(backend: Backend) -> Harness {
        match backend {
            Backend::Sqlite => Harness::sqlite().await,
            Backend::Postgres => Harness::postgres().await,
        }
    }

    async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("behest.db"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        Harness {
            store: Arc::new(store),
            _dir: Some(dir),
            pg_schema: None,
        }
    }

    async fn postgres() -> Harness {
        let url = behest_testkit::postgres_url().expect("PostgreSQL is a prerequisite");
        let schema = format!("store_test_{}", Uuid::new_v4().simple());
        let admin = PostgresStore::connect(&url).await.unwrap();
        drop(admin);
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::Executor::execute(&mut conn, format!("CREATE SCHEMA {schema}").as_str())
            .await
            .unwrap();
        let options = sqlx::postgres::PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let store = PostgresStore::connect_with(options).await.unwrap();
        store.migrate().await.unwrap();
        Harness {
            store: Arc::new(store),
            _dir: None,
            pg_schema: Some((url, schema)),
        }
    }

    async fn cleanup(self) {
        if let Some((url, schema)) = self.pg_schema {
            drop(self.store);
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::Executor::execute(&mut conn, format!("DROP SCHEMA {schema} CASCADE").as_str())
                .await
                .unwrap();
        }
    }
}

async fn account(store: &dyn Store, email: &str) -> (User, Tenant) {
    store
        .create_account(NewAccount {
            email: email.to_owned(),
            password_hash: "argon2-hash".to_owned(),
            tenant_name: "Acme".to_owned(),
        })
        .await
        .unwrap()
}

fn new_project(tenant: &Tenant, slug: &str) -> NewProject {
    NewProject {
        tenant_id: tenant.id,
        name: format!("project {slug}"),
        slug: slug.to_owned(),
        active_limit: tenant.plan.active_project_limit(),
        settings: SettingsValues::default(),
    }
}

fn new_key(project: &Project, hash: &str, role: Role) -> NewApiKey {
    NewApiKey {
        project_id: project.id,
        name: Some("default".to_owned()),
        role,
        key_hash: hash.to_owned(),
    }
}

async fn migrations_are_idempotent(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
}

async fn accounts_sessions_and_memberships(store: &dyn Store) {
    let (user, tenant) = account(store, "ada@example.com").await;
    assert_eq!(tenant.plan, Plan::Free);
    let again = store
        .create_account(NewAccount {
            email: "ada@example.com".into(),
            password_hash: "x".into(),
            tenant_name: "Other".into(),
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        store.user_by_email("ada@example.com").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        store.user_by_email("nobody@example.com").await.unwrap(),
        None
    );

    let now = behest_store::now();
    store
        .create_session(NewSession {
            token_hash: "live".into(),
            user_id: user.id,
            expires_at: now + Duration::hours(1),
        })
        .await
        .unwrap();
    store
        .create_session(NewSession {
            token_hash: "stale".into(),
            user_id: user.id,
            expires_at: now - Duration::seconds(1),
        })
        .await
        .unwrap();
    assert_eq!(
        store.session_user("live", now).await.unwrap().map(|u| u.id),
        Some(user.id)
    );
    assert_eq!(store.session_user("stale", now).await.unwrap(), None);
    assert!(store.delete_session("live").await.unwrap());
    assert!(!store.delete_session("live").await.unwrap());
    assert_eq!(store.session_user("live", now).await.unwrap(), None);

    let second = store.create_tenant(user.id, "Second").await.unwrap();
    let memberships = store.memberships(user.id).await.unwrap();
    let ids: Vec<Uuid> = memberships.iter().map(|m| m.tenant.id).collect();
    assert_eq!(ids, vec![tenant.id, second.id]);
    assert!(memberships.iter().all(|m| m.role == MemberRole::Owner));
    let (stranger, _) = account(store, "eve@example.com").await;
    assert_eq!(
        store.member_role(tenant.id, stranger.id).await.unwrap(),
        None
    );
    assert_eq!(
        store.member_role(tenant.id, user.id).await.unwrap(),
        Some(MemberRole::Owner)
    );

    let pro = store.set_plan(tenant.id, Plan::Pro).await.unwrap().unwrap();
    assert_eq!(pro.plan, Plan::Pro);
    assert_eq!(
        store.set_plan(Uuid::new_v4(), Plan::Pro).await.unwrap(),
        None
    );
}

async fn projects_respect_plan_limit_and_unique_slugs(store: &dyn Store) {
    let (_, tenant) = account(store, "pat@example.com").await;
    let mut created = Vec::new();
    for slug in ["amber-fox-001", "amber-fox-002", "amber-fox-003"] {
        created.push(
            store
                .create_project(new_project(&tenant, slug))
                .await
                .unwrap(),
        );
    }
    let fourth = store
        .create_project(new_project(&tenant, "amber-fox-004"))
        .await;
    assert!(
        matches!(fourth, Err(StoreError::LimitReached)),
        "{fourth:?}"
    );

    // A slug clash is a conflict, not a crash, and leaves nothing behind.
    let (_, other) = account(store, "sam@example.com").await;
    let clash = store
        .create_project(new_project(&other, "amber-fox-001"))
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert!(store.projects(other.id).await.unwrap().is_empty());

    let first = &created[0];
    assert_eq!(first.status, ProjectStatus::Active);
    assert_eq!(first.dns_status, DnsStatus::Pending);
    assert_eq!(store.project(first.id).await.unwrap().as_ref(), Some(first));
    assert_eq!(
        store.project_by_slug("amber-fox-002").await.unwrap(),
        Some(created[1].clone())
    );
    assert_eq!(store.projects(tenant.id).await.unwrap(), created);

    let settings = store.settings(first.id).await.unwrap().unwrap();
    assert_eq!(settings.draft.rpm_limit, 60);
    assert_eq!(settings.deployed, None);
    assert_eq!(settings.provider_model, None);

    // Settings edits: applied in a transaction, refused edits change nothing.
    let edited = store
        .update_settings(
            first.id,
            Box::new(|row| {
                row.draft.rpm_limit = 5;
                row.deployed = Some(DeployedSnapshot {
                    settings: row.draft.clone(),
                    tiers: Vec::new(),
                });
                row.provider_model = Some("gpt-4o-mini".into());
                Ok(())
            }),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.deployed.as_ref().unwrap().settings.rpm_limit, 5);
    let refused = store
        .update_settings(
            first.id,
            Box::new(|row| {
                row.draft.rpm_limit = 7;
                Err(SettingsRejection::NoDraft)
            }),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Rejected(SettingsRejection::NoDraft))
        ),
        "{refused:?}"
    );
    let stored = store.settings(first.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.draft.rpm_limit, stored.provider_model.as_deref()),
        (5, Some("gpt-4o-mini"))
    );
    assert_eq!(stored, edited);
    assert!(store
        .update_settings(uuid::Uuid::new_v4(), Box::new(|_| Ok(())))
        .await
        .unwrap()
        .is_none());

    let jobs = store.jobs_for_project(first.id).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, JobKind::ProvisionDns);

    // Suspending frees a slot on the plan, once.
    assert!(store.suspend_project(first.id).await.unwrap());
    assert!(!store.suspend_project(first.id).await.unwrap());
    assert_eq!(store.jobs_for_project(first.id).await.unwrap().len(), 2);
    store
        .create_project(new_project(&tenant, "amber-fox-005"))
        .await
        .unwrap();

    // A pro tenant has no limit.
    store.set_plan(tenant.id, Plan::Pro).await.unwrap();
    let mut pro = new_project(&tenant, "amber-fox-006");
    pro.active_limit = None;
    store.create_project(pro).await.unwrap();
}

async fn concurrent_creates_cannot_exceed_the_limit(store: Arc<dyn Store>) {
    let (_, tenant) = account(store.as_ref(), "race@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let project = new_project(&tenant, &format!("swift-owl-{i:03}"));
        tasks.push(tokio::spawn(
            async move { store.create_project(project).await },
        ));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::LimitReached) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 3);
}

async fn provisioning_states(store: &dyn Store) {
    let (_, tenant) = account(store, "dns@example.com").await;
    let project = store
        .create_project(new_project(&tenant, "calm-seal-001"))
        .await
        .unwrap();
    assert!(
        !store.retry_provisioning(project.id).await.unwrap(),
        "only FAILED may retry"
    );
    store
        .set_dns_status(project.id, DnsStatus::Failed, Some("boom"))
        .await
        .unwrap();
    let failed = store.project(project.id).await.unwrap().unwrap();
    assert_eq!(failed.dns_status, DnsStatus::Failed);
    assert_eq!(failed.dns_last_error.as_deref(), Some("boom"));
    assert!(failed.dns_updated_at.is_some());
    assert!(store.retry_provisioning(project.id).await.unwrap());
    let pending = store.project(project.id).await.unwrap().unwrap();
    assert_eq!(pending.dns_status, DnsStatus::Pending);
    assert_eq!(pending.dns_last_error, None);
    assert_eq!(store.jobs_for_project(project.id).await.unwrap().len(), 2);
}

async fn jobs_are_claimed_once_and_leases_expire(store: &dyn Store) {
    let (_, tenant) = account(store, "jobs@example.com").await;
    let project = store
        .create_project(new_project(&tenant, "quick-yak-001"))
        .await
        .unwrap();
    let now = Utc::now() + Duration::seconds(1);
    let job = store
        .claim_job(now, now + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.project_id, job.kind, job.attempts),
        (project.id, JobKind::ProvisionDns, 1)
    );
    assert_eq!(
        store
            .claim_job(now, now + Duration::seconds(30))
            .await
            .unwrap(),
        None
    );

    // A worker that died: its lease runs out and the job is claimed again.
    let later = now + Duration::seconds(31);
    let again = store
        .claim_job(later, later + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (job.id, 2));

    store
        .retry_job_at(job.id, later + Duration::seconds(10), "transient")
        .await
        .unwrap();
    assert_eq!(
        store.claim_job(later, later).await.unwrap(),
        None,
        "not due yet"
    );
    let due = later + Duration::seconds(11);
    let third = store
        .claim_job(due, due + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (third.attempts, third.last_error.as_deref()),
        (3, Some("transient"))
    );
    store.fail_job(job.id, "gave up").await.unwrap();
    store.finish_job(job.id).await.unwrap();
    let far = due + Duration::days(1);
    assert_eq!(store.claim_job(far, far).await.unwrap(), None);
    assert_eq!(
        store.jobs_for_project(project.id).await.unwrap()[0].status,
        "done"
    );
}

async fn api_keys_lookup_rotate_and_revoke(store: &dyn Store) {
    let (_, tenant) = account(store, "keys@example.com").await;
    let project = store
        .create_project(new_project(&tenant, "keen-lynx-001"))
        .await
        .unwrap();
    let key = store
        .create_api_key(new_key(&project, "hash-1", Role::Admin))
        .await
        .unwrap();
    assert_eq!(
        store.api_key_by_hash("hash-1").await.unwrap().as_ref(),
        Some(&key)
    );
    assert_eq!(store.api_key(key.id).await.unwrap().as_ref(), Some(&key));
    let dup = store
        .create_api_key(new_key(&project, "hash-1", Role::User))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));

    let rotated = store
        .rotate_api_key(key.id, new_key(&project, "hash-2", Role::Admin))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(rotated.id, key.id);
    assert!(store
        .api_key(key.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(
        store.active_api_keys(project.id).await.unwrap(),
        vec![rotated.clone()]
    );
    // Rotating a revoked key does nothing, and the new hash is not inserted.
    let stale = store
        .rotate_api_key(key.id, new_key(&project, "hash-3", Role::User))
        .await;
    assert_eq!(stale.unwrap(), None);
    assert_eq!(store.api_key_by_hash("hash-3").await.unwrap(), None);

    assert!(store.revoke_api_key(rotated.id).await.unwrap());
    assert!(!store.revoke_api_key(rotated.id).await.unwrap());
    assert!(store.active_api_keys(project.id).await.unwrap().is_empty());

    // Suspension revokes every key.
    let k = store
        .create_api_key(new_key(&project, "hash-4", Role::User))
        .await
        .unwrap();
    store.suspend_project(project.id).await.unwrap();
    assert!(store
        .api_key(k.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
}

async fn api_keys_remember_their_last_use_to_the_minute(store: &dyn Store) {
    let (_, tenant) = account(store, "last-used@example.com").await;
    let project = store
        .create_project(new_project(&tenant, "busy-otter-001"))
        .await
        .unwrap();
    let key = store
        .create_api_key(new_key(&project, "hash-used", Role::User))
        .await
        .unwrap();
    let idle = store
        .create_api_key(new_key(&project, "hash-idle", Role::User))
        .await
        .unwrap();
    assert_eq!(key.last_used_at, None);
    let last_used = || async { store.api_key(key.id).await.unwrap().unwrap().last_used_at };
    assert_eq!(last_used().await, None);

    let first = behest_store::now();
    store.touch_api_key(key.id, first).await.unwrap();
    assert_eq!(last_used().await, Some(first));
    // Within the minute (its last instant included) the first time stays.
    store
        .touch_api_key(key.id, first + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(first));
    store
        .touch_api_key(key.id, first + LAST_USED_RESOLUTION)
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(first));
    // After it, the time moves; an older touch (a slow replica) never moves it back.
    let later = first + Duration::seconds(61);
    store.touch_api_key(key.id, later).await.unwrap();
    assert_eq!(last_used().await, Some(later));
    store.touch_api_key(key.id, first).await.unwrap();
    assert_eq!(last_used().await, Some(later));

    // Every read of a key carries it; other keys are untouched; an unknown id is fine.
    assert_eq!(
        store
            .api_key_by_hash("hash-used")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(later)
    );
    let active = store.active_api_keys(project.id).await.unwrap();
    assert_eq!(
        active
            .iter()
            .map(|k| (k.id, k.last_used_at))
            .collect::<Vec<_>>(),
        vec![(key.id, Some(later)), (idle.id, None)]
    );
    store.touch_api_key(Uuid::new_v4(), later).await.unwrap();
}

async fn signing_keys(store: &dyn Store) {
    let t0 = behest_store::now();
    let first = PlatformKey {
        kid: "k1".into(),
        private_key_pem: "pem1".into(),
        created_at: t0,
        retired_at: None,
    };
    assert!(store.add_platform_key(&first, true).await.unwrap());
    let racer = PlatformKey {
        kid: "k-racer".into(),
        ..first.clone()
    };
    assert!(
        !store.add_platform_key(&racer, true).await.unwrap(),
        "one active key at first start"
    );
    let second = PlatformKey {
        kid: "k2".into(),
        private_key_pem: "pem2".into(),
        created_at: t0 + Duration::seconds(5),
        retired_at: None,
    };
    assert!(store.add_platform_key(&second, false).await.unwrap());
    let keys = store.platform_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    assert_eq!(keys[0].retired_at, None);
    assert_eq!(
        keys[1].retired_at.map(|t| t.timestamp()),
        Some(second.created_at.timestamp())
    );

    let (_, tenant) = account(store, "sign@example.com").await;
    let (_, other) = account(store, "other@example.com").await;
    let key = TenantSigningKey {
        kid: "sk_abc".into(),
        tenant_id: tenant.id,
        name: Some("ci".into()),
        public_key_pem: "-----BEGIN PUBLIC KEY-----".into(),
        created_at: t0,
        revoked_at: None,
    };
    store.create_tenant_signing_key(&key).await.unwrap();
    assert!(matches!(
        store.create_tenant_signing_key(&key).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.tenant_signing_keys(tenant.id).await.unwrap().len(), 1);
    assert!(store
        .tenant_signing_keys(other.id)
        .await
        .unwrap()
        .is_empty());
    assert!(!store
        .revoke_tenant_signing_key(other.id, "sk_abc")
        .await
        .unwrap());
    assert!(store
        .revoke_tenant_signing_key(tenant.id, "sk_abc")
        .await
        .unwrap());
    let listed = store.tenant_signing_keys(tenant.id).await.unwrap();
    assert!(listed[0].revoked_at.is_some());
}

async fn tiers_are_ordered_and_unique(store: &dyn Store) {
    let (_, tenant) = account(store, "tiers@example.com").await;
    let project = store
        .create_project(new_project(&tenant, "noble-owl-001"))
        .await
        .unwrap();
    let now = behest_store::now();
    for (name, order) in [("gold", 2), ("free", 0), ("silver", 1)] {
        let tier = Tier {
            id: Uuid::new_v4(),
            project_id: project.id,
            name: name.into(),
            sort_order: order,
            overrides: SettingsPatch {
                rpm_limit: Some(order * 10 + 10),
                ..SettingsPatch::default()
            },
            created_at: now,
            updated_at: now,
        };
        store.create_tier_limited(&tier, 3).await.unwrap();
    }
    let names: Vec<String> = store
        .tiers(project.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["free", "silver", "gold"]);
    let dup = Tier {
        id: Uuid::new_v4(),
        project_id: project.id,
        name: "gold".into(),
        sort_order: 5,
        overrides: SettingsPatch::default(),
        created_at: now,
        updated_at: now,
    };
    assert!(matches!(
        store.create_tier_limited(&dup, 10).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn kill_switches_are_durable_and_idempotent(store: &dyn Store) {
    use behest_core::killswitch::KillScope;
    assert!(store.kill_switches().await.unwrap().is_empty());
    let (tenant, project) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(store
        .set_kill_switch(KillScope::Global, true)
        .await
        .unwrap());
    assert!(
        !store
            .set_kill_switch(KillScope::Global, true)
            .await
            .unwrap(),
        "already on"
    );
    assert!(store
        .set_kill_switch(KillScope::Tenant(tenant), true)
        .await
        .unwrap());
    assert!(store
        .set_kill_switch(KillScope::Project(project), true)
        .await
        .unwrap());
    let mut on = store.kill_switches().await.unwrap();
    on.sort();
    let mut expected = vec![
        KillScope::Global,
        KillScope::Tenant(tenant),
        KillScope::Project(project),
    ];
    expected.sort();
    assert_eq!(on, expected);
    assert!(store
        .set_kill_switch(KillScope::Global, false)
        .await
        .unwrap());
    assert!(
        !store
            .set_kill_switch(KillScope::Global, false)
            .await
            .unwrap(),
        "already off"
    );
    assert!(!store
        .kill_switches()
        .await
        .unwrap()
        .contains(&KillScope::Global));
}

async fn the_token_ledger_adds_up_per_user_and_day(store: &dyn Store) {
    let project = Uuid::new_v4();
    let entry = |uid: &str, day: &str, tokens| TokenUsage {
        project_id: project,
        uid: uid.into(),
        day: day.into(),
        tokens,
    };
    store
        .add_token_usage(&[
            entry("ada", "2026-12-01", 100),
            entry("bob", "2026-12-01", 7),
        ])
        .await
        .unwrap();
    store
        .add_token_usage(&[
            entry("ada", "2026-12-01", 50),
            entry("ada", "2026-11-30", 9),
        ])
        .await
        .unwrap();
    let mut day = store.token_usage_on("2026-12-01").await.unwrap();
    day.sort_by(|a, b| a.uid.cmp(&b.uid));
    assert_eq!(
        day,
        vec![
            entry("ada", "2026-12-01", 150),
            entry("bob", "2026-12-01", 7)
        ]
    );
    assert_eq!(store.token_usage_on("2026-11-30").await.unwrap().len(), 1);
}

fn usage_record(
    project: Uuid,
    uid: &str,
    session: &str,
    at: chrono::DateTime<Utc>,
    tokens: i64,
    cost: f64,
) -> UsageRecord {
    UsageRecord {
        id: Uuid::new_v4(),
        at,
        project_id: project,
        tenant_id: Uuid::nil(),
        uid: Some(uid.into()),
        session_id: Some(session.into()),
        thread_id: None,
        tier: None,
        operation: "chat".into(),
        origin: "live".into(),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        prompt_tokens: tokens / 2,
        completion_tokens: tokens - tokens / 2,
        total_tokens: tokens,
        tokens_counted: false,
        cost_usd: cost,
        latency_ms: 12.5,
        ttft_ms: Some(3.0),
        status: 200,
        error_code: None,
        ending: "complete".into(),
        guard: serde_json::json!({}),
    }
}

/// A spool's batch goes in many rows per statement: every row of a large batch lands
/// once with every column, a replay of part of it (and a duplicate inside one batch)
/// adds nothing.
async fn large_usage_batches_land_whole_and_once(store: &dyn Store) {
    use chrono::TimeZone;
    let project = Uuid::new_v4();
    let at = Utc.with_ymd_and_hms(2026, 11, 30, 9, 15, 0).unwrap();
    let mut records: Vec<UsageRecord> = (0..203)
        .map(|i| {
            let mut r = usage_record(project, &format!("u{}", i % 7), "s", at, i + 1, 0.001);
            r.thread_id = (i % 2 == 0).then(|| format!("t{i}"));
            r.ttft_ms = (i % 3 != 0).then_some(2.5);
            r.error_code = (i % 5 == 0).then(|| "rate_limited".to_string());
            r
        })
        .collect();
    let duplicate = records[10].clone();
    records.push(duplicate);
    store.insert_usage(&records).await.unwrap();
    store.insert_usage(&records[100..170]).await.unwrap();
    let query = UsageQuery {
        project_id: project,
        uid: None,
        from: at - chrono::Duration::hours(1),
        to: at + chrono::Duration::hours(1),
    };
    let totals = store.usage_totals(&query).await.unwrap();
    assert_eq!(totals.requests, 203);
    assert_eq!(totals.total_tokens, (1..=203).sum::<i64>());
    let hours = store
        .usage_buckets(&query, Granularity::Hour)
        .await
        .unwrap();
    assert_eq!(
        hours
            .iter()
            .map(|b| (b.start.as_str(), b.totals.requests))
            .collect::<Vec<_>>(),
        vec![("2026-11-30T09:00:00Z", 203)]
    );
    // each row's own values, not a neighbour's: u3 made requests 4, 11, 18, ...
    let u3 = UsageQuery {
        uid: Some("u3".into()),
        ..query
    };
    let totals = store.usage_totals(&u3).await.unwrap();
    assert_eq!(totals.requests, 29);
    assert_eq!(totals.total_tokens, (0..29).map(|k| 4 + 7 * k).sum::<i64>());
}

async fn usage_sums_by_bucket_user_and_session(store: &dyn Store) {
    use chrono::TimeZone;
    let project = Uuid::new_v4();
    let t = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 15, 0).unwrap();
    let records = vec![
        usage_record(project, "ada", "s1", t(30, 9), 100, 0.01),
        usage_record(project, "ada", "s1", t(30, 9), 50, 0.005),
        usage_record(project, "ada", "s2", t(30, 11), 10, 0.001),
        usage_record(project, "bob", "s3", t(29, 23), 1000, 0.1),
        usage_record(Uuid::new_v4(), "ada", "s9", t(30, 9), 7, 1.0),
    ];
    store.insert_usage(&records).await.unwrap();
    // A replay (the spool after a crash) adds nothing.
    store.insert_usage(&records[..2]).await.unwrap();
    let all = UsageQuery {
        project_id: project,
        uid: None,
        from: t(29, 0),
        to: t(30, 23),
    };
    let days = store.usage_buckets(&all, Granularity::Day).await.unwrap();
    assert_eq!(
        days.iter()
            .map(|b| (b.start.as_str(), b.totals.requests, b.totals.total_tokens))
            .collect::<Vec<_>>(),
        vec![("2026-11-29", 1, 1000), ("2026-11-30", 3, 160)]
    );
    let hours = store.usage_buckets(&all, Granularity::Hour).await.unwrap();
    assert_eq!(hours.len(), 3);
    assert_eq!(hours[1].start, "2026-11-30T09:00:00Z");
    let months = store.usage_buckets(&all, Granularity::Month).await.unwrap();
    assert_eq!(
        (months[0].start.as_str(), months[0].totals.requests),
        ("2026-11", 4)
    );
    let ada = UsageQuery {
        uid: Some("ada".into()),
        ..all.clone()
    };
    let totals = store.usage_totals(&ada).await.unwrap();
    assert_eq!(
        (
            totals.requests,
            totals.prompt_tokens + totals.completion_tokens
        ),
        (3, 160)
    );
    assert!((totals.cost_usd - 0.016).abs() < 1e-9);
    assert!((store.usage_cost(&ada).await.unwrap() - 0.016).abs() < 1e-9);
    let users = store.usage_top(&all, false, 10).await.unwrap();
    assert_eq!(
        users.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(),
        ["bob", "ada"]
    );
    let sessions = store.usage_top(&ada, true, 10).await.unwrap();
    assert_eq!(
        sessions.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(),
        ["s1", "s2"]
    );
    assert_eq!(sessions[0].totals.requests, 2);
    // The range is [from, to).
    let none = UsageQuery {
        from: t(30, 12),
        ..all
    };
    assert_eq!(store.usage_totals(&none).await.unwrap().requests, 0);
}

async fn usage_outcomes_count_refusals_and_guard_hits(store: &dyn Store) {
    use chrono::TimeZone;
    use serde_json::json;
    let project = Uuid::new_v4();
    let t = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 15, 0).unwrap();
    let record = |project, uid, at, code: Option<&str>, guard: serde_json::Value| {
        let mut r = usage_record(project, uid, "s1", at, 0, 0.0);
        if let Some(code) = code {
            r.status = 451;
            r.error_code = Some(code.to_owned());
        }
        r.guard = guard;
        r
    };
    let blocked =
        json!({"sentinel": ["blocklist:0"], "sentinel_mode": "enforce", "action": "blocked"});
    let records = vec![
        record(
            project,
            "ada",
            t(30, 9),
            Some("content_blocked"),
            blocked.clone(),
        ),
        record(
            project,
            "ada",
            t(30, 10),
            Some("content_blocked"),
            blocked.clone(),
        ),
        record(
            project,
            "bob",
            t(29, 23),
            Some("content_blocked"),
            json!({"sentinel": ["blocklist:0", "injection:ignore"], "sentinel_mode": "enforce",
                "action": "blocked"}),
        ),
        record(
            project,
            "ada",
            t(30, 9),
            Some("pii_blocked"),
            json!({"pii": {"EMAIL_ADDRESS": 1}, "pii_mode": "enforce", "action": "blocked"}),
        ),
        record(project, "ada", t(30, 11), Some("rate_limited"), json!({})),
        // Shadow mode: found, let through, no error.
        record(
            project,
            "ada",
            t(30, 9),
            None,
            json!({"pii": {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}, "pii_mode": "shadow"}),
        ),
        record(project, "ada", t(30, 9), None, json!({})),
        // Outside the range, and another project's.
        record(
            project,
            "ada",
            t(30, 12),
            Some("content_blocked"),
            blocked.clone(),
        ),
        record(
            Uuid::new_v4(),
            "ada",
            t(30, 9),
            Some("content_blocked"),
            blocked,
        ),
    ];
    store.insert_usage(&records).await.unwrap();
    let all = UsageQuery {
        project_id: project,
        uid: None,
        from: t(29, 0),
        to: t(30, 12),
    };
    let refusals = |outcomes: &UsageOutcomes| {
        outcomes
            .refusals
            .iter()
            .map(|r| (r.error_code.clone(), r.requests))
            .collect::<Vec<_>>()
    };
    let hit = |guard, name: &str, mode: &str, action: Option<&str>, requests| GuardHit {
        guard,
        direction: behest_core::usage::GuardDirection::Request,
        name: name.to_owned(),
        mode: Some(mode.to_owned()),
        action: action.map(str::to_owned),
        requests,
    };

    let outcomes = store.usage_outcomes(&all).await.unwrap();
    assert_eq!(
        refusals(&outcomes),
        [
            ("content_blocked".to_owned(), 3),
            ("pii_blocked".to_owned(), 1),
            ("rate_limited".to_owned(), 1)
        ]
    );
    assert_eq!(
        outcomes.guard_hits,
        [
            hit(
                GuardKind::Sentinel,
                "blocklist:0",
                "enforce",
                Some("blocked"),
                3
            ),
            hit(
                GuardKind::Sentinel,
                "injection:ignore",
                "enforce",
                Some("blocked"),
                1
            ),
            hit(
                GuardKind::Pii,
                "EMAIL_ADDRESS",
                "enforce",
                Some("blocked"),
                1
            ),
            hit(GuardKind::Pii, "EMAIL_ADDRESS", "shadow", None, 1),
            hit(GuardKind::Pii, "PHONE_NUMBER", "shadow", None, 1),
        ]
    );

    // One end user's.
    let bob = UsageQuery {
        uid: Some("bob".into()),
        ..all.clone()
    };
    let outcomes = store.usage_outcomes(&bob).await.unwrap();
    assert_eq!(refusals(&outcomes), [("content_blocked".to_owned(), 1)]);
    assert_eq!(
        outcomes.guard_hits,
        [
            hit(
                GuardKind::Sentinel,
                "blocklist:0",
                "enforce",
                Some("blocked"),
                1
            ),
            hit(
                GuardKind::Sentinel,
                "injection:ignore",
                "enforce",
                Some("blocked"),
                1
            ),
        ]
    );

    // The range is [from, to).
    let late = UsageQuery {
        from: t(30, 10),
        ..all.clone()
    };
    let outcomes = store.usage_outcomes(&late).await.unwrap();
    assert_eq!(
        refusals(&outcomes),
        [
            ("content_blocked".to_owned(), 1),
            ("rate_limited".to_owned(), 1)
        ]
    );
    assert_eq!(
        outcomes.guard_hits,
        [hit(
            GuardKind::Sentinel,
            "blocklist:0",
            "enforce",
            Some("blocked"),
            1
        )]
    );
    let none = UsageQuery {
        from: t(30, 12),
        to: t(30, 12) + Duration::seconds(1),
        uid: Some("bob".into()),
        ..all
    };
    assert_eq!(
        store.usage_outcomes(&none).await.unwrap(),
        UsageOutcomes::default()
    );
}

async fn usage_costs_sum_spending_per_user_session_and_project(store: &dyn Store) {
    use behest_core::usage::CostGroup;
    use chrono::TimeZone;
    let project = Uuid::new_v4();
    let t = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 15, 0).unwrap();
    let mut anonymous = usage_record(project, "-", "-", t(30, 10), 5, 0.5);
    anonymous.uid = None;
    anonymous.session_id = None;
    let mut free = usage_record(project, "ada", "s1", t(30, 10), 5, 0.0);
    free.status = 451;
    store
        .insert_usage(&[
            usage_record(project, "ada", "s1", t(30, 9), 100, 0.01),
            usage_record(project, "ada", "s1", t(30, 9), 50, 0.005),
            usage_record(project, "ada", "s2", t(30, 11), 10, 0.001),
            usage_record(project, "bob", "s3", t(29, 23), 1000, 0.1),
            anonymous,
            free,
        ])
        .await
        .unwrap();
    let mine = |sums: Vec<CostSum>| {
        let mut sums: Vec<(Option<String>, Option<String>, i64)> = sums
            .into_iter()
            .filter(|s| s.project_id == project)
            .map(|s| (s.uid, s.session_id, (s.cost_usd * 1e6).round() as i64))
            .collect();
        sums.sort();
        sums
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        mine(store.usage_costs(t(30, 0), CostGroup::User).await.unwrap()),
        vec![(s("ada"), None, 16_000)]
    );
    assert_eq!(
        mine(
            store
                .usage_costs(t(29, 0), CostGroup::Session)
                .await
                .unwrap()
        ),
        vec![
            (s("ada"), s("s1"), 15_000),
            (s("ada"), s("s2"), 1_000),
            (s("bob"), s("s3"), 100_000)
        ]
    );
    assert_eq!(
        mine(
            store
                .usage_costs(t(29, 0), CostGroup::Project)
                .await
                .unwrap()
        ),
        vec![(None, None, 616_000)]
    );
}

async fn threads_keep_their_order_pages_and_owner(store: &dyn Store) {
    let project = Uuid::new_v4();
    let key = |uid: &str, id: &str| ThreadKey {
        project_id: project,
        uid: uid.into(),
        thread_id: id.into(),
    };
    let message = |role: &str, content: &str| NewMessage {
        role: role.into(),
        content: content.into(),
        tool_calls: None,
        tool_call_id: None,
    };
    let t1 = key("ada", "t1");
    for turn in 0..3 {
        store
            .append_messages(
                &t1,
                &[
                    message("user", &format!("q{turn}")),
                    message("assistant", &format!("a{turn}")),
                ],
            )
            .await
            .unwrap();
    }
    let recent = store.recent_messages(&t1, 3).await.unwrap();
    let appended = store
        .append_messages(&key("ada", "t3"), &[message("user", "x")])
        .await
        .unwrap();
    assert_eq!(
        store.recent_messages(&key("ada", "t3"), 5).await.unwrap(),
        appended,
        "what an append returns is what is stored"
    );
    assert_eq!(
        recent
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["a1", "q2", "a2"]
    );
    let page = store
        .thread_messages(&t1, 2, Some(recent[0].id))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
        ["a0", "q1"]
    );
    let row = store.thread(&t1).await.unwrap().unwrap();
    assert_eq!((row.id.as_str(), row.message_count), ("t1", 6));
    // Another user's thread of the same id is another thread; theirs stays unseen.
    assert!(store.thread(&key("bob", "t1")).await.unwrap().is_none());
    assert!(store
        .recent_messages(&key("bob", "t1"), 10)
        .await
        .unwrap()
        .is_empty());
    store
        .append_messages(&key("ada", "t2"), &[message("user", "hi")])
        .await
        .unwrap();
    let threads = store.threads(project, "ada", 10).await.unwrap();
    assert_eq!(
        threads.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t2", "t3", "t1"]
    );
    // Concurrent appends keep every message, in a gapless order.
    let appends = (0..8).map(|i| {
        let t = key("ada", "busy");
        async move {
            store
                .append_messages(&t, &[message("user", &format!("m{i}"))])
                .await
        }
    });
    for result in futures_util::future::join_all(appends).await {
        result.unwrap();
    }
    let busy = store
        .recent_messages(&key("ada", "busy"), 100)
        .await
        .unwrap();
    assert_eq!(
        busy.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );

    // Retention: everything older than the cutoff goes, and threads left empty.
    let removed = store
        .delete_messages_before(project, Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(removed, 6 + 1 + 1 + 8);
    assert!(store.threads(project, "ada", 10).await.unwrap().is_empty());
    store
        .append_messages(&t1, &[message("user", "again")])
        .await
        .unwrap();
    assert!(store.delete_thread(&t1).await.unwrap());
    assert!(!store.delete_thread(&t1).await.unwrap());
    assert!(store.recent_messages(&t1, 10).await.unwrap().is_empty());
}

async fn provider_keys_are_per_tenant_replaced_and_resealed(store: &dyn Store) {
    let (_, acme) = account(store, "byok@example.com").await;
    let (_, other) = account(store, "byok2@example.com").await;
    let key = |tenant: &Tenant, provider: &str, sealed: &str| ProviderKey {
        tenant_id: tenant.id,
        provider_type: provider.to_owned(),
        sealed_key: sealed.to_owned(),
        key_last4: sealed[sealed.len() - 4..].to_owned(),
        base_url: None,
        key_set_at: chrono::Utc::now(),
    };
    store
        .put_provider_key(&key(&acme, "openai", "v1.k.aaaa1111"))
        .await
        .unwrap();
    store
        .put_provider_key(&key(&acme, "anthropic", "v1.k.bbbb2222"))
        .await
        .unwrap();
    store
        .put_provider_key(&key(&other, "openai", "v1.k.cccc3333"))
        .await
        .unwrap();
    // A PUT replaces the tenant's key for that provider.
    let mut replaced = key(&acme, "openai", "v1.k.dddd4444");
    replaced.base_url = Some("https://proxy.example.com/v1".to_owned());
    store.put_provider_key(&replaced).await.unwrap();
    let keys = store.provider_keys(acme.id).await.unwrap();
    let names: Vec<_> = keys
        .iter()
        .map(|k| (k.provider_type.as_str(), k.key_last4.as_str()))
        .collect();
    assert_eq!(names, [("anthropic", "2222"), ("openai", "4444")]);
    assert_eq!(
        keys[1].base_url.as_deref(),
        Some("https://proxy.example.com/v1")
    );
    assert_eq!(store.all_provider_keys().await.unwrap().len(), 3);
    // Reseal only replaces the value it expects (a PUT in between wins).
    assert!(!store
        .reseal_provider_key(acme.id, "openai", "v1.k.aaaa1111", "v1.n.x")
        .await
        .unwrap());
    assert!(store
        .reseal_provider_key(acme.id, "openai", "v1.k.dddd4444", "v1.n.eeee4444")
        .await
        .unwrap());
    let keys = store.provider_keys(acme.id).await.unwrap();
    assert_eq!(keys[1].sealed_key, "v1.n.eeee4444");
    // Delete is per tenant and says whether there was a key.
    assert!(store.delete_provider_key(acme.id, "openai").await.unwrap());
    assert!(!store.delete_provider_key(acme.id, "openai").await.unwrap());
    assert_eq!(store.provider_keys(other.id).await.unwrap().len(), 1);
    assert_eq!(store.provider_keys(acme.id).await.unwrap().len(), 1);
}

async fn the_catalog_keeps_providers_and_updates_synced_models(store: &dyn Store) {
    let now = chrono::Utc::now();
    let provider = |id: &str, slug: &str| CatalogProvider {
        id: id.to_owned(),
        name: slug.to_owned(),
        slug: slug.to_owned(),
        display_name: slug.to_uppercase(),
        is_active: true,
        models_endpoint_url: None,
        models_endpoint_auth_type: None,
        auth_config_schema: Some(serde_json::json!({"type": "object"})),
        supported_features: None,
        created_at: now,
        updated_at: now,
    };
    store
        .add_catalog_provider(&provider("openai", "openai"), true)
        .await
        .unwrap();
    // The built-ins are added at every start: an existing one is left alone.
    let mut again = provider("openai", "openai");
    again.display_name = "changed".to_owned();
    store.add_catalog_provider(&again, true).await.unwrap();
    let listed = store.catalog_providers().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].display_name, "OPENAI");
    assert_eq!(
        listed[0].auth_config_schema,
        Some(serde_json::json!({"type": "object"}))
    );
    // Name and slug are unique.
    let taken = store
        .add_catalog_provider(&provider("other-id", "openai"), false)
        .await;
    assert!(
        matches!(taken, Err(behest_store::StoreError::Conflict(_))),
        "{taken:?}"
    );
    store
        .add_catalog_provider(&provider("acme-id", "acme"), false)
        .await
        .unwrap();
    assert_eq!(
        store
            .catalog_provider("acme-id")
            .await
            .unwrap()
            .unwrap()
            .slug,
        "acme"
    );
    assert!(store.catalog_provider("nope").await.unwrap().is_none());

    let model = |id: &str, window: Option<i64>| CatalogModel {
        provider_id: "openai".to_owned(),
        model_id: id.to_owned(),
        display_name: id.to_owned(),
        context_window: window,
        max_output_tokens: None,
        synced_at: now,
    };
    let n = store
        .upsert_catalog_models(&[model("gpt-a", Some(1000)), model("gpt-b", None)])
        .await
        .unwrap();
    assert_eq!(n, 2);
    // A later sync that cannot learn the window keeps the one known.
    store
        .upsert_catalog_models(&[model("gpt-a", None)])
        .await
        .unwrap();
    let models = store.catalog_models("openai").await.unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0].context_window, Some(1000));
    assert!(store.catalog_models("acme-id").await.unwrap().is_empty());
}

/// Runs `case` on a fresh store of `backend`, cleaned up after.
async fn with_store<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let harness = Harness::new(backend).await;
    case(harness.store.clone()).await;
    harness.cleanup().await;
}

fn main() -> std::process::ExitCode {
    let mut tests = Tests::new();
    for (backend, prefix, needs) in [
        (Backend::Sqlite, "sqlite", &[][..]),
        (Backend::Postgres, "postgres", &[Need::Postgres][..]),
    ] {
        macro_rules! case {
            ($name:ident) => {
                tests = tests.add(
                    &format!("{prefix}::{}", stringify!($name)),
                    needs,
                    move || with_store(backend, |s| async move { $name(s.as_ref()).await }),
                );
            };
        }
        case!(migrations_are_idempotent);
        case!(accounts_sessions_and_memberships);
        case!(projects_respect_plan_limit_and_unique_slugs);
        case!(provisioning_states);
        case!(jobs_are_claimed_once_and_leases_expire);
        case!(api_keys_lookup_rotate_and_revoke);
        case!(api_keys_remember_their_last_use_to_the_minute);
        case!(signing_keys);
        case!(tiers_are_ordered_and_unique);
        case!(kill_switches_are_durable_and_idempotent);
        case!(the_token_ledger_adds_up_per_user_and_day);
        case!(usage_sums_by_bucket_user_and_session);
        case!(large_usage_batches_land_whole_and_once);
        case!(usage_outcomes_count_refusals_and_guard_hits);
        case!(usage_costs_sum_spending_per_user_session_and_project);
        case!(threads_keep_their_order_pages_and_owner);
        case!(provider_keys_are_per_tenant_replaced_and_resealed);
        case!(the_catalog_keeps_providers_and_updates_synced_models);
        tests = tests.add(
            &format!("{prefix}::concurrent_creates_cannot_exceed_the_limit"),
            needs,
            move || with_store(backend, concurrent_creates_cannot_exceed_the_limit),
        );
    }
    tests.run()
}
