//! The shared counters (`--redis-url`): one Lua script checks the rate limit and every
//! budget and takes them all, or none, in one round trip, so limits hold across every
//! replica; another settles a reservation exactly once. Keys carry one hash tag per
//! (project, user) — `{...}` — so a script's keys share a slot under Redis Cluster too.

use crate::counters::{
    reservation_id, Admission, Counters, CountersError, RateState, Reservation, Strikes, Verdict,
};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::Script;
use std::time::Duration;

/// KEYS: [rate key ("" for none), budget keys...]
/// ARGV: now_ms, window_ms, rate limit (0: none), member, budget ttl (s), then per budget:
/// limit, reserve, min.
/// Returns {0, count, oldest} (rate limited), {1, index, room, count, oldest} (over a
/// budget) or {2, count, oldest, grants...} (admitted; count and oldest after the take).
/// One more strike on each key: `KEYS` the keys, `ARGV` the time to keep them (ms) and
/// now (ms). Answers each key's count.
const STRIKE: &str = r#"
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 'last', ARGV[2])
  redis.call('PEXPIRE', key, ARGV[1])
end
return out
"#;

const ADMIT: &str = r#"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])
local count = 0
local oldest = now
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  count = redis.call('ZCARD', KEYS[1])
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then oldest = tonumber(first[2]) end
  if count >= limit then
    return {0, count, oldest}
  end
end
local grants = {}
local n = #KEYS - 1
for i = 1, n do
  local base = 5 + (i - 1) * 3
  local cap = tonumber(ARGV[base + 1])
  local want = tonumber(ARGV[base + 2])
  local least = tonumber(ARGV[base + 3])
  local used = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  local room = cap - used
  if room < 0 then room = 0 end
  if room < least or room == 0 then
    return {1, i - 1, room, count, oldest}
  end
  if want < room then grants[i] = want else grants[i] = room end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i + 1], grants[i])
  redis.call('EXPIRE', KEYS[i + 1], ttl)
end
if limit > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  if count == 0 then oldest = now end
  count = count + 1
end
local out = {2, count, oldest}
for i = 1, n do out[#out + 1] = grants[i] end
return out
"#;

/// KEYS: [marker, budget keys...]; ARGV: marker ttl (s), then per budget: reserved, used.
/// Returns 1 when settled now, 0 when it had been already.
const SETTLE: &str = r#"
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  return 0
end
for i = 2, #KEYS do
  local reserved = tonumber(ARGV[(i - 2) * 2 + 2])
  local used = tonumber(ARGV[(i - 2) * 2 + 3])
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local after = redis.call('INCRBY', KEYS[i], used - reserved)
    if after < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
  end
end
return 1
"#;

/// KEYS: [key]; ARGV: used, ttl (s). Raises the key to at least `used`.
const RESTORE: &str = r#"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
end
return 1
"#;

/// How long a settled marker is remembered (longer than any request lives).
const SETTLED_TTL_SECS: u64 = 6 * 3600;

pub struct RedisCounters {
    client: redis::Client,
    /// Replaced by [`RedisCounters::reconnect`] when Redis comes back, rather than
    /// waiting for the old connection's own backoff.
    connection: ArcSwap<ConnectionManager>,
    namespace: String,
    timeout: Duration,
    admit: Script,
    settle: Script,
    restore: Script,
    strike: Script,
}

impl RedisCounters {
    /// Connects to `url`; every key is prefixed with `namespace:`; every call gives up
    /// after `timeout` (then the caller falls back, see [`crate::Resilient`]).
    pub async fn connect(
        url: &str,
        namespace: &str,
        timeout: Duration,
    ) -> Result<RedisCounters, CountersError> {
        let client = redis::Client::open(url)?;
        let connection = Self::open(&client, timeout).await?;
        Ok(RedisCounters {
            client,
            connection: ArcSwap::from_pointee(connection),
            namespace: namespace.to_owned(),
            timeout,
            admit: Script::new(ADMIT),
            settle: Script::new(SETTLE),
            restore: Script::new(RESTORE),
            strike: Script::new(STRIKE),
        })
    }

    async fn open(
        client: &redis::Client,
        timeout: Duration,
    ) -> Result<ConnectionManager, CountersError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_factor(10)
            .set_max_delay(100);
        tokio::time::timeout(
            timeout * 4,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| CountersError::Timeout(millis(timeout * 4)))?
        .map_err(CountersError::from)
    }

    /// A fresh connection, once Redis answers it (the probe of a down Redis).
    pub async fn reconnect(&self) -> Result<(), CountersError> {
        let connection = Self::open(&self.client, self.timeout).await?;
        let mut probe = connection.clone();
        tokio::time::timeout(
            self.timeout,
            redis::cmd("PING").query_async::<String>(&mut probe),
        )
        .await
        .map_err(|_| CountersError::Timeout(millis(self.timeout)))??;
        self.connection.store(std::sync::Arc::new(connection));
        Ok(())
    }

    fn connection(&self) -> ConnectionManager {
        ConnectionManager::clone(&self.connection.load())
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.namespace)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, CountersError> {
        let mut connection = self.connection();
        tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection))
            .await
            .map_err(|_| CountersError::Timeout(millis(self.timeout)))?
            .map_err(CountersError::from)
    }

    /// Marks this replica alive for 15 s and answers how many are (for the fallback's
    /// per-replica share of a rate limit).
    pub async fn heartbeat(&self, replica: &str, now_ms: u64) -> Result<u32, CountersError> {
        let key = self.key("replicas");
        let mut connection = self.connection();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zadd(&key, replica, now_ms)
            .ignore()
            .zrembyscore(&key, "-inf", now_ms.saturating_sub(15_000))
            .ignore()
            .pexpire(&key, 60_000)
            .ignore()
            .zcard(&key);
        let (count,): (u32,) =
            tokio::time::timeout(self.timeout, pipe.query_async(&mut connection))
                .await
                .map_err(|_| CountersError::Timeout(millis(self.timeout)))??;
        Ok(count.max(1))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn int(values: &[i64], index: usize) -> Result<u64, CountersError> {
    values
        .get(index)
        .map(|v| u64::try_from(*v).unwrap_or(0))
        .ok_or_else(|| CountersError::Protocol(format!("missing field {index}: {values:?}")))
}

fn rate_state(limit: u32, count: u64, oldest: u64, window_ms: u64, now: u64) -> RateState {
    RateState {
        limit,
        remaining: limit.saturating_sub(u32::try_from(count).unwrap_or(u32::MAX)),
        reset_ms: (oldest + window_ms).saturating_sub(now),
    }
}

#[async_trait]
impl Counters for RedisCounters {
    async fn admit(&self, admission: &Admission) -> Result<Verdict, CountersError> {
        let mut invocation = self.admit.prepare_invoke();
        let (limit, window) = admission
            .rate
            .as_ref()
            .map_or((0, 0), |r| (r.limit, r.window_ms));
        invocation.key(
            admission
                .rate
                .as_ref()
                .map_or_else(|| self.key("rl:none"), |r| self.key(&r.key)),
        );
        let id = reservation_id();
        invocation
            .arg(admission.now_ms)
            .arg(window)
            .arg(limit)
            .arg(&id)
            .arg(admission.budget_ttl_secs);
        for budget in &admission.budgets {
            invocation.key(self.key(&budget.key));
            invocation
                .arg(budget.limit)
                .arg(budget.reserve)
                .arg(budget.min_reserve);
        }
        let reply: Vec<i64> = self.run(invocation).await?;
        let now = admission.now_ms;
        let rate = |count: u64, oldest: u64| {
            admission
                .rate
                .as_ref()
                .map(|r| rate_state(r.limit, count, oldest, r.window_ms, now))
        };
        match reply.first() {
            Some(0) => {
                let state = rate(int(&reply, 1)?, int(&reply, 2)?)
                    .ok_or_else(|| CountersError::Protocol("rate limited without a rate".into()))?;
                Ok(Verdict::RateLimited {
                    retry_after_ms: state.reset_ms,
                    rate: RateState {
                        remaining: 0,
                        ..state
                    },
                })
            }
            Some(1) => Ok(Verdict::OverBudget {
                budget: usize::try_from(int(&reply, 1)?).unwrap_or(0),
                remaining: int(&reply, 2)?,
                rate: rate(int(&reply, 3)?, int(&reply, 4)?),
            }),
            Some(2) => {
                let charges = admission
                    .budgets
                    .iter()
                    .enumerate()
                    .map(|(i, b)| Ok((b.key.clone(), int(&reply, 3 + i)?)))
                    .collect::<Result<Vec<_>, CountersError>>()?;
                Ok(Verdict::Admitted {
                    rate: rate(int(&reply, 1)?, int(&reply, 2)?),
                    reservation: Reservation {
                        id,
                        charges,
                        local: false,
                    },
                })
            }
            _ => Err(CountersError::Protocol(format!("{reply:?}"))),
        }
    }

    async fn settle(&self, reservation: &Reservation, used: &[u64]) -> Result<(), CountersError> {
        if reservation.charges.is_empty() {
            return Ok(());
        }
        let tag = reservation
            .charges
            .first()
            .map(|(key, _)| key.as_str())
            .unwrap_or_default();
        let mut invocation = self.settle.prepare_invoke();
        invocation.key(self.key(&format!("settled:{tag}:{}", reservation.id)));
        invocation.arg(SETTLED_TTL_SECS);
        for (i, (key, reserved)) in reservation.charges.iter().enumerate() {
            invocation.key(self.key(key));
            invocation
                .arg(*reserved)
                .arg(used.get(i).copied().unwrap_or(0));
        }
        let _settled: i64 = self.run(invocation).await?;
        Ok(())
    }

    async fn restore(&self, key: &str, used: u64, ttl_secs: u64) -> Result<(), CountersError> {
        let mut invocation = self.restore.prepare_invoke();
        invocation.key(self.key(key)).arg(used).arg(ttl_secs);
        let _: i64 = self.run(invocation).await?;
        Ok(())
    }

    async fn budget_used(&self, key: &str) -> Result<u64, CountersError> {
        let mut connection = self.connection();
        let value: Option<i64> = tokio::time::timeout(
            self.timeout,
            redis::cmd("GET")
                .arg(self.key(key))
                .query_async(&mut connection),
        )
        .await
        .map_err(|_| CountersError::Timeout(millis(self.timeout)))??;
        Ok(value.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
    }

    async fn strike(
        &self,
        keys: &[String],
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Strikes>, CountersError> {
        let mut invocation = self.strike.prepare_invoke();
        for key in keys {
            invocation.key(self.key(key));
        }
        invocation.arg(ttl_ms).arg(now_ms);
        let counts: Vec<u64> = self.run(invocation).await?;
        if counts.len() != keys.len() {
            return Err(CountersError::Protocol(format!("{counts:?}")));
        }
        Ok(counts
            .into_iter()
            .map(|count| Strikes {
                count: u32::try_from(count).unwrap_or(u32::MAX),
                last_ms: now_ms,
            })
            .collect())
    }

    async fn strikes(&self, keys: &[String], _now_ms: u64) -> Result<Vec<Strikes>, CountersError> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("HMGET").arg(self.key(key)).arg("n").arg("last");
        }
        let mut connection = self.connection();
        let replies: Vec<(Option<u64>, Option<u64>)> =
            tokio::time::timeout(self.timeout, pipe.query_async(&mut connection))
                .await
                .map_err(|_| CountersError::Timeout(millis(self.timeout)))??;
        Ok(replies
            .into_iter()
            .map(|(count, last)| Strikes {
                count: count.map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX)),
                last_ms: last.unwrap_or(0),
            })
            .collect())
    }

    async fn forgive(&self, key: &str) -> Result<(), CountersError> {
        let mut connection = self.connection();
        let _: i64 = tokio::time::timeout(
            self.timeout,
            redis::cmd("DEL")
                .arg(self.key(key))
                .query_async(&mut connection),
        )
        .await
        .map_err(|_| CountersError::Timeout(millis(self.timeout)))??;
        Ok(())
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
