//! Password hashing (argon2id, PHC strings) and the gate that bounds how many run at once.
//! Each check takes about 19 MB and a core for tens of milliseconds: unbounded, a burst of logins
//! exhausts the machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use tokio::task::JoinError;

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

/// argon2 could not hash (its parameters or the salt refused): the appliance's fault, never the
/// password's. A plain error, so callers decide what it means for them.
#[derive(Debug, thiserror::Error)]
#[error("argon2 could not hash the password: {0}")]
pub struct HashError(String);

pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Verifies `password` against the PHC string `phc`, computing in `memory` (grown as needed and
/// kept by the caller for the next check) rather than in 19 MB allocated afresh: freed argon2
/// memory stays with whichever thread's malloc arena held it, so allocating per check on the
/// blocking pool's many threads grew the server by gigabytes under a burst of logins.
pub fn verify_in(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && Output::new(&out).is_ok_and(|o| o == expected)
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
    /// One argon2 working memory per place, reused from check to check.
    memories: Mutex<Vec<Vec<Block>>>,
    patience: Duration,
    running: AtomicUsize,
    peak: AtomicUsize,
    checks: AtomicUsize,
}

impl GateInner {
    fn lock_memories(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.memories.lock().unwrap_or_else(|p| p.into_inner())
    }
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
                memories: Mutex::new(Vec::new()),
                patience,
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                checks: AtomicUsize::new(0),
            }),
        }
    }

    /// Verifies `password` against `phc` on the blocking pool once a place is free. The place is
    /// held by the blocking task itself, so a caller that goes away cannot free it early.
    /// The inner error is the check's task failing (a panic in argon2), not a wrong password.
    pub async fn verify(
        &self,
        password: String,
        phc: String,
    ) -> Result<Result<bool, JoinError>, GateBusy> {
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
            let mut memory = g.lock_memories().pop().unwrap_or_default();
            let ok = verify_in(&password, &phc, &mut memory);
            g.lock_memories().push(memory);
            g.running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            ok
        })
        .await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_memory_verifies_like_a_fresh_check() {
        let phc = hash("correct horse battery").unwrap();
        let mut memory = Vec::new();
        assert!(verify_in("correct horse battery", &phc, &mut memory));
        let kept = memory.len();
        assert!(kept > 0);
        assert!(!verify_in("correct horse battery!", &phc, &mut memory));
        assert!(verify_in("correct horse battery", &phc, &mut memory));
        assert_eq!(memory.len(), kept, "the memory is reused, not grown");
        assert!(!verify_in("x", "not a phc string", &mut memory));
    }
}
