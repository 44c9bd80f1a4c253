//! Every connection is an open file. Linux starts a service with a soft limit of 1,024, which a
//! few hundred connectors and some slow clients exhaust; the hard limit is what the system
//! allows this process (the service unit's `LimitNOFILE`), so the soft one is raised to it.

/// When the hard limit is "unlimited", Linux still caps open files at `fs.nr_open`, by default
/// this.
#[cfg(unix)]
const UNLIMITED_FALLBACK: u64 = 1 << 20;

/// Raises the soft open-file limit to the hard one. Returns `(before, after)` when it changed.
#[cfg(unix)]
pub fn raise_to_hard_limit() -> Result<Option<(u64, u64)>, String> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    let soft = now.current.unwrap_or(u64::MAX);
    let hard = now.maximum.unwrap_or(UNLIMITED_FALLBACK);
    if soft >= hard {
        return Ok(None);
    }
    let raised = Rlimit {
        current: Some(hard),
        maximum: now.maximum,
    };
    setrlimit(Resource::Nofile, raised)
        .map_err(|e| format!("cannot raise the open-file limit from {soft} to {hard}: {e}"))?;
    Ok(Some((soft, hard)))
}

/// Windows has no per-process open-file limit on sockets to raise (handles are limited only by
/// memory), so there is nothing to do.
#[cfg(not(unix))]
pub fn raise_to_hard_limit() -> Result<Option<(u64, u64)>, String> {
    Ok(None)
}

/// How many files this process may have open now (its soft limit), if the system limits it.
#[cfg(unix)]
pub fn current_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
pub fn current_limit() -> Option<u64> {
    None
}
