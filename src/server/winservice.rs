//! aicfo-server as a Windows service: `aicfo-server service install|uninstall|start|stop|status`.
//! The service runs the same server as the console does, from the program's folder (so a
//! Rocket.toml beside the program is read), with its data in `%ProgramData%\aicfo\appliance`
//! unless `AICFO_DATA_DIR` is set at `service install`. (Not `%ProgramData%\aicfo` itself: a
//! connector on the same PC keeps its Tally lock there, and the data folder is for
//! administrators only.) The first administrator's password is written
//! there, as on the console it is written to `data\`.

use std::path::PathBuf;

use super::first_admin::ADMIN_PASSWORD_FILE;
use super::fs_perms;
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

/// The data folder first, readable by SYSTEM and Administrators only, then the service.
fn install() -> Result<String, String> {
    let dir = data_dir();
    fs_perms::create_private_dir(&dir)
        .map_err(|e| format!("cannot create the data folder {}: {e}", dir.display()))?;
    fs_perms::restrict_to_administrators(&dir)?;
    let done = winservice::install(&SPEC, vec![dir.clone().into_os_string()])?;
    Ok(format!(
        "{done}\ndata folder: {} (SYSTEM and Administrators only)\nnext: aicfo-server service start",
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
    // Still one thread: the service dispatcher has not started.
    std::env::set_var("AICFO_DATA_DIR", data);
    Ok(())
}
