//! The server's log: `logs/aicfo-server.log` in the data folder (rotated at `log_rotate_bytes`,
//! 10 MB by default, ten old files kept, a timestamp on every line) and the console. Rocket's own messages go to both, since
//! Rocket leaves the logging to whichever logger the process set first.

use std::path::Path;

use flexi_logger::{Cleanup, Criterion, DeferredNow, Duplicate, Logger, LoggerHandle};
use log::Record;
use rocket::config::LogLevel;

use super::StartError;
use crate::log_files::{file_spec, write_file_line, LOG_DIR, NAMING};

const KEEP: usize = 10;

fn file_line(
    w: &mut dyn std::io::Write,
    now: &mut DeferredNow,
    record: &Record,
) -> std::io::Result<()> {
    let message = record.args().to_string();
    write_file_line(w, now, record.level(), record.target(), redacted(&message))
}

/// A download link is a credential for its five minutes, and Rocket logs every request's full
/// URI: the `link=` value never reaches the log.
fn redacted(line: &str) -> std::borrow::Cow<'_, str> {
    const KEY: &str = "link=";
    if !line.contains(KEY) {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(KEY) {
        let (before, after) = rest.split_at(at + KEY.len());
        out.push_str(before);
        out.push_str("[redacted]");
        let end = after
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || c.is_control())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out.into()
}

/// The console shows what Rocket's own logger would: the message alone.
fn console_line(
    w: &mut dyn std::io::Write,
    _now: &mut DeferredNow,
    record: &Record,
) -> std::io::Result<()> {
    let line = record.args().to_string();
    let line = redacted(&line);
    match record.level() {
        log::Level::Error => write!(w, "ERROR {line}"),
        log::Level::Warn => write!(w, "WARNING {line}"),
        _ => write!(w, "{line}"),
    }
}

/// Rocket's `log_level` setting (`ROCKET_LOG_LEVEL`) as a log filter; the HTTP stack below
/// Rocket only when it has something to say.
fn filter(level: LogLevel) -> (&'static str, Duplicate) {
    match level {
        LogLevel::Off => ("off", Duplicate::None),
        LogLevel::Critical => ("warn, hyper=error", Duplicate::Warn),
        LogLevel::Normal => ("info, hyper=warn, hyper_util=warn", Duplicate::Info),
        LogLevel::Debug => ("debug", Duplicate::Debug),
    }
}

/// Starts logging into `data_dir/logs`. A folder the appliance cannot write is a start-up error.
pub fn init(data_dir: &Path, level: LogLevel, rotate_at: u64) -> Result<LoggerHandle, StartError> {
    let dir = data_dir.join(LOG_DIR);
    let unwritable = |e: &dyn std::fmt::Display| {
        StartError::new(format!(
            "cannot write the log into {} ({e}); the data folder must be writable by the user \
             the appliance runs as",
            dir.display()
        ))
    };
    super::fs_perms::create_private_dir(&dir).map_err(|e| unwritable(&e))?;
    let (spec, console) = filter(level);
    Logger::try_with_str(spec)
        .map_err(|e| StartError::because("log_level", e))?
        .log_to_file(file_spec(&dir, "aicfo-server"))
        .format_for_files(file_line)
        .append()
        .rotate(
            Criterion::Size(rotate_at),
            NAMING,
            Cleanup::KeepLogFiles(KEEP),
        )
        .duplicate_to_stdout(console)
        .format_for_stdout(console_line)
        .start()
        .map_err(|e| unwritable(&e))
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_download_link_is_redacted_and_nothing_else_changes() {
        assert_eq!(
            redacted("GET /download/connector?companyId=a&link=eyJ.x.y&target=linux:"),
            "GET /download/connector?companyId=a&link=[redacted]&target=linux:"
        );
        assert_eq!(
            redacted("GET /download/connector?link=eyJ.x.y"),
            "GET /download/connector?link=[redacted]"
        );
        assert_eq!(
            redacted("POST /api/download-links:"),
            "POST /api/download-links:"
        );
    }
}
