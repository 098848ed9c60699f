//! What can go wrong in the store, in terms the planes can act on.

/// A store failure. `Conflict` and `LimitReached` are answers, not faults.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (email, slug, tier name, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The tenant's plan allows no more active projects.
    #[error("plan limit reached")]
    LimitReached,
    /// An edit refused the row as it found it (see `SettingsEdit`).
    #[error("rejected: {0}")]
    Rejected(behest_core::settings::SettingsRejection),
    /// A row holds a value this version cannot read (an unknown enum spelling, ...).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("store configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
}

impl StoreError {
    /// Maps a unique violation to [`StoreError::Conflict`], anything else to `Database`.
    pub(crate) fn from_write(err: sqlx::Error, what: &str) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(what.to_owned())
            }
            _ => StoreError::Database(err),
        }
    }
}
