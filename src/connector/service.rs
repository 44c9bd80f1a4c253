//! The connector as a Windows service: `AICFOConnector.exe service install|uninstall|start|stop|status`.
//! The install copies the program to `%ProgramFiles%\aicfo\connector` and this PC's settings and
//! state (from the program's folder, or the `--home` given) to `%ProgramData%\aicfo\connector`;
//! the service runs the same agent as `run` does, from there, as `NT SERVICE\AICFOConnector`,
//! starting at boot with no one logged in and restarted when it fails.
//!
//! Under a service manager the process says so in [`UNDER_SERVICE_ENV`]: a program that wants a
//! restart (the updater, after swapping in a new version) then exits with a non-zero code and the
//! service manager starts it again, instead of starting a second copy of itself.

/// Set to `1` in the environment of a connector that a service manager runs (the Windows
/// service sets it itself; a systemd unit may set it too).
pub const UNDER_SERVICE_ENV: &str = "AICFO_UNDER_SERVICE";

/// Whether a service manager runs this process and will restart it when it exits with a failure.
pub fn under_service_manager() -> bool {
    std::env::var(UNDER_SERVICE_ENV).is_ok_and(|v| v == "1")
}

#[cfg(windows)]
pub use windows::{main, SPEC};

#[cfg(windows)]
mod windows {
    use std::ffi::OsString;
    use std::path::Path;

    use crate::connector::config::CONFIG_FILE;
    use crate::connector::outbox::OUTBOX_DIR;
    use crate::connector::state::STATE_FILE;
    use crate::connector::update::record::UPDATE_STATE_FILE;
    use crate::service_place;
    use crate::winservice::{self, Action, Serve, Spec};

    pub static SPEC: Spec = Spec {
        name: "AICFOConnector",
        display_name: "aicfo Tally connector",
        description: "Reads Tally on this PC and delivers the books to the aicfo appliance.",
    };

    /// `AICFOConnector.exe service ACTION`; `home` is the `--home` given, which the installed
    /// service is then started with. Returns what to tell the person at the console.
    pub fn main(action: &str, home: Option<&Path>, serve: Serve) -> Result<String, String> {
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
}
