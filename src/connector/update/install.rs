//! From a verified archive to the program in place: unpack the program, make sure it runs and
//! is the version announced (`version`) and can read this PC's settings (`self-test`), then
//! swap it in, keeping the running program beside it as the previous one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The program inside a release archive, as packaging/build.sh names it.
pub fn program_in_archive() -> &'static str {
    if cfg!(windows) {
        "AICFOConnector.exe"
    } else {
        "aicfo-connector"
    }
}

/// `AICFOConnector.exe` → `AICFOConnector.previous.exe`; `aicfo-connector` → `aicfo-connector.previous`.
pub fn previous_path(program: &Path) -> PathBuf {
    let stem = program
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "aicfo-connector".into());
    let name = match program.extension() {
        Some(ext) => format!("{stem}.previous.{}", ext.to_string_lossy()),
        None => format!("{stem}.previous"),
    };
    program.with_file_name(name)
}

/// The program's folder must take new files, or the swap cannot happen: checked before any
/// download (a connector installed where its user may not write, such as Program Files
/// without an administrator's rights, fails here rather than after fetching the archive).
pub fn folder_writable(program: &Path) -> Result<(), String> {
    let probe = program.with_file_name(".aicfo-connector.write-test");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            format!(
                "the program's folder {} cannot be written ({e}), so the program cannot be replaced; move the connector to a folder its user may change.",
                program.parent().unwrap_or(program).display()
            )
        })
}

/// Unpacks the program into `dir` and makes it runnable.
pub fn extract(archive: &Path, dir: &Path) -> Result<PathBuf, String> {
    let name = program_in_archive();
    let file = std::fs::File::open(archive).map_err(|e| format!("cannot open the archive: {e}"))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| format!("the archive is not a ZIP: {e}"))?;
    let mut entry = zip
        .by_name(name)
        .map_err(|e| format!("the archive holds no {name}: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dest = dir.join(name);
    let write = |dest: &Path, entry: &mut dyn std::io::Read| -> std::io::Result<()> {
        let mut out = std::fs::File::create(dest)?;
        std::io::copy(entry, &mut out)?;
        out.sync_all()
    };
    write(&dest, &mut entry).map_err(|e| format!("cannot unpack {name}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot make {name} runnable: {e}"))?;
    }
    Ok(dest)
}

/// Runs `program args`, giving it `limit` to finish; its exit status and standard output.
fn run(
    program: &Path,
    args: &[&std::ffi::OsStr],
    limit: Duration,
) -> Result<(bool, String), String> {
    let mut child = Command::new(program)
        .args(args)
        .env_remove("AICFO_CONNECTOR_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("the new program does not start: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the new program did not finish `{}` within {} s",
                    args.first()
                        .map(|a| a.to_string_lossy())
                        .unwrap_or_default(),
                    limit.as_secs()
                ));
            }
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
    }
    Ok((status.success(), out))
}

/// The new program must say it is `expected` and pass its self-test with this PC's config.json.
pub fn check(program: &Path, expected: &str, home: &Path) -> Result<(), String> {
    let limit = Duration::from_secs(30);
    let (ok, out) = run(program, &["version".as_ref()], limit)?;
    let said = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("aicfo-connector "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("");
    if !ok || said != expected {
        return Err(format!(
            "the new program says it is version `{said}`, not {expected}; it was not installed."
        ));
    }
    let (ok, out) = run(
        program,
        &["self-test".as_ref(), "--home".as_ref(), home.as_os_str()],
        limit,
    )?;
    if !ok {
        return Err(format!(
            "the new program failed its self-test ({}); it was not installed.",
            out.trim()
        ));
    }
    Ok(())
}

/// Swaps `new` in for the running program, which is kept as the previous one. Should the
/// swap break off half-way, the previous program is put back, so the folder always holds a
/// program that starts.
pub fn swap(program: &Path, new: &Path) -> Result<PathBuf, String> {
    let previous = previous_path(program);
    std::fs::copy(program, &previous).map_err(|e| {
        format!(
            "cannot keep the running program as {}: {e}",
            previous.display()
        )
    })?;
    if let Err(e) = self_replace::self_replace(new) {
        if !program.exists() {
            if let Err(back) = restore(&previous, program) {
                log::error!("the program could not be put back after a failed swap: {back}");
            }
        }
        return Err(format!("cannot put the new program in place: {e}"));
    }
    Ok(previous)
}

/// Puts `previous` back at `program` (which is not running): a copy beside it, then a rename,
/// so `program` is always either the one or the other.
pub fn restore(previous: &Path, program: &Path) -> std::io::Result<()> {
    let tmp = program.with_file_name(".aicfo-connector.restoring");
    std::fs::copy(previous, &tmp)?;
    std::fs::rename(&tmp, program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_program_keeps_its_extension() {
        assert_eq!(
            previous_path(Path::new("C:/x/AICFOConnector.exe")),
            Path::new("C:/x/AICFOConnector.previous.exe")
        );
        assert_eq!(
            previous_path(Path::new("/opt/aicfo/aicfo-connector")),
            Path::new("/opt/aicfo/aicfo-connector.previous")
        );
    }
}
