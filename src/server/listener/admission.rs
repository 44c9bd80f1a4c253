//! Who the front lets in. Every open connection costs file descriptors and memory, and one that
//! has not yet sent its request head (or finished its TLS handshake) costs them while doing
//! nothing useful; a client opening thousands of idle sockets could otherwise use up the
//! process's open files and shut everyone out. So:
//! - one address may hold at most `pending_per_ip` connections that are not yet past their
//!   request head; more from it are refused at once (loopback is no exception);
//! - at most `pending` such connections in all, and at most `open` connections in all (sized
//!   under the open-file limit). When either is full, the connection that has waited longest
//!   for its head is closed to make room: an honest client sends its head within a round trip,
//!   so a flood of idle sockets from many addresses churns only itself;
//! - one address may have at most `carried_per_ip` connections carrying requests;
//! - when `open` is full, the connection on which nothing has moved for longest is closed to make
//!   room, one still sending its head or body before one whose request has arrived whole: a host
//!   that sends heads (and trickles bodies) from many addresses and sits on its connections
//!   churns only itself, while an honest request arrives within moments and then waits for its
//!   answer. Only when the front allows no connection at all is a newcomer refused.
//!
//! Addresses are counted as the login throttle counts them: IPv6 per /64 prefix, since one host
//! owns all of its prefix's addresses. A refusal is logged at most once a minute per address,
//! and the record of what was logged stays small however many addresses a flood comes from.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};

use crate::server::auth::throttle::{counted_as_seen_from, shown};

/// The front's caps on connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub pending_per_ip: usize,
    pub pending: usize,
    pub open: usize,
    /// Connections one address may have carrying requests at once: one host that sends heads
    /// and then sits on the connections must not fill `open` for everyone.
    pub carried_per_ip: usize,
}

/// Each carried connection holds three descriptors: the client's socket, the front's socket to
/// Rocket, and Rocket's end of it.
const FILES_PER_CONNECTION: u64 = 3;
/// Descriptors kept for everything else: the database, logs, backups, outbound requests.
const FILES_RESERVED: u64 = 128;
/// However many files the system allows, a LAN appliance needs no more connections than this
/// (a few hundred connectors and the office's browsers); each costs memory.
const MOST_OPEN: usize = 4096;
/// Connections one address may have carrying requests: far more than an office PC's browser
/// and connector use at once, and few enough that a handful of addresses cannot fill the front.
const CARRIED_PER_IP: usize = 64;
/// Past this many addresses in the refusal log's record, those logged over a minute ago go.
const LOGGED_TRIM_FROM: usize = 256;
/// The most addresses the record holds: a refusal from a new address beyond it goes unlogged,
/// so a flood from spread addresses costs neither memory nor more than this many lines a minute.
const LOGGED_MOST: usize = 1024;

impl Limits {
    /// The caps for a process allowed `open_files` descriptors (`None`: no such limit).
    pub fn for_open_files(open_files: Option<u64>) -> Limits {
        let open = open_files.map_or(MOST_OPEN, |n| {
            let fit = n.saturating_sub(FILES_RESERVED) / FILES_PER_CONNECTION;
            usize::try_from(fit)
                .unwrap_or(MOST_OPEN)
                .clamp(1, MOST_OPEN)
        });
        Limits {
            pending_per_ip: 32,
            pending: 512.min(open),
            open,
            carried_per_ip: CARRIED_PER_IP.min(open),
        }
    }
}

/// The front's count of its connections. Cloned into every connection's task.
#[derive(Clone)]
pub struct Admission(Arc<Mutex<State>>);

struct State {
    limits: Limits,
    open: usize,
    /// Connections not yet past their head, oldest first, and when each was let in. Dropping
    /// the sender closes one.
    pending: BTreeMap<u64, (IpAddr, watch::Sender<()>, Instant)>,
    /// Connections carrying requests, by sequence number.
    carried: HashMap<u64, Carried>,
    pending_by_ip: HashMap<IpAddr, usize>,
    carried_by_ip: HashMap<IpAddr, usize>,
    next: u64,
    /// When each refused address was last logged.
    logged: HashMap<IpAddr, Instant>,
    /// When closing connections to make room was last logged.
    made_room_logged: Option<Instant>,
}

/// A connection past its head: whose it is, when bytes last moved on it, and its closer.
struct Carried {
    ip: IpAddr,
    moved: LastMoved,
    _close: watch::Sender<()>,
}

/// When bytes last moved on a connection, either way, and whether its whole request has
/// arrived. Shared by its splice (which notes each transfer) and the admission (which closes
/// the stillest one when full).
#[derive(Clone)]
pub struct LastMoved(Arc<Mutex<Stillness>>);

/// How a connection ranks for closing to make room, first closed first: one still receiving
/// its request before one whose request has arrived (and waits for, or receives, its answer);
/// then the one on which nothing has moved for longest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Stillness {
    request_whole: bool,
    moved: Instant,
}

impl LastMoved {
    fn now() -> LastMoved {
        let moved = Instant::now();
        LastMoved(Arc::new(Mutex::new(Stillness {
            request_whole: false,
            moved,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Stillness> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stillness(&self) -> Stillness {
        *self.lock()
    }

    pub fn at(&self) -> Instant {
        self.lock().moved
    }

    pub fn touch(&self) {
        self.lock().moved = Instant::now();
    }

    /// The whole request has been passed on: the connection now waits for its answer.
    pub fn request_whole(&self) {
        self.lock().request_whole = true;
    }

    #[cfg(test)]
    fn set(&self, at: Instant) {
        self.lock().moved = at;
    }
}

/// Why a connection was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds `pending_per_ip` connections without a request head.
    TooManyFromAddress,
    /// The front allows no connections at all (an open-file limit below its reserve).
    Full,
}

impl Refusal {
    fn describe(&self, limits: &Limits) -> String {
        match self {
            Refusal::TooManyFromAddress => format!(
                "it already holds {} connections that have not sent a request",
                limits.pending_per_ip
            ),
            Refusal::Full => format!(
                "the appliance allows {} connections and none can be closed for room",
                limits.open
            ),
        }
    }
}

impl Admission {
    pub fn new(limits: Limits) -> Admission {
        Admission(Arc::new(Mutex::new(State {
            limits,
            open: 0,
            pending: BTreeMap::new(),
            carried: HashMap::new(),
            pending_by_ip: HashMap::new(),
            carried_by_ip: HashMap::new(),
            next: 0,
            logged: HashMap::new(),
            made_room_logged: None,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a new connection from `ip` in, closing the longest-waiting one if need be.
    #[cfg(test)]
    pub fn admit(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        self.admit_at(ip, None)
    }

    /// [`Self::admit`] for a client that reached the appliance at `local` (which tells the office
    /// LAN's IPv6 prefix: see `counted_as_seen_from`).
    pub fn admit_at(&self, ip: IpAddr, local: Option<IpAddr>) -> Result<Ticket, Refusal> {
        let ip = counted_as_seen_from(ip, local);
        let mut state = self.lock();
        let refusal = state.make_room(ip);
        if let Err(why) = refusal {
            if state.first_refusal_this_minute(ip) {
                log::warn!(
                    "front: refusing connections from {}: {} (logged once a minute)",
                    shown(ip),
                    why.describe(&state.limits)
                );
            }
            return Err(why);
        }
        let seq = state.next;
        state.next += 1;
        let (tx, rx) = watch::channel(());
        let moved = LastMoved::now();
        state.pending.insert(seq, (ip, tx, moved.at()));
        *state.pending_by_ip.entry(ip).or_insert(0) += 1;
        state.open += 1;
        Ok(Ticket {
            admission: self.clone(),
            seq,
            moved,
            closed: rx,
        })
    }

    /// Connections open now, and of those not yet past their head.
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.open, state.pending.len())
    }
}

impl State {
    fn make_room(&mut self, ip: IpAddr) -> Result<(), Refusal> {
        if self.pending_by_ip.get(&ip).copied().unwrap_or(0) >= self.limits.pending_per_ip {
            return Err(Refusal::TooManyFromAddress);
        }
        while self.pending.len() >= self.limits.pending || self.open >= self.limits.open {
            let waiting = self.pending.first_key_value().map(|(_, w)| Stillness {
                request_whole: false,
                moved: w.2,
            });
            let stillest = self.stillest_carried();
            let close_waiting = match (waiting, stillest) {
                (Some(_), _) if self.pending.len() >= self.limits.pending => true,
                (Some(waiting), Some((_, carried))) => waiting <= carried,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Err(Refusal::Full),
            };
            if close_waiting {
                self.close_longest_waiting();
            } else if let Some((seq, _)) = stillest {
                self.close_carried(seq);
            }
        }
        Ok(())
    }

    fn close_longest_waiting(&mut self) {
        if let Some((_, (oldest, _closed, _))) = self.pending.pop_first() {
            self.forget_pending(oldest);
            self.open -= 1;
            self.log_making_room(oldest, "waited longest for their request head");
        }
    }

    fn close_carried(&mut self, seq: u64) {
        if let Some(gone) = self.carried.remove(&seq) {
            less(&mut self.carried_by_ip, gone.ip);
            self.open -= 1;
            self.log_making_room(gone.ip, "moved no bytes for longest");
        }
    }

    /// The carried connection first to close for room, and how still it is.
    fn stillest_carried(&self) -> Option<(u64, Stillness)> {
        self.carried
            .iter()
            .map(|(seq, c)| (*seq, c.moved.stillness()))
            .min_by_key(|&(seq, still)| (still, seq))
    }

    /// Says, at most once a minute, that the front is full and closes connections for room.
    fn log_making_room(&mut self, closed: IpAddr, because: &str) {
        let now = Instant::now();
        if self
            .made_room_logged
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(60))
        {
            return;
        }
        self.made_room_logged = Some(now);
        log::warn!(
            "front: {} connections open ({} waiting for their request head): closing the ones \
             that {because} to make room, such as one from {} (logged once a minute)",
            self.open + 1,
            self.pending.len(),
            shown(closed)
        );
    }

    fn forget_pending(&mut self, ip: IpAddr) {
        less(&mut self.pending_by_ip, ip);
    }

    fn first_refusal_this_minute(&mut self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        if self.logged.len() >= LOGGED_TRIM_FROM {
            self.logged.retain(|_, at| now.duration_since(*at) < minute);
        }
        match self.logged.get(&ip) {
            Some(at) if now.duration_since(*at) < minute => false,
            Some(_) => {
                self.logged.insert(ip, now);
                true
            }
            None if self.logged.len() >= LOGGED_MOST => false,
            None => {
                self.logged.insert(ip, now);
                true
            }
        }
    }
}

fn less(counts: &mut HashMap<IpAddr, usize>, ip: IpAddr) {
    if let Some(n) = counts.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&ip);
        }
    }
}

/// One admitted connection's place; gives it back when dropped.
pub struct Ticket {
    admission: Admission,
    seq: u64,
    moved: LastMoved,
    /// Ends when the front closes this connection to make room.
    closed: watch::Receiver<()>,
}

impl Ticket {
    /// Runs `step` of the head's arrival: `None` when `until` passes first, or the connection
    /// is closed to make room for a newer one.
    pub async fn before<F: Future>(&mut self, until: Instant, step: F) -> Option<F::Output> {
        tokio::select! {
            done = timeout_at(until, step) => done.ok(),
            _ = self.closed.changed() => None,
        }
    }

    /// Ends when the front closes this connection to make room.
    pub async fn closed(&mut self) {
        let _ = self.closed.changed().await;
    }

    /// Where the connection's splice notes that bytes moved.
    pub fn moved(&self) -> LastMoved {
        self.moved.clone()
    }

    /// The request head has arrived: no longer counted as waiting, but carried (and closed for
    /// room only when the front is full and nothing has moved on it for longest).
    /// False when the connection must close instead: it was closed to make room meanwhile, or
    /// its address already has `carried_per_ip` connections carrying requests.
    pub fn past_head(&mut self) -> bool {
        let mut state = self.admission.lock();
        let Some((ip, close, _)) = state.pending.remove(&self.seq) else {
            return false;
        };
        state.forget_pending(ip);
        let carried = state.carried_by_ip.get(&ip).copied().unwrap_or(0);
        if carried >= state.limits.carried_per_ip {
            // Its place goes back now; dropping the ticket gives back nothing more.
            state.open -= 1;
            if state.first_refusal_this_minute(ip) {
                log::warn!(
                    "front: closing a request from {}: it already has {carried} connections carrying requests (logged once a minute)",
                    shown(ip)
                );
            }
            return false;
        }
        *state.carried_by_ip.entry(ip).or_insert(0) += 1;
        self.moved.touch();
        let moved = self.moved.clone();
        let carried = Carried {
            ip,
            moved,
            _close: close,
        };
        state.carried.insert(self.seq, carried);
        true
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        if let Some(gone) = state.carried.remove(&self.seq) {
            state.open -= 1;
            less(&mut state.carried_by_ip, gone.ip);
        } else if let Some((ip, _, _)) = state.pending.remove(&self.seq) {
            state.forget_pending(ip);
            state.open -= 1;
        }
        // Otherwise it was closed to make room, and its place already given back.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn admission(pending_per_ip: usize, pending: usize, open: usize, carried: usize) -> Admission {
        Admission::new(Limits {
            pending_per_ip,
            pending,
            open,
            carried_per_ip: carried,
        })
    }

    #[test]
    fn the_caps_fit_under_the_open_file_limit() {
        let l = Limits::for_open_files(Some(1024));
        assert_eq!((l.open, l.pending, l.pending_per_ip), (298, 298, 32));
        assert_eq!(Limits::for_open_files(Some(1 << 20)).open, MOST_OPEN);
        assert_eq!(Limits::for_open_files(Some(10)).open, 1);
        assert_eq!(Limits::for_open_files(None).pending, 512);
    }

    #[test]
    fn one_address_gets_its_share_of_waiting_connections_and_no_more() {
        let a = admission(2, 10, 10, 10);
        let first = a.admit(ip("10.0.0.1")).unwrap();
        let _second = a.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            a.admit(ip("10.0.0.1")).err(),
            Some(Refusal::TooManyFromAddress)
        );
        assert!(a.admit(ip("10.0.0.2")).is_ok(), "another address is let in");
        drop(first);
        let mut third = a.admit(ip("10.0.0.1")).unwrap();
        // Past its head, a connection no longer counts against its address.
        assert!(third.past_head());
        assert!(a.admit(ip("10.0.0.1")).is_ok());
    }

    #[tokio::test]
    async fn when_full_the_longest_waiting_connection_makes_room() {
        let a = admission(10, 2, 3, 10);
        let mut oldest = a.admit(ip("10.0.0.1")).unwrap();
        let _newer = a.admit(ip("10.0.0.2")).unwrap();
        let _newest = a.admit(ip("10.0.0.3")).unwrap();
        assert_eq!(a.counts(), (2, 2));
        let never = std::future::pending::<()>();
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(oldest.before(far, never).await, None, "closed for room");
        drop(oldest);
        assert_eq!(a.counts(), (2, 2), "its place is not given back twice");
    }

    /// Admits one connection from each of `from` and carries it.
    fn carried(a: &Admission, from: &[&str]) -> Vec<Ticket> {
        let mut tickets: Vec<Ticket> = from.iter().map(|f| a.admit(ip(f)).unwrap()).collect();
        assert!(tickets.iter_mut().all(Ticket::past_head));
        tickets
    }

    #[tokio::test]
    async fn when_every_connection_is_carried_the_stillest_makes_room() {
        let a = admission(10, 10, 3, 10);
        let mut busy = carried(&a, &["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        let now = Instant::now();
        let ago = |s| now.checked_sub(Duration::from_secs(s)).unwrap();
        // The first moved a byte a second ago; the second has been silent for 50 s.
        busy[0].moved().set(ago(1));
        busy[1].moved().set(ago(50));
        busy[2].moved().set(ago(20));
        let mut newcomer = a.admit(ip("10.0.0.9")).unwrap();
        assert!(newcomer.past_head(), "a newcomer is carried");
        let far = now + Duration::from_secs(3600);
        let never = || std::future::pending::<()>();
        assert_eq!(busy[1].before(far, never()).await, None, "closed for room");
        assert_eq!(a.counts(), (3, 0));
        // The next to go is the one silent for 20 s, not the one that moved a byte.
        let _next = a.admit(ip("10.0.0.8")).unwrap();
        assert_eq!(busy[2].before(far, never()).await, None, "closed for room");
        let still_open = tokio::time::timeout(Duration::from_millis(1), busy[0].closed()).await;
        assert!(still_open.is_err(), "a connection moving bytes stays");
        drop(busy);
        assert_eq!(a.counts(), (2, 1), "no place is given back twice");
        assert!(
            a.admit(ip("10.0.0.1")).is_ok(),
            "its address's count was given back"
        );
    }

    #[tokio::test]
    async fn waiting_or_carried_the_connection_stillest_longest_makes_room() {
        let a = admission(10, 10, 2, 10);
        let mut busy = carried(&a, &["10.0.0.1"]);
        let ago = |s| Instant::now().checked_sub(Duration::from_secs(s)).unwrap();
        busy[0].moved().set(ago(99));
        let mut waiting = a.admit(ip("10.0.0.2")).unwrap();
        let mut newcomer = carried(&a, &["10.0.0.3"]);
        let far = Instant::now() + Duration::from_secs(3600);
        let never = || std::future::pending::<()>();
        assert_eq!(busy[0].before(far, never()).await, None, "closed for room");
        // A request that has moved bytes since outlasts a connection that sends no head.
        let _next = a.admit(ip("10.0.0.4")).unwrap();
        assert_eq!(waiting.before(far, never()).await, None, "closed for room");
        let still_open = tokio::time::timeout(Duration::from_millis(1), newcomer[0].closed()).await;
        assert!(still_open.is_err(), "the carried connection stays");
    }

    #[tokio::test]
    async fn a_request_waiting_for_its_answer_outlasts_one_still_arriving() {
        let a = admission(10, 10, 2, 10);
        let mut busy = carried(&a, &["10.0.0.1", "10.0.0.2"]);
        let ago = |s| Instant::now().checked_sub(Duration::from_secs(s)).unwrap();
        // The first has sent its whole request and waited 99 s for the answer; the second
        // trickled a byte of its body a second ago.
        busy[0].moved().set(ago(99));
        busy[0].moved().request_whole();
        busy[1].moved().set(ago(1));
        let _newcomer = a.admit(ip("10.0.0.3")).unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let never = std::future::pending::<()>();
        assert_eq!(busy[1].before(far, never).await, None, "closed for room");
        let still_open = tokio::time::timeout(Duration::from_millis(1), busy[0].closed()).await;
        assert!(
            still_open.is_err(),
            "the request waiting for its answer stays"
        );
    }

    #[test]
    fn only_when_the_front_allows_nothing_is_a_newcomer_refused() {
        let a = admission(10, 10, 0, 10);
        assert_eq!(a.admit(ip("10.0.0.9")).err(), Some(Refusal::Full));
    }

    #[test]
    fn one_address_carries_its_share_of_requests_and_no_more() {
        let a = admission(10, 10, 10, 2);
        let mut carried: Vec<Ticket> = (0..2).map(|_| a.admit(ip("10.0.0.1")).unwrap()).collect();
        assert!(carried.iter_mut().all(Ticket::past_head));
        let mut third = a.admit(ip("10.0.0.1")).unwrap();
        assert!(
            !third.past_head(),
            "a third request from the address is closed"
        );
        drop(third);
        assert_eq!(a.counts(), (2, 0), "its place was given back once");
        let mut other = a.admit(ip("10.0.0.2")).unwrap();
        assert!(other.past_head(), "another address is carried");
        carried.pop();
        let mut again = a.admit(ip("10.0.0.1")).unwrap();
        assert!(again.past_head(), "a place freed is the address's again");
    }

    #[tokio::test]
    async fn a_connection_closed_for_room_is_not_carried_after_all() {
        let a = admission(10, 1, 10, 10);
        let mut oldest = a.admit(ip("10.0.0.1")).unwrap();
        let _newer = a.admit(ip("10.0.0.2")).unwrap();
        assert!(!oldest.past_head(), "its head came too late");
        drop(oldest);
        assert_eq!(a.counts(), (1, 1));
    }

    /// Admits `held`, then finds `next` refused as coming from the same address.
    fn same_address(a: &Admission, held: [&str; 2], next: &str) -> Vec<Ticket> {
        let tickets = held.iter().map(|h| a.admit(ip(h)).unwrap()).collect();
        let refused = a.admit(ip(next)).err();
        assert_eq!(refused, Some(Refusal::TooManyFromAddress), "{next}");
        tickets
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_prefix_and_a_mapped_ipv4_as_ipv4() {
        let a = admission(2, 10, 10, 1);
        let prefix = ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"];
        let _v6 = same_address(&a, prefix, "2001:db8:1:2:abcd::7");
        let _v4 = same_address(&a, ["10.0.0.1", "10.0.0.1"], "::ffff:10.0.0.1");
        let mut other = a.admit(ip("2001:db8:1:3::1")).unwrap();
        assert!(other.past_head(), "another /64 is another host");
        let mut same = a.admit(ip("2001:db8:1:3::2")).unwrap();
        assert!(!same.past_head(), "it carries no more than its share");
    }

    #[test]
    fn the_office_lans_ipv6_pcs_are_counted_one_by_one() {
        let a = admission(2, 10, 10, 1);
        let here = Some(ip("2001:db8:1:2::10"));
        for pc in [
            "2001:db8:1:2::1",
            "2001:db8:1:2::2",
            "fe80::1",
            "fe80::2",
            "fd00::1",
            "fd00::2",
        ] {
            let mut t = a.admit_at(ip(pc), here).unwrap();
            assert!(
                t.past_head(),
                "{pc} is one PC of the office, not the whole prefix"
            );
        }
        let mut first = a.admit_at(ip("2001:db8:9:9::1"), here).unwrap();
        assert!(first.past_head());
        let mut same = a.admit_at(ip("2001:db8:9:9::2"), here).unwrap();
        assert!(
            !same.past_head(),
            "a host beyond the LAN is still counted by its /64"
        );
    }

    #[test]
    fn the_refusal_log_record_stays_small_under_a_spread_address_flood() {
        let a = admission(0, 10, 10, 10);
        for n in 0..20_000u32 {
            let from = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            assert_eq!(a.admit(from).err(), Some(Refusal::TooManyFromAddress));
        }
        assert_eq!(a.lock().logged.len(), LOGGED_MOST);
        let mut state = a.lock();
        assert!(
            !state.first_refusal_this_minute(ip("10.0.0.0")),
            "an address logged this minute is not logged again"
        );
        assert!(
            !state.first_refusal_this_minute(ip("192.168.1.1")),
            "a new address beyond the record's size goes unlogged"
        );
        assert_eq!(state.logged.len(), LOGGED_MOST);
    }
}
