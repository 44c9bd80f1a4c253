//! The connector as a Windows service: `AICFOConnector.exe service install|uninstall|start|stop|status`.
//! The install copies the program to `%ProgramFiles%\aicfo\connector` and this PC's settings and
//! state (from the program's folder, or the `--home` given) to `%ProgramData%\aicfo\connector`;
//! the service runs the same agent as `run` does, from there, as `NT SERVICE\AICFOConnector`,
//! starting at boot with no one logged in and restarted when it fails.
//!
//! Under a service manager the process says so in [`UNDER_SERVICE_ENV`], so a program that wants
//! a restart (the updater, after swapping in a new version) never starts a second copy of itself
//! beside the service. The Windows service does not rely on restart-on-failure actions for it
//! (an administrator may clear them; Wine refuses them): it starts a helper,
//! `service resume-after-update`, from the previous program (the one known to run), and stops.
//! The helper waits for the service to stop, starts it through the service manager (so it runs
//! the new program), and watches it as the console restarter does: should the new version stop
//! on a failure [`MAX_STARTS`](crate::connector::update::marker::MAX_STARTS) times before it
//! reaches the appliance, the previous program is put back and started. Elsewhere (a systemd unit
//! setting the variable) the program exits with a failure code for the manager to restart it.

/// Set to `1` in the environment of a connector that a service manager runs (the Windows
/// service sets it itself; a systemd unit may set it too).
pub const UNDER_SERVICE_ENV: &str = "AICFO_UNDER_SERVICE";

/// Whether a service manager runs this process and will restart it when it exits with a failure.
pub fn under_service_manager() -> bool {
    std::env::var(UNDER_SERVICE_ENV).is_ok_and(|v| v == "1")
}

/// The variable that names the folder of the Tally turn lock files (`crate::tally::lock`).
pub const TALLY_LOCK_DIR_ENV: &str = "AICFO_TALLY_LOCK_DIR";

/// Where the service takes its Tally turn, given `AICFO_TALLY_LOCK_DIR` as the service sees it
/// and its data folder: that folder (only SYSTEM, Administrators and the service may open what
/// is in it), unless the variable names one. In the shared `%ProgramData%\aicfo` a standard
/// user could open the service's lock file and hold it, so the service would never read Tally
/// again; a console connector there still waits for another console's turn. `None`: leave it.
pub fn service_lock_dir(
    set: Option<&std::ffi::OsStr>,
    data_dir: &std::path::Path,
) -> Option<std::path::PathBuf> {
    match set {
        Some(dir) if !dir.is_empty() => None,
        _ => Some(data_dir.to_path_buf()),
    }
}

#[cfg(windows)]
pub use windows::{main, restart_after_update, SPEC};

#[cfg(windows)]
mod windows {
    use std::ffi::OsString;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use crate::connector::config::CONFIG_FILE;
    use crate::connector::outbox::OUTBOX_DIR;
    use crate::connector::state::STATE_FILE;
    use crate::connector::update::install::previous_path;
    use crate::connector::update::marker::{self, MAX_STARTS, WINDOW_SECS};
    use crate::connector::update::record::{RecordStore, UPDATE_STATE_FILE};
    use crate::connector::update::{first_retry_secs, restart::SERVICE_RESTART_EXIT};
    use crate::service_place;
    use crate::winservice::{self, Action, Serve, Spec};

    /// The hidden action of the helper that brings the service back after an update.
    pub const RESUME_ACTION: &str = "resume-after-update";

    pub static SPEC: Spec = Spec {
        name: "AICFOConnector",
        display_name: "aicfo Tally connector",
        description: "Reads Tally on this PC and delivers the books to the aicfo appliance.",
    };

    /// `AICFOConnector.exe service ACTION`; `home` is the `--home` given, which the installed
    /// service is then started with. Returns what to tell the person at the console.
    pub fn main(action: &str, home: Option<&Path>, serve: Serve) -> Result<String, String> {
        if action == RESUME_ACTION {
            return resume_after_update(home);
        }
        let action = Action::parse(action)?;
        let launch_args = Vec::new();
        if action == Action::Install {
            return install(home);
        }
        if let (Action::Run, Some(home)) = (action, home) {
            crate::service_place::refuse_redirected_data_dir(home)?;
        }
        if action == Action::Run {
            // Still one thread: the service dispatcher has not started.
            std::env::set_var(super::UNDER_SERVICE_ENV, "1");
            let set = std::env::var_os(super::TALLY_LOCK_DIR_ENV);
            if let Some(dir) = home.and_then(|h| super::service_lock_dir(set.as_deref(), h)) {
                std::env::set_var(super::TALLY_LOCK_DIR_ENV, dir);
            }
        }
        winservice::command(&SPEC, action, launch_args, serve)
    }

    /// What the service takes from the folder it is installed from (when the data folder does
    /// not hold it yet): the settings, this PC's enrolment, the update record, the outbox.
    const DATA_FILES: [&str; 3] = [CONFIG_FILE, STATE_FILE, UPDATE_STATE_FILE];

    /// The program to Program Files, the data to `%ProgramData%\aicfo\connector` (the
    /// service's `--home`), both locked down (`crate::service_place`), then the service.
    fn install(home: Option<&Path>) -> Result<String, String> {
        let from = match home {
            Some(home) => std::path::absolute(home)
                .map_err(|e| format!("cannot resolve {}: {e}", home.display()))?,
            None => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf))
                .ok_or("cannot find this program's folder")?,
        };
        let place = winservice::plan_place(&SPEC, "connector", None)?;
        let data = &place.data_dir;
        if !data.join(CONFIG_FILE).is_file() && !from.join(CONFIG_FILE).is_file() {
            return Err(format!(
                "there is no {CONFIG_FILE} in {} nor in {}: install from the folder of the connector's ZIP (or give its --home), after `setup` if the ZIP did not carry one. Not installed.",
                from.display(),
                data.display()
            ));
        }
        winservice::make_place(&place)?;
        let exe = winservice::copy_program(&place, &[])?;
        let taken = service_place::take_missing(&from, data, &DATA_FILES, &[OUTBOX_DIR])?;
        // The self-updater swaps the program in its folder: the account may write there.
        winservice::lock_down(&place, true)?;
        let done = winservice::install(
            &SPEC,
            &exe,
            &place.account,
            vec![OsString::from("--home"), data.clone().into_os_string()],
        )?;
        let taken = if taken.is_empty() {
            String::new()
        } else {
            format!("\ntaken from {}: {}", from.display(), taken.join(", "))
        };
        Ok(format!(
            "{done}\nprogram folder: {} (changed by Administrators and the service only)\ndata folder: {} (SYSTEM, Administrators and the service only){taken}\nnext: AICFOConnector.exe service start",
            place.program_dir.display(),
            data.display()
        ))
    }

    /// Called by the service after its program was replaced (or put back): starts the helper
    /// that brings the service back, detached from this process, which is about to stop. The
    /// service's exit code is a failure either way, so that restart-on-failure actions, where
    /// set, start it too: the helper's start needs the right `install` grants the service
    /// (`sc sdset`), which a changed Windows may refuse; two starts cannot run two copies (the
    /// second finds the service running).
    pub fn restart_after_update(program: &Path, home: &Path) -> u32 {
        const DETACHED_PROCESS: u32 = 0x0000_0008;
        const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
        use std::os::windows::process::CommandExt;
        let previous = previous_path(program);
        let helper = if previous.exists() {
            previous
        } else {
            program.to_path_buf()
        };
        let started = Command::new(&helper)
            .arg("--home")
            .arg(home)
            .args(["service", RESUME_ACTION])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP)
            .spawn();
        match started {
            Ok(_) => {
                log::info!(
                    "the service stops now; {} starts it again",
                    helper.display()
                );
                u32::from(SERVICE_RESTART_EXIT)
            }
            Err(e) => {
                log::error!(
                    "cannot start {} to restart the service ({e}); stopping with a failure, so Windows' restart-on-failure can start it",
                    helper.display()
                );
                u32::from(SERVICE_RESTART_EXIT)
            }
        }
    }

    /// `service resume-after-update`: waits for the service to stop, starts it, and watches the
    /// new version until it has reached the appliance (the update marker is gone).
    fn resume_after_update(home: Option<&Path>) -> Result<String, String> {
        let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let home = match home {
            Some(h) => h.to_path_buf(),
            None => me.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let _logger = crate::connector::logging::init(&home, "info", false);
        let result = resume(&me, &home);
        match &result {
            Ok(said) => log::info!("{said}"),
            Err(e) => log::error!("the service could not be brought back after the update: {e}"),
        }
        result
    }

    fn resume(me: &Path, home: &Path) -> Result<String, String> {
        winservice::start_once_stopped(&SPEC)?;
        // The marker sits beside the program, as does this helper (the previous program).
        let Some(pending) = marker::read(me) else {
            return Ok("the service was started again".into());
        };
        let settled =
            |p: &Option<marker::Pending>| p.as_ref().is_none_or(|p| p.version != pending.version);
        let watched = Instant::now();
        let mut failures = 0;
        while watched.elapsed() < Duration::from_secs(WINDOW_SECS as u64) {
            std::thread::sleep(Duration::from_millis(500));
            if settled(&marker::read(me)) {
                return Ok(format!("version {} runs as the service", pending.version));
            }
            match winservice::stopped_on_failure(&SPEC)? {
                None => continue,
                Some(false) => return Ok("the service was stopped on purpose".into()),
                Some(true) => failures += 1,
            }
            log::warn!(
                "version {} stopped as the service before reaching the appliance",
                pending.version
            );
            if failures >= MAX_STARTS {
                return roll_back(&pending, home);
            }
            winservice::start_once_stopped(&SPEC)?;
        }
        Ok(format!(
            "version {} was watched for {} min",
            pending.version,
            WINDOW_SECS / 60
        ))
    }

    /// The new version keeps failing: the previous program back in its place, and started.
    fn roll_back(pending: &marker::Pending, home: &Path) -> Result<String, String> {
        let store = RecordStore::new(home);
        marker::roll_back_stopped(pending, &store, first_retry_secs())?;
        winservice::start_once_stopped(&SPEC)?;
        Ok(format!(
            "version {} was put back and runs as the service",
            pending.from_version
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::path::Path;

    #[test]
    fn the_service_takes_its_tally_turn_in_its_own_data_folder() {
        let data = Path::new(r"C:\ProgramData\aicfo\connector");
        assert_eq!(service_lock_dir(None, data), Some(data.to_path_buf()));
        assert_eq!(
            service_lock_dir(Some(OsStr::new("")), data),
            Some(data.to_path_buf())
        );
        assert_eq!(service_lock_dir(Some(OsStr::new(r"D:\locks")), data), None);
    }
}
