//! `update-state.json` in the connector's home: the last update attempt (kept until a heartbeat
//! has carried it to the appliance) and, per version, how often installing it failed and when
//! it may be tried again. A version that failed is never fetched again before its time, so a
//! bad archive costs one download per backoff step, not one per heartbeat.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::protocol::{UpdateAttempt, UpdateOutcome};

pub const UPDATE_STATE_FILE: &str = "update-state.json";

/// The first retry after a failure waits this long; each further failure doubles it.
pub const FIRST_RETRY_SECS: u64 = 15 * 60;
const LONGEST_RETRY_SECS: u64 = 24 * 60 * 60;
/// The appliance keeps at most this much of a message.
const MESSAGE_CHARS: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRecord {
    #[serde(default)]
    pub last: Option<UpdateAttempt>,
    /// Whether a heartbeat the appliance accepted carried `last`.
    #[serde(default)]
    pub reported: bool,
    #[serde(default)]
    pub failures: BTreeMap<String, Failures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failures {
    pub count: u32,
    /// Unix seconds before which this version is not tried again.
    pub next_try_at: i64,
}

/// `first * 2^(count-1)`, at most a day.
pub fn retry_delay(count: u32, first: u64) -> u64 {
    first
        .saturating_mul(1u64 << count.saturating_sub(1).min(20))
        .min(LONGEST_RETRY_SECS.max(first))
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn attempt(version: &str, outcome: UpdateOutcome, message: &str) -> UpdateAttempt {
    UpdateAttempt {
        version: version.to_string(),
        outcome,
        message: message.chars().take(MESSAGE_CHARS).collect(),
        at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    }
}

pub struct RecordStore {
    path: PathBuf,
}

impl RecordStore {
    pub fn new(home: &Path) -> RecordStore {
        RecordStore {
            path: home.join(UPDATE_STATE_FILE),
        }
    }

    /// An unreadable file counts as empty: at worst a failed version is tried once more.
    pub fn load(&self) -> UpdateRecord {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                log::warn!(
                    "{} cannot be read ({e}); starting afresh",
                    self.path.display()
                );
                UpdateRecord::default()
            }),
            Err(_) => UpdateRecord::default(),
        }
    }

    fn save(&self, record: &UpdateRecord) {
        let tmp = self.path.with_extension("json.tmp");
        let written = serde_json::to_vec_pretty(record)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            log::error!("cannot save {}: {e}", self.path.display());
        }
    }

    pub fn change(&self, edit: impl FnOnce(&mut UpdateRecord)) {
        let mut record = self.load();
        edit(&mut record);
        self.save(&record);
    }

    /// A new attempt to report; a failure (or a roll-back) also postpones its version.
    pub fn note(&self, attempt: UpdateAttempt, first_retry: u64) {
        log::log!(
            if attempt.outcome == UpdateOutcome::Installed {
                log::Level::Info
            } else {
                log::Level::Error
            },
            "update to {}: {:?}: {}",
            attempt.version,
            attempt.outcome,
            attempt.message
        );
        self.change(|r| {
            if attempt.outcome != UpdateOutcome::Installed {
                let f = r
                    .failures
                    .entry(attempt.version.clone())
                    .or_insert(Failures {
                        count: 0,
                        next_try_at: 0,
                    });
                f.count += 1;
                f.next_try_at = now_unix() + retry_delay(f.count, first_retry) as i64;
            }
            r.last = Some(attempt);
            r.reported = false;
        });
    }

    /// The attempt still to be reported, if any.
    pub fn unreported(&self) -> Option<UpdateAttempt> {
        let r = self.load();
        r.last.filter(|_| !r.reported)
    }

    pub fn mark_reported(&self, sent: &UpdateAttempt) {
        self.change(|r| {
            if r.last.as_ref() == Some(sent) {
                r.reported = true;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_doubles_the_wait_up_to_a_day() {
        assert_eq!(retry_delay(1, 900), 900);
        assert_eq!(retry_delay(2, 900), 1800);
        assert_eq!(retry_delay(4, 900), 7200);
        assert_eq!(retry_delay(40, 900), 24 * 60 * 60);
    }

    #[test]
    fn a_failure_postpones_its_version_and_waits_to_be_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::new(dir.path());
        store.note(attempt("1.2.0", UpdateOutcome::Failed, "bad"), 60);
        store.note(attempt("1.2.0", UpdateOutcome::Failed, "bad again"), 60);
        let r = store.load();
        assert_eq!(r.failures["1.2.0"].count, 2);
        assert!(r.failures["1.2.0"].next_try_at >= now_unix() + 119);
        let sent = store.unreported().unwrap();
        assert_eq!(sent.message, "bad again");
        store.mark_reported(&sent);
        assert_eq!(store.unreported(), None);
    }
}
