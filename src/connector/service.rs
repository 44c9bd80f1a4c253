//! The connector as a Windows service: `AICFOConnector.exe service install|uninstall|start|stop|status`.
//! The service runs the same agent as `run` does, from the program's folder (or the `--home` given
//! at install), starting at boot with no one logged in and restarted when it fails.
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
        let launch_args = match (action, home) {
            (Action::Install, Some(home)) => {
                let home = std::path::absolute(home)
                    .map_err(|e| format!("cannot resolve {}: {e}", home.display()))?;
                vec![OsString::from("--home"), home.into_os_string()]
            }
            _ => Vec::new(),
        };
        if action == Action::Run {
            // Still one thread: the service dispatcher has not started.
            std::env::set_var(super::UNDER_SERVICE_ENV, "1");
        }
        winservice::command(&SPEC, action, launch_args, serve)
    }
}
