//! Sync runs (`integration_sync_runs`) and their event trail (`integration_sync_events`).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use super::clock::{now_ms, rfc3339};
use super::connectors::beat_text::plain;
use super::domain_error::{DomainError, DomainResult};
use super::problems::Problems;
use super::schedules::requests;
use crate::protocol::text::{first_chars, ID_MAX_CHARS, LABEL_MAX_CHARS, MESSAGE_MAX_CHARS};
use crate::protocol::{RunStatus, RunView, SyncCounts, SyncOutcome};

impl ToSql for RunStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for RunStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        RunStatus::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("unknown run status `{text}`").into()))
    }
}

pub fn event(
    c: &Connection,
    run_id: &str,
    kind: &str,
    stage: Option<&str>,
    percent: Option<u8>,
    message: Option<&str>,
) -> DomainResult<()> {
    let chatty = CHATTY_KINDS.contains(&kind);
    if chatty && events_stored(c, run_id)? >= EVENTS_KEPT_PER_RUN {
        return count_omitted(c, run_id);
    }
    let message = message.map(|m| if chatty { cut(m) } else { m });
    c.execute(
        "INSERT INTO integration_sync_events (run_id, kind, stage, percent, message, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![run_id, kind, stage, percent, message, now_ms()],
    )?;
    Ok(())
}

/// The events a connector may send as often as it likes (progress reports, parts); past
/// [`EVENTS_KEPT_PER_RUN`] events on a run they are only counted, in one `omitted` event. A
/// run's other events (started, ingested, its end) are always kept.
const CHATTY_KINDS: [&str; 2] = ["progress", "part"];
/// Bounds a run's event trail (and its `GET /sync-runs/{id}` answer).
pub const EVENTS_KEPT_PER_RUN: i64 = 200;
/// How much of a progress report's or part's message is kept.
pub const EVENT_MESSAGE_KEPT_CHARS: usize = 500;
const OMITTED: &str = "omitted";

fn cut(message: &str) -> &str {
    first_chars(message, EVENT_MESSAGE_KEPT_CHARS)
}

fn events_stored(c: &Connection, run_id: &str) -> DomainResult<i64> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM integration_sync_events WHERE run_id = ?1",
        [run_id],
        |r| r.get(0),
    )?)
}

/// Counts one more event not kept, in the run's one `omitted` event.
fn count_omitted(c: &Connection, run_id: &str) -> DomainResult<()> {
    let said: Option<(i64, Option<String>)> = c
        .query_row(
            "SELECT id, message FROM integration_sync_events WHERE run_id = ?1 AND kind = ?2",
            [run_id, OMITTED],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, before) = match said {
        Some((id, message)) => (Some(id), omitted_count(message.as_deref())),
        None => (None, 0),
    };
    let message = format!(
        "{} more progress reports and parts of this run were not kept (a run keeps {} events)",
        before + 1,
        EVENTS_KEPT_PER_RUN
    );
    match id {
        Some(id) => c.execute(
            "UPDATE integration_sync_events SET message = ?2, created_at = ?3 WHERE id = ?1",
            params![id, message, now_ms()],
        )?,
        None => c.execute(
            "INSERT INTO integration_sync_events (run_id, kind, message, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![run_id, OMITTED, message, now_ms()],
        )?,
    };
    Ok(())
}

/// The count an `omitted` event's message starts with.
fn omitted_count(message: Option<&str>) -> i64 {
    message
        .and_then(|m| m.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn abandon(c: &Connection, run_id: &str, reason: &str, now: i64) -> DomainResult<()> {
    // Parts of it that arrived are of no use without the rest.
    super::ingest::parts::discard(c, run_id)?;
    c.execute(
        "UPDATE integration_sync_runs SET status = ?2, error = ?3, updated_at = ?4, finished_at = ?4
         WHERE id = ?1",
        params![run_id, RunStatus::Abandoned, reason, now],
    )?;
    event(c, run_id, "abandoned", None, None, Some(reason))
}

fn running_ids(c: &Connection, sql: &str, param: &dyn ToSql) -> DomainResult<Vec<String>> {
    let mut stmt = c.prepare(sql)?;
    let ids = stmt
        .query_map(params![RunStatus::Running, param], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// What a connector says when it starts a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartedBy<'a> {
    pub trigger: Option<&'a str>,
    /// The "sync now" request it carries out.
    pub request: Option<&'a str>,
    /// Whether it reads Tally in full (`None`: the connector did not say).
    pub full_read: Option<bool>,
}

/// Starts a run. A run this connector left running is superseded: marked abandoned. A run for a
/// "sync now" request still pending marks it started; `true` in the answer when it did. So does
/// a run for a request whose run failed or was abandoned, the superseded one included: a retried
/// `sync/start` whose first answer was lost leaves the request with the run that carries it out.
/// A run for a request another connector of the company is carrying out or carried out is
/// refused (`sync_request_taken`).
pub fn start(
    c: &Connection,
    company_id: &str,
    connector_id: &str,
    by: StartedBy<'_>,
) -> DomainResult<(String, bool)> {
    let trigger = by.trigger;
    let mut problems = Problems::new();
    problems.bound("trigger", trigger, LABEL_MAX_CHARS);
    problems.bound("syncRequestId", by.request, ID_MAX_CHARS);
    problems.into_result("The sync run cannot start.")?;
    if let Some(request) = by.request {
        requests::refuse_if_taken(c, company_id, request, connector_id)?;
    }
    let now = now_ms();
    let stale = running_ids(
        c,
        "SELECT id FROM integration_sync_runs WHERE status = ?1 AND connector_id = ?2",
        &connector_id,
    )?;
    for id in stale {
        abandon(
            c,
            &id,
            "superseded by a newer run of the same connector",
            now,
        )?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let full_read = by.full_read.unwrap_or(trigger == Some("full read"));
    c.execute(
        "INSERT INTO integration_sync_runs (id, company_id, connector_id, status, trigger, stage, percent, started_at, updated_at, full_read)
         VALUES (?1, ?2, ?3, ?4, ?5, 'started', 0, ?6, ?6, ?7)",
        params![id, company_id, connector_id, RunStatus::Running, trigger, now, full_read],
    )?;
    event(c, &id, "started", Some("started"), Some(0), trigger)?;
    let claimed = match by.request {
        Some(request) => requests::claim(c, company_id, request, &id, by.full_read)?,
        None => false,
    };
    Ok((id, claimed))
}

/// The run's status, after checking it belongs to the company.
pub fn status_of(c: &Connection, company_id: &str, run_id: &str) -> DomainResult<RunStatus> {
    status_for(c, company_id, None, run_id)
}

/// Refuses a run of the company that another connector started: a connector must not add to a
/// run that is not its own. Whether the run exists and still runs is the caller's to check.
pub fn require_owner(
    c: &Connection,
    company_id: &str,
    connector_id: &str,
    run_id: &str,
) -> DomainResult<()> {
    let owner: Option<String> = c
        .query_row(
            "SELECT connector_id FROM integration_sync_runs WHERE id = ?1 AND company_id = ?2",
            [run_id, company_id],
            |r| r.get(0),
        )
        .optional()?;
    match owner {
        Some(owner) if owner != connector_id => Err(another_connectors(company_id, run_id)),
        _ => Ok(()),
    }
}

fn another_connectors(company_id: &str, run_id: &str) -> DomainError {
    DomainError::conflict(
        "sync_run_of_another_connector",
        format!(
            "Sync run `{run_id}` was started by another connector of company `{company_id}`; \
             only that connector may report on it or send it data. Start a run of your own."
        ),
    )
}

/// The run's status, after checking it belongs to the company and, when one is named, to the
/// connector.
fn status_for(
    c: &Connection,
    company_id: &str,
    connector_id: Option<&str>,
    run_id: &str,
) -> DomainResult<RunStatus> {
    let row: Option<(String, String, RunStatus)> = c
        .query_row(
            "SELECT company_id, connector_id, status FROM integration_sync_runs WHERE id = ?1",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match row {
        Some((company, owner, status)) if company == company_id => match connector_id {
            Some(caller) if caller != owner => Err(another_connectors(company_id, run_id)),
            _ => Ok(status),
        },
        _ => Err(DomainError::not_found(
            "sync_run_not_found",
            format!("There is no sync run `{run_id}` for company `{company_id}`."),
        )),
    }
}

fn finished(run_id: &str, status: RunStatus) -> DomainError {
    DomainError::conflict(
        "sync_run_finished",
        format!("Sync run `{run_id}` is already {status}; start a new run."),
    )
}

/// The run exists for the company and is still running: only then may data join it.
pub fn require_running(c: &Connection, company_id: &str, run_id: &str) -> DomainResult<()> {
    match status_of(c, company_id, run_id)? {
        RunStatus::Running => Ok(()),
        status => Err(finished(run_id, status)),
    }
}

fn counts_json(counts: Option<&SyncCounts>) -> Option<String> {
    counts.and_then(|c| serde_json::to_string(c).ok())
}

/// What a connector reports while a run goes on.
pub struct Progress<'a> {
    pub stage: &'a str,
    pub percent: Option<u8>,
    pub message: Option<&'a str>,
    pub counts: Option<&'a SyncCounts>,
}

pub fn progress(
    c: &Connection,
    company_id: &str,
    connector_id: &str,
    run_id: &str,
    p: &Progress<'_>,
) -> DomainResult<()> {
    let mut problems = Problems::new();
    problems.bound("syncRunId", Some(run_id), ID_MAX_CHARS);
    if p.percent.is_some_and(|pc| pc > 100) {
        problems.add("percent", "must be between 0 and 100");
    }
    let stage = p.stage.trim();
    problems.require_text("stage", stage, LABEL_MAX_CHARS);
    problems.bound("message", p.message, MESSAGE_MAX_CHARS);
    problems.into_result("The progress report is invalid.")?;
    // Shown on the run page and in the log: no escapes or line breaks from the connector.
    let (stage, message) = (plain(stage), p.message.map(plain));
    let (stage, message) = (stage.as_str(), message.as_deref());
    match status_for(c, company_id, Some(connector_id), run_id)? {
        RunStatus::Running => {}
        status => return Err(finished(run_id, status)),
    }
    c.execute(
        "UPDATE integration_sync_runs SET stage = ?2, percent = COALESCE(?3, percent),
         counts = COALESCE(?4, counts), updated_at = ?5 WHERE id = ?1",
        params![run_id, stage, p.percent, counts_json(p.counts), now_ms()],
    )?;
    event(c, run_id, "progress", Some(stage), p.percent, message)
}

/// Ends a run. A run the appliance had given up on (abandoned) may still be completed by a
/// connector that was only slow; a run that already succeeded or failed may not.
pub fn complete(
    c: &Connection,
    company_id: &str,
    connector_id: &str,
    run_id: &str,
    outcome: SyncOutcome,
    error: Option<&str>,
    counts: Option<&SyncCounts>,
) -> DomainResult<()> {
    let mut problems = Problems::new();
    problems.bound("syncRunId", Some(run_id), ID_MAX_CHARS);
    problems.bound("error", error, MESSAGE_MAX_CHARS);
    problems.into_result("The completion report is invalid.")?;
    let error = error.map(plain);
    let error = error.as_deref();
    match status_for(c, company_id, Some(connector_id), run_id)? {
        RunStatus::Running | RunStatus::Abandoned => {}
        status => return Err(finished(run_id, status)),
    }
    // Whatever of it arrived in parts and was not stored never will be.
    super::ingest::parts::discard(c, run_id)?;
    let (status, stage) = match outcome {
        SyncOutcome::Succeeded => (RunStatus::Succeeded, "completed"),
        SyncOutcome::Failed => (RunStatus::Failed, "failed"),
    };
    c.execute(
        "UPDATE integration_sync_runs SET status = ?2, stage = ?3,
         percent = CASE WHEN ?7 THEN 100 ELSE percent END,
         error = ?4, counts = COALESCE(?5, counts), updated_at = ?6, finished_at = ?6 WHERE id = ?1",
        params![
            run_id,
            status,
            stage,
            error,
            counts_json(counts),
            now_ms(),
            status == RunStatus::Succeeded
        ],
    )?;
    event(c, run_id, status.as_str(), Some(stage), None, error)
}

/// Notes on the run what an ingestion stored: its counts, and an `ingested` event.
pub fn record_ingestion(
    c: &Connection,
    run_id: &str,
    counts: &SyncCounts,
    message: &str,
) -> DomainResult<()> {
    c.execute(
        "UPDATE integration_sync_runs SET counts = ?2, updated_at = ?3 WHERE id = ?1",
        params![run_id, counts_json(Some(counts)), now_ms()],
    )?;
    event(c, run_id, "ingested", None, None, Some(message))
}

/// An event on a running run that also keeps it from being found silent (a part arriving).
pub fn note(c: &Connection, run_id: &str, kind: &str, message: &str) -> DomainResult<()> {
    c.execute(
        "UPDATE integration_sync_runs SET updated_at = ?2 WHERE id = ?1",
        params![run_id, now_ms()],
    )?;
    event(c, run_id, kind, None, None, Some(message))
}

/// Marks runs with no word for `older_than_ms` as abandoned. Returns how many.
pub fn abandon_stale(c: &Connection, older_than_ms: i64) -> DomainResult<usize> {
    let now = now_ms();
    let stale = running_ids(
        c,
        "SELECT id FROM integration_sync_runs WHERE status = ?1 AND updated_at < ?2",
        &(now - older_than_ms),
    )?;
    let reason = format!(
        "no progress from the connector for {} s",
        older_than_ms / 1000
    );
    for id in &stale {
        abandon(c, id, &reason, now)?;
    }
    Ok(stale.len())
}

/// A run in parts (the run aliased `r`): its ingestion's outcome while `receiving`, or once
/// `incomplete` (its staging row is kept for this, see [`super::ingest::parts::discard`]); else
/// null. One seek in the small `sync_part_runs` table per run (and one more for the few runs in
/// parts), so the overview's set-based read costs what it did.
const PARTS_OUTCOME: &str = "(SELECT i.outcome FROM sync_part_runs p
    JOIN ingestion_logs i ON i.id = p.ingestion_id
    WHERE p.run_id = r.id AND i.outcome IN ('receiving', 'incomplete'))";

fn view(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunView> {
    let started: i64 = r.get(8)?;
    let finished: Option<i64> = r.get(10)?;
    let counts: Option<String> = r.get(6)?;
    Ok(RunView {
        sync_run_id: r.get(0)?,
        connector_id: r.get(1)?,
        status: r.get(2)?,
        trigger: r.get(3)?,
        sync_request_id: r.get(11)?,
        stage: r.get(4)?,
        percent: r.get(5)?,
        counts: counts.and_then(|s| serde_json::from_str(&s).ok()),
        error: r.get(7)?,
        started_at: rfc3339(started),
        updated_at: rfc3339(r.get(9)?),
        finished_at: finished.map(rfc3339),
        duration_ms: finished.map(|f| f - started),
        parts_outcome: r.get(12)?,
    })
}

/// The newest run of the company, optionally only among runs with `status`.
pub fn latest(
    c: &Connection,
    company_id: &str,
    status: Option<RunStatus>,
) -> DomainResult<Option<RunView>> {
    Ok(c.query_row(
        &format!("SELECT id, connector_id, status, trigger, stage, percent, counts, error, started_at, updated_at, finished_at,
         sync_request_id, {PARTS_OUTCOME}
         FROM integration_sync_runs r WHERE company_id = ?1 AND (?2 IS NULL OR status = ?2)
         ORDER BY started_at DESC, rowid DESC LIMIT 1"),
        params![company_id, status],
        view,
    )
    .optional()?)
}

/// The company's newest runs, newest first, at most `limit`.
pub fn recent(c: &Connection, company_id: &str, limit: u32) -> DomainResult<Vec<RunView>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT id, connector_id, status, trigger, stage, percent, counts, error, started_at, updated_at, finished_at,
         sync_request_id, {PARTS_OUTCOME}
         FROM integration_sync_runs r WHERE company_id = ?1
         ORDER BY started_at DESC, rowid DESC LIMIT ?2"
    ))?;
    let runs = stmt
        .query_map(params![company_id, limit], view)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(runs)
}

/// One entry of a run's event trail.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    pub kind: String,
    pub stage: Option<String>,
    pub percent: Option<u8>,
    pub message: Option<String>,
    pub at: String,
}

/// A payload stored during a run (`ingestion_logs`).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestionView {
    pub ingestion_id: i64,
    pub bytes: i64,
    pub groups: i64,
    pub ledgers: i64,
    pub months: i64,
    pub balances: i64,
    pub duration_ms: i64,
    /// `stored`, or `stored_unbalanced` when a month did not sum to zero.
    pub outcome: String,
    pub received_at: String,
}

/// `GET /api/companies/{id}/sync-runs/{runId}`: the run, its events in order, and what it stored.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunView,
    pub events: Vec<RunEvent>,
    pub ingestions: Vec<IngestionView>,
}

fn events_of(c: &Connection, run_id: &str) -> DomainResult<Vec<RunEvent>> {
    let mut stmt = c.prepare(
        "SELECT kind, stage, percent, message, created_at FROM integration_sync_events
         WHERE run_id = ?1 ORDER BY id",
    )?;
    let events = stmt
        .query_map([run_id], |r| {
            Ok(RunEvent {
                kind: r.get(0)?,
                stage: r.get(1)?,
                percent: r.get(2)?,
                message: r.get(3)?,
                at: rfc3339(r.get(4)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(events)
}

fn ingestions_of(c: &Connection, run_id: &str) -> DomainResult<Vec<IngestionView>> {
    let mut stmt = c.prepare(
        "SELECT id, bytes, groups_count, ledgers_count, months_count, balances_count, duration_ms,
         outcome, created_at FROM ingestion_logs WHERE run_id = ?1 ORDER BY id",
    )?;
    let logs = stmt
        .query_map([run_id], |r| {
            Ok(IngestionView {
                ingestion_id: r.get(0)?,
                bytes: r.get(1)?,
                groups: r.get(2)?,
                ledgers: r.get(3)?,
                months: r.get(4)?,
                balances: r.get(5)?,
                duration_ms: r.get(6)?,
                outcome: r.get(7)?,
                received_at: rfc3339(r.get(8)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(logs)
}

/// The run `run_id` of the company with its events and ingestion log.
pub fn detail(c: &Connection, company_id: &str, run_id: &str) -> DomainResult<RunDetail> {
    let run = c
        .query_row(
            &format!("SELECT id, connector_id, status, trigger, stage, percent, counts, error, started_at, updated_at, finished_at,
         sync_request_id, {PARTS_OUTCOME}
             FROM integration_sync_runs r WHERE company_id = ?1 AND id = ?2"),
            params![company_id, run_id],
            view,
        )
        .optional()?
        .ok_or_else(|| {
            DomainError::not_found(
                "sync_run_not_found",
                format!("There is no sync run `{run_id}` for company `{company_id}`."),
            )
        })?;
    Ok(RunDetail {
        events: events_of(c, run_id)?,
        ingestions: ingestions_of(c, run_id)?,
        run,
    })
}

/// The newest run of each of the companies (a JSON array of their ids), optionally only among
/// runs with `status`: [`latest`] for many companies in one query, one index seek each, as the
/// overview of every company needs it. Companies without such a run are not in the answer.
pub fn latest_of_companies(
    c: &Connection,
    company_ids_json: &str,
    status: Option<RunStatus>,
) -> DomainResult<std::collections::HashMap<String, RunView>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT r.id, r.connector_id, r.status, r.trigger, r.stage, r.percent, r.counts, r.error,
         r.started_at, r.updated_at, r.finished_at, r.sync_request_id, {PARTS_OUTCOME}, r.company_id
         FROM json_each(?1) AS v JOIN integration_sync_runs r ON r.rowid = (
             SELECT rowid FROM integration_sync_runs
             WHERE company_id = v.value AND (?2 IS NULL OR status = ?2)
             ORDER BY started_at DESC, rowid DESC LIMIT 1)"
    ))?;
    let rows = stmt.query_map(params![company_ids_json, status], |r| {
        Ok((r.get::<_, String>(13)?, view(r)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
