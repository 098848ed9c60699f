//! The migrations of each backend, embedded in the binary, and the ledger table that
//! records which were applied.

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The same text works on both backends: `TIMESTAMP`-ish text in SQLite, a real
/// timestamp in PostgreSQL (sqlx writes the same Rust value to either).
pub(crate) const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS behest_migrations (\
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)";

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "live_model",
        sql: include_str!("../migrations/sqlite/0002_live_model.sql"),
    },
    Migration {
        version: 3,
        name: "policy",
        sql: include_str!("../migrations/sqlite/0003_policy.sql"),
    },
    Migration {
        version: 4,
        name: "usage_memory",
        sql: include_str!("../migrations/sqlite/0004_usage_memory.sql"),
    },
    Migration {
        version: 5,
        name: "provider_keys",
        sql: include_str!("../migrations/sqlite/0005_provider_keys.sql"),
    },
    Migration {
        version: 6,
        name: "catalog",
        sql: include_str!("../migrations/sqlite/0006_catalog.sql"),
    },
    Migration {
        version: 7,
        name: "key_revocation",
        sql: include_str!("../migrations/sqlite/0007_key_revocation.sql"),
    },
    Migration {
        version: 8,
        name: "api_key_last_used",
        sql: include_str!("../migrations/sqlite/0008_api_key_last_used.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "live_model",
        sql: include_str!("../migrations/postgres/0002_live_model.sql"),
    },
    Migration {
        version: 3,
        name: "policy",
        sql: include_str!("../migrations/postgres/0003_policy.sql"),
    },
    Migration {
        version: 4,
        name: "usage_memory",
        sql: include_str!("../migrations/postgres/0004_usage_memory.sql"),
    },
    Migration {
        version: 5,
        name: "provider_keys",
        sql: include_str!("../migrations/postgres/0005_provider_keys.sql"),
    },
    Migration {
        version: 6,
        name: "catalog",
        sql: include_str!("../migrations/postgres/0006_catalog.sql"),
    },
    Migration {
        version: 7,
        name: "key_revocation",
        sql: include_str!("../migrations/postgres/0007_key_revocation.sql"),
    },
    Migration {
        version: 8,
        name: "api_key_last_used",
        sql: include_str!("../migrations/postgres/0008_api_key_last_used.sql"),
    },
];
