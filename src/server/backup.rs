//! Backups of the database: a consistent copy while the server runs (`VACUUM INTO`, a read
//! transaction, so writers go on), taken by hand (`aicfo-server backup`), daily by the server,
//! and before every schema migration; and `aicfo-server restore`, which checks a backup before
//! it replaces anything and keeps the replaced database aside.
//!
//! Backups live in `backups/` in the data folder as `aicfo-<UTC time>-<kind>.sqlite3`. Only the
//! daily ones are pruned (to `AICFO_BACKUP_KEEP`); those taken by hand or before a migration
//! stay until someone deletes them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags};
use time::OffsetDateTime;

mod restore_guard;

use super::clock::rfc3339;
use super::data_lock::DataLock;
use super::db;
use super::DATABASE_FILE;
use crate::protocol::BackupInfo;

pub const BACKUP_DIR: &str = "backups";
const DAILY: &str = "daily";
/// How often the server looks whether the daily backup is due.
const CHECK_EVERY: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(String);

impl BackupError {
    fn new(message: impl Into<String>) -> Self {
        BackupError(message.into())
    }
}

/// A backup written: where, and how big.
#[derive(Debug, Clone)]
pub struct Made {
    pub path: PathBuf,
    pub size: u64,
}

/// Why a backup is taken; it names the file.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Manual,
    Daily,
    BeforeMigration { from: i64, to: i64 },
}

impl Kind {
    fn label(self) -> String {
        match self {
            Kind::Manual => "manual".into(),
            Kind::Daily => DAILY.into(),
            Kind::BeforeMigration { from, to } => format!("before-v{from}-to-v{to}"),
        }
    }
}

/// `20261126T145203123Z`: sorts as time does, and is safe in a file name everywhere.
pub fn stamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

pub fn backup_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(BACKUP_DIR)
}

/// Writes a consistent copy of the database `conn` is open on to `dest`, which must not exist.
/// The copy appears under its name only once complete.
pub fn copy_into(conn: &Connection, dest: &Path) -> Result<Made, BackupError> {
    if dest.exists() {
        return Err(BackupError::new(format!(
            "{} already exists; name a new file",
            dest.display()
        )));
    }
    let partial = PathBuf::from(format!("{}.partial", dest.display()));
    let _ = std::fs::remove_file(&partial);
    let target = partial
        .to_str()
        .ok_or_else(|| BackupError::new(format!("{} is not a UTF-8 path", partial.display())))?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [target]) {
        let _ = std::fs::remove_file(&partial);
        return Err(BackupError::new(format!(
            "cannot write {}: {e}",
            dest.display()
        )));
    }
    make_private(&partial);
    std::fs::rename(&partial, dest)
        .map_err(|e| BackupError::new(format!("cannot write {}: {e}", dest.display())))?;
    let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    Ok(Made {
        path: dest.to_path_buf(),
        size,
    })
}

/// A backup holds every client's books: owner-only, whatever the umask was.
fn make_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Opens the live database for a backup, never creating one.
fn open_live(db_file: &Path) -> Result<Connection, BackupError> {
    if !db_file.is_file() {
        return Err(BackupError::new(format!(
            "there is no database at {}: nothing to back up (is AICFO_DATA_DIR right?)",
            db_file.display()
        )));
    }
    let conn = Connection::open_with_flags(
        db_file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| BackupError::new(format!("cannot open {}: {e}", db_file.display())))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| BackupError::new(e.to_string()))?;
    Ok(conn)
}

/// Takes a backup of `conn`'s database into the data folder's `backups/`.
pub fn take_with(conn: &Connection, data_dir: &Path, kind: Kind) -> Result<Made, BackupError> {
    let dir = backup_dir(data_dir);
    super::fs_perms::create_private_dir(&dir)
        .map_err(|e| BackupError::new(format!("cannot create {}: {e}", dir.display())))?;
    let name = format!(
        "aicfo-{}-{}.sqlite3",
        stamp(OffsetDateTime::now_utc()),
        kind.label()
    );
    copy_into(conn, &dir.join(name))
}

/// Takes a backup of the data folder's database into its `backups/`.
pub fn take(data_dir: &Path, kind: Kind) -> Result<Made, BackupError> {
    let conn = open_live(&data_dir.join(DATABASE_FILE))?;
    take_with(&conn, data_dir, kind)
}

/// `aicfo-server backup [--to FILE]`.
pub fn backup_command(data_dir: &Path, to: Option<&Path>) -> Result<Made, BackupError> {
    match to {
        Some(dest) => copy_into(&open_live(&data_dir.join(DATABASE_FILE))?, dest),
        None => take(data_dir, Kind::Manual),
    }
}

/// A backup file in `backups/`.
#[derive(Debug, Clone)]
pub struct BackupFile {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub size: u64,
}

impl BackupFile {
    fn is_daily(&self) -> bool {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(&format!("-{DAILY}.sqlite3")))
    }
}

/// Every backup in `backups/`, oldest first.
pub fn list(data_dir: &Path) -> Vec<BackupFile> {
    let Ok(entries) = std::fs::read_dir(backup_dir(data_dir)) else {
        return Vec::new();
    };
    let mut found: Vec<BackupFile> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with("aicfo-") && name.ends_with(".sqlite3")
        })
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some(BackupFile {
                path: e.path(),
                modified: meta.modified().ok()?,
                size: meta.len(),
            })
        })
        .collect();
    found.sort_by(|a, b| (a.modified, &a.path).cmp(&(b.modified, &b.path)));
    found
}

/// The newest backup, for the health and overview answers.
pub fn last_backup(data_dir: &Path) -> Option<BackupInfo> {
    let newest = list(data_dir).pop()?;
    let ms = newest
        .modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_millis();
    Some(BackupInfo {
        at: rfc3339(i64::try_from(ms).ok()?),
        size: newest.size,
    })
}

/// Removes the oldest daily backups beyond `keep`; returns what it removed.
pub fn prune_daily(data_dir: &Path, keep: usize) -> Vec<PathBuf> {
    let daily: Vec<BackupFile> = list(data_dir)
        .into_iter()
        .filter(|b| b.is_daily())
        .collect();
    let surplus = daily.len().saturating_sub(keep);
    daily
        .into_iter()
        .take(surplus)
        .filter(|b| std::fs::remove_file(&b.path).is_ok())
        .map(|b| b.path)
        .collect()
}

/// A daily backup is due when none was taken in the last 24 hours.
pub fn daily_due(data_dir: &Path, now: SystemTime) -> bool {
    !list(data_dir)
        .iter()
        .filter(|b| b.is_daily())
        .any(|b| now.duration_since(b.modified).is_ok_and(|age| age < DAY))
}

/// Takes the daily backup when due, and prunes; on the blocking pool.
fn daily_round(data_dir: &Path, keep: usize) {
    if !daily_due(data_dir, SystemTime::now()) {
        return;
    }
    match take(data_dir, Kind::Daily) {
        Ok(made) => log::info!(
            "daily backup written to {} ({} bytes)",
            made.path.display(),
            made.size
        ),
        Err(e) => log::error!("daily backup failed: {e}"),
    }
    for old in prune_daily(data_dir, keep) {
        log::info!("removed the old daily backup {}", old.display());
    }
}

/// Looks every hour (and at once) whether the daily backup is due.
pub fn spawn_daily(data_dir: PathBuf, keep: usize) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        loop {
            tick.tick().await;
            let dir = data_dir.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || daily_round(&dir, keep)).await {
                log::error!("daily backup task: {e}");
            }
        }
    });
}

/// What `restore` did.
#[derive(Debug)]
pub struct Restored {
    pub schema_version: i64,
    /// Where the database it replaced was moved, when there was one.
    pub replaced: Option<PathBuf>,
    /// Connectors the replaced database had revoked and the restored one has not (id, device
    /// name): the restore undid their revocation, and an administrator must revoke them again.
    pub revocations_undone: Vec<(String, String)>,
    /// Enrolment codes still unused in the backup, revoked by the restore.
    pub codes_revoked: usize,
}

/// The checks a backup passes before it may replace the live database: SQLite's own integrity
/// check, and a schema this binary knows. Returns its schema version.
pub fn check_backup(file: &Path) -> Result<i64, BackupError> {
    let bad = |why: String| BackupError::new(format!("{}: {why}", file.display()));
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| bad(e.to_string()))?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                bad(format!("fails SQLite's integrity check ({e})"))
            }
            _ => bad(format!("not a readable SQLite database ({e})")),
        })?;
    if problems != ["ok"] {
        let first: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
        return Err(bad(format!(
            "fails SQLite's integrity check: {}",
            first.join("; ")
        )));
    }
    let version = db::recorded_schema_version(&conn)
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("not an aicfo database (it has no schema history)".into()))?;
    let known = db::known_schema_version();
    if version > known {
        return Err(bad(format!(
            "it has schema version {version}, written by a newer aicfo-server; this one knows \
             versions up to {known}. Restore it with the newer aicfo-server."
        )));
    }
    Ok(version)
}

/// `aicfo-server restore FILE`: refuses while a server holds the data folder; copies the file
/// into the folder and checks the copy, so a refusal changes nothing; then moves the live
/// database aside (`aicfo.sqlite3.replaced-<time>`, with its WAL) and the copy into its place.
pub fn restore(data_dir: &Path, file: &Path) -> Result<Restored, BackupError> {
    if !file.is_file() {
        return Err(BackupError::new(format!(
            "{} is not a file",
            file.display()
        )));
    }
    // A folder made here would be the wrong one (a typo, or not the service's): the data
    // folder is made by the appliance's first start or its service install.
    if !data_dir.is_dir() {
        return Err(BackupError::new(format!(
            "there is no data folder at {}; set AICFO_DATA_DIR to the appliance's data folder, \
             or start the appliance once to create it",
            data_dir.display()
        )));
    }
    let _lock = DataLock::acquire(data_dir).map_err(|e| BackupError::new(e.to_string()))?;
    let staging = data_dir.join(format!("{DATABASE_FILE}.restoring"));
    remove_with_journals(&staging);
    std::fs::copy(file, &staging)
        .map_err(|e| BackupError::new(format!("cannot copy {}: {e}", file.display())))?;
    make_private(&staging);
    let checked = check_backup(&staging).map_err(|e| {
        remove_with_journals(&staging);
        // Name the file the user gave, not the staging copy.
        BackupError::new(
            e.to_string()
                .replace(&staging.display().to_string(), &file.display().to_string()),
        )
    })?;
    let secured = restore_guard::secure(&staging, &data_dir.join(DATABASE_FILE))
        .inspect_err(|_| remove_with_journals(&staging))?;
    let replaced = set_aside(data_dir)?;
    put_in_place(&staging, data_dir, replaced.as_deref())?;
    Ok(Restored {
        schema_version: checked,
        replaced,
        revocations_undone: secured.revocations_undone,
        codes_revoked: secured.codes_revoked,
    })
}

/// Renames the checked copy to the live database; when that fails, the database set aside goes
/// back, so a failed restore leaves the folder as it found it.
fn put_in_place(staging: &Path, data_dir: &Path, aside: Option<&Path>) -> Result<(), BackupError> {
    let live = data_dir.join(DATABASE_FILE);
    let Err(e) = std::fs::rename(staging, &live) else {
        return Ok(());
    };
    remove_with_journals(staging);
    if let Some(aside) = aside {
        let wal_aside = PathBuf::from(format!("{}-wal", aside.display()));
        if wal_aside.exists() {
            let _ = std::fs::rename(&wal_aside, format!("{}-wal", live.display()));
        }
        if let Err(back) = std::fs::rename(aside, &live) {
            return Err(BackupError::new(format!(
                "cannot put the backup in place: {e}; and cannot put the replaced database back \
                 ({back}): it is kept as {}",
                aside.display()
            )));
        }
    }
    Err(BackupError::new(format!(
        "cannot put the backup in place: {e}; nothing was replaced"
    )))
}

fn remove_with_journals(db_file: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_file.display()));
    }
}

/// Moves the live database (and its WAL, which may hold its last commits) aside.
fn set_aside(data_dir: &Path) -> Result<Option<PathBuf>, BackupError> {
    let live = data_dir.join(DATABASE_FILE);
    if !live.exists() {
        return Ok(None);
    }
    let aside = data_dir.join(format!(
        "{DATABASE_FILE}.replaced-{}",
        stamp(OffsetDateTime::now_utc())
    ));
    let move_one = |from: PathBuf, to: PathBuf| {
        std::fs::rename(&from, &to).map_err(|e| {
            BackupError::new(format!(
                "cannot move {} aside: {e}; nothing was replaced",
                from.display()
            ))
        })
    };
    // The WAL first: a WAL left beside the restored file would be replayed into it.
    let wal = PathBuf::from(format!("{}-wal", live.display()));
    let wal_aside = PathBuf::from(format!("{}-wal", aside.display()));
    let had_wal = wal.exists();
    if had_wal {
        move_one(wal.clone(), wal_aside.clone())?;
    }
    if let Err(e) = move_one(live.clone(), aside.clone()) {
        if had_wal {
            let _ = std::fs::rename(&wal_aside, &wal);
        }
        return Err(e);
    }
    let _ = std::fs::remove_file(format!("{}-shm", live.display()));
    Ok(Some(aside))
}
