//! Abuse brakes: failed-login counting per username and per address, and a per-connector
//! request rate on the connector endpoints.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Counts failed logins in a fixed window per key. Once a key reaches its limit, every login for
/// it is refused with 429 until the window that holds the failures has passed.
pub struct LoginThrottle {
    max_per_user: u32,
    max_per_address: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (u32, Instant)>>,
}

const PRUNE_ABOVE: usize = 10_000;

impl LoginThrottle {
    pub fn new(max_per_user: u32, window: Duration) -> Self {
        LoginThrottle {
            max_per_user,
            // An office shares one address; give it room for several people mistyping.
            max_per_address: max_per_user.saturating_mul(4),
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, address: Option<&str>) -> [(String, bool); 2] {
        [
            (format!("u:{}", username.to_lowercase()), true),
            (format!("a:{}", address.unwrap_or("-")), false),
        ]
    }

    /// `Err(seconds)` when this username or address must wait before trying again.
    pub fn check(&self, username: &str, address: Option<&str>) -> Result<(), u64> {
        let now = Instant::now();
        let map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = 0u64;
        for (key, is_user) in Self::keys(username, address) {
            let limit = if is_user {
                self.max_per_user
            } else {
                self.max_per_address
            };
            if let Some((count, started)) = map.get(&key) {
                let elapsed = now.duration_since(*started);
                if *count >= limit && elapsed < self.window {
                    wait = wait.max((self.window - elapsed).as_secs() + 1);
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, username: &str, address: Option<&str>) {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > PRUNE_ABOVE {
            let window = self.window;
            map.retain(|_, (_, started)| now.duration_since(*started) < window);
        }
        for (key, _) in Self::keys(username, address) {
            let entry = map.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= self.window {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// A successful login clears the username's failures (not the address's).
    pub fn record_success(&self, username: &str) {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("u:{}", username.to_lowercase()));
    }
}

/// Per-connector rate limit (GCRA via governor).
pub struct ConnectorLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl ConnectorLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        ConnectorLimiter {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }

    /// `Err(seconds)` to wait when the connector is over its rate.
    pub fn check(&self, connector_id: &str) -> Result<(), u64> {
        match self.limiter.check_key(&connector_id.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
        }
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_throttle_refuses_after_limit_and_success_clears() {
        let t = LoginThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check("Alice", Some("10.0.0.1")).is_ok());
            t.record_failure("alice", Some("10.0.0.1"));
        }
        let wait = t.check("ALICE", Some("10.0.0.2")).unwrap_err();
        assert!(wait > 0 && wait <= 61);
        t.record_success("alice");
        assert!(t.check("alice", Some("10.0.0.2")).is_ok());
    }

    #[test]
    fn connector_limiter_allows_burst_then_refuses() {
        let l = ConnectorLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(l.check("c1").is_ok());
        }
        assert!(l.check("c1").unwrap_err() >= 1);
        assert!(l.check("c2").is_ok());
    }
}
