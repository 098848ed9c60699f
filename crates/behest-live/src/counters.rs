//! Counters for the hot path: the per-user rate limit and budget reservations, checked
//! and taken in one atomic step ([`Counters::admit`]) and settled to the real amount
//! after the request ([`Counters::settle`]). Two implementations of one trait, run by
//! one test suite: [`InProcess`](crate::InProcessCounters) for one binary, and
//! [`RedisCounters`](crate::RedisCounters) (one Lua script per call, so limits hold across
//! replicas), plus [`Resilient`](crate::Resilient), which falls back when Redis is away.
//!
//! The rate limit is a sliding-window log: at most `limit` requests in any window of
//! `window_ms` (no fixed-window edge where twice the limit gets through). A budget is a
//! number per key (tokens today, say) holding what was used plus what is reserved; a
//! request reserves up to what it may use, shrunk to the room left but never below its
//! minimum, and settles to what it used. Admission is all or nothing: a request refused
//! by its budget takes no rate slot, and one refused by the rate takes no budget.

use async_trait::async_trait;

/// The rate limit of one key: at most `limit` requests in any `window_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub key: String,
    pub limit: u32,
    pub window_ms: u64,
}

/// One budget a request draws on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetCharge {
    pub key: String,
    /// The most the key may hold (used + reserved).
    pub limit: u64,
    /// What the request would like to reserve.
    pub reserve: u64,
    /// The least it can run with; less room than this refuses it.
    pub min_reserve: u64,
}

/// One admission check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub rate: Option<RateLimit>,
    pub budgets: Vec<BudgetCharge>,
    /// How long budget keys live after their last change (a day's key: past its day).
    pub budget_ttl_secs: u64,
    /// Whether budgets let the request through while the shared counters are away.
    pub fail_open: bool,
    /// Milliseconds since the Unix epoch.
    pub now_ms: u64,
}

/// Where a rate limit stands after a check (for `X-RateLimit-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// Until a slot frees up (the oldest request in the window leaves it).
    pub reset_ms: u64,
}

/// What a request took, to be settled once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: String,
    /// Per budget key: what was reserved.
    pub charges: Vec<(String, u64)>,
    /// Taken from the local fallback (the shared counters were away): settled there.
    pub local: bool,
}

impl Reservation {
    /// What was granted for the budget at `index` (as in [`Admission::budgets`]).
    pub fn granted(&self, index: usize) -> u64 {
        self.charges.get(index).map_or(0, |c| c.1)
    }
}

/// The answer to [`Counters::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Admitted {
        rate: Option<RateState>,
        reservation: Reservation,
    },
    RateLimited {
        rate: RateState,
        retry_after_ms: u64,
    },
    OverBudget {
        rate: Option<RateState>,
        /// Index into [`Admission::budgets`].
        budget: usize,
        /// Room left in that budget.
        remaining: u64,
    },
    /// The shared counters are away and budgets fail closed.
    Unavailable,
}

/// Failed attempts recorded on one key (a login's account or client address), for
/// growing delays: how many within the key's window, and when the last one was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Strikes {
    pub count: u32,
    /// Milliseconds since the Unix epoch; 0 when there is none.
    pub last_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CountersError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the counters did not answer within {0} ms")]
    Timeout(u64),
    #[error("unexpected answer from the counters: {0}")]
    Protocol(String),
}

#[async_trait]
pub trait Counters: Send + Sync + 'static {
    async fn admit(&self, admission: &Admission) -> Result<Verdict, CountersError>;
    /// Moves each charge from what was reserved to `used[i]`. Idempotent: a reservation
    /// settles once, whatever is retried.
    async fn settle(&self, reservation: &Reservation, used: &[u64]) -> Result<(), CountersError>;
    /// Settles at once, without waiting, when the implementation can (in process): so a
    /// user's next request sees the room this one gave back. `false`: call [`settle`].
    ///
    /// [`settle`]: Counters::settle
    fn settle_now(&self, _reservation: &Reservation, _used: &[u64]) -> bool {
        false
    }

    /// Raises `key` to at least `used` (rebuilding from the ledger never lowers what
    /// running replicas have counted since).
    async fn restore(&self, key: &str, used: u64, ttl_secs: u64) -> Result<(), CountersError>;
    /// What `key` holds now (used + reserved).
    async fn budget_used(&self, key: &str) -> Result<u64, CountersError>;

    /// Records a failed attempt on each key (each kept `ttl_ms` after its last strike)
    /// and answers where each stands now, in order.
    async fn strike(
        &self,
        keys: &[String],
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Strikes>, CountersError>;
    /// Where each key stands, in order, without striking.
    async fn strikes(&self, keys: &[String], now_ms: u64) -> Result<Vec<Strikes>, CountersError>;
    /// Forgets a key's strikes (a successful login).
    async fn forgive(&self, key: &str) -> Result<(), CountersError>;
    fn name(&self) -> &'static str;
}

/// A fresh reservation id.
pub(crate) fn reservation_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // The process id is asked once: it is a system call, and this runs per request.
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let pid = *PID.get_or_init(std::process::id);
    format!("{nanos:x}-{n:x}-{pid:x}")
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
