//! A sliding window of recent calls per key, in this process: the limits of the
//! dashboard's costly operations (key checks, playground calls). Per replica: N
//! replicas allow N times the limit.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys tracked before idle ones are swept.
const SWEEP_AT: usize = 10_000;

pub struct RecentCalls<K> {
    window: Duration,
    calls: Mutex<HashMap<K, Vec<Instant>>>,
}

impl<K: Hash + Eq> RecentCalls<K> {
    pub fn new(window: Duration) -> RecentCalls<K> {
        RecentCalls {
            window,
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a call for `key` if fewer than `limit` happened in the window; else how
    /// long until the oldest leaves it.
    pub fn admit(&self, key: K, limit: usize) -> Result<(), Duration> {
        let now = Instant::now();
        let window = self.window;
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if calls.len() >= SWEEP_AT {
            calls.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < window));
        }
        let times = calls.entry(key).or_default();
        times.retain(|t| now.duration_since(*t) < window);
        if times.len() >= limit {
            let oldest = times.first().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.duration_since(oldest)));
        }
        times.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_key_within_the_window() {
        let recent = RecentCalls::new(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(recent.admit("a", 3).is_ok());
        }
        let wait = recent.admit("a", 3).unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= Duration::from_secs(60));
        assert!(
            recent.admit("b", 3).is_ok(),
            "another key has its own window"
        );
        let short = RecentCalls::new(Duration::from_millis(30));
        assert!(short.admit(1, 1).is_ok());
        assert!(short.admit(1, 1).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(short.admit(1, 1).is_ok(), "the window slides");
    }
}
