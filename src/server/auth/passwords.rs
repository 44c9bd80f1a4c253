//! Password hashing (argon2id, PHC strings) and the gate that bounds how many run at once.
//! Each check takes about 19 MB and a core for tens of milliseconds: unbounded, a burst of logins
//! exhausts the machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::server::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_LEN: usize = 8;
/// The longest password anyone can set, and so the longest a login needs to hash.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The longest username anyone can have (see `accounts::valid_username`).
pub const MAX_USERNAME_BYTES: usize = 64;

pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "a password may have at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

pub fn hash(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal("password hashing", e))
}

pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a password nobody has, verified when the username is unknown so that a wrong
/// username takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("no user has this password").unwrap_or_default())
}

/// Admits at most one password check per core (at least two) at a time; the rest wait up to
/// `patience`, then are told to come back. Cheap to clone: clones share the gate.
#[derive(Clone)]
pub struct PasswordGate {
    inner: Arc<GateInner>,
}

struct GateInner {
    permits: Arc<Semaphore>,
    size: usize,
    patience: Duration,
    running: AtomicUsize,
    peak: AtomicUsize,
    checks: AtomicUsize,
}

/// The gate was full for the whole wait.
pub struct GateBusy;

impl PasswordGate {
    /// Sized to the machine.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores.max(2), Duration::from_secs(2))
    }

    pub fn new(size: usize, patience: Duration) -> Self {
        PasswordGate {
            inner: Arc::new(GateInner {
                permits: Arc::new(Semaphore::new(size)),
                size,
                patience,
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                checks: AtomicUsize::new(0),
            }),
        }
    }

    /// Verifies `password` against `phc` on the blocking pool once a place is free. The place is
    /// held by the blocking task itself, so a caller that goes away cannot free it early.
    pub async fn verify(&self, password: String, phc: String) -> Result<ApiResult<bool>, GateBusy> {
        let permits = self.inner.permits.clone();
        let permit = match tokio::time::timeout(self.inner.patience, permits.acquire_owned()).await
        {
            Ok(Ok(permit)) => permit,
            _ => return Err(GateBusy),
        };
        let g = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || {
            let now = g.running.fetch_add(1, Ordering::SeqCst) + 1;
            g.peak.fetch_max(now, Ordering::SeqCst);
            g.checks.fetch_add(1, Ordering::SeqCst);
            let ok = verify(&password, &phc);
            g.running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            ok
        })
        .await
        .map_err(|e| ApiError::internal("password check", e));
        Ok(result)
    }

    /// How many checks may run at once.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// The most checks that ever ran at once.
    pub fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::SeqCst)
    }

    /// How many checks ran in all.
    pub fn checks(&self) -> usize {
        self.inner.checks.load(Ordering::SeqCst)
    }
}
