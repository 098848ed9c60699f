//! Live state: what every gateway process serves from, shared between replicas. It
//! holds the deployed image of every project (an entry per key, opaque JSON written by
//! the control plane) and carries change notifications, so a deploy, a model change, a
//! suspension or a key revocation reaches every process at once. Two implementations
//! of one trait: [`InProcess`] (the embedded default) and [`RedisLive`] (`--redis-url`:
//! a Redis hash for the image, pub/sub for notifications; a fresh replica starts from
//! the image). The image is derived: it is rebuilt from the store at start-up.
//!
//! The same two modes hold the hot path's [`counters`]: rate limits and budget
//! reservations, in process or in Redis (one Lua script per check).

pub mod counters;
mod counters_memory;
mod counters_redis;
mod counters_resilient;
mod memory;
mod redis_live;

use async_trait::async_trait;
use std::collections::HashMap;

pub use counters::{
    Admission, BudgetCharge, Counters, CountersError, RateLimit, RateState, Reservation, Strikes,
    Verdict,
};
pub use counters_memory::InProcessCounters;
pub use counters_redis::RedisCounters;
pub use counters_resilient::Resilient;
pub use memory::InProcess;
pub use redis_live::RedisLive;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0} ms")]
    Timeout(u128),
}

/// The shared image and its change feed.
#[async_trait]
pub trait LiveState: Send + Sync + 'static {
    /// Writes `entries` and removes `removed` from the image, atomically for readers.
    async fn write(
        &self,
        entries: Vec<(String, String)>,
        removed: Vec<String>,
    ) -> Result<(), LiveError>;
    /// The whole image.
    async fn read_all(&self) -> Result<HashMap<String, String>, LiveError>;
    /// Tells every process (this one included) that the image changed.
    async fn notify(&self) -> Result<(), LiveError>;
    /// Change notifications. A lagging receiver should simply re-read the image.
    fn changes(&self) -> tokio::sync::broadcast::Receiver<()>;
    fn name(&self) -> &'static str;
}
