//! Download links already used. A link mints a fresh enrolment code on every use, so it works
//! once: its `jti` is kept here until the link expires. In memory is enough: a link lives five
//! minutes, and a restart forgets only links whose enrolment codes the restart did not revoke.

use std::collections::HashMap;
use std::sync::Mutex;

/// More links used within five minutes than any firm downloads; past it, links are refused
/// rather than forgotten early (forgetting one would let it work twice).
const CAPACITY: usize = 10_000;

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    First,
    AlreadyUsed,
    Full,
}

#[derive(Default)]
pub struct UsedLinks {
    /// jti → the link's expiry (Unix seconds).
    used: Mutex<HashMap<String, u64>>,
}

impl UsedLinks {
    /// Records the use of link `jti` (expiring at `exp`) at `now`; only the first use is `First`.
    pub fn claim(&self, jti: &str, exp: u64, now: u64) -> Claim {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.contains_key(jti) {
            return Claim::AlreadyUsed;
        }
        if used.len() >= CAPACITY {
            used.retain(|_, expires| *expires >= now);
            if used.len() >= CAPACITY {
                return Claim::Full;
            }
        }
        used.insert(jti.to_string(), exp);
        Claim::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_claimed_once_and_the_store_stays_bounded() {
        let links = UsedLinks::default();
        assert_eq!(links.claim("a", 100, 10), Claim::First);
        assert_eq!(links.claim("a", 100, 10), Claim::AlreadyUsed);
        for i in 1..CAPACITY {
            assert_eq!(links.claim(&i.to_string(), 50, 10), Claim::First);
        }
        assert_eq!(links.claim("late", 200, 20), Claim::Full);
        // Once the others have expired, room is made; the unexpired one is still remembered.
        assert_eq!(links.claim("late", 200, 60), Claim::First);
        assert_eq!(links.claim("a", 100, 60), Claim::AlreadyUsed);
    }
}
