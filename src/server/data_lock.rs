//! One appliance per data folder: a running server holds an OS lock on `aicfo.lock` in it, and
//! `restore` takes the same lock, so it cannot replace the database under a running server (nor
//! a server start while a restore is half done). The OS drops the lock when the process ends,
//! however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

pub const LOCK_FILE: &str = "aicfo.lock";

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("an aicfo-server is running on the data folder {0}; stop it first")]
    Busy(String),
    #[error("cannot lock the data folder {0}: {1}")]
    Io(String, std::io::Error),
}

impl DataLock {
    /// Takes the lock without waiting: `Busy` when another process holds it.
    pub fn acquire(data_dir: &Path) -> Result<DataLock, LockError> {
        let shown = || data_dir.display().to_string();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join(LOCK_FILE))
            .map_err(|e| LockError::Io(shown(), e))?;
        match file.try_lock() {
            Ok(()) => Ok(DataLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Busy(shown())),
            Err(TryLockError::Error(e)) => Err(LockError::Io(shown(), e)),
        }
    }
}
