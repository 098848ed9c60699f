//! The SQL both backends share. SQLite and PostgreSQL accept the same `$N` placeholders
//! and, for what we use, the same statements; `store_impl!` expands this one text into a
//! `Store` impl per backend, so the two cannot drift apart. Types differ only in the
//! migrations (UUID/TIMESTAMPTZ/JSONB there, BLOB/TEXT here); sqlx encodes the same Rust
//! types to both.
//!
//! Transactions start with a write, so that SQLite takes its write lock first and never
//! has to upgrade a read lock (which would fail with SQLITE_BUSY instead of waiting).

macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        use crate::model::*;
        use crate::{Backend, Store, StoreError, StoreResult};
        use async_trait::async_trait;
        use behest_core::killswitch::KillScope;
        use behest_core::{DnsStatus, MemberRole, Plan, ProjectStatus};
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use sqlx::Row;
        use uuid::Uuid;

        type DbRow = <$db as sqlx::Database>::Row;

        fn parse_enum<T: std::str::FromStr>(value: String, column: &str) -> StoreResult<T> {
            value
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("{column} = {value:?}")))
        }

        fn user_from(row: &DbRow) -> StoreResult<User> {
            Ok(User {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                password_hash: row.try_get("password_hash")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn tenant_from(row: &DbRow) -> StoreResult<Tenant> {
            Ok(Tenant {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                plan: parse_enum(row.try_get("plan")?, "tenants.plan")?,
                created_at: row.try_get("created_at")?,
            })
        }

        const PROJECT_COLUMNS: &str = "id, tenant_id, name, slug, status, dns_status, \
             dns_last_error, dns_updated_at, created_at";

        fn project_from(row: &DbRow) -> StoreResult<Project> {
            Ok(Project {
                id: row.try_get("id")?,
                tenant_id: row.try_get("tenant_id")?,
                name: row.try_get("name")?,
                slug: row.try_get("slug")?,
                status: parse_enum(row.try_get("status")?, "projects.status")?,
                dns_status: parse_enum(row.try_get("dns_status")?, "projects.dns_status")?,
                dns_last_error: row.try_get("dns_last_error")?,
                dns_updated_at: row.try_get("dns_updated_at")?,
                created_at: row.try_get("created_at")?,
            })
        }

        const API_KEY_COLUMNS: &str =
            "id, project_id, name, role, key_hash, created_at, revoked_at, last_used_at";

        fn api_key_from(row: &DbRow) -> StoreResult<ApiKey> {
            Ok(ApiKey {
                id: row.try_get("id")?,
                project_id: row.try_get("project_id")?,
                name: row.try_get("name")?,
                role: parse_enum(row.try_get("role")?, "api_keys.role")?,
                key_hash: row.try_get("key_hash")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        }

        const CATALOG_PROVIDER_COLUMNS: &str = "id, name, slug, display_name, is_active, \
             models_endpoint_url, models_endpoint_auth_type, auth_config_schema, \
             supported_features, created_at, updated_at";

        fn catalog_provider_from(row: &DbRow) -> StoreResult<CatalogProvider> {
            let schema: Option<Json<serde_json::Value>> = row.try_get("auth_config_schema")?;
            let features: Option<Json<serde_json::Value>> = row.try_get("supported_features")?;
            Ok(CatalogProvider {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                slug: row.try_get("slug")?,
                display_name: row.try_get("display_name")?,
                is_active: row.try_get("is_active")?,
                models_endpoint_url: row.try_get("models_endpoint_url")?,
                models_endpoint_auth_type: row.try_get("models_endpoint_auth_type")?,
                auth_config_schema: schema.map(|j| j.0),
                supported_features: features.map(|j| j.0),
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn catalog_model_from(row: &DbRow) -> StoreResult<CatalogModel> {
            Ok(CatalogModel {
                provider_id: row.try_get("provider_id")?,
                model_id: row.try_get("model_id")?,
                display_name: row.try_get("display_name")?,
                context_window: row.try_get("context_window")?,
                max_output_tokens: row.try_get("max_output_tokens")?,
                synced_at: row.try_get("synced_at")?,
            })
        }

        const PROVIDER_KEY_COLUMNS: &str =
            "tenant_id, provider_type, sealed_key, key_last4, base_url, key_set_at";

        fn provider_key_from(row: &DbRow) -> StoreResult<ProviderKey> {
            Ok(ProviderKey {
                tenant_id: row.try_get("tenant_id")?,
                provider_type: row.try_get("provider_type")?,
                sealed_key: row.try_get("sealed_key")?,
                key_last4: row.try_get("key_last4")?,
                base_url: row.try_get("base_url")?,
                key_set_at: row.try_get("key_set_at")?,
            })
        }

        fn platform_key_from(row: &DbRow) -> StoreResult<PlatformKey> {
            Ok(PlatformKey {
                kid: row.try_get("kid")?,
                private_key_pem: row.try_get("private_key_pem")?,
                created_at: row.try_get("created_at")?,
                retired_at: row.try_get("retired_at")?,
            })
        }

        fn tenant_key_from(row: &DbRow) -> StoreResult<TenantSigningKey> {
            Ok(TenantSigningKey {
                kid: row.try_get("kid")?,
                tenant_id: row.try_get("tenant_id")?,
                name: row.try_get("name")?,
                public_key_pem: row.try_get("public_key_pem")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        const JOB_COLUMNS: &str = "id, kind, project_id, status, attempts, last_error";

        fn job_from(row: &DbRow) -> StoreResult<Job> {
            let kind: String = row.try_get("kind")?;
            Ok(Job {
                id: row.try_get("id")?,
                kind: JobKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("jobs.kind = {kind:?}")))?,
                project_id: row.try_get("project_id")?,
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
            })
        }

        fn tier_from(row: &DbRow) -> StoreResult<Tier> {
            let overrides: Json<behest_core::settings::SettingsPatch> = row.try_get("overrides")?;
            Ok(Tier {
                id: row.try_get("id")?,
                project_id: row.try_get("project_id")?,
                name: row.try_get("name")?,
                sort_order: row.try_get("sort_order")?,
                overrides: overrides.0,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        /// The sums every usage query selects.
        const USAGE_SUMS: &str = "COUNT(*) AS requests, \
             CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
             CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, \
             CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT) AS total_tokens, \
             CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) AS cost_usd";

        fn totals_from(row: &DbRow) -> StoreResult<UsageTotals> {
            Ok(UsageTotals {
                requests: row.try_get("requests")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                completion_tokens: row.try_get("completion_tokens")?,
                total_tokens: row.try_get("total_tokens")?,
                cost_usd: row.try_get("cost_usd")?,
            })
        }

        fn usage_query<'q>(
            sql: &'q str,
            query: &'q UsageQuery,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            let q = sqlx::query(sql)
                .bind(query.project_id)
                .bind(query.from)
                .bind(query.to);
            match &query.uid {
                Some(uid) => q.bind(uid.as_str()),
                None => q,
            }
        }

        fn thread_from(row: &DbRow) -> StoreResult<ThreadRow> {
            Ok(ThreadRow {
                id: row.try_get("id")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                message_count: row.try_get("message_count")?,
            })
        }

        const SETTINGS_COLUMNS: &str = "id, project_id, draft, deployed, provider_model, \
             draft_provider_model, draft_saved_at, deployed_at, created_at, updated_at";

        fn settings_from(row: &DbRow) -> StoreResult<SettingsRow> {
            let draft: Json<behest_core::settings::SettingsValues> = row.try_get("draft")?;
            let deployed: Option<Json<behest_core::settings::DeployedSnapshot>> =
                row.try_get("deployed")?;
            Ok(SettingsRow {
                id: row.try_get("id")?,
                project_id: row.try_get("project_id")?,
                draft: draft.0,
                deployed: deployed.map(|d| d.0),
                provider_model: row.try_get("provider_model")?,
                draft_provider_model: row.try_get("draft_provider_model")?,
                draft_saved_at: row.try_get("draft_saved_at")?,
                deployed_at: row.try_get("deployed_at")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        async fn enqueue_job<'c, E>(
            executor: E,
            kind: JobKind,
            project_id: Uuid,
            now: DateTime<Utc>,
        ) -> StoreResult<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            sqlx::query(
                "INSERT INTO jobs (id, kind, project_id, status, attempts, run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'queued', 0, $4, $4, $4)",
            )
            .bind(Uuid::new_v4())
            .bind(kind.as_str())
            .bind(project_id)
            .bind(now)
            .execute(executor)
            .await?;
            Ok(())
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                Self::BACKEND
            }

            async fn migrate(&self) -> StoreResult<()> {
                self.run_migrations().await
            }

            async fn create_account(&self, new: NewAccount) -> StoreResult<(User, Tenant)> {
                let now = crate::now();
                let user = User {
                    id: Uuid::new_v4(),
                    email: new.email,
                    password_hash: new.password_hash,
                    created_at: now,
                };
                let tenant = Tenant {
                    id: Uuid::new_v4(),
                    name: new.tenant_name,
                    plan: Plan::Free,
                    created_at: now,
                };
                let mut tx = self.pool.begin().await?;
                sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(user.id)
                    .bind(&user.email)
                    .bind(&user.password_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "email already registered"))?;
                insert_tenant(&mut tx, &tenant, user.id).await?;
                tx.commit().await?;
                Ok((user, tenant))
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
                sqlx::query("SELECT id, email, password_hash, created_at FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| user_from(&row))
                    .transpose()
            }

            async fn create_session(&self, session: NewSession) -> StoreResult<()> {
                sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&session.token_hash)
                    .bind(session.user_id)
                    .bind(crate::now())
                    .bind(session.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session_user(
                &self,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<User>> {
                sqlx::query(
                    "SELECT u.id, u.email, u.password_hash, u.created_at FROM sessions s \
                     JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| user_from(&row))
                .transpose()
            }

            async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn create_tenant(&self, owner: Uuid, name: &str) -> StoreResult<Tenant> {
                let tenant = Tenant {
                    id: Uuid::new_v4(),
                    name: name.to_owned(),
                    plan: Plan::Free,
                    created_at: crate::now(),
                };
                let mut tx = self.pool.begin().await?;
                insert_tenant(&mut tx, &tenant, owner).await?;
                tx.commit().await?;
                Ok(tenant)
            }

            async fn tenant(&self, id: Uuid) -> StoreResult<Option<Tenant>> {
                sqlx::query("SELECT id, name, plan, created_at FROM tenants WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| tenant_from(&row))
                    .transpose()
            }

            async fn memberships(&self, user_id: Uuid) -> StoreResult<Vec<Membership>> {
                let rows = sqlx::query(
                    "SELECT t.id, t.name, t.plan, t.created_at, m.role FROM tenant_members m \
                     JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = $1 ORDER BY t.created_at, t.id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(Membership {
                            tenant: tenant_from(row)?,
                            role: parse_enum(row.try_get("role")?, "tenant_members.role")?,
                        })
                    })
                    .collect()
            }

            async fn member_role(
                &self,
                tenant_id: Uuid,
                user_id: Uuid,
            ) -> StoreResult<Option<MemberRole>> {
                let role: Option<String> = sqlx::query_scalar(
                    "SELECT role FROM tenant_members WHERE tenant_id = $1 AND user_id = $2",
                )
                .bind(tenant_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                role.map(|r| parse_enum(r, "tenant_members.role")).transpose()
            }

            async fn set_plan(&self, tenant_id: Uuid, plan: Plan) -> StoreResult<Option<Tenant>> {
                sqlx::query("UPDATE tenants SET plan = $2, updated_at = $3 WHERE id = $1")
                    .bind(tenant_id)
                    .bind(plan.as_str())
                    .bind(crate::now())
                    .execute(&self.pool)
                    .await?;
                self.tenant(tenant_id).await
            }

            async fn create_project(&self, new: NewProject) -> StoreResult<Project> {
                let now = crate::now();
                let project = Project {
                    id: Uuid::new_v4(),
                    tenant_id: new.tenant_id,
                    name: new.name,
                    slug: new.slug,
                    status: ProjectStatus::Active,
                    dns_status: DnsStatus::Pending,
                    dns_last_error: None,
                    dns_updated_at: None,
                    created_at: now,
                };
                let mut tx = self.pool.begin().await?;
                // Lock the tenant row first: concurrent creates for one tenant queue here,
                // so the limit below is checked against a count nobody else is changing.
                let locked = sqlx::query("UPDATE tenants SET updated_at = $2 WHERE id = $1")
                    .bind(project.tenant_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if locked.rows_affected() == 0 {
                    return Err(StoreError::Conflict("tenant does not exist".to_owned()));
                }
                if let Some(limit) = new.active_limit {
                    let active: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM projects WHERE tenant_id = $1 AND status = 'active'",
                    )
                    .bind(project.tenant_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if active >= limit {
                        return Err(StoreError::LimitReached);
                    }
                }
                sqlx::query(
                    "INSERT INTO projects (id, tenant_id, name, slug, status, dns_status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(project.id)
                .bind(project.tenant_id)
                .bind(&project.name)
                .bind(&project.slug)
                .bind(project.status.as_str())
                .bind(project.dns_status.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_write(e, "slug taken"))?;
                sqlx::query(
                    "INSERT INTO project_settings (id, project_id, draft, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(Uuid::new_v4())
                .bind(project.id)
                .bind(Json(&new.settings))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                enqueue_job(&mut *tx, JobKind::ProvisionDns, project.id, now).await?;
                tx.commit().await?;
                Ok(project)
            }

            async fn projects(&self, tenant_id: Uuid) -> StoreResult<Vec<Project>> {
                let sql = format!(
                    "SELECT {PROJECT_COLUMNS} FROM projects WHERE tenant_id = $1 ORDER BY created_at, id"
                );
                let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
                rows.iter().map(project_from).collect()
            }

            async fn project(&self, id: Uuid) -> StoreResult<Option<Project>> {
                let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| project_from(&row))
                    .transpose()
            }

            async fn project_by_slug(&self, slug: &str) -> StoreResult<Option<Project>> {
                let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE slug = $1");
                sqlx::query(&sql)
                    .bind(slug)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| project_from(&row))
                    .transpose()
            }

            async fn suspend_project(&self, id: Uuid) -> StoreResult<bool> {
                let now = crate::now();
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE projects SET status = 'suspended', updated_at = $2 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if changed.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE project_id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                enqueue_job(&mut *tx, JobKind::RemoveDns, id, now).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn retry_provisioning(&self, id: Uuid) -> StoreResult<bool> {
                let now = crate::now();
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE projects SET dns_status = 'PENDING', dns_last_error = NULL, dns_updated_at = $2, updated_at = $2 \
                     WHERE id = $1 AND dns_status = 'FAILED' AND status = 'active'",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if changed.rows_affected() == 0 {
                    return Ok(false);
                }
                enqueue_job(&mut *tx, JobKind::ProvisionDns, id, now).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn set_dns_status(
                &self,
                id: Uuid,
                status: DnsStatus,
                error: Option<&str>,
            ) -> StoreResult<()> {
                let now = crate::now();
                sqlx::query(
                    "UPDATE projects SET dns_status = $2, dns_last_error = $3, dns_updated_at = $4, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(error)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn settings(&self, project_id: Uuid) -> StoreResult<Option<SettingsRow>> {
                sqlx::query(&format!(
                    "SELECT {SETTINGS_COLUMNS} FROM project_settings WHERE project_id = $1"
                ))
                .bind(project_id)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| settings_from(&row))
                .transpose()
            }

            async fn update_settings(
                &self,
                project_id: Uuid,
                edit: SettingsEdit,
            ) -> StoreResult<Option<SettingsRow>> {
                let now = crate::now();
                let mut tx = self.pool.begin().await?;
                // The write first: it takes the row lock (PostgreSQL) or the write lock
                // (SQLite) before we read what we are about to change.
                let locked = sqlx::query("UPDATE project_settings SET updated_at = updated_at WHERE project_id = $1")
                    .bind(project_id)
                    .execute(&mut *tx)
                    .await?;
                if locked.rows_affected() == 0 {
                    return Ok(None);
                }
                let row = sqlx::query(&format!(
                    "SELECT {SETTINGS_COLUMNS} FROM project_settings WHERE project_id = $1"
                ))
                .bind(project_id)
                .fetch_one(&mut *tx)
                .await?;
                let mut settings = settings_from(&row)?;
                edit(&mut settings).map_err(StoreError::Rejected)?;
                settings.updated_at = now;
                sqlx::query(
                    "UPDATE project_settings SET draft = $2, deployed = $3, provider_model = $4, \
                     draft_provider_model = $5, draft_saved_at = $6, deployed_at = $7, updated_at = $8 \
                     WHERE project_id = $1",
                )
                .bind(project_id)
                .bind(Json(&settings.draft))
                .bind(settings.deployed.as_ref().map(Json))
                .bind(&settings.provider_model)
                .bind(&settings.draft_provider_model)
                .bind(settings.draft_saved_at)
                .bind(settings.deployed_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(settings))
            }

            async fn create_api_key(&self, new: NewApiKey) -> StoreResult<ApiKey> {
                let mut conn = self.pool.acquire().await?;
                insert_api_key(&mut conn, new, crate::now()).await
            }

            async fn active_api_keys(&self, project_id: Uuid) -> StoreResult<Vec<ApiKey>> {
                let sql = format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE project_id = $1 AND revoked_at IS NULL \
                     ORDER BY created_at, id"
                );
                let rows = sqlx::query(&sql).bind(project_id).fetch_all(&self.pool).await?;
                rows.iter().map(api_key_from).collect()
            }

            async fn api_key(&self, id: Uuid) -> StoreResult<Option<ApiKey>> {
                let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| api_key_from(&row))
                    .transpose()
            }

            async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
                let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
                sqlx::query(&sql)
                    .bind(key_hash)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| api_key_from(&row))
                    .transpose()
            }

            async fn revoke_api_key(&self, id: Uuid) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(crate::now())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn touch_api_key(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
                // The condition is in the UPDATE itself, so replicas racing on one key
                // write it once, and a recent time is never moved backwards. (SQLite
                // compares the RFC 3339 text sqlx writes, which sorts as time does.)
                sqlx::query(
                    "UPDATE api_keys SET last_used_at = $2 \
                     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
                )
                .bind(id)
                .bind(at)
                .bind(at - LAST_USED_RESOLUTION)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn rotate_api_key(
                &self,
                old_id: Uuid,
                new: NewApiKey,
            ) -> StoreResult<Option<ApiKey>> {
                let now = crate::now();
                let mut tx = self.pool.begin().await?;
                let revoked = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND project_id = $2 AND revoked_at IS NULL",
                )
                .bind(old_id)
                .bind(new.project_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if revoked.rows_affected() == 0 {
                    return Ok(None);
                }
                let key = insert_api_key(&mut tx, new, now).await?;
                // Rotated, not revoked: its tokens live out their lifetime.
                sqlx::query("UPDATE api_keys SET replaced_by = $2 WHERE id = $1")
                    .bind(old_id)
                    .bind(key.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(key))
            }

            async fn platform_keys(&self) -> StoreResult<Vec<PlatformKey>> {
                let rows = sqlx::query(
                    "SELECT kid, private_key_pem, created_at, retired_at FROM platform_signing_keys \
                     ORDER BY created_at DESC, kid DESC",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(platform_key_from).collect()
            }

            async fn add_platform_key(
                &self,
                key: &PlatformKey,
                only_if_none: bool,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                if only_if_none {
                    let inserted = sqlx::query(
                        "INSERT INTO platform_signing_keys (kid, private_key_pem, created_at) \
                         SELECT $1, $2, $3 WHERE NOT EXISTS \
                         (SELECT 1 FROM platform_signing_keys WHERE retired_at IS NULL)",
                    )
                    .bind(&key.kid)
                    .bind(&key.private_key_pem)
                    .bind(key.created_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return Ok(inserted.rows_affected() > 0);
                }
                sqlx::query("UPDATE platform_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                    .bind(key.created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO platform_signing_keys (kid, private_key_pem, created_at) VALUES ($1, $2, $3)",
                )
                .bind(&key.kid)
                .bind(&key.private_key_pem)
                .bind(key.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn reseal_platform_key(
                &self,
                kid: &str,
                expected: &str,
                sealed: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE platform_signing_keys SET private_key_pem = $3 \
                     WHERE kid = $1 AND private_key_pem = $2",
                )
                .bind(kid)
                .bind(expected)
                .bind(sealed)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn create_tenant_signing_key(&self, key: &TenantSigningKey) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO tenant_signing_keys (kid, tenant_id, name, public_key_pem, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&key.kid)
                .bind(key.tenant_id)
                .bind(&key.name)
                .bind(&key.public_key_pem)
                .bind(key.created_at)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "kid taken"))?;
                Ok(())
            }

            async fn tenant_signing_keys(
                &self,
                tenant_id: Uuid,
            ) -> StoreResult<Vec<TenantSigningKey>> {
                let rows = sqlx::query(
                    "SELECT kid, tenant_id, name, public_key_pem, created_at, revoked_at \
                     FROM tenant_signing_keys WHERE tenant_id = $1 ORDER BY created_at, kid",
                )
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(tenant_key_from).collect()
            }

            async fn revoke_tenant_signing_key(&self, tenant_id: Uuid, kid: &str) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE tenant_signing_keys SET revoked_at = $3 \
                     WHERE tenant_id = $1 AND kid = $2 AND revoked_at IS NULL",
                )
                .bind(tenant_id)
                .bind(kid)
                .bind(crate::now())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn put_provider_key(&self, key: &ProviderKey) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO provider_keys \
                     (tenant_id, provider_type, sealed_key, key_last4, base_url, key_set_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (tenant_id, provider_type) DO UPDATE SET \
                     sealed_key = excluded.sealed_key, key_last4 = excluded.key_last4, \
                     base_url = excluded.base_url, key_set_at = excluded.key_set_at",
                )
                .bind(key.tenant_id)
                .bind(&key.provider_type)
                .bind(&key.sealed_key)
                .bind(&key.key_last4)
                .bind(&key.base_url)
                .bind(key.key_set_at)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "provider key"))?;
                Ok(())
            }

            async fn provider_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<ProviderKey>> {
                let rows = sqlx::query(&format!(
                    "SELECT {PROVIDER_KEY_COLUMNS} FROM provider_keys \
                     WHERE tenant_id = $1 ORDER BY provider_type"
                ))
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(provider_key_from).collect()
            }

            async fn delete_provider_key(
                &self,
                tenant_id: Uuid,
                provider_type: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "DELETE FROM provider_keys WHERE tenant_id = $1 AND provider_type = $2",
                )
                .bind(tenant_id)
                .bind(provider_type)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn all_provider_keys(&self) -> StoreResult<Vec<ProviderKey>> {
                let rows = sqlx::query(&format!(
                    "SELECT {PROVIDER_KEY_COLUMNS} FROM provider_keys ORDER BY tenant_id, provider_type"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(provider_key_from).collect()
            }

            async fn reseal_provider_key(
                &self,
                tenant_id: Uuid,
                provider_type: &str,
                expected: &str,
                sealed_key: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE provider_keys SET sealed_key = $4 \
                     WHERE tenant_id = $1 AND provider_type = $2 AND sealed_key = $3",
                )
                .bind(tenant_id)
                .bind(provider_type)
                .bind(expected)
                .bind(sealed_key)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn add_catalog_provider(
                &self,
                p: &CatalogProvider,
                if_missing: bool,
            ) -> StoreResult<()> {
                let conflict = if if_missing { " ON CONFLICT (id) DO NOTHING" } else { "" };
                sqlx::query(&format!(
                    "INSERT INTO catalog_providers ({CATALOG_PROVIDER_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11){conflict}"
                ))
                .bind(&p.id)
                .bind(&p.name)
                .bind(&p.slug)
                .bind(&p.display_name)
                .bind(p.is_active)
                .bind(&p.models_endpoint_url)
                .bind(&p.models_endpoint_auth_type)
                .bind(p.auth_config_schema.as_ref().map(Json))
                .bind(p.supported_features.as_ref().map(Json))
                .bind(p.created_at)
                .bind(p.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "provider name or slug taken"))?;
                Ok(())
            }

            async fn catalog_providers(&self) -> StoreResult<Vec<CatalogProvider>> {
                let rows = sqlx::query(&format!(
                    "SELECT {CATALOG_PROVIDER_COLUMNS} FROM catalog_providers ORDER BY created_at, slug"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(catalog_provider_from).collect()
            }

            async fn catalog_provider(&self, id: &str) -> StoreResult<Option<CatalogProvider>> {
                let row = sqlx::query(&format!(
                    "SELECT {CATALOG_PROVIDER_COLUMNS} FROM catalog_providers WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(catalog_provider_from).transpose()
            }

            async fn upsert_catalog_models(&self, models: &[CatalogModel]) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let mut done = 0;
                for m in models {
                    done += sqlx::query(
                        "INSERT INTO catalog_models \
                         (provider_id, model_id, display_name, context_window, max_output_tokens, synced_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (provider_id, model_id) DO UPDATE SET \
                         display_name = excluded.display_name, \
                         context_window = COALESCE(excluded.context_window, catalog_models.context_window), \
                         max_output_tokens = COALESCE(excluded.max_output_tokens, catalog_models.max_output_tokens), \
                         synced_at = excluded.synced_at",
                    )
                    .bind(&m.provider_id)
                    .bind(&m.model_id)
                    .bind(&m.display_name)
                    .bind(m.context_window)
                    .bind(m.max_output_tokens)
                    .bind(m.synced_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                sqlx::query("UPDATE catalog_providers SET updated_at = $2 WHERE id = $1")
                    .bind(models.first().map(|m| m.provider_id.as_str()).unwrap_or_default())
                    .bind(crate::now())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done)
            }

            async fn catalog_models(&self, provider_id: &str) -> StoreResult<Vec<CatalogModel>> {
                let rows = sqlx::query(
                    "SELECT provider_id, model_id, display_name, context_window, max_output_tokens, synced_at \
                     FROM catalog_models WHERE provider_id = $1 ORDER BY model_id",
                )
                .bind(provider_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(catalog_model_from).collect()
            }

            async fn claim_job(
                &self,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
            ) -> StoreResult<Option<Job>> {
                // The due-condition is repeated in the outer WHERE: under PostgreSQL two
                // workers may pick the same id, and the loser must re-check the row it
                // waited for instead of taking it twice.
                let sql = format!(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $2, updated_at = $1 \
                     WHERE id = (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $1) \
                                 OR (status = 'running' AND locked_until < $1) ORDER BY run_at LIMIT 1) \
                     AND ((status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until < $1)) \
                     RETURNING {JOB_COLUMNS}"
                );
                sqlx::query(&sql)
                    .bind(now)
                    .bind(lease_until)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| job_from(&row))
                    .transpose()
            }

            async fn finish_job(&self, id: Uuid) -> StoreResult<()> {
                sqlx::query("UPDATE jobs SET status = 'done', locked_until = NULL, updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(crate::now())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn retry_job_at(&self, id: Uuid, run_at: DateTime<Utc>, error: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE jobs SET status = 'queued', run_at = $2, last_error = $3, locked_until = NULL, \
                     updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(run_at)
                .bind(error)
                .bind(crate::now())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn fail_job(&self, id: Uuid, error: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE jobs SET status = 'failed', last_error = $2, locked_until = NULL, updated_at = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(error)
                .bind(crate::now())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn jobs_for_project(&self, project_id: Uuid) -> StoreResult<Vec<Job>> {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE project_id = $1 ORDER BY created_at, id"
                );
                let rows = sqlx::query(&sql).bind(project_id).fetch_all(&self.pool).await?;
                rows.iter().map(job_from).collect()
            }

            async fn all_projects(&self) -> StoreResult<Vec<Project>> {
                let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects ORDER BY created_at, id");
                let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
                rows.iter().map(project_from).collect()
            }

            async fn all_settings(&self) -> StoreResult<Vec<SettingsRow>> {
                let rows = sqlx::query(&format!("SELECT {SETTINGS_COLUMNS} FROM project_settings"))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(settings_from).collect()
            }

            async fn revoked_api_keys_since(
                &self,
                since: DateTime<Utc>,
            ) -> StoreResult<Vec<(Uuid, Uuid)>> {
                let rows = sqlx::query(
                    "SELECT project_id, id FROM api_keys \
                     WHERE revoked_at > $1 AND replaced_by IS NULL",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("project_id")?, row.try_get("id")?)))
                    .collect()
            }

            async fn active_tenant_signing_keys(&self) -> StoreResult<Vec<TenantSigningKey>> {
                let rows = sqlx::query(
                    "SELECT kid, tenant_id, name, public_key_pem, created_at, revoked_at \
                     FROM tenant_signing_keys WHERE revoked_at IS NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(tenant_key_from).collect()
            }

            async fn tiers(&self, project_id: Uuid) -> StoreResult<Vec<Tier>> {
                let rows = sqlx::query(
                    "SELECT id, project_id, name, sort_order, overrides, created_at, updated_at \
                     FROM project_tiers WHERE project_id = $1 ORDER BY sort_order, created_at, id",
                )
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(tier_from).collect()
            }

            async fn create_tier_limited(&self, tier: &Tier, limit: i64) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                // Lock the project first so concurrent creates count one after another.
                let locked = sqlx::query("UPDATE projects SET updated_at = updated_at WHERE id = $1")
                    .bind(tier.project_id)
                    .execute(&mut *tx)
                    .await?;
                if locked.rows_affected() == 0 {
                    return Err(StoreError::Conflict("project does not exist".to_owned()));
                }
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM project_tiers WHERE project_id = $1")
                    .bind(tier.project_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if count >= limit {
                    return Err(StoreError::LimitReached);
                }
                insert_tier(&mut tx, tier).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn tier(&self, project_id: Uuid, id: Uuid) -> StoreResult<Option<Tier>> {
                sqlx::query(
                    "SELECT id, project_id, name, sort_order, overrides, created_at, updated_at \
                     FROM project_tiers WHERE project_id = $1 AND id = $2",
                )
                .bind(project_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| tier_from(&row))
                .transpose()
            }

            async fn update_tier(&self, tier: &Tier) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE project_tiers SET name = $3, sort_order = $4, overrides = $5, updated_at = $6 \
                     WHERE project_id = $1 AND id = $2",
                )
                .bind(tier.project_id)
                .bind(tier.id)
                .bind(&tier.name)
                .bind(tier.sort_order)
                .bind(Json(&tier.overrides))
                .bind(tier.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "tier name taken"))?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_tier(&self, project_id: Uuid, id: Uuid) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM project_tiers WHERE project_id = $1 AND id = $2")
                    .bind(project_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn replace_tiers(&self, project_id: Uuid, tiers: &[Tier]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM project_tiers WHERE project_id = $1")
                    .bind(project_id)
                    .execute(&mut *tx)
                    .await?;
                for tier in tiers {
                    insert_tier(&mut tx, tier).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn set_kill_switch(&self, scope: KillScope, enabled: bool) -> StoreResult<bool> {
                let target = scope.target().unwrap_or(Uuid::nil());
                let done = if enabled {
                    sqlx::query(
                        "INSERT INTO kill_switches (scope, target, enabled_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (scope, target) DO NOTHING",
                    )
                    .bind(scope.name())
                    .bind(target)
                    .bind(crate::now())
                    .execute(&self.pool)
                    .await?
                } else {
                    sqlx::query("DELETE FROM kill_switches WHERE scope = $1 AND target = $2")
                        .bind(scope.name())
                        .bind(target)
                        .execute(&self.pool)
                        .await?
                };
                Ok(done.rows_affected() > 0)
            }

            async fn kill_switches(&self) -> StoreResult<Vec<KillScope>> {
                let rows = sqlx::query("SELECT scope, target FROM kill_switches ORDER BY scope, target")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let scope: String = row.try_get("scope")?;
                        let target: Uuid = row.try_get("target")?;
                        let target = (!target.is_nil()).then_some(target);
                        KillScope::from_parts(&scope, target).ok_or_else(|| {
                            StoreError::Corrupt(format!("kill_switches.scope = {scope:?}"))
                        })
                    })
                    .collect()
            }

            async fn add_token_usage(&self, usage: &[TokenUsage]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for entry in usage {
                    sqlx::query(
                        "INSERT INTO token_ledger (project_id, uid, day, tokens) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (project_id, uid, day) DO UPDATE SET tokens = token_ledger.tokens + excluded.tokens",
                    )
                    .bind(entry.project_id)
                    .bind(&entry.uid)
                    .bind(&entry.day)
                    .bind(entry.tokens)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn token_usage_on(&self, day: &str) -> StoreResult<Vec<TokenUsage>> {
                let rows = sqlx::query("SELECT project_id, uid, day, tokens FROM token_ledger WHERE day = $1")
                    .bind(day)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TokenUsage {
                            project_id: row.try_get("project_id")?,
                            uid: row.try_get("uid")?,
                            day: row.try_get("day")?,
                            tokens: row.try_get("tokens")?,
                        })
                    })
                    .collect()
            }

            async fn insert_usage(&self, records: &[UsageRecord]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let mut rest = records;
                while !rest.is_empty() {
                    let (batch, after) =
                        rest.split_at(crate::queries::usage_rows_per_insert(rest.len()));
                    rest = after;
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO usage_records (id, at, hour, day, month, project_id, tenant_id, uid, \
                         session_id, thread_id, tier, operation, origin, model, provider, prompt_tokens, \
                         completion_tokens, total_tokens, tokens_counted, cost_usd, latency_ms, ttft_ms, \
                         status, error_code, ending, guard) ",
                    );
                    insert.push_values(batch, |mut row, r| {
                        row.push_bind(r.id)
                            .push_bind(r.at)
                            .push_bind(Granularity::Hour.bucket(r.at))
                            .push_bind(Granularity::Day.bucket(r.at))
                            .push_bind(Granularity::Month.bucket(r.at))
                            .push_bind(r.project_id)
                            .push_bind(r.tenant_id)
                            .push_bind(&r.uid)
                            .push_bind(&r.session_id)
                            .push_bind(&r.thread_id)
                            .push_bind(&r.tier)
                            .push_bind(&r.operation)
                            .push_bind(&r.origin)
                            .push_bind(&r.model)
                            .push_bind(&r.provider)
                            .push_bind(r.prompt_tokens)
                            .push_bind(r.completion_tokens)
                            .push_bind(r.total_tokens)
                            .push_bind(r.tokens_counted)
                            .push_bind(r.cost_usd)
                            .push_bind(r.latency_ms)
                            .push_bind(r.ttft_ms)
                            .push_bind(r.status)
                            .push_bind(&r.error_code)
                            .push_bind(&r.ending)
                            .push_bind(r.guard.to_string());
                    });
                    insert.push(" ON CONFLICT (id) DO NOTHING");
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn usage_buckets(
                &self,
                query: &UsageQuery,
                granularity: Granularity,
            ) -> StoreResult<Vec<UsageBucket>> {
                let column = granularity.column();
                let sql = format!(
                    "SELECT {column} AS bucket, {USAGE_SUMS} FROM usage_records \
                     WHERE project_id = $1 AND at >= $2 AND at < $3 {} GROUP BY {column} ORDER BY {column}",
                    if query.uid.is_some() { "AND uid = $4" } else { "" }
                );
                let rows = usage_query(&sql, query).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(UsageBucket {
                            start: row.try_get("bucket")?,
                            totals: totals_from(row)?,
                        })
                    })
                    .collect()
            }

            async fn usage_totals(&self, query: &UsageQuery) -> StoreResult<UsageTotals> {
                let sql = format!(
                    "SELECT {USAGE_SUMS} FROM usage_records WHERE project_id = $1 AND at >= $2 AND at < $3 {}",
                    if query.uid.is_some() { "AND uid = $4" } else { "" }
                );
                let row = usage_query(&sql, query).fetch_one(&self.pool).await?;
                totals_from(&row)
            }

            async fn usage_top(
                &self,
                query: &UsageQuery,
                by_session: bool,
                limit: i64,
            ) -> StoreResult<Vec<UsageTop>> {
                let column = if by_session { "session_id" } else { "uid" };
                let sql = format!(
                    "SELECT {column} AS top_key, {USAGE_SUMS} FROM usage_records \
                     WHERE project_id = $1 AND at >= $2 AND at < $3 AND {column} IS NOT NULL {} \
                     GROUP BY {column} ORDER BY COALESCE(SUM(cost_usd), 0) DESC, COUNT(*) DESC, {column} LIMIT {}",
                    if query.uid.is_some() { "AND uid = $4" } else { "" },
                    limit.clamp(1, 1000)
                );
                let rows = usage_query(&sql, query).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(UsageTop {
                            key: row.try_get("top_key")?,
                            totals: totals_from(row)?,
                        })
                    })
                    .collect()
            }

            async fn usage_outcomes(&self, query: &UsageQuery) -> StoreResult<UsageOutcomes> {
                let uid = if query.uid.is_some() { "AND uid = $4" } else { "" };
                // Error codes are a closed set, so the groups are few.
                let sql = format!(
                    "SELECT error_code, COUNT(*) AS requests FROM usage_records \
                     WHERE project_id = $1 AND at >= $2 AND at < $3 AND error_code IS NOT NULL {uid} \
                     GROUP BY error_code ORDER BY COUNT(*) DESC, error_code"
                );
                let rows = usage_query(&sql, query).fetch_all(&self.pool).await?;
                let refusals = rows
                    .iter()
                    .map(|row| {
                        Ok(RefusalCount {
                            error_code: row.try_get("error_code")?,
                            requests: row.try_get("requests")?,
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                // A request the guard found nothing in is recorded as `{}`. The latest
                // first, so a range with more than the bound counts its recent part.
                let sql = format!(
                    "SELECT guard FROM usage_records \
                     WHERE project_id = $1 AND at >= $2 AND at < $3 AND guard <> '{{}}' {uid} \
                     ORDER BY at DESC LIMIT {}",
                    crate::GUARD_ROWS_READ
                );
                let rows = usage_query(&sql, query).fetch_all(&self.pool).await?;
                let mut guards = Vec::with_capacity(rows.len());
                for row in &rows {
                    let text: String = row.try_get("guard")?;
                    match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(value) => guards.push(value),
                        // One damaged record should not take the project's report down.
                        Err(err) => tracing::warn!(%err, "usage record with unreadable guard findings skipped"),
                    }
                }
                Ok(UsageOutcomes {
                    refusals,
                    guard_hits: behest_core::usage::tally_guard_hits(&guards),
                })
            }

            async fn usage_cost(&self, query: &UsageQuery) -> StoreResult<f64> {
                Ok(self.usage_totals(query).await?.cost_usd)
            }

            async fn usage_costs(&self, since: DateTime<Utc>, group: CostGroup) -> StoreResult<Vec<CostSum>> {
                let (columns, filter) = match group {
                    CostGroup::User => ("project_id, uid", "uid IS NOT NULL"),
                    CostGroup::Session => ("project_id, uid, session_id", "uid IS NOT NULL AND session_id IS NOT NULL"),
                    CostGroup::Project => ("project_id", "1 = 1"),
                };
                let sql = format!(
                    "SELECT {columns}, CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) AS cost \
                     FROM usage_records WHERE at >= $1 AND cost_usd > 0 AND {filter} GROUP BY {columns}"
                );
                let rows = sqlx::query(&sql).bind(since).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(CostSum {
                            project_id: row.try_get("project_id")?,
                            uid: match group {
                                CostGroup::Project => None,
                                _ => row.try_get("uid")?,
                            },
                            session_id: match group {
                                CostGroup::Session => row.try_get("session_id")?,
                                _ => None,
                            },
                            cost_usd: row.try_get("cost")?,
                        })
                    })
                    .collect()
            }

            async fn append_messages(
                &self,
                thread: &ThreadKey,
                messages: &[NewMessage],
            ) -> StoreResult<Vec<StoredMessage>> {
                if messages.is_empty() {
                    return Ok(Vec::new());
                }
                let now = crate::now();
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO threads (project_id, uid, id, created_at, updated_at, message_count, next_seq) \
                     VALUES ($1, $2, $3, $4, $4, 0, 0) ON CONFLICT (project_id, uid, id) DO NOTHING",
                )
                .bind(thread.project_id)
                .bind(&thread.uid)
                .bind(&thread.thread_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Locks the thread's row: concurrent appends queue, their order kept.
                sqlx::query("UPDATE threads SET updated_at = $4 WHERE project_id = $1 AND uid = $2 AND id = $3")
                    .bind(thread.project_id)
                    .bind(&thread.uid)
                    .bind(&thread.thread_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let next: i64 = sqlx::query("SELECT next_seq FROM threads WHERE project_id = $1 AND uid = $2 AND id = $3")
                    .bind(thread.project_id)
                    .bind(&thread.uid)
                    .bind(&thread.thread_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("next_seq")?;
                let mut stored = Vec::with_capacity(messages.len());
                for (i, m) in messages.iter().enumerate() {
                    let message = StoredMessage {
                        // Time-ordered, like usage records: appended to the id index.
                        id: Uuid::now_v7(),
                        seq: next + i as i64,
                        role: m.role.clone(),
                        content: m.content.clone(),
                        tool_calls: m.tool_calls.clone(),
                        tool_call_id: m.tool_call_id.clone(),
                        created_at: now,
                    };
                    sqlx::query(
                        "INSERT INTO thread_messages (id, project_id, uid, thread_id, seq, role, content, tool_calls, tool_call_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(message.id)
                    .bind(thread.project_id)
                    .bind(&thread.uid)
                    .bind(&thread.thread_id)
                    .bind(next + i as i64)
                    .bind(&m.role)
                    .bind(&m.content)
                    .bind(&m.tool_calls)
                    .bind(&m.tool_call_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    stored.push(message);
                }
                let n = messages.len() as i64;
                sqlx::query(
                    "UPDATE threads SET next_seq = next_seq + $4, message_count = message_count + $4 \
                     WHERE project_id = $1 AND uid = $2 AND id = $3",
                )
                .bind(thread.project_id)
                .bind(&thread.uid)
                .bind(&thread.thread_id)
                .bind(n)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn recent_messages(
                &self,
                thread: &ThreadKey,
                limit: i64,
            ) -> StoreResult<Vec<StoredMessage>> {
                self.thread_messages(thread, limit, None).await
            }

            async fn thread_messages(
                &self,
                thread: &ThreadKey,
                limit: i64,
                before: Option<Uuid>,
            ) -> StoreResult<Vec<StoredMessage>> {
                let before_seq: i64 = match before {
                    None => i64::MAX,
                    Some(id) => {
                        let row = sqlx::query(
                            "SELECT seq FROM thread_messages WHERE id = $1 AND project_id = $2 AND uid = $3 AND thread_id = $4",
                        )
                        .bind(id)
                        .bind(thread.project_id)
                        .bind(&thread.uid)
                        .bind(&thread.thread_id)
                        .fetch_optional(&self.pool)
                        .await?;
                        match row {
                            Some(row) => row.try_get("seq")?,
                            None => return Ok(Vec::new()),
                        }
                    }
                };
                let rows = sqlx::query(
                    "SELECT id, seq, role, content, tool_calls, tool_call_id, created_at FROM thread_messages \
                     WHERE project_id = $1 AND uid = $2 AND thread_id = $3 AND seq < $4 ORDER BY seq DESC LIMIT $5",
                )
                .bind(thread.project_id)
                .bind(&thread.uid)
                .bind(&thread.thread_id)
                .bind(before_seq)
                .bind(limit.max(0))
                .fetch_all(&self.pool)
                .await?;
                let mut messages = rows
                    .iter()
                    .map(|row| {
                        Ok(StoredMessage {
                            id: row.try_get("id")?,
                            seq: row.try_get("seq")?,
                            role: row.try_get("role")?,
                            content: row.try_get("content")?,
                            tool_calls: row.try_get("tool_calls")?,
                            tool_call_id: row.try_get("tool_call_id")?,
                            created_at: row.try_get("created_at")?,
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                messages.reverse();
                Ok(messages)
            }

            async fn thread(&self, thread: &ThreadKey) -> StoreResult<Option<ThreadRow>> {
                let row = sqlx::query(
                    "SELECT id, created_at, updated_at, message_count FROM threads WHERE project_id = $1 AND uid = $2 AND id = $3",
                )
                .bind(thread.project_id)
                .bind(&thread.uid)
                .bind(&thread.thread_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| thread_from(&row)).transpose()
            }

            async fn threads(&self, project_id: Uuid, uid: &str, limit: i64) -> StoreResult<Vec<ThreadRow>> {
                let rows = sqlx::query(
                    "SELECT id, created_at, updated_at, message_count FROM threads WHERE project_id = $1 AND uid = $2 \
                     ORDER BY updated_at DESC, id LIMIT $3",
                )
                .bind(project_id)
                .bind(uid)
                .bind(limit.max(0))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(thread_from).collect()
            }

            async fn delete_thread(&self, thread: &ThreadKey) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query("DELETE FROM threads WHERE project_id = $1 AND uid = $2 AND id = $3")
                    .bind(thread.project_id)
                    .bind(&thread.uid)
                    .bind(&thread.thread_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM thread_messages WHERE project_id = $1 AND uid = $2 AND thread_id = $3")
                    .bind(thread.project_id)
                    .bind(&thread.uid)
                    .bind(&thread.thread_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(deleted > 0)
            }

            async fn delete_messages_before(
                &self,
                project_id: Uuid,
                cutoff: DateTime<Utc>,
            ) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query("DELETE FROM thread_messages WHERE project_id = $1 AND created_at < $2")
                    .bind(project_id)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted > 0 {
                    sqlx::query(
                        "UPDATE threads SET message_count = (SELECT COUNT(*) FROM thread_messages m \
                         WHERE m.project_id = threads.project_id AND m.uid = threads.uid AND m.thread_id = threads.id) \
                         WHERE project_id = $1",
                    )
                    .bind(project_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM threads WHERE project_id = $1 AND message_count = 0")
                        .bind(project_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(deleted)
            }
        }

        async fn insert_tenant(
            conn: &mut <$db as sqlx::Database>::Connection,
            tenant: &Tenant,
            owner: Uuid,
        ) -> StoreResult<()> {
            sqlx::query("INSERT INTO tenants (id, name, plan, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
                .bind(tenant.id)
                .bind(&tenant.name)
                .bind(tenant.plan.as_str())
                .bind(tenant.created_at)
                .execute(&mut *conn)
                .await?;
            sqlx::query("INSERT INTO tenant_members (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(tenant.id)
                .bind(owner)
                .bind(MemberRole::Owner.as_str())
                .bind(tenant.created_at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        async fn insert_tier(conn: &mut <$db as sqlx::Database>::Connection, tier: &Tier) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO project_tiers (id, project_id, name, sort_order, overrides, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(tier.id)
            .bind(tier.project_id)
            .bind(&tier.name)
            .bind(tier.sort_order)
            .bind(Json(&tier.overrides))
            .bind(tier.created_at)
            .bind(tier.updated_at)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_write(e, "tier name taken"))?;
            Ok(())
        }

        async fn insert_api_key(
            conn: &mut <$db as sqlx::Database>::Connection,
            new: NewApiKey,
            now: DateTime<Utc>,
        ) -> StoreResult<ApiKey> {
            let key = ApiKey {
                id: Uuid::new_v4(),
                project_id: new.project_id,
                name: new.name,
                role: new.role,
                key_hash: new.key_hash,
                created_at: now,
                revoked_at: None,
                last_used_at: None,
            };
            sqlx::query(
                "INSERT INTO api_keys (id, project_id, name, role, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(key.id)
            .bind(key.project_id)
            .bind(&key.name)
            .bind(key.role.as_str())
            .bind(&key.key_hash)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_write(e, "key hash collision"))?;
            Ok(key)
        }

        /// Applies `migrations` in order, each in its own transaction that first takes
        /// `lock_sql` (if any: a lock held to the end of the transaction) and then claims
        /// its version row: a version another process already applied is skipped.
        async fn apply_migrations(
            pool: &sqlx::Pool<$db>,
            migrations: &[crate::migrate::Migration],
            lock_sql: Option<&'static str>,
        ) -> StoreResult<()> {
            let mut tx = pool.begin().await?;
            if let Some(lock) = lock_sql {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            sqlx::query(crate::migrate::CREATE_LEDGER).execute(&mut *tx).await?;
            tx.commit().await?;
            for migration in migrations {
                let mut tx = pool.begin().await?;
                if let Some(lock) = lock_sql {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let claimed = sqlx::query(
                    "INSERT INTO behest_migrations (version, name, applied_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (version) DO NOTHING",
                )
                .bind(migration.version)
                .bind(migration.name)
                .bind(crate::now())
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 0 {
                    continue;
                }
                // A plain `&str` runs as an unprepared multi-statement script on both
                // backends. (`sqlx::raw_sql` would too, but its future is not `Send`
                // inside an `async_trait` method.)
                sqlx::Executor::execute(&mut *tx, migration.sql)
                    .await
                    .map_err(|source| StoreError::Migration { version: migration.version, source })?;
                tx.commit().await?;
                tracing::info!(version = migration.version, name = migration.name, "migration applied");
            }
            Ok(())
        }
    };
}

pub(crate) use store_impl;

/// Usage rows per `INSERT` statement for `remaining` rows: the largest power of two up
/// to 64. One statement per row cost a round trip to the database each (SQLite's worker
/// thread woken per row); powers of two keep the distinct statement texts, and so the
/// prepared-statement cache, to seven. 64 rows of 26 parameters stay far under both
/// databases' parameter limits.
pub(crate) fn usage_rows_per_insert(remaining: usize) -> usize {
    const MAX: usize = 64;
    if remaining >= MAX {
        MAX
    } else {
        // remaining >= 1 here: the caller stops at none
        1 << (usize::BITS - 1 - remaining.max(1).leading_zeros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_rows_go_in_powers_of_two_up_to_64() {
        let mut sizes = std::collections::BTreeSet::new();
        for total in 1..=300 {
            let (mut rest, mut sum) = (total, 0);
            while rest > 0 {
                let n = usage_rows_per_insert(rest);
                assert!(n >= 1 && n <= rest && n <= 64 && n.is_power_of_two());
                sizes.insert(n);
                rest -= n;
                sum += n;
            }
            assert_eq!(sum, total);
        }
        assert_eq!(sizes.len(), 7);
    }
}
