//! The first administrator. On an empty database the appliance creates `admin` with
//! `AICFO_ADMIN_PASSWORD`, or a generated password that is shown once on the console and left
//! in a private file in the data folder.

use std::path::Path;

use super::accounts;
use super::auth::passwords;
use super::db::Db;
use super::secrets::write_private;
use super::start_error::StartError;

pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";

/// A password a person can type and a shell or command line cannot misread (no leading `-`,
/// no punctuation): 20 letters and digits, about 119 bits.
fn readable_password() -> String {
    use rand::Rng;
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

fn password_from_env() -> Result<Option<String>, StartError> {
    let Some(password) = std::env::var("AICFO_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        return Ok(None);
    };
    passwords::check_strength(&password)
        .map_err(|e| StartError::new(format!("AICFO_ADMIN_PASSWORD: {e}")))?;
    Ok(Some(password))
}

pub fn ensure_admin(db: &Db, data_dir: &Path) -> Result<(), StartError> {
    let has_users = db
        .read_blocking(accounts::has_users)
        .map_err(|e| StartError::because("cannot read the users", e))?;
    if has_users {
        return Ok(());
    }
    let from_env = password_from_env()?;
    let password = from_env.clone().unwrap_or_else(readable_password);
    let hash = passwords::hash(&password)
        .map_err(|e| StartError::because("cannot hash the admin password", e))?;
    db.write_blocking(move |tx| accounts::create_first_admin(tx, &hash))
        .map_err(|e| StartError::because("cannot create the admin user", e))?;
    if from_env.is_some() {
        log::info!("created user admin with the password from AICFO_ADMIN_PASSWORD");
        return Ok(());
    }
    let file = data_dir.join(ADMIN_PASSWORD_FILE);
    let _ = std::fs::remove_file(&file);
    write_private(&file, &format!("{password}\n"))
        .map_err(|e| StartError::because(format!("cannot write {}", file.display()), e))?;
    show_once(&password, &file);
    Ok(())
}

/// Who can read the password file, in the words of the start-up message.
#[cfg(unix)]
const WHO_CAN_READ: &str = "readable only by this user";
/// The Windows service's data folder is restricted at install; a console run's is what it is.
#[cfg(not(unix))]
const WHO_CAN_READ: &str = "as the service: readable only by SYSTEM and Administrators";

/// On the console, and in the log: a service's console is nobody's.
fn show_once(password: &str, file: &Path) {
    log::warn!(
        "created the administrator `{}`; the password is in {} until that file is deleted",
        accounts::FIRST_ADMIN,
        file.display()
    );
    println!();
    println!("==================================================================");
    println!(" aicfo: created the administrator account");
    println!("   username: {}", accounts::FIRST_ADMIN);
    println!("   password: {password}");
    println!(
        " It is shown only this once; it is also in {}",
        file.display()
    );
    println!(" ({WHO_CAN_READ}). Delete that file once noted.");
    println!("==================================================================");
    println!();
}
