//! SQLite access. One writer connection (SQLite allows one writer at a time anyway, and a mutex
//! queues writers fairly where busy-retries would not) and a small pool of readers; WAL lets them
//! read while the writer writes. All work runs on Tokio's blocking pool, never on Rocket's workers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::error::{ApiError, ApiResult};

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
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, String> {
        let mut writer = Connection::open(path)
            .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        configure(&writer)
            .map_err(|e| format!("cannot configure database {}: {e}", path.display()))?;
        let report = embedded::migrations::runner()
            .run(&mut writer)
            .map_err(|e| format!("database migration failed: {e}"))?;
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
    pub async fn write<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> ApiResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.write_blocking(f))
            .await
            .map_err(|e| ApiError::internal("database writer task", e))?
    }

    /// Runs `f` on a reader connection inside a read transaction (one consistent view).
    pub async fn read<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> ApiResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.read_blocking(f))
            .await
            .map_err(|e| ApiError::internal("database reader task", e))?
    }

    /// The same as [`Db::write`] for callers that are not async (start-up, tools).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        self.inner.write_blocking(f)
    }

    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> ApiResult<T>) -> ApiResult<T> {
        self.inner.read_blocking(f)
    }
}

impl Inner {
    fn write_blocking<T>(&self, f: impl FnOnce(&Transaction<'_>) -> ApiResult<T>) -> ApiResult<T> {
        // A panic while holding the lock poisons it; the connection itself is still sound
        // (the transaction was dropped and rolled back), so keep using it.
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> ApiResult<T>) -> ApiResult<T> {
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

pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

const RFC3339_MILLIS: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// RFC 3339 text (UTC, milliseconds) for a stored millisecond time.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(RFC3339_MILLIS).ok())
        .unwrap_or_default()
}
