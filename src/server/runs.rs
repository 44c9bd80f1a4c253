//! Sync runs (`integration_sync_runs`) and their event trail (`integration_sync_events`).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::db::{now_ms, rfc3339};
use super::error::{ApiError, ApiResult};
use crate::protocol::{SyncCounts, SyncOutcome};

pub fn event(
    c: &Connection,
    run_id: &str,
    kind: &str,
    stage: Option<&str>,
    percent: Option<u8>,
    message: Option<&str>,
) -> ApiResult<()> {
    c.execute(
        "INSERT INTO integration_sync_events (run_id, kind, stage, percent, message, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![run_id, kind, stage, percent, message, now_ms()],
    )?;
    Ok(())
}

/// Starts a run. A run this connector left running is superseded: marked abandoned.
pub fn start(
    c: &Connection,
    company_id: &str,
    connector_id: &str,
    trigger: Option<&str>,
) -> ApiResult<String> {
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT id FROM integration_sync_runs WHERE connector_id = ?1 AND status = 'running'",
    )?;
    let stale = stmt
        .query_map([connector_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    for id in stale {
        c.execute(
            "UPDATE integration_sync_runs SET status = 'abandoned', finished_at = ?2, updated_at = ?2,
             error = 'superseded by a newer run of the same connector' WHERE id = ?1",
            params![id, now],
        )?;
        event(
            c,
            &id,
            "abandoned",
            None,
            None,
            Some("superseded by a newer run of the same connector"),
        )?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    c.execute(
        "INSERT INTO integration_sync_runs (id, company_id, connector_id, status, trigger, stage, percent, started_at, updated_at)
         VALUES (?1, ?2, ?3, 'running', ?4, 'started', 0, ?5, ?5)",
        params![id, company_id, connector_id, trigger, now],
    )?;
    event(c, &id, "started", Some("started"), Some(0), trigger)?;
    Ok(id)
}

/// The run's status, after checking it belongs to the company.
pub fn status_of(c: &Connection, company_id: &str, run_id: &str) -> ApiResult<String> {
    let row: Option<(String, String)> = c
        .query_row(
            "SELECT company_id, status FROM integration_sync_runs WHERE id = ?1",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        Some((company, status)) if company == company_id => Ok(status),
        _ => Err(ApiError::not_found(
            "sync_run_not_found",
            format!("There is no sync run `{run_id}` for company `{company_id}`."),
        )),
    }
}

fn require_running(status: &str, run_id: &str) -> ApiResult<()> {
    if status == "running" {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "sync_run_finished",
            format!("Sync run `{run_id}` is already {status}; start a new run."),
        ))
    }
}

fn counts_json(counts: Option<&SyncCounts>) -> Option<String> {
    counts.and_then(|c| serde_json::to_string(c).ok())
}

pub fn progress(
    c: &Connection,
    company_id: &str,
    run_id: &str,
    stage: &str,
    percent: Option<u8>,
    message: Option<&str>,
    counts: Option<&SyncCounts>,
) -> ApiResult<()> {
    require_running(&status_of(c, company_id, run_id)?, run_id)?;
    c.execute(
        "UPDATE integration_sync_runs SET stage = ?2, percent = COALESCE(?3, percent),
         counts = COALESCE(?4, counts), updated_at = ?5 WHERE id = ?1",
        params![run_id, stage, percent, counts_json(counts), now_ms()],
    )?;
    event(c, run_id, "progress", Some(stage), percent, message)
}

/// Ends a run. A run the appliance had given up on (abandoned) may still be completed by a
/// connector that was only slow; a run that already succeeded or failed may not.
pub fn complete(
    c: &Connection,
    company_id: &str,
    run_id: &str,
    outcome: SyncOutcome,
    error: Option<&str>,
    counts: Option<&SyncCounts>,
) -> ApiResult<()> {
    let status = status_of(c, company_id, run_id)?;
    if status != "abandoned" {
        require_running(&status, run_id)?;
    }
    let (status, stage) = match outcome {
        SyncOutcome::Succeeded => ("succeeded", "completed"),
        SyncOutcome::Failed => ("failed", "failed"),
    };
    let now = now_ms();
    c.execute(
        "UPDATE integration_sync_runs SET status = ?2, stage = ?3,
         percent = CASE WHEN ?2 = 'succeeded' THEN 100 ELSE percent END,
         error = ?4, counts = COALESCE(?5, counts), updated_at = ?6, finished_at = ?6 WHERE id = ?1",
        params![run_id, status, stage, error, counts_json(counts), now],
    )?;
    event(c, run_id, status, Some(stage), None, error)
}

/// Marks runs with no word for `older_than_ms` as abandoned. Returns how many.
pub fn abandon_stale(c: &Connection, older_than_ms: i64) -> ApiResult<usize> {
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT id FROM integration_sync_runs WHERE status = 'running' AND updated_at < ?1",
    )?;
    let stale = stmt
        .query_map([now - older_than_ms], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let message = format!(
        "no progress from the connector for {} s",
        older_than_ms / 1000
    );
    for id in &stale {
        c.execute(
            "UPDATE integration_sync_runs SET status = 'abandoned', error = ?2, updated_at = ?3, finished_at = ?3 WHERE id = ?1",
            params![id, message, now],
        )?;
        event(c, id, "abandoned", None, None, Some(&message))?;
    }
    Ok(stale.len())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub sync_run_id: String,
    pub connector_id: String,
    pub status: String,
    pub trigger: Option<String>,
    pub stage: String,
    pub percent: u8,
    pub counts: Option<serde_json::Value>,
    pub error: Option<String>,
    pub started_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

/// The newest run of the company, optionally only among runs with `status`.
pub fn latest(
    c: &Connection,
    company_id: &str,
    status: Option<&str>,
) -> ApiResult<Option<RunView>> {
    Ok(c.query_row(
        "SELECT id, connector_id, status, trigger, stage, percent, counts, error, started_at, updated_at, finished_at
         FROM integration_sync_runs WHERE company_id = ?1 AND (?2 IS NULL OR status = ?2)
         ORDER BY started_at DESC, rowid DESC LIMIT 1",
        params![company_id, status],
        |r| {
            let started: i64 = r.get(8)?;
            let finished: Option<i64> = r.get(10)?;
            let counts: Option<String> = r.get(6)?;
            Ok(RunView {
                sync_run_id: r.get(0)?,
                connector_id: r.get(1)?,
                status: r.get(2)?,
                trigger: r.get(3)?,
                stage: r.get(4)?,
                percent: r.get(5)?,
                counts: counts.and_then(|s| serde_json::from_str(&s).ok()),
                error: r.get(7)?,
                started_at: rfc3339(started),
                updated_at: rfc3339(r.get(9)?),
                finished_at: finished.map(rfc3339),
                duration_ms: finished.map(|f| f - started),
            })
        },
    )
    .optional()?)
}
