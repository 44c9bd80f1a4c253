//! What the server's and the connector's log files have in common: the folder, how the current
//! and the rotated files are named, and the line each writes. Kept in one place so that the two
//! programs' logs read alike to whoever has to compare them after a failed sync.

use std::fmt::Display;
use std::io::Write;
use std::path::Path;

use flexi_logger::{DeferredNow, FileSpec, Naming};
use log::Level;

/// The logs' folder, under the connector's home or the appliance's data folder.
pub const LOG_DIR: &str = "logs";

/// The current file is plain `<name>.log`, as the deployment guide names it; rotated ones carry
/// the time of rotation (`connector_r2026-11-26_04-40-00.log`).
pub const NAMING: Naming = Naming::TimestampsCustomFormat {
    current_infix: Some(""),
    format: "r%Y-%m-%d_%H-%M-%S",
};

/// `dir/<basename>.log`, without the start time flexi_logger would put in the name.
pub fn file_spec(dir: &Path, basename: &str) -> FileSpec {
    FileSpec::default()
        .directory(dir)
        .basename(basename)
        .suppress_timestamp()
        .suffix("log")
}

/// One line of a log file: the time with its UTC offset (a PC's clock and the appliance's need
/// not agree), the level, where the message comes from, and the message.
pub fn write_file_line(
    w: &mut dyn Write,
    now: &mut DeferredNow,
    level: Level,
    source: &str,
    message: impl Display,
) -> std::io::Result<()> {
    write!(
        w,
        "{} {:<5} [{}] {}",
        now.format("%Y-%m-%d %H:%M:%S%.3f %:z"),
        level,
        source,
        message
    )
}
