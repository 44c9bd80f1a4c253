//! Self-update from the appliance. The heartbeat's answer names the version this connector
//! should run ([`UpdateInstruction`]); between syncs, after a random delay, the agent
//! downloads that archive to a staging file ([`download`]), checks its size, SHA-256 and
//! signature ([`verify`]), unpacks the program, runs its `version` and `self-test`, and swaps
//! it in keeping the previous program ([`install`]); then it restarts ([`restart`]). Anything
//! failing before the swap leaves the running version in place, is reported on the next
//! heartbeat and postpones that version with a growing wait ([`record`]). A new program that
//! keeps failing to start is rolled back ([`marker`]). [`plan`] decides whether to act at all.
//!
//! The pieces of the `self_update` crate that fit are used directly: `self_replace` for the
//! swap (Windows cannot overwrite a running .exe) and zipsign-api for the signature its
//! `signatures` feature checks. Its backends fetch from GitHub-style release lists over a
//! blocking client; the appliance serves one archive behind a connector token, which the
//! connector's own client already holds and renews.

pub mod download;
pub mod install;
pub mod marker;
pub mod plan;
pub mod record;
pub mod restart;
pub mod verify;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

use super::appliance::Appliance;
use crate::protocol::{UpdateAttempt, UpdateInstruction, UpdateOutcome};
use plan::{decide, Inputs, Plan};
use record::{attempt, now_unix, RecordStore, FIRST_RETRY_SECS};

/// The longest random wait before a download, so fifty PCs do not fetch in the same second,
/// when the appliance does not say (an appliance older than `spreadSeconds`).
const JITTER_SECS: u64 = 10 * 60;

/// The longest wait an appliance may ask for (a day): a larger `spreadSeconds` is taken as this.
const MAX_SPREAD_SECS: u64 = 24 * 3600;

/// The longest random wait before downloading `ins`: `AICFO_UPDATE_JITTER_SECS` when set (for
/// tests on one PC), else the spread the appliance asked for (it knows how many connectors it
/// has), else [`JITTER_SECS`].
pub fn longest_wait(ins: &UpdateInstruction, jitter_env: Option<&str>) -> u64 {
    jitter_env
        .and_then(|v| v.trim().parse().ok())
        .or(ins.spread_seconds)
        .unwrap_or(JITTER_SECS)
        .min(MAX_SPREAD_SECS)
}

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The first wait after a failed attempt (`AICFO_UPDATE_RETRY_SECS` overrides it).
pub fn first_retry_secs() -> u64 {
    env_secs("AICFO_UPDATE_RETRY_SECS", FIRST_RETRY_SECS)
}

/// The program swapped in; the process restarts into it.
#[derive(Debug, Clone)]
pub struct Swapped {
    pub program: PathBuf,
    pub version: String,
}

pub struct Updater {
    home: PathBuf,
    /// The running program; `None` when the system cannot say (no update is then possible).
    program: Option<PathBuf>,
    running: &'static str,
    auto_update: bool,
    store: RecordStore,
    offered: Mutex<Option<UpdateInstruction>>,
    offer_changed: tokio::sync::Notify,
    /// Refusals already said, so each is logged and reported once.
    said: Mutex<HashSet<String>>,
}

impl Updater {
    pub fn new(home: &Path, running: &'static str, auto_update: bool) -> Updater {
        Updater {
            home: home.to_path_buf(),
            program: std::env::current_exe().ok(),
            running,
            auto_update,
            store: RecordStore::new(home),
            offered: Mutex::new(None),
            offer_changed: tokio::sync::Notify::new(),
            said: Mutex::new(HashSet::new()),
        }
    }

    pub fn store(&self) -> &RecordStore {
        &self.store
    }

    /// The heartbeat's answer: remembered for the update loop.
    pub fn offer(&self, instruction: Option<UpdateInstruction>) {
        let mut held = self.offered.lock().unwrap_or_else(|p| p.into_inner());
        if *held != instruction {
            *held = instruction;
            self.offer_changed.notify_one();
        }
    }

    /// The attempt a heartbeat should carry.
    pub fn unreported(&self) -> Option<UpdateAttempt> {
        self.store.unreported()
    }

    /// A heartbeat was accepted: what it carried is reported, and a new program has shown
    /// that it works.
    pub fn heartbeat_accepted(&self, carried: Option<&UpdateAttempt>) {
        if let Some(sent) = carried {
            self.store.mark_reported(sent);
        }
        if let Some(program) = &self.program {
            marker::confirm(program, self.running);
        }
    }

    /// The instruction to act on now, if any; a refusal is said once.
    fn due(&self) -> Result<Option<UpdateInstruction>, i64> {
        let offered = self
            .offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let record = self.store.load();
        let plan = decide(&Inputs {
            running: self.running,
            instruction: offered.as_ref(),
            auto_update: self.auto_update,
            key: super::RELEASE_VERIFYING_KEY,
            record: &record,
            now: now_unix(),
        });
        match plan {
            Plan::Nothing => Ok(None),
            Plan::Wait(until) => Err(until),
            Plan::Install(ins) => Ok(Some(ins)),
            Plan::Refuse(reason) => {
                let version = offered.map(|o| o.version).unwrap_or_default();
                let fresh = self
                    .said
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(format!("{version}\n{reason}"));
                if fresh {
                    self.store.note(
                        attempt(&version, UpdateOutcome::Failed, &reason),
                        first_retry_secs(),
                    );
                }
                Ok(None)
            }
        }
    }

    /// Waits until an instruction is due (a new offer, or a postponed version's time).
    pub async fn next_due(&self) -> UpdateInstruction {
        loop {
            let wait = match self.due() {
                Ok(Some(ins)) => return ins,
                Ok(None) => Duration::from_secs(60),
                Err(until) => Duration::from_secs((until - now_unix()).clamp(1, 3600) as u64),
            };
            let _ = tokio::time::timeout(wait, self.offer_changed.notified()).await;
        }
    }

    /// The random wait before downloading `ins` ([`longest_wait`]).
    pub fn jitter(&self, ins: &UpdateInstruction) -> Duration {
        let env = std::env::var("AICFO_UPDATE_JITTER_SECS").ok();
        let max = longest_wait(ins, env.as_deref());
        Duration::from_secs(if max == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=max)
        })
    }

    /// Whether `ins` is still the one to install after the wait.
    pub fn still_due(&self, ins: &UpdateInstruction) -> bool {
        matches!(self.due(), Ok(Some(now)) if now == *ins)
    }

    /// Download, checks and swap. Any failure before the swap leaves this program running,
    /// is recorded for the next heartbeat and postpones the version.
    pub async fn install(&self, appliance: &Appliance, ins: &UpdateInstruction) -> Option<Swapped> {
        log::info!(
            "updating from {} to {} ({})",
            self.running,
            ins.version,
            ins.file
        );
        let result = self.try_install(appliance, ins).await;
        download::tidy(&self.home);
        match result {
            Ok(swapped) => Some(swapped),
            Err(reason) => {
                self.store.note(
                    attempt(&ins.version, UpdateOutcome::Failed, &reason),
                    first_retry_secs(),
                );
                None
            }
        }
    }

    async fn try_install(
        &self,
        appliance: &Appliance,
        ins: &UpdateInstruction,
    ) -> Result<Swapped, String> {
        let program = self
            .program
            .clone()
            .ok_or("this program cannot find its own file, so it cannot replace it.")?;
        let key = super::RELEASE_VERIFYING_KEY.ok_or("this connector carries no release key.")?;
        install::folder_writable(&program)?;
        let archive = download::fetch(appliance, ins, &self.home).await?;
        let (home, ins2, running) = (self.home.clone(), ins.clone(), self.running);
        tokio::task::spawn_blocking(move || {
            verify::verify(&archive, &ins2, key)?;
            let new =
                install::extract(&archive, &download::staging_dir(&home).join(&ins2.version))?;
            install::check(&new, &ins2.version, &home)?;
            let pending = marker::Pending {
                version: ins2.version.clone(),
                from_version: running.to_string(),
                program: program.clone(),
                previous: install::previous_path(&program),
                installed_at: now_unix(),
                starts: 0,
            };
            marker::write(&pending).map_err(|e| format!("cannot write the update marker: {e}"))?;
            install::swap(&program, &new).inspect_err(|_| marker::clear(&program))?;
            log::info!(
                "version {} is in place; the previous program is kept as {}",
                ins2.version,
                pending.previous.display()
            );
            Ok(Swapped {
                program,
                version: ins2.version,
            })
        })
        .await
        .map_err(|e| format!("the update stopped unexpectedly: {e}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(seconds: Option<u64>) -> UpdateInstruction {
        UpdateInstruction {
            policy: "auto".into(),
            version: "1.1.0".into(),
            file: "x.zip".into(),
            size: 1,
            sha256: "00".into(),
            url: "/x.zip".into(),
            spread_seconds: seconds,
        }
    }

    #[test]
    fn the_appliance_decides_the_spread_unless_this_pc_overrides_it() {
        assert_eq!(longest_wait(&spread(Some(30)), None), 30);
        assert_eq!(longest_wait(&spread(Some(0)), None), 0);
        assert_eq!(
            longest_wait(&spread(None), None),
            JITTER_SECS,
            "older appliance"
        );
        assert_eq!(
            longest_wait(&spread(Some(30)), Some("0")),
            0,
            "tests' override"
        );
        assert_eq!(longest_wait(&spread(Some(30)), Some("soon")), 30);
        assert_eq!(
            longest_wait(&spread(Some(u64::MAX)), None),
            MAX_SPREAD_SECS,
            "never longer than a day"
        );
    }
}
