//! Heartbeats are kept in memory and written to SQLite in batches.
//!
//! A heartbeat that waited for the database's one writer would wait behind every ingestion
//! (hundreds of milliseconds for a large company). So a heartbeat only updates this book; a
//! background task writes what changed every [`FLUSH_EVERY`], in one transaction, and once more
//! at shutdown, so after a restart the online state is right within one flush interval. The
//! status reads the book over the database.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection};

use crate::protocol::HeartbeatRequest;
use crate::server::db::Db;
use crate::server::domain_error::{cause_chain, DomainError, DomainResult};

/// How often what changed is written to the database.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// One connector's last heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Beat {
    pub at_ms: i64,
    pub interval_secs: u32,
    /// The heartbeat's body as JSON, shown as the agent's state.
    pub state_json: String,
    pub app_version: Option<String>,
}

impl Beat {
    pub fn new(hb: &HeartbeatRequest, at_ms: i64, default_interval: u32) -> DomainResult<Beat> {
        Ok(Beat {
            at_ms,
            interval_secs: hb.interval_seconds.unwrap_or(default_interval),
            state_json: serde_json::to_string(hb)
                .map_err(|e| DomainError::internal("heartbeat state", e))?,
            app_version: hb.app_version.clone(),
        })
    }
}

#[derive(Default)]
struct Book {
    last: HashMap<String, Beat>,
    unwritten: HashSet<String>,
}

#[derive(Default)]
pub struct Heartbeats(Mutex<Book>);

impl Heartbeats {
    pub fn record(&self, connector_id: &str, beat: Beat) {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.unwritten.insert(connector_id.to_string());
        book.last.insert(connector_id.to_string(), beat);
    }

    /// The last heartbeat of each of `ids` this process has seen.
    pub fn last_of<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> HashMap<String, Beat> {
        let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ids.into_iter()
            .filter_map(|id| book.last.get(id).map(|b| (id.to_string(), b.clone())))
            .collect()
    }

    /// Takes what is not yet written; hand it to [`write`], then to [`Heartbeats::written`] or,
    /// when writing failed, [`Heartbeats::unwritten`].
    pub fn take_unwritten(&self) -> Vec<(String, Beat)> {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let ids = std::mem::take(&mut book.unwritten);
        ids.into_iter()
            .filter_map(|id| book.last.get(&id).cloned().map(|b| (id, b)))
            .collect()
    }

    /// Writing `batch` failed: its beats are written with the next batch.
    pub fn unwritten(&self, batch: &[(String, Beat)]) {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.unwritten
            .extend(batch.iter().map(|(id, _)| id.clone()));
    }
}

/// Writes what the book has not yet written, in one transaction; on failure it stays in the book
/// for the next flush.
pub async fn flush(db: &Db, book: &Arc<Heartbeats>) {
    let batch = book.take_unwritten();
    if batch.is_empty() {
        return;
    }
    let batch = Arc::new(batch);
    let to_write = batch.clone();
    if let Err(e) = db.write(move |tx| write(tx, &to_write)).await {
        log::error!("writing {} heartbeat(s): {}", batch.len(), cause_chain(&e));
        book.unwritten(&batch);
    }
}

/// Flushes the book every [`FLUSH_EVERY`] for as long as the server runs.
pub fn spawn_flusher(db: Db, book: Arc<Heartbeats>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tick.tick().await;
            flush(&db, &book).await;
        }
    });
}

/// Writes a batch of heartbeats (call it within one transaction).
pub fn write(c: &Connection, batch: &[(String, Beat)]) -> DomainResult<()> {
    let mut stmt = c.prepare_cached(
        "UPDATE connector_clients SET last_seen = MAX(last_seen, ?2), last_heartbeat = ?2,
         heartbeat_interval = ?3, agent_state = ?4, app_version = COALESCE(?5, app_version)
         WHERE id = ?1",
    )?;
    for (id, b) in batch {
        stmt.execute(params![
            id,
            b.at_ms,
            b.interval_secs,
            b.state_json,
            b.app_version
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(at_ms: i64) -> Beat {
        Beat {
            at_ms,
            interval_secs: 30,
            state_json: "{}".into(),
            app_version: None,
        }
    }

    #[test]
    fn only_what_changed_is_written_and_a_failed_batch_is_kept() {
        let book = Heartbeats::default();
        book.record("a", beat(1));
        book.record("a", beat(2));
        let batch = book.take_unwritten();
        assert_eq!(batch, vec![("a".to_string(), beat(2))]);
        assert!(book.take_unwritten().is_empty());
        book.unwritten(&batch);
        assert_eq!(book.take_unwritten().len(), 1);
        assert_eq!(book.last_of(["a", "b"]).len(), 1);
    }
}
