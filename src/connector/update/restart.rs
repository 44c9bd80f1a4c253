//! Starting the program again after a swap. The Windows service starts a helper that brings
//! the service back as the new program (`connector::service::restart_after_update`), with
//! [`SERVICE_RESTART_EXIT`] as its exit code only when that helper cannot start. Under another
//! service manager (which sets `AICFO_UNDER_SERVICE=1` in the connector's environment) `run`
//! exits with [`SERVICE_RESTART_EXIT`] and the manager starts the new one. On a console the old process
//! starts the new program with the same arguments and stays as its restarter until the new one
//! has reached the appliance: should it fail (exit with an error) [`MAX_STARTS`] times before
//! that, the previous program is put back and started. A clean exit (the bookkeeper stopped
//! it) ends the restarter too.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use super::marker::{self, MAX_STARTS};
use super::record::RecordStore;

/// The exit code asking a service manager to start the program again (EX_TEMPFAIL).
pub const SERVICE_RESTART_EXIT: u8 = 75;

pub fn under_service() -> bool {
    crate::connector::service::under_service_manager()
}

/// The program again, with this process's arguments and environment.
pub fn relaunch(program: &Path) -> std::io::Result<Child> {
    Command::new(program)
        .args(std::env::args_os().skip(1))
        .spawn()
}

/// How the restarter ended: the exit code for this (old) process.
pub fn supervise(program: &Path, new_version: &str, store: &RecordStore, first_retry: u64) -> u8 {
    let mut exits = 0;
    while exits < MAX_STARTS {
        let mut child = match relaunch(program) {
            Ok(c) => c,
            Err(e) => {
                log::error!("version {new_version} does not start: {e}");
                exits += 1;
                continue;
            }
        };
        loop {
            std::thread::sleep(Duration::from_millis(250));
            if marker::read(program).is_none_or(|p| p.version != new_version) {
                // Confirmed (or it rolled itself back and started the previous one): done.
                log::info!("version {new_version} has taken over");
                return 0;
            }
            match child.try_wait() {
                // Stopped on purpose (Ctrl+C reaches both processes): not a failure.
                Ok(Some(status)) if status.success() => return 0,
                Ok(Some(status)) => {
                    log::warn!(
                        "version {new_version} stopped ({status}) before reaching the appliance"
                    );
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    log::error!("cannot watch version {new_version}: {e}");
                    return 1;
                }
            }
        }
        exits += 1;
    }
    let Some(pending) = marker::read(program) else {
        return 0;
    };
    if let Err(e) = marker::roll_back_stopped(&pending, store, first_retry) {
        log::error!("{e}");
        return 1;
    }
    match relaunch(program) {
        Ok(_) => 0,
        Err(e) => {
            log::error!("the previous version was put back but does not start: {e}");
            1
        }
    }
}
