//! One request in flight to Tally across every connector process on the PC. Tally answers one
//! request at a time and overlapping ones fail ("Could not set 'SVCurrentCompany'" bursts), so
//! `check` or `companies` run during a sync waits its turn instead of colliding.
//!
//! The turn is an exclusive lock (std's `File::lock`: `flock` on Unix, `LockFileEx` on
//! Windows) on a file named after Tally's port, in a folder every user of the PC shares:
//! `%ProgramData%\aicfo` on Windows, the system temporary folder elsewhere, or
//! `AICFO_TALLY_LOCK_DIR` when set. The operating system releases it when a process dies.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

/// Where the lock files live.
pub fn lock_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AICFO_TALLY_LOCK_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if cfg!(windows) {
        if let Some(data) = std::env::var_os("ProgramData").filter(|d| !d.is_empty()) {
            return PathBuf::from(data).join("aicfo");
        }
    }
    std::env::temp_dir()
}

#[derive(Clone, Debug)]
pub struct TallyLock {
    path: PathBuf,
}

/// Holding it is having the turn; dropping it gives the turn back.
pub struct Turn {
    _file: Option<File>,
}

/// The port of `http://host:port/...` (9000, Tally's default, when none is written).
fn port_of(url: &str) -> u16 {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(9000)
}

impl TallyLock {
    pub fn for_url(url: &str) -> TallyLock {
        TallyLock {
            path: lock_dir().join(format!("aicfo-tally-{}.lock", port_of(url))),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Waits for the turn. A lock file that cannot be made (a folder without write access) is
    /// logged and the request goes ahead unguarded: a sync must not fail for want of a lock.
    pub async fn acquire(&self) -> Turn {
        let path = self.path.clone();
        let taken = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .or_else(|_| File::open(&path))?;
            file.lock()?;
            Ok(file)
        })
        .await;
        match taken {
            Ok(Ok(file)) => Turn { _file: Some(file) },
            Ok(Err(e)) => {
                log::warn!(
                    "cannot lock {} ({e}); asking Tally without waiting for other connector processes",
                    self.path.display()
                );
                Turn { _file: None }
            }
            Err(e) => {
                log::warn!("lock task failed: {e}");
                Turn { _file: None }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_named_after_tallys_port() {
        assert_eq!(port_of("http://localhost:9000"), 9000);
        assert_eq!(port_of("http://127.0.0.1:9123/"), 9123);
        assert_eq!(port_of("http://tally-pc"), 9000);
        assert!(TallyLock::for_url("http://localhost:9001")
            .path()
            .ends_with("aicfo-tally-9001.lock"));
    }
}
