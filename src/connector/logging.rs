//! Logs: `logs/connector.log` (everything at `log_level`) and `logs/connector-error.log`
//! (errors only), rotated at 10 MB with five old files kept, a timestamp on every line; and a
//! short readable line on the console.

use std::path::Path;

use flexi_logger::writers::FileLogWriter;
use flexi_logger::{Cleanup, Criterion, DeferredNow, Duplicate, Logger, LoggerHandle};
use log::{LevelFilter, Record};

use crate::log_files::{file_spec, write_file_line, LOG_DIR, NAMING};

const ROTATE_AT: u64 = 10 * 1024 * 1024;

/// The rotation size: 10 MB, or `AICFO_CONNECTOR_LOG_ROTATE_BYTES` (lets a test see rotation
/// without writing 10 MB).
fn rotate_at() -> u64 {
    std::env::var("AICFO_CONNECTOR_LOG_ROTATE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1024)
        .unwrap_or(ROTATE_AT)
}
const KEEP: usize = 5;

fn file_line(
    w: &mut dyn std::io::Write,
    now: &mut DeferredNow,
    record: &Record,
) -> std::io::Result<()> {
    let source = record.module_path().unwrap_or("-");
    write_file_line(w, now, record.level(), source, record.args())
}

fn console_line(
    w: &mut dyn std::io::Write,
    now: &mut DeferredNow,
    record: &Record,
) -> std::io::Result<()> {
    let tag = match record.level() {
        log::Level::Error => "ERROR ",
        log::Level::Warn => "WARNING ",
        _ => "",
    };
    write!(w, "{} {tag}{}", now.format("%H:%M:%S"), record.args())
}

/// Starts logging into `home/logs`. Keep the handle alive for the life of the program.
pub fn init(home: &Path, level: &str, console: bool) -> Result<LoggerHandle, String> {
    let dir = home.join(LOG_DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the log folder {}: {e}", dir.display()))?;
    let errors = FileLogWriter::builder(file_spec(&dir, "connector-error"))
        .max_level(LevelFilter::Error)
        .format(file_line)
        .append()
        .rotate(
            Criterion::Size(rotate_at()),
            NAMING,
            Cleanup::KeepLogFiles(KEEP),
        )
        .try_build()
        .map_err(|e| format!("cannot open the error log: {e}"))?;
    let console_level = if console {
        match level {
            "error" => Duplicate::Error,
            "warn" => Duplicate::Warn,
            "debug" => Duplicate::Debug,
            "trace" => Duplicate::Trace,
            _ => Duplicate::Info,
        }
    } else {
        Duplicate::None
    };
    // Our own messages at the chosen level; the HTTP stack only when it has something to say.
    Logger::try_with_str(format!(
        "{level}, hyper=warn, hyper_util=warn, reqwest=warn, h2=warn"
    ))
    .map_err(|e| format!("log_level: {e}"))?
    .log_to_file_and_writer(file_spec(&dir, "connector"), Box::new(errors))
    .format_for_files(file_line)
    .append()
    .rotate(
        Criterion::Size(rotate_at()),
        NAMING,
        Cleanup::KeepLogFiles(KEEP),
    )
    .duplicate_to_stdout(console_level)
    .format_for_stdout(console_line)
    .start()
    .map_err(|e| format!("cannot start logging into {}: {e}", dir.display()))
}
