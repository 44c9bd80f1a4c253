//! aicfo-server as a Windows service: `aicfo-server service install|uninstall|start|stop|status`.
//! The install copies the program (and the Rocket.toml beside it) to
//! `%ProgramFiles%\aicfo\appliance`; the service runs the same server as the console does, from
//! there (so that Rocket.toml is read), as `NT SERVICE\AICFOAppliance`, with its data in
//! `%ProgramData%\aicfo\appliance` unless `AICFO_DATA_DIR` is set at `service install`. (Not
//! `%ProgramData%\aicfo` itself: a connector on the same PC keeps its Tally lock there, and the
//! data folder is for administrators and the service only.) The first administrator's password
//! is written there, as on the console it is written to `data\`.

use std::path::PathBuf;

use super::first_admin::ADMIN_PASSWORD_FILE;
use crate::winservice::{self, Action, Serve, Spec};

pub static SPEC: Spec = Spec {
    name: "AICFOAppliance",
    display_name: "aicfo appliance",
    description: "Keeps the books the Tally connectors deliver and serves the aicfo web page.",
};

/// The service's data folder: `AICFO_DATA_DIR` when set, else
/// `%ProgramData%\aicfo\appliance`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AICFO_DATA_DIR").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join("aicfo")
        .join("appliance")
}

/// `aicfo-server service ACTION [DATA_DIR]`: what to tell the person at the console, or why
/// not. `serve` runs the server until the stop signal (the program's own serve loop). The
/// service is started with the data folder the install found (`service run DATA_DIR`): a
/// service's environment need not name `%ProgramData%` as the administrator's does (Wine's
/// does not).
pub fn main(action: &str, data: Option<PathBuf>, serve: Serve) -> Result<String, String> {
    match Action::parse(action)? {
        Action::Install => install(),
        Action::Start => winservice::start(&SPEC).map(|done| done + &where_the_password_is()),
        Action::Run => {
            as_service_process(data.unwrap_or_else(data_dir))?;
            winservice::run(&SPEC, serve).map(|()| String::new())
        }
        other => winservice::command(&SPEC, other, Vec::new(), serve),
    }
}

/// The program (with the Rocket.toml beside it) copied to `%ProgramFiles%\aicfo\appliance`,
/// the data folder made, both locked down (`crate::service_place`), then the service registered
/// there, run as `NT SERVICE\AICFOAppliance`. An `AICFO_DATA_DIR` replaces the data folder.
fn install() -> Result<String, String> {
    let override_dir = std::env::var_os("AICFO_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let place = winservice::plan_place(&SPEC, "appliance", override_dir)?;
    winservice::make_place(&place)?;
    let exe = winservice::copy_program(&place, &["Rocket.toml"])?;
    // The appliance never changes its own program: its account only reads it.
    winservice::lock_down(&place, false)?;
    let dir = &place.data_dir;
    let done = winservice::install(
        &SPEC,
        &exe,
        &place.account,
        vec![dir.clone().into_os_string()],
    )?;
    Ok(format!(
        "{done}\nprogram folder: {} (changed by Administrators only)\ndata folder: {} (SYSTEM, Administrators and the service only)\nnext: aicfo-server service start",
        place.program_dir.display(),
        dir.display()
    ))
}

fn where_the_password_is() -> String {
    let file = data_dir().join(ADMIN_PASSWORD_FILE);
    if file.is_file() {
        format!(
            "\nthe first administrator is `admin`; the password is in {} (delete the file once noted)",
            file.display()
        )
    } else {
        String::new()
    }
}

/// What a console start gets from the person who starts it: the folder with Rocket.toml (the
/// service manager starts programs in the system folder) and where the data lives.
fn as_service_process(data: PathBuf) -> Result<(), String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find this program's folder: {e}"))?;
    if let Some(folder) = exe.parent() {
        std::env::set_current_dir(folder)
            .map_err(|e| format!("cannot work in {}: {e}", folder.display()))?;
    }
    // A junction swapped in after the install would send the books elsewhere.
    crate::service_place::refuse_redirected_data_dir(&data)?;
    // Still one thread: the service dispatcher has not started.
    std::env::set_var("AICFO_DATA_DIR", data);
    Ok(())
}
