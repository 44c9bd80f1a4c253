//! The roll-back marker, `update-pending.json` beside the program. Written just before the
//! swap; each start of the new program counts itself in it; the new program removes it after
//! its first heartbeat the appliance accepts. A new program that starts three times within
//! [`WINDOW_SECS`] without getting there is taken for broken: the previous program is put back,
//! started, and the appliance is told (`rolled_back`). The console restarter (the previous
//! process, see `restart`) counts the new program's exits too, which also catches a program
//! that dies before it can count itself.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::install::restore;
use super::record::{attempt, now_unix, RecordStore};
use crate::protocol::UpdateOutcome;

pub const MARKER_FILE: &str = "update-pending.json";
/// Starts (or exits) without a heartbeat after which the new program is rolled back.
pub const MAX_STARTS: u32 = 3;
/// Starts further apart than this after the swap are not held against the new program.
pub const WINDOW_SECS: i64 = 10 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The version swapped in.
    pub version: String,
    /// The version it replaced.
    pub from_version: String,
    pub program: PathBuf,
    pub previous: PathBuf,
    /// Unix seconds of the swap.
    pub installed_at: i64,
    pub starts: u32,
}

pub fn marker_path(program: &Path) -> PathBuf {
    program.with_file_name(MARKER_FILE)
}

pub fn read(program: &Path) -> Option<Pending> {
    let bytes = std::fs::read(marker_path(program)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn write(pending: &Pending) -> std::io::Result<()> {
    let path = marker_path(&pending.program);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(pending).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

pub fn clear(program: &Path) {
    let path = marker_path(program);
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::error!("cannot remove {}: {e}", path.display());
        }
    }
}

/// What a start of `run` found.
#[derive(Debug, PartialEq)]
pub enum Start {
    Normal,
    /// This program was the broken new one and the previous one is back in its place:
    /// start that instead.
    RolledBack,
}

/// Called first thing by `run`: counts this start of a new program, or rolls it back.
pub fn on_start(program: &Path, running: &str, store: &RecordStore, first_retry: u64) -> Start {
    let Some(mut pending) = read(program) else {
        return Start::Normal;
    };
    if pending.version != running {
        // The previous program is running again: whoever put it back told the appliance.
        clear(program);
        return Start::Normal;
    }
    let recent = now_unix() - pending.installed_at < WINDOW_SECS;
    if pending.starts >= MAX_STARTS && recent {
        // This program is the one running, so it cannot be overwritten in place on Windows.
        return match self_replace::self_replace(&pending.previous) {
            Ok(()) => {
                rolled_back(&pending, store, first_retry, "started");
                Start::RolledBack
            }
            Err(e) => {
                log::error!("version {running} keeps failing, but the previous program cannot be put back: {e}");
                Start::Normal
            }
        };
    }
    if pending.starts == 0 {
        let message = format!("updated from {} to {running}", pending.from_version);
        store.note(
            attempt(running, UpdateOutcome::Installed, &message),
            first_retry,
        );
    }
    pending.starts += 1;
    if let Err(e) = write(&pending) {
        log::error!("cannot count this start in the update marker: {e}");
    }
    Start::Normal
}

/// The new program works: it reached the appliance.
pub fn confirm(program: &Path, running: &str) {
    if read(program).is_some_and(|p| p.version == running) {
        log::info!("version {running} runs and reaches the appliance; the update is complete");
        clear(program);
    }
}

/// The console restarter's roll-back: the new program is not running any more.
pub fn roll_back_stopped(
    pending: &Pending,
    store: &RecordStore,
    first_retry: u64,
) -> Result<(), String> {
    restore(&pending.previous, &pending.program).map_err(|e| {
        format!(
            "version {} keeps failing, and {} cannot be put back: {e}",
            pending.version,
            pending.previous.display()
        )
    })?;
    rolled_back(pending, store, first_retry, "ran");
    Ok(())
}

fn rolled_back(pending: &Pending, store: &RecordStore, first_retry: u64, verb: &str) {
    let message = format!(
        "version {} {verb} {MAX_STARTS} times without reaching the appliance; version {} was put back.",
        pending.version, pending.from_version
    );
    store.note(
        attempt(&pending.version, UpdateOutcome::RolledBack, &message),
        first_retry,
    );
    clear(&pending.program);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(dir: &Path, starts: u32) -> Pending {
        let program = dir.join("aicfo-connector");
        std::fs::write(&program, b"new").unwrap();
        std::fs::write(dir.join("aicfo-connector.previous"), b"old").unwrap();
        Pending {
            version: "1.1.0".into(),
            from_version: "1.0.0".into(),
            previous: dir.join("aicfo-connector.previous"),
            program,
            installed_at: now_unix(),
            starts,
        }
    }

    #[test]
    fn each_start_counts_and_the_first_reports_the_install() {
        let dir = tempfile::tempdir().unwrap();
        let p = pending(dir.path(), 0);
        write(&p).unwrap();
        let store = RecordStore::new(dir.path());
        assert_eq!(on_start(&p.program, "1.1.0", &store, 60), Start::Normal);
        assert_eq!(read(&p.program).unwrap().starts, 1);
        assert_eq!(
            store.unreported().unwrap().outcome,
            UpdateOutcome::Installed
        );
        confirm(&p.program, "1.1.0");
        assert!(read(&p.program).is_none());
    }

    #[test]
    fn the_restarter_puts_the_previous_program_back_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = pending(dir.path(), 3);
        write(&p).unwrap();
        let store = RecordStore::new(dir.path());
        roll_back_stopped(&p, &store, 60).unwrap();
        assert_eq!(std::fs::read(&p.program).unwrap(), b"old");
        assert!(read(&p.program).is_none());
        let last = store.unreported().unwrap();
        assert_eq!(last.outcome, UpdateOutcome::RolledBack);
        assert!(store.load().failures["1.1.0"].next_try_at > now_unix());
    }
}
