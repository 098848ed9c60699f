//! The distributed backend: PostgreSQL shared by any number of replicas.

use crate::queries::store_impl;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// Any key will do as long as nothing else in the database takes the same lock
/// (0x626568657374 is "behest").
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(108170058560372)";

/// The store on PostgreSQL.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    const BACKEND: Backend = Backend::Postgres;

    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    pub async fn connect_with(options: PgConnectOptions) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(PostgresStore { pool })
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        // Serialise replicas starting together: DDL racing DDL is not something
        // PostgreSQL resolves gracefully. The lock is released with each transaction.
        apply_migrations(&self.pool, crate::migrate::POSTGRES, Some(MIGRATION_LOCK)).await
    }
}

store_impl!(PostgresStore, sqlx::Postgres);
