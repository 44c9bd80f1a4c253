//! The appliance's command line. Each subcommand is one variant of [`Command`]; the work itself
//! lives in its own module (`serve`, `backup`), so a new subcommand is a variant and a match arm.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::backup;
use super::config::{self, AppConfig};
use super::domain_error::cause_chain;
use super::serve;

#[derive(Debug, Parser)]
#[command(
    name = "aicfo-server",
    version,
    about = "The aicfo appliance: keeps the books its Tally connectors send, as monthly snapshots.",
    after_help = "Without a command it serves. Settings come from Rocket.toml and the environment \
                  (AICFO_DATA_DIR, ROCKET_PORT, ...; see README.md)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the appliance (the default).
    Serve,
    /// Write a consistent copy of the database, also while the server runs.
    Backup {
        /// Where to write it; by default a timestamped file in the data folder's backups/.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
    /// Replace the database with a backup. The server must be stopped; the replaced database is
    /// kept beside it.
    Restore {
        /// The backup file to restore.
        file: PathBuf,
    },
    /// Windows only: install, uninstall, start, stop or show the status of the appliance's
    /// Windows service (AICFOAppliance).
    Service {
        /// install | uninstall | start | stop | status
        action: String,
        /// The data folder; only the service manager passes it (`service run DATA_DIR`, set at install).
        #[arg(hide = true)]
        data: Option<PathBuf>,
    },
}

/// Parses the command line (clap exits 2 on a bad one, 0 after `--help`) and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    super::fs_perms::create_owner_only();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::run(),
        Command::Backup { to } => backup_command(to),
        Command::Restore { file } => restore_command(&file),
        Command::Service { action, data } => service_command(&action, data),
    }
}

/// `aicfo-server service ACTION` (Windows): the service manager runs the same serve loop, stopped
/// by its stop control.
fn service_command(action: &str, data: Option<PathBuf>) -> ExitCode {
    #[cfg(windows)]
    {
        let until_stopped: crate::winservice::Serve = |stop| match serve::run_until(Some(stop)) {
            code if code == ExitCode::SUCCESS => 0,
            _ => 1,
        };
        match super::winservice::main(action, data, until_stopped) {
            Ok(said) => {
                if !said.is_empty() {
                    println!("{said}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("aicfo-server service {action}: {e}");
                ExitCode::FAILURE
            }
        }
    }
    #[cfg(not(windows))]
    {
        let _ = data;
        eprintln!("aicfo-server service {action}: Windows services exist only on Windows");
        ExitCode::from(2)
    }
}

fn settings() -> Result<AppConfig, String> {
    config::settings_file().map_err(|e| cause_chain(&e))?;
    AppConfig::from_figment(&config::figment()).map_err(|e| cause_chain(&e))
}

/// The data folder `backup` and `restore` work on, said on the console: the settings' one,
/// except on Windows with the appliance's service installed and AICFO_DATA_DIR unset, where it
/// is the service's (the console's `./data` would be an empty folder beside the program).
fn console_data_dir() -> Result<PathBuf, String> {
    let cfg = settings()?;
    let dir = service_data_dir().unwrap_or(cfg.data_dir);
    println!("aicfo-server: data folder {}", dir.display());
    Ok(dir)
}

#[cfg(windows)]
fn service_data_dir() -> Option<PathBuf> {
    let unset = std::env::var_os("AICFO_DATA_DIR").is_none_or(|d| d.is_empty());
    (unset && crate::winservice::is_installed(&super::winservice::SPEC))
        .then(super::winservice::data_dir)
}

#[cfg(not(windows))]
fn service_data_dir() -> Option<PathBuf> {
    None
}

fn backup_command(to: Option<PathBuf>) -> ExitCode {
    let outcome = console_data_dir()
        .and_then(|dir| backup::backup_command(&dir, to.as_deref()).map_err(|e| e.to_string()));
    match outcome {
        Ok(made) => {
            println!(
                "aicfo-server: backup written to {} ({} bytes)",
                made.path.display(),
                made.size
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aicfo-server backup failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn restore_command(file: &std::path::Path) -> ExitCode {
    let outcome =
        console_data_dir().and_then(|dir| backup::restore(&dir, file).map_err(|e| e.to_string()));
    match outcome {
        Ok(done) => {
            println!(
                "aicfo-server: restored {} (schema version {})",
                file.display(),
                done.schema_version
            );
            if let Some(aside) = &done.replaced {
                println!(
                    "aicfo-server: the database it replaced is kept as {}",
                    aside.display()
                );
            }
            print_security_reset(&done);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aicfo-server restore refused: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the restore did so old secrets stay dead, and what an administrator must redo.
fn print_security_reset(done: &backup::Restored) {
    println!(
        "aicfo-server: every user must sign in again; {} unused enrolment code(s) from the backup \
         were revoked",
        done.codes_revoked
    );
    for (id, name) in &done.revocations_undone {
        println!(
            "aicfo-server: WARNING connector {id} ({name}) was revoked in the replaced database \
             but not in the backup: revoke it again"
        );
    }
}
