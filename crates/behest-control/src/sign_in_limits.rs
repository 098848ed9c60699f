//! Failed sign-ins, limited per account and per client address with growing delays,
//! counted in the shared counters (so every replica sees the same strikes). The first
//! few failures are free; after that each further attempt must wait
//! `base × 2^(failures − free)`, capped. A success forgives the account (not the
//! address). The account's cap is short (an attacker cannot lock its owner out for
//! long); the address's is longer (it is the attacker's own). IPv6 addresses count per
//! /64, the block one subscriber typically holds.

use crate::error::{ControlError, ControlResult};
use behest_core::ErrorCode;
use behest_live::{Counters, Strikes};
use std::net::IpAddr;
use std::sync::Arc;

/// One limit: failures allowed freely, then delays from `base_ms` doubling to `cap_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrikeRule {
    pub free: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
}

impl StrikeRule {
    /// How long after the last failure the next attempt must wait.
    pub fn delay_ms(&self, failures: u32) -> u64 {
        if failures < self.free {
            return 0;
        }
        let doublings = (failures - self.free).min(30);
        self.base_ms.saturating_mul(1 << doublings).min(self.cap_ms)
    }
}

/// The limits of sign-in attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    pub account: StrikeRule,
    pub address: StrikeRule,
    /// Strikes are forgotten this long after the last one.
    pub window_ms: u64,
}

impl Default for SignInLimits {
    /// Per account: 5 free, then 1 s doubling to 30 s. Per address: 20 free, then 1 s
    /// doubling to 5 min. Forgotten 15 min after the last failure.
    fn default() -> Self {
        SignInLimits {
            account: StrikeRule {
                free: 5,
                base_ms: 1_000,
                cap_ms: 30_000,
            },
            address: StrikeRule {
                free: 20,
                base_ms: 1_000,
                cap_ms: 300_000,
            },
            window_ms: 15 * 60 * 1000,
        }
    }
}

/// The counters' keys of one sign-in attempt.
pub struct Attempt {
    account: String,
    address: Option<String>,
}

impl Attempt {
    fn keys(&self) -> Vec<String> {
        std::iter::once(self.account.clone())
            .chain(self.address.clone())
            .collect()
    }
}

pub struct SignInGuard {
    counters: Arc<dyn Counters>,
    limits: SignInLimits,
}

impl SignInGuard {
    pub fn new(counters: Arc<dyn Counters>, limits: SignInLimits) -> SignInGuard {
        SignInGuard { counters, limits }
    }

    /// Refuses the attempt (429 `rate_limited` with `Retry-After`) while its account or
    /// address is serving a delay. The counters being unreachable lets it through
    /// (logged): the hashing pool still bounds how fast anyone can guess.
    pub async fn check(&self, email: &str, client: Option<IpAddr>) -> ControlResult<Attempt> {
        let attempt = Attempt {
            // The email never reaches Redis in clear.
            account: format!("signin:acct:{}", &behest_auth::sha256_hex(email)[..32]),
            address: client.map(|ip| format!("signin:addr:{}", address_block(ip))),
        };
        let now = behest_live::counters::now_ms();
        let strikes = match self.counters.strikes(&attempt.keys(), now).await {
            Ok(strikes) => strikes,
            Err(err) => {
                tracing::warn!(error = %err, "sign-in limits unavailable; attempt not limited");
                return Ok(attempt);
            }
        };
        let rules = [self.limits.account, self.limits.address];
        let wait_ms = strikes
            .iter()
            .zip(rules)
            .map(|(s, rule)| wait(s, &rule, now))
            .max()
            .unwrap_or(0);
        if wait_ms > 0 {
            let seconds = wait_ms.div_ceil(1000);
            return Err(ControlError::retry_later(
                ErrorCode::RateLimited,
                format!("too many failed sign-ins; retry in {seconds} s"),
                seconds,
            ));
        }
        Ok(attempt)
    }

    /// Counts a failed attempt on its account and address.
    pub async fn failed(&self, attempt: &Attempt) {
        let now = behest_live::counters::now_ms();
        if let Err(err) = self
            .counters
            .strike(&attempt.keys(), self.limits.window_ms, now)
            .await
        {
            tracing::warn!(error = %err, "a failed sign-in could not be counted");
        }
    }

    /// A success: the account starts afresh.
    pub async fn succeeded(&self, attempt: &Attempt) {
        if let Err(err) = self.counters.forgive(&attempt.account).await {
            tracing::warn!(error = %err, "a sign-in's strikes could not be cleared");
        }
    }
}

fn wait(strikes: &Strikes, rule: &StrikeRule, now_ms: u64) -> u64 {
    (strikes.last_ms + rule.delay_ms(strikes.count)).saturating_sub(now_ms)
}

/// An IPv4 address itself; an IPv6 address's /64 (IPv4-mapped ones as IPv4).
fn address_block(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_free_then_double_up_to_the_cap() {
        let rule = SignInLimits::default().account;
        let delays: Vec<u64> = (0..12).map(|n| rule.delay_ms(n)).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        assert_eq!(rule.delay_ms(u32::MAX), 30_000, "no overflow");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        assert_eq!(address_block(a), address_block(b));
        assert_eq!(
            address_block("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3"
        );
        assert_eq!(address_block("10.1.2.3".parse().unwrap()), "10.1.2.3");
    }

    #[tokio::test]
    async fn failures_delay_the_account_and_a_success_forgives_it() {
        let guard = SignInGuard::new(
            Arc::new(behest_live::InProcessCounters::default()),
            SignInLimits::default(),
        );
        let ip = Some("192.0.2.7".parse().unwrap());
        for _ in 0..5 {
            let attempt = guard.check("ada@example.com", ip).await.unwrap();
            guard.failed(&attempt).await;
        }
        match guard.check("ada@example.com", ip).await {
            Err(ControlError::RetryLater { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("expected a delay, got {:?}", other.err()),
        }
        // Another account from the same address is not delayed (20 free per address).
        let other = guard.check("bob@example.com", ip).await.unwrap();
        guard.succeeded(&other).await;
        // The owner's success (once the delay is over) forgives the account.
        tokio::time::sleep(std::time::Duration::from_millis(1_050)).await;
        let attempt = guard.check("ada@example.com", ip).await.unwrap();
        guard.succeeded(&attempt).await;
        let attempt = guard.check("ada@example.com", ip).await.unwrap();
        guard.failed(&attempt).await;
        guard.check("ada@example.com", ip).await.unwrap();
    }
}
