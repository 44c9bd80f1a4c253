//! Abuse brakes: failed-login counting per (username, address) and per address, and a
//! per-connector request rate on the connector endpoints.
//!
//! The per-address cap stops one address spraying guesses over many usernames. An office behind
//! one NAT or terminal server shares that address, so a (username, address) pair that logged in
//! successfully within [`KNOWN_GOOD_FOR`] is let past the address cap while its own counter is
//! below its limit: the per-pair limits still stop guessing at that user's password.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many (username, address) pairs and addresses the login throttle remembers. Each entry is a
/// few dozen bytes, so the throttle stays under a megabyte whatever is thrown at it.
pub const LOGIN_TRACKED_KEYS: usize = 8192;
/// The longest wait growing delays reach.
const MAX_DELAY_SECS: u64 = 15 * 60;
/// How long a successful login vouches for its (username, address) pair against the address cap.
pub const KNOWN_GOOD_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why an attempt must wait, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many failed attempts at this username from this address.
    Pair { wait_secs: u64 },
    /// Too many failed attempts from this address over all usernames.
    Address { wait_secs: u64 },
}

impl Refused {
    pub fn wait_secs(self) -> u64 {
        match self {
            Refused::Pair { wait_secs } | Refused::Address { wait_secs } => wait_secs,
        }
    }
}

#[derive(Clone, Copy)]
struct Counter {
    /// Attempts not yet cleared by a success: counted before the password is checked.
    attempts: u32,
    last_seen: Instant,
    /// No further attempt before this instant.
    not_before: Instant,
}

/// A fixed-size table of counters keyed by a keyed hash, so neither long input nor many
/// distinct keys can grow it, and an outsider cannot aim two keys at one slot.
struct CounterTable {
    hasher: std::collections::hash_map::RandomState,
    counters: HashMap<u64, Counter>,
    capacity: usize,
}

impl CounterTable {
    fn new(capacity: usize) -> Self {
        CounterTable {
            hasher: std::collections::hash_map::RandomState::new(),
            counters: HashMap::with_capacity(capacity),
            capacity,
        }
    }

    fn key(&self, parts: &[&str]) -> u64 {
        let mut h = self.hasher.build_hasher();
        for p in parts {
            p.hash(&mut h);
        }
        h.finish()
    }

    /// The live counter for `key`, or a fresh one once the window since its last attempt passed.
    fn get(&self, key: u64, now: Instant, window: Duration) -> Option<Counter> {
        self.counters
            .get(&key)
            .filter(|c| now.duration_since(c.last_seen) < window)
            .copied()
    }

    /// Stores `counter`, making room when full: first expired counters go, then the one with the
    /// fewest attempts (the least telling), so the table never grows past its capacity.
    fn put(&mut self, key: u64, counter: Counter, now: Instant, window: Duration) {
        if !self.counters.contains_key(&key) && self.counters.len() >= self.capacity {
            self.counters
                .retain(|_, c| now.duration_since(c.last_seen) < window);
            if self.counters.len() >= self.capacity {
                let weakest = self
                    .counters
                    .iter()
                    .min_by_key(|(_, c)| (c.attempts, c.last_seen))
                    .map(|(k, _)| *k);
                if let Some(k) = weakest {
                    self.counters.remove(&k);
                }
            }
        }
        self.counters.insert(key, counter);
    }

    fn len(&self) -> usize {
        self.counters.len()
    }
}

/// (username, address) pairs that logged in successfully, and when; bounded like the counters.
struct KnownGood {
    since: HashMap<u64, Instant>,
    capacity: usize,
}

impl KnownGood {
    fn vouches_for(&self, pair: u64, now: Instant) -> bool {
        self.since
            .get(&pair)
            .is_some_and(|at| now.duration_since(*at) < KNOWN_GOOD_FOR)
    }

    /// Remembers a success; when full, the expired entries go, then the oldest.
    fn remember(&mut self, pair: u64, now: Instant) {
        if !self.since.contains_key(&pair) && self.since.len() >= self.capacity {
            self.since
                .retain(|_, at| now.duration_since(*at) < KNOWN_GOOD_FOR);
            if self.since.len() >= self.capacity {
                let oldest = self
                    .since
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.since.remove(&k);
                }
            }
        }
        self.since.insert(pair, now);
    }
}

struct Tables {
    pairs: CounterTable,
    addresses: CounterTable,
    known_good: KnownGood,
}

/// Login brakes. An attempt is counted before its password is checked, under one lock, so a
/// burst of concurrent guesses cannot slip past the count. Per (username, address): after
/// `max_failures` unresolved attempts, each further one must wait 2, 4, 8, ... seconds (capped),
/// so a flood from one address slows that address down without locking the user out elsewhere.
/// Per address: at most four times as many unresolved attempts per window (an office shares one),
/// except for pairs that logged in from there before (see the module's note).
pub struct LoginThrottle {
    max_failures: u32,
    max_per_address: u32,
    window: Duration,
    tables: Mutex<Tables>,
}

/// What was counted for one attempt; hand it back to [`LoginThrottle::succeeded`] or
/// [`LoginThrottle::not_checked`].
pub struct Attempt {
    pair: u64,
    /// The address counter this attempt was counted on; `None` when a known-good pair passed the
    /// address cap without being counted there.
    address: Option<u64>,
}

/// The address a client is counted under: an IPv6 address by its /64 prefix (one host can take
/// any address of its prefix), an IPv4-mapped one as the IPv4 address it is.
pub fn counted_as(ip: IpAddr) -> IpAddr {
    counted_as_seen_from(ip, None)
}

/// [`counted_as`], for a client reaching the appliance's own address `local`. A whole office LAN
/// shares one /64 (SLAAC gives every PC an address in the router's prefix; every link-local
/// address is in fe80::/64), so a peer on the appliance's own /64, a link-local or a unique-local
/// (fc00::/7) peer is counted by its full address: these are the office's PCs, not one host
/// hopping across its prefix.
pub fn counted_as_seen_from(ip: IpAddr, local: Option<IpAddr>) -> IpAddr {
    let v6 = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => return IpAddr::V4(v4),
            None => v6,
        },
        v4 => return v4,
    };
    let prefix = |a: Ipv6Addr| u128::from(a) >> 64;
    let first = v6.segments()[0];
    let on_the_lan = (first & 0xffc0) == 0xfe80
        || (first & 0xfe00) == 0xfc00
        || matches!(local, Some(IpAddr::V6(here)) if prefix(here) == prefix(v6));
    if on_the_lan {
        IpAddr::V6(v6)
    } else {
        IpAddr::V6(Ipv6Addr::from(prefix(v6) << 64))
    }
}

/// How [`counted_as`] is written in the log: an IPv6 prefix with its length, or the address
/// counted on its own.
pub fn shown(counted: IpAddr) -> String {
    match counted {
        IpAddr::V6(v6) if u128::from(v6) as u64 == 0 => format!("{v6}/64"),
        other => other.to_string(),
    }
}

fn address_key(address: Option<&str>) -> String {
    match address.and_then(|a| a.parse::<IpAddr>().ok()) {
        Some(ip) => shown(counted_as(ip)),
        None => "-".to_string(),
    }
}

fn delay_after(attempts: u32, max_failures: u32) -> Duration {
    let beyond = attempts
        .saturating_sub(max_failures)
        .saturating_add(1)
        .min(20);
    Duration::from_secs((1u64 << beyond).min(MAX_DELAY_SECS))
}

fn wait_secs(until: Instant, now: Instant) -> u64 {
    let d = until.saturating_duration_since(now);
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self::with_capacity(max_failures, window, LOGIN_TRACKED_KEYS)
    }

    pub fn with_capacity(max_failures: u32, window: Duration, capacity: usize) -> Self {
        LoginThrottle {
            max_failures: max_failures.max(1),
            max_per_address: max_failures.max(1).saturating_mul(4),
            window,
            tables: Mutex::new(Tables {
                pairs: CounterTable::new(capacity),
                addresses: CounterTable::new(capacity),
                known_good: KnownGood {
                    since: HashMap::new(),
                    capacity,
                },
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an attempt at `username` from `address`, or says why and how long to wait first.
    /// `username` must already be bounded in length by the caller.
    pub fn begin(&self, username: &str, address: Option<&str>) -> Result<Attempt, Refused> {
        let now = Instant::now();
        let name = username.to_lowercase();
        let addr = address_key(address);
        let mut t = self.lock();
        let pair_key = t.pairs.key(&[&name, &addr]);
        let address_key = t.addresses.key(&[&addr]);
        let fresh = Counter {
            attempts: 0,
            last_seen: now,
            not_before: now,
        };
        let mut pair = t.pairs.get(pair_key, now, self.window).unwrap_or(fresh);
        let mut by_address = t
            .addresses
            .get(address_key, now, self.window)
            .unwrap_or(fresh);
        if pair.not_before > now {
            return Err(Refused::Pair {
                wait_secs: wait_secs(pair.not_before, now),
            });
        }
        let counted_on_address = by_address.attempts < self.max_per_address;
        let vouched = pair.attempts < self.max_failures && t.known_good.vouches_for(pair_key, now);
        if !counted_on_address && !vouched {
            return Err(Refused::Address {
                wait_secs: wait_secs(by_address.last_seen + self.window, now),
            });
        }
        pair.attempts += 1;
        pair.last_seen = now;
        if pair.attempts >= self.max_failures {
            pair.not_before = now + delay_after(pair.attempts, self.max_failures);
        }
        t.pairs.put(pair_key, pair, now, self.window);
        if counted_on_address {
            by_address.attempts += 1;
            by_address.last_seen = now;
            t.addresses.put(address_key, by_address, now, self.window);
        }
        Ok(Attempt {
            pair: pair_key,
            address: counted_on_address.then_some(address_key),
        })
    }

    /// The password was right: the pair starts afresh, is known good from here on, and the
    /// address gets its attempt back.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut t = self.lock();
        t.pairs.counters.remove(&attempt.pair);
        t.known_good.remember(attempt.pair, Instant::now());
        Self::give_back(&mut t.addresses, attempt.address);
    }

    /// The password was wrong: the wait counts from now, not from when the check began, so a
    /// slow check does not eat into it.
    pub fn failed(&self, attempt: Attempt) {
        let now = Instant::now();
        let mut t = self.lock();
        if let Some(c) = t.pairs.counters.get_mut(&attempt.pair) {
            if c.attempts >= self.max_failures {
                c.not_before = c
                    .not_before
                    .max(now + delay_after(c.attempts, self.max_failures));
            }
        }
    }

    /// The attempt never reached a password check (the appliance was busy): uncount it.
    pub fn not_checked(&self, attempt: Attempt) {
        let now = Instant::now();
        let mut t = self.lock();
        if let Some(c) = t.pairs.counters.get_mut(&attempt.pair) {
            c.attempts = c.attempts.saturating_sub(1);
            if c.attempts < self.max_failures {
                c.not_before = now;
            }
        }
        Self::give_back(&mut t.addresses, attempt.address);
    }

    fn give_back(addresses: &mut CounterTable, key: Option<u64>) {
        if let Some(c) = key.and_then(|k| addresses.counters.get_mut(&k)) {
            c.attempts = c.attempts.saturating_sub(1);
        }
    }

    /// How many keys the throttle holds now (never more than three times its capacity).
    pub fn tracked_keys(&self) -> usize {
        let t = self.lock();
        t.pairs.len() + t.addresses.len() + t.known_good.since.len()
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

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_pair_waits_after_its_failures_and_success_clears_it() {
        let t = LoginThrottle::new(3, HOUR);
        for _ in 0..3 {
            t.begin("Alice", Some("10.0.0.1")).unwrap();
        }
        let wait = t.begin("ALICE", Some("10.0.0.1")).err().unwrap();
        assert_eq!(wait, Refused::Pair { wait_secs: 2 });
        // Another address is not held back by this one's failures.
        let other = t.begin("alice", Some("10.0.0.2")).unwrap();
        t.succeeded(other);
        assert!(t.begin("alice", Some("10.0.0.2")).is_ok());
    }

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(delay_after(5, 5), Duration::from_secs(2));
        assert_eq!(delay_after(6, 5), Duration::from_secs(4));
        assert_eq!(delay_after(9, 5), Duration::from_secs(32));
        assert_eq!(
            delay_after(u32::MAX, 5),
            Duration::from_secs(MAX_DELAY_SECS)
        );
    }

    #[test]
    fn an_address_has_a_looser_cap_over_all_usernames() {
        let t = LoginThrottle::new(2, HOUR);
        for i in 0..8 {
            t.begin(&format!("user{i}"), Some("10.0.0.9")).unwrap();
        }
        assert!(matches!(
            t.begin("someone-else", Some("10.0.0.9")),
            Err(Refused::Address { .. })
        ));
        assert!(t.begin("someone-else", Some("10.0.0.8")).is_ok());
    }

    #[test]
    fn a_pair_that_logged_in_before_passes_a_full_address_until_its_own_limit() {
        let t = LoginThrottle::new(2, HOUR);
        let first = t.begin("staff", Some("10.0.0.9")).unwrap();
        t.succeeded(first);
        for i in 0..8 {
            t.begin(&format!("user{i}"), Some("10.0.0.9")).unwrap();
        }
        assert!(t.begin("stranger", Some("10.0.0.9")).is_err());
        // The known pair gets in, and its success does not reopen the address to others.
        let again = t.begin("Staff", Some("10.0.0.9")).unwrap();
        t.succeeded(again);
        assert!(t.begin("stranger", Some("10.0.0.9")).is_err());
        // Guessing at the known user's password still meets the per-pair limit.
        t.begin("staff", Some("10.0.0.9")).unwrap();
        t.begin("staff", Some("10.0.0.9")).unwrap();
        assert!(t.begin("staff", Some("10.0.0.9")).is_err());
    }

    #[test]
    fn ipv6_addresses_are_counted_per_prefix() {
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            address_key(Some("2001:db8:1:2:bbbb::7"))
        );
        assert_ne!(
            address_key(Some("2001:db8:1:2::1")),
            address_key(Some("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(Some("::ffff:10.0.0.1")), "10.0.0.1");
    }

    #[test]
    fn an_unchecked_attempt_is_given_back() {
        let t = LoginThrottle::new(1, HOUR);
        let a = t.begin("bob", Some("10.0.0.1")).unwrap();
        assert!(t.begin("bob", Some("10.0.0.1")).is_err());
        t.not_checked(a);
        assert!(t.begin("bob", Some("10.0.0.1")).is_ok());
    }

    #[test]
    fn memory_is_bounded_whatever_the_usernames() {
        let t = LoginThrottle::with_capacity(5, HOUR, 100);
        let long = "x".repeat(64);
        for i in 0..2000 {
            let address = format!("10.{}.{}.1", i / 250, i % 250);
            if let Ok(a) = t.begin(&format!("{long}{i}"), Some(&address)) {
                t.succeeded(a);
            }
        }
        assert!(t.tracked_keys() <= 300, "{}", t.tracked_keys());
    }

    #[test]
    fn full_table_keeps_the_pairs_with_most_failures() {
        let t = LoginThrottle::with_capacity(3, HOUR, 10);
        for _ in 0..3 {
            t.begin("admin", Some("10.0.0.1")).unwrap();
        }
        for i in 0..50 {
            let _ = t.begin(&format!("u{i}"), Some(&format!("10.0.1.{i}")));
        }
        assert!(t.begin("admin", Some("10.0.0.1")).is_err());
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
