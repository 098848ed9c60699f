//! The in-process counters (one binary): sharded maps under short locks. Windows hold
//! the timestamps of the requests inside them; budgets their number and an expiry.
//! Stale entries are swept as the maps grow, so memory follows the active users.

use crate::counters::{
    reservation_id, Admission, Counters, CountersError, RateState, Reservation, Strikes, Verdict,
};
use async_trait::async_trait;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

const SHARDS: usize = 16;
/// A shard is swept of stale entries each time it grows by this many.
const SWEEP_EVERY: usize = 4096;

#[derive(Default)]
struct Shard {
    windows: HashMap<String, VecDeque<u64>>,
    budgets: HashMap<String, Budget>,
    settled: HashSet<String>,
    strikes: HashMap<String, Strike>,
    grown: usize,
}

struct Strike {
    strikes: Strikes,
    expires_ms: u64,
}

struct Budget {
    used: u64,
    expires_ms: u64,
}

impl Shard {
    fn sweep(&mut self, now_ms: u64) {
        self.windows
            .retain(|_, w| w.back().is_some_and(|last| *last + 3_600_000 > now_ms));
        self.budgets.retain(|_, b| b.expires_ms > now_ms);
        self.strikes.retain(|_, s| s.expires_ms > now_ms);
        // Settled ids only guard against a repeated settle of a live reservation.
        if self.settled.len() > SWEEP_EVERY * 4 {
            self.settled.clear();
        }
        self.grown = 0;
    }
}

pub struct InProcessCounters {
    shards: Vec<Mutex<Shard>>,
}

impl Default for InProcessCounters {
    fn default() -> Self {
        InProcessCounters {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

/// The keys of one admission share a shard: they belong to one (project, user), and
/// callers build them around one tag (`{...}`, as Redis Cluster would).
fn tag(key: &str) -> &str {
    match (key.find('{'), key.find('}')) {
        (Some(open), Some(close)) if close > open => &key[open..=close],
        _ => key,
    }
}

impl InProcessCounters {
    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        let mut hasher = DefaultHasher::new();
        tag(key).hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % SHARDS as u64).unwrap_or(0);
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// [`Counters::admit`] with the rate limit scaled to `rate_share` of its limit (the
    /// fallback's per-replica share); `1.0` is the limit itself.
    pub(crate) fn admit_scaled(&self, admission: &Admission, rate_share: f64) -> Verdict {
        let anchor = admission
            .rate
            .as_ref()
            .map(|r| r.key.as_str())
            .or_else(|| admission.budgets.first().map(|b| b.key.as_str()))
            .unwrap_or("");
        let now = admission.now_ms;
        let mut shard = self.shard(anchor);
        shard.grown += 1;
        if shard.grown >= SWEEP_EVERY {
            shard.sweep(now);
        }
        // The rate limit: how many in the window, without taking a slot yet.
        let mut rate_state = None;
        if let Some(rate) = &admission.rate {
            let limit = ((f64::from(rate.limit) * rate_share).ceil() as u32).max(1);
            let window = shard.windows.entry(rate.key.clone()).or_default();
            while window.front().is_some_and(|t| *t + rate.window_ms <= now) {
                window.pop_front();
            }
            let count = u32::try_from(window.len()).unwrap_or(u32::MAX);
            let reset_ms = window
                .front()
                .map_or(0, |oldest| (oldest + rate.window_ms).saturating_sub(now));
            if count >= limit {
                return Verdict::RateLimited {
                    rate: RateState {
                        limit,
                        remaining: 0,
                        reset_ms,
                    },
                    retry_after_ms: reset_ms,
                };
            }
            rate_state = Some((limit, count, reset_ms));
        }
        // Budgets: every one must have room before any is charged.
        let mut grants = Vec::with_capacity(admission.budgets.len());
        for (index, charge) in admission.budgets.iter().enumerate() {
            let used = shard
                .budgets
                .get(&charge.key)
                .filter(|b| b.expires_ms > now)
                .map_or(0, |b| b.used);
            let room = charge.limit.saturating_sub(used);
            if room < charge.min_reserve || room == 0 {
                return Verdict::OverBudget {
                    rate: rate_state.map(|(limit, count, reset_ms)| RateState {
                        limit,
                        remaining: limit - count,
                        reset_ms,
                    }),
                    budget: index,
                    remaining: room,
                };
            }
            grants.push(charge.reserve.min(room));
        }
        let expires_ms = now + admission.budget_ttl_secs * 1000;
        let mut charges = Vec::with_capacity(grants.len());
        for (charge, grant) in admission.budgets.iter().zip(grants) {
            let budget = shard.budgets.entry(charge.key.clone()).or_insert(Budget {
                used: 0,
                expires_ms,
            });
            if budget.expires_ms <= now {
                budget.used = 0;
            }
            budget.used += grant;
            budget.expires_ms = expires_ms;
            charges.push((charge.key.clone(), grant));
        }
        let rate = match (&admission.rate, rate_state) {
            (Some(rate), Some((limit, count, _))) => {
                let window = shard.windows.entry(rate.key.clone()).or_default();
                window.push_back(now);
                let oldest = window.front().copied().unwrap_or(now);
                Some(RateState {
                    limit,
                    remaining: limit.saturating_sub(count + 1),
                    reset_ms: (oldest + rate.window_ms).saturating_sub(now),
                })
            }
            _ => None,
        };
        Verdict::Admitted {
            rate,
            reservation: Reservation {
                id: reservation_id(),
                charges,
                local: true,
            },
        }
    }

    pub(crate) fn settle_local(&self, reservation: &Reservation, used: &[u64]) {
        let Some((anchor, _)) = reservation.charges.first() else {
            return;
        };
        let mut shard = self.shard(anchor);
        if !shard.settled.insert(reservation.id.clone()) {
            return;
        }
        for (i, (key, reserved)) in reservation.charges.iter().enumerate() {
            let actual = used.get(i).copied().unwrap_or(0);
            if let Some(budget) = shard.budgets.get_mut(key) {
                budget.used = (budget.used + actual).saturating_sub(*reserved);
            }
        }
    }
}

#[async_trait]
impl Counters for InProcessCounters {
    async fn admit(&self, admission: &Admission) -> Result<Verdict, CountersError> {
        Ok(self.admit_scaled(admission, 1.0))
    }

    async fn settle(&self, reservation: &Reservation, used: &[u64]) -> Result<(), CountersError> {
        self.settle_local(reservation, used);
        Ok(())
    }

    fn settle_now(&self, reservation: &Reservation, used: &[u64]) -> bool {
        self.settle_local(reservation, used);
        true
    }

    async fn restore(&self, key: &str, used: u64, ttl_secs: u64) -> Result<(), CountersError> {
        let now = crate::counters::now_ms();
        let mut shard = self.shard(key);
        let budget = shard.budgets.entry(key.to_owned()).or_insert(Budget {
            used: 0,
            expires_ms: 0,
        });
        if budget.expires_ms <= now {
            budget.used = 0;
        }
        budget.used = budget.used.max(used);
        budget.expires_ms = now + ttl_secs * 1000;
        Ok(())
    }

    async fn budget_used(&self, key: &str) -> Result<u64, CountersError> {
        let now = crate::counters::now_ms();
        Ok(self
            .shard(key)
            .budgets
            .get(key)
            .filter(|b| b.expires_ms > now)
            .map_or(0, |b| b.used))
    }

    async fn strike(
        &self,
        keys: &[String],
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Strikes>, CountersError> {
        Ok(keys
            .iter()
            .map(|key| {
                let mut shard = self.shard(key);
                shard.grown += 1;
                if shard.grown >= SWEEP_EVERY {
                    shard.sweep(now_ms);
                }
                let entry = shard.strikes.entry(key.clone()).or_insert(Strike {
                    strikes: Strikes::default(),
                    expires_ms: 0,
                });
                if entry.expires_ms <= now_ms {
                    entry.strikes = Strikes::default();
                }
                entry.strikes.count = entry.strikes.count.saturating_add(1);
                entry.strikes.last_ms = now_ms;
                entry.expires_ms = now_ms.saturating_add(ttl_ms);
                entry.strikes
            })
            .collect())
    }

    async fn strikes(&self, keys: &[String], now_ms: u64) -> Result<Vec<Strikes>, CountersError> {
        Ok(keys
            .iter()
            .map(|key| {
                self.shard(key)
                    .strikes
                    .get(key)
                    .filter(|s| s.expires_ms > now_ms)
                    .map_or_else(Strikes::default, |s| s.strikes)
            })
            .collect())
    }

    async fn forgive(&self, key: &str) -> Result<(), CountersError> {
        self.shard(key).strikes.remove(key);
        Ok(())
    }

    fn name(&self) -> &'static str {
        "in-process"
    }
}
