//! The books of every client firm and the password hashes live in the data folder: only the
//! appliance's own user may read them. New files are created owner-only (umask 077); a folder or
//! database file that others can already reach is tightened, or the appliance refuses to start.

use std::path::Path;

#[cfg(unix)]
use super::DATABASE_FILE;

/// Files in the data folder that hold books, hashes or secrets.
#[cfg(unix)]
const PRIVATE_FILES: &[&str] = &[
    DATABASE_FILE,
    "aicfo.sqlite3-wal",
    "aicfo.sqlite3-shm",
    "aicfo.sqlite3-journal",
    "secrets.json",
    "admin-password.txt",
];

/// Every file and folder this process creates from now on is readable by its user only.
#[cfg(unix)]
pub fn create_owner_only() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Windows has no umask: a new file takes its folder's access list. The service's data folder
/// is locked down when the service is installed (`crate::service_place`); a console run
/// keeps the access of the folder it is given.
#[cfg(not(unix))]
pub fn create_owner_only() {}

/// Creates `dir` (and missing parents) readable by this user only, whatever the umask.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes `path` owner-only if group or others have any access. Returns what was changed, as a
/// sentence; an error when it could not be done.
#[cfg(unix)]
fn tighten(path: &Path, private_mode: u32) -> Result<Option<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(None);
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(private_mode)).map_err(|e| {
        format!(
            "{} can be read by other users (mode {mode:o}) and could not be made private: {e}",
            path.display()
        )
    })?;
    Ok(Some(format!(
        "{} could be read by other users (mode {mode:o}); it is now owner-only ({private_mode:o})",
        path.display()
    )))
}

/// Tightens the data folder to 700 and its private files to 600 where others could reach them.
/// Returns one sentence per change, for the start-up output.
#[cfg(unix)]
pub fn secure_data_dir(dir: &Path) -> Result<Vec<String>, String> {
    let mut changed = Vec::new();
    changed.extend(tighten(dir, 0o700)?);
    for name in PRIVATE_FILES {
        changed.extend(tighten(&dir.join(name), 0o600)?);
    }
    Ok(changed)
}

/// Windows access lists are not modes: the folder's list decides, and the service install sets
/// it (`crate::service_place`). Changing it at every start would lock out the user of a
/// console run.
#[cfg(not(unix))]
pub fn secure_data_dir(_dir: &Path) -> Result<Vec<String>, String> {
    Ok(Vec::new())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_open_folder_and_its_database_are_made_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DATABASE_FILE);
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let said = secure_data_dir(dir.path()).unwrap();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("mode 755"), "{said:?}");
        assert_eq!((mode(dir.path()), mode(&db)), (0o700, 0o600));
        assert!(secure_data_dir(dir.path()).unwrap().is_empty());
    }
}
