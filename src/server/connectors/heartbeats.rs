//! Heartbeats are kept in memory and written to SQLite in batches.
//!
//! A heartbeat that waited for the database's one writer would wait behind every ingestion
//! (hundreds of milliseconds for a large company). So a heartbeat only updates this book; a
//! background task writes what changed every [`FLUSH_EVERY`], in one transaction, and once more
//! at shutdown, so after a restart the online state is right within one flush interval. The
//! status reads the book over the database.
//!
//! A heartbeat may carry the connector's last update attempt. The book keeps every distinct
//! attempt until it is written (not only the last beat's), so none is lost between flushes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use crate::protocol::text::first_chars;
use crate::protocol::{HeartbeatRequest, UpdateAttempt};
use crate::server::db::Db;
use crate::server::domain_error::{cause_chain, DomainError, DomainResult};
use crate::server::problems::Problems;
use crate::server::updates::attempts::{self, Received};

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
    /// The update attempt the heartbeat reported, its message cut to size.
    pub attempt: Option<UpdateAttempt>,
}

impl Beat {
    /// The beat of a heartbeat, its text made plain (see `beat_text`).
    pub fn new(hb: &HeartbeatRequest, at_ms: i64, default_interval: u32) -> DomainResult<Beat> {
        let mut hb = super::beat_text::plain_heartbeat(hb);
        // The attempt is kept on its own (see `updates::attempts`), not in the agent's state.
        let attempt = hb.last_update.take().as_ref().map(attempts::bounded);
        let state = serde_json::to_string(&hb);
        Ok(Beat {
            at_ms,
            interval_secs: hb.interval_seconds.unwrap_or(default_interval),
            state_json: state.map_err(|e| DomainError::internal("heartbeat state", e))?,
            app_version: hb.app_version,
            attempt,
        })
    }
}

/// A connector's `lastUpdate` that names no attempt is said in the log at most this often: one
/// that sends it with every heartbeat must not fill the disk.
const BAD_ATTEMPT_LOGGED_EVERY: Duration = Duration::from_secs(10 * 60);

/// The start of a client's text for the log (which shows it with `{:?}`, so that a line break
/// or an escape cannot forge or colour a log line).
fn shown(text: &str) -> &str {
    first_chars(text, 80)
}

/// Attempts waiting to be written beyond this many are dropped (and said so in the log): only
/// a database that stays unwritable for long, or a connector inventing attempts, gets there.
const MAX_UNWRITTEN_ATTEMPTS: usize = 10_000;

#[derive(Default)]
struct Book {
    last: HashMap<String, Beat>,
    unwritten: HashSet<String>,
    /// Update attempts not yet written, each once.
    attempts: Vec<Received>,
    /// Each connector's last attempt (and when it came), for the status until it is written.
    last_attempt: HashMap<String, Received>,
    /// When each connector's unusable `lastUpdate` was last logged.
    bad_attempt_logged: HashMap<String, Instant>,
}

impl Book {
    /// A newly reported attempt: the connector's last, and to be written.
    fn add_attempt(&mut self, received: Received) {
        let resent = self
            .last_attempt
            .get(&received.connector_id)
            .is_some_and(|a| a.same_as(&received));
        if !resent {
            self.last_attempt
                .insert(received.connector_id.clone(), received.clone());
        }
        self.queue_attempt(received);
    }

    fn queue_attempt(&mut self, received: Received) {
        if self.attempts.iter().any(|a| a.same_as(&received)) {
            return;
        }
        if self.attempts.len() >= MAX_UNWRITTEN_ATTEMPTS {
            log::error!(
                "more than {MAX_UNWRITTEN_ATTEMPTS} update attempts wait to be written; dropped \
                 connector {}'s attempt at {}",
                received.connector_id,
                received.attempt.version
            );
            return;
        }
        self.attempts.push(received);
    }
}

/// What a flush writes: the beats that changed and the attempts not yet written.
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    pub beats: Vec<(String, Beat)>,
    pub attempts: Vec<Received>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.beats.is_empty() && self.attempts.is_empty()
    }
}

#[derive(Default)]
pub struct Heartbeats(Mutex<Book>);

impl Heartbeats {
    /// Drops a `lastUpdate` that names no attempt (a version that is not one, a time that is not
    /// RFC 3339), and says so in the log, at most once in [`BAD_ATTEMPT_LOGGED_EVERY`] per
    /// connector. Refusing the whole heartbeat for it would make the connector look offline.
    pub fn drop_bad_attempt(&self, connector_id: &str, hb: &mut HeartbeatRequest) {
        let mut problems = Problems::new();
        attempts::check(&mut problems, hb.last_update.as_ref());
        if problems.is_empty() {
            return;
        }
        let Some(bad) = hb.last_update.take() else {
            return;
        };
        let now = Instant::now();
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let logged = &mut book.bad_attempt_logged;
        if logged
            .get(connector_id)
            .is_some_and(|at| now.duration_since(*at) < BAD_ATTEMPT_LOGGED_EVERY)
        {
            return;
        }
        logged.retain(|_, at| now.duration_since(*at) < BAD_ATTEMPT_LOGGED_EVERY);
        logged.insert(connector_id.to_string(), now);
        log::warn!(
            "connector {connector_id}: heartbeat accepted without its lastUpdate, which names no \
             update attempt (version {:?}, at {:?}; logged once in 10 minutes)",
            shown(&bad.version),
            shown(&bad.at)
        );
    }

    pub fn record(&self, connector_id: &str, beat: Beat) {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(attempt) = &beat.attempt {
            book.add_attempt(Received {
                connector_id: connector_id.to_string(),
                attempt: attempt.clone(),
                received_ms: beat.at_ms,
            });
        }
        book.unwritten.insert(connector_id.to_string());
        book.last.insert(connector_id.to_string(), beat);
    }

    /// The last update attempt each of `ids` reported to this process: (received ms, attempt).
    pub fn last_attempts_of<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<String, (i64, UpdateAttempt)> {
        let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ids.into_iter()
            .filter_map(|id| {
                let a = book.last_attempt.get(id)?;
                Some((id.to_string(), (a.received_ms, a.attempt.clone())))
            })
            .collect()
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
    pub fn take_unwritten(&self) -> Batch {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let ids = std::mem::take(&mut book.unwritten);
        let beats = ids
            .into_iter()
            .filter_map(|id| book.last.get(&id).cloned().map(|b| (id, b)))
            .collect();
        Batch {
            beats,
            attempts: std::mem::take(&mut book.attempts),
        }
    }

    /// Writing `batch` failed: its beats and attempts are written with the next batch.
    pub fn unwritten(&self, batch: &Batch) {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.unwritten
            .extend(batch.beats.iter().map(|(id, _)| id.clone()));
        for a in &batch.attempts {
            book.queue_attempt(a.clone());
        }
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
        log::error!(
            "writing {} heartbeat(s) and {} update attempt(s): {}",
            batch.beats.len(),
            batch.attempts.len(),
            cause_chain(&e)
        );
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

/// Writes a batch of heartbeats and update attempts (call it within one transaction).
pub fn write(c: &Connection, batch: &Batch) -> DomainResult<()> {
    write_beats(c, &batch.beats)?;
    attempts::store(c, &batch.attempts)
}

fn write_beats(c: &Connection, batch: &[(String, Beat)]) -> DomainResult<()> {
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

    use crate::protocol::UpdateOutcome;

    fn beat(at_ms: i64) -> Beat {
        Beat {
            at_ms,
            interval_secs: 30,
            state_json: "{}".into(),
            app_version: None,
            attempt: None,
        }
    }

    fn with_attempt(at_ms: i64, version: &str) -> Beat {
        Beat {
            attempt: Some(UpdateAttempt {
                version: version.into(),
                outcome: UpdateOutcome::Failed,
                message: "no".into(),
                at: format!("2026-11-26T10:00:0{version}Z"),
            }),
            ..beat(at_ms)
        }
    }

    #[test]
    fn only_what_changed_is_written_and_a_failed_batch_is_kept() {
        let book = Heartbeats::default();
        book.record("a", beat(1));
        book.record("a", beat(2));
        let batch = book.take_unwritten();
        assert_eq!(batch.beats, vec![("a".to_string(), beat(2))]);
        assert!(book.take_unwritten().is_empty());
        book.unwritten(&batch);
        assert_eq!(book.take_unwritten().beats.len(), 1);
        assert_eq!(book.last_of(["a", "b"]).len(), 1);
    }

    #[test]
    fn every_distinct_attempt_waits_for_the_flush_once() {
        let book = Heartbeats::default();
        book.record("a", with_attempt(1, "1"));
        book.record("a", with_attempt(2, "1"));
        book.record("a", with_attempt(3, "2"));
        book.record("a", beat(4));
        let batch = book.take_unwritten();
        let versions: Vec<&str> = batch
            .attempts
            .iter()
            .map(|a| a.attempt.version.as_str())
            .collect();
        assert_eq!(versions, ["1", "2"], "the first is not lost to the second");
        assert_eq!(batch.attempts[0].received_ms, 1, "first received");
        // The write failed: they wait again, and the last stays the last.
        book.unwritten(&batch);
        assert_eq!(book.take_unwritten().attempts.len(), 2);
        assert_eq!(book.last_attempts_of(["a"])["a"].1.version, "2");
    }
}
