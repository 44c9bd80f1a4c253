//! SQLite access. One writer connection (SQLite allows one writer at a time anyway, and a mutex
//! queues writers fairly where busy-retries would not) and a small pool of readers; WAL lets them
//! read while the writer writes. All work runs on Tokio's blocking pool, never on Rocket's workers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::backup;
use super::domain_error::{DomainError, DomainResult};
use super::start_error::StartError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

const MAX_IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    // NORMAL in WAL mode: a commit survives the process dying at any point; only an OS crash or
    // power cut can roll back the last commits, never corrupt the file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32000;",
    )
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up to date. Refuses a
    /// database a newer appliance has migrated: this binary would not know its tables.
    pub fn open(path: &Path) -> Result<Db, StartError> {
        let shown = path.display();
        let mut writer = Connection::open(path)
            .and_then(|c| configure(&c).map(|()| c))
            .map_err(|e| StartError::because(format!("cannot open the database {shown}"), e))?;
        let runner = embedded::migrations::runner();
        let found = refuse_newer_schema(&writer, path)?;
        backup_before_migrating(&writer, path, found)?;
        let report = runner
            .run(&mut writer)
            .map_err(|e| StartError::because(format!("cannot migrate the database {shown}"), e))?;
        for m in report.applied_migrations() {
            log::info!("applied migration {}", m);
        }
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in one IMMEDIATE transaction on the writer; commits when `f` returns `Ok`,
    /// rolls everything back when it returns `Err`.
    pub async fn write<T, F>(&self, f: F) -> DomainResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> DomainResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.write_blocking(f))
            .await
            .map_err(|e| DomainError::internal("database writer task", e))?
    }

    /// Runs `f` on a reader connection inside a read transaction (one consistent view).
    pub async fn read<T, F>(&self, f: F) -> DomainResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DomainResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.read_blocking(f))
            .await
            .map_err(|e| DomainError::internal("database reader task", e))?
    }

    /// The same as [`Db::write`] for callers that are not async (start-up, tools).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> DomainResult<T>,
    ) -> DomainResult<T> {
        self.inner.write_blocking(f)
    }

    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> DomainResult<T>,
    ) -> DomainResult<T> {
        self.inner.read_blocking(f)
    }
}

impl Inner {
    fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> DomainResult<T>,
    ) -> DomainResult<T> {
        // A panic while holding the lock poisons it; the connection itself is still sound
        // (the transaction was dropped and rolled back), so keep using it.
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> DomainResult<T>) -> DomainResult<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c)?;
                c
            }
        };
        conn.execute_batch("BEGIN DEFERRED")?;
        let out = f(&conn);
        let ended = conn.execute_batch("COMMIT");
        if ended.is_ok() {
            let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        let out = out?;
        ended?;
        Ok(out)
    }
}

/// The newest schema version this binary's migrations reach.
pub fn known_schema_version() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// The highest schema version this database was migrated to, when refinery has recorded any.
pub fn recorded_schema_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let has_history: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'refinery_schema_history')",
        [],
        |r| r.get(0),
    )?;
    if !has_history {
        return Ok(None);
    }
    conn.query_row(
        "SELECT MAX(version) FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )
}

/// Refuses a database a newer binary migrated; returns the version it found, if any.
fn refuse_newer_schema(conn: &Connection, path: &Path) -> Result<Option<i64>, StartError> {
    let found = recorded_schema_version(conn).map_err(|e| {
        StartError::because(
            format!("cannot read the schema version of {}", path.display()),
            e,
        )
    })?;
    let known = known_schema_version();
    match found {
        Some(found) if found > known => Err(StartError::new(format!(
            "the database {} has schema version {found}, written by a newer aicfo-server; this one \
             knows versions up to {known}. Run the newer aicfo-server, or restore a backup made \
             by this version.",
            path.display()
        ))),
        _ => Ok(found),
    }
}

/// An existing database about to be migrated is first copied into the data folder's backups/,
/// so an upgrade that goes wrong can be undone with `aicfo-server restore`. A new database has
/// nothing to keep.
fn backup_before_migrating(
    conn: &Connection,
    path: &Path,
    found: Option<i64>,
) -> Result<(), StartError> {
    let known = known_schema_version();
    let Some(from) = found.filter(|v| *v < known) else {
        return Ok(());
    };
    let data_dir = path.parent().unwrap_or(Path::new("."));
    let made = backup::take_with(
        conn,
        data_dir,
        backup::Kind::BeforeMigration { from, to: known },
    )
    .map_err(|e| {
        StartError::because(
            format!("cannot back up the database before migrating it from version {from}"),
            e,
        )
    })?;
    log::info!(
        "before migrating the database from schema version {from} to {known}: backup written to {}",
        made.path.display()
    );
    Ok(())
}
