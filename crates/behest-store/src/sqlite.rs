//! The embedded backend: one SQLite file in the data directory, in WAL mode.

use crate::queries::store_impl;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::time::Duration;

/// The store on a SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;

    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 512 KiB of page cache per connection instead of SQLite's 2 MB: the
            // file's pages stay in the OS's cache anyway, and the gateway shares the
            // process (with SQLite's default, the pool's caches were a third of its
            // memory under load).
            .pragma("cache_size", "-512")
            // Statement journals (a multi-row insert inside a transaction keeps one, so
            // the statement alone can be rolled back) in memory, not in a temporary
            // file: on disk that was two writes for every page a usage flush touched,
            // twice the WAL's own (strace, bench/ at c=1).
            .pragma("temp_store", "memory");
        // WAL has one writer at a time; a second connection lets a read go beside it.
        // Each connection is a thread with its own C heap (statement cache, page cache:
        // ~2 MiB resident under load), so two rather than four (bench/: the process's
        // peak at c=64 fell 3.8 MiB, to 44-45 MiB; the hot path never waits on these).
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        apply_migrations(&self.pool, crate::migrate::SQLITE, None).await
    }
}

store_impl!(SqliteStore, sqlx::Sqlite);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_connection_keeps_statement_journals_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("behest.db"))
            .await
            .unwrap();
        let mut connections = Vec::new();
        let max = store.pool.options().get_max_connections();
        assert!(max >= 2, "a read beside the writer");
        for _ in 0..max {
            let mut conn = store.pool.acquire().await.unwrap();
            let (mode,): (i64,) = sqlx::query_as("PRAGMA temp_store")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(mode, 2, "2 is MEMORY: no temporary file per usage flush");
            connections.push(conn);
        }
    }
}
