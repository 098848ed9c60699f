//! Redis counters that survive Redis going away. While Redis answers, every call goes
//! to it. When a call fails or times out, the counters switch to local ones at once and
//! a probe pings Redis every quarter second; the first answer switches back. Meanwhile:
//! the rate limit holds per replica at this replica's share of the limit (the limit
//! divided by the replicas last seen alive: never unlimited, never "everything 429"),
//! and budgets fail closed ([`Verdict::Unavailable`]) unless the admission opts in to
//! fail open. Every fallback is logged (at most once a second) and counted.

use crate::counters::{Admission, Counters, CountersError, Reservation, Strikes, Verdict};
use crate::counters_memory::InProcessCounters;
use crate::counters_redis::RedisCounters;
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a down Redis is probed, and how often replicas say they are alive.
const PROBE_EVERY: Duration = Duration::from_millis(250);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

pub struct Resilient {
    redis: RedisCounters,
    local: InProcessCounters,
    healthy: AtomicBool,
    /// Replicas alive at the last heartbeat (this one included).
    replicas: AtomicU32,
    fallbacks: AtomicU64,
    last_warned_ms: AtomicU64,
    replica_id: String,
}

impl Resilient {
    /// Wraps `redis`; `start` runs its heartbeat and probe until `shutdown`.
    pub fn new(redis: RedisCounters) -> Arc<Resilient> {
        Arc::new(Resilient {
            redis,
            local: InProcessCounters::default(),
            healthy: AtomicBool::new(true),
            replicas: AtomicU32::new(1),
            fallbacks: AtomicU64::new(0),
            last_warned_ms: AtomicU64::new(0),
            replica_id: crate::counters::reservation_id(),
        })
    }

    /// Runs the heartbeat (replica count) and the probe of a down Redis.
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut last_beat: Option<tokio::time::Instant> = None;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(PROBE_EVERY) => {}
                }
                if !this.healthy.load(Ordering::Acquire) {
                    if this.redis.reconnect().await.is_ok() {
                        this.healthy.store(true, Ordering::Release);
                        tracing::info!(
                            "shared counters reachable again: limits are shared across replicas"
                        );
                    }
                    continue;
                }
                if last_beat.is_none_or(|at| at.elapsed() >= HEARTBEAT_EVERY) {
                    last_beat = Some(tokio::time::Instant::now());
                    match this
                        .redis
                        .heartbeat(&this.replica_id, crate::counters::now_ms())
                        .await
                    {
                        Ok(count) => this.replicas.store(count, Ordering::Release),
                        Err(err) => this.went_away(&err),
                    }
                }
            }
        });
    }

    /// Whether calls go to Redis right now.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// How many requests were decided by the fallback.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    fn went_away(&self, err: &CountersError) {
        if self.healthy.swap(false, Ordering::AcqRel) {
            tracing::warn!(error = %err, "shared counters unreachable: falling back to per-replica limits");
        }
    }

    fn fallback(&self, admission: &Admission) -> Verdict {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let now = admission.now_ms;
        let last = self.last_warned_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self
                .last_warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                fallbacks = self.fallbacks(),
                replicas = self.replicas.load(Ordering::Relaxed),
                "a request was admitted by the counters' fallback"
            );
        }
        if !admission.budgets.is_empty() && !admission.fail_open {
            return Verdict::Unavailable;
        }
        // Fail open: budgets are not charged (nobody could share the count).
        let local = Admission {
            budgets: Vec::new(),
            ..admission.clone()
        };
        let share = 1.0 / f64::from(self.replicas.load(Ordering::Relaxed).max(1));
        self.local.admit_scaled(&local, share)
    }
}

#[async_trait]
impl Counters for Resilient {
    async fn admit(&self, admission: &Admission) -> Result<Verdict, CountersError> {
        if self.is_healthy() {
            match self.redis.admit(admission).await {
                Ok(verdict) => return Ok(verdict),
                Err(err) => self.went_away(&err),
            }
        }
        Ok(self.fallback(admission))
    }

    async fn settle(&self, reservation: &Reservation, used: &[u64]) -> Result<(), CountersError> {
        if reservation.local {
            self.local.settle_local(reservation, used);
            return Ok(());
        }
        // A reservation Redis holds is settled there; if Redis is away it stays
        // reserved (the budget errs on the safe side until the day's key expires).
        self.redis
            .settle(reservation, used)
            .await
            .inspect_err(|err| self.went_away(err))
    }

    fn settle_now(&self, reservation: &Reservation, used: &[u64]) -> bool {
        if reservation.local {
            self.local.settle_local(reservation, used);
        }
        reservation.local
    }

    async fn restore(&self, key: &str, used: u64, ttl_secs: u64) -> Result<(), CountersError> {
        self.redis.restore(key, used, ttl_secs).await
    }

    async fn budget_used(&self, key: &str) -> Result<u64, CountersError> {
        self.redis.budget_used(key).await
    }

    // Strikes while Redis is away are counted per replica: an attacker spread over
    // replicas gets a few more tries, never unlimited ones.
    async fn strike(
        &self,
        keys: &[String],
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Strikes>, CountersError> {
        if self.is_healthy() {
            match self.redis.strike(keys, ttl_ms, now_ms).await {
                Ok(strikes) => return Ok(strikes),
                Err(err) => self.went_away(&err),
            }
        }
        self.local.strike(keys, ttl_ms, now_ms).await
    }

    async fn strikes(&self, keys: &[String], now_ms: u64) -> Result<Vec<Strikes>, CountersError> {
        if self.is_healthy() {
            match self.redis.strikes(keys, now_ms).await {
                Ok(strikes) => return Ok(strikes),
                Err(err) => self.went_away(&err),
            }
        }
        self.local.strikes(keys, now_ms).await
    }

    async fn forgive(&self, key: &str) -> Result<(), CountersError> {
        self.local.forgive(key).await?;
        if self.is_healthy() {
            if let Err(err) = self.redis.forgive(key).await {
                self.went_away(&err);
            }
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
