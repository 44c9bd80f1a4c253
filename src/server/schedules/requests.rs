//! "Sync now" requests (`sync_requests`): a person asks, the company's connector sees the
//! pending request in its next heartbeat answer and starts a run for it; the run's start
//! marks the request started. At most one is pending per company.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::protocol::{SyncOrder, SyncRequestView};
use crate::server::clock::{now_ms, rfc3339};
use crate::server::domain_error::DomainResult;

const COLUMNS: &str = "r.id, r.company_id, r.full, u.username, r.requested_at, r.sync_run_id,
    r.started_at FROM sync_requests r LEFT JOIN users u ON u.id = r.requested_by";

fn view(r: &Row<'_>) -> rusqlite::Result<SyncRequestView> {
    let run: Option<String> = r.get(5)?;
    let started: Option<i64> = r.get(6)?;
    Ok(SyncRequestView {
        sync_request_id: r.get(0)?,
        company_id: r.get(1)?,
        status: if run.is_some() { "started" } else { "pending" }.into(),
        full: r.get(2)?,
        requested_by: r.get(3)?,
        requested_at: rfc3339(r.get(4)?),
        sync_run_id: run,
        started_at: started.map(rfc3339),
    })
}

/// The company's pending request, if any.
pub fn pending(c: &Connection, company_id: &str) -> DomainResult<Option<SyncRequestView>> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} WHERE r.company_id = ?1 AND r.sync_run_id IS NULL"),
        [company_id],
        view,
    )
    .optional()?)
}

/// The company's newest request, pending or started.
pub fn latest(c: &Connection, company_id: &str) -> DomainResult<Option<SyncRequestView>> {
    Ok(c.query_row(
        &format!(
            "SELECT {COLUMNS} WHERE r.company_id = ?1 ORDER BY r.requested_at DESC, r.rowid DESC LIMIT 1"
        ),
        [company_id],
        view,
    )
    .optional()?)
}

/// What the heartbeat answer carries for the pending request.
pub fn order(view: &SyncRequestView) -> SyncOrder {
    SyncOrder {
        id: view.sync_request_id.clone(),
        full: view.full,
    }
}

/// A new pending request, or (`false`) the one already pending: asking twice queues one.
/// A pending request that wants less than a full read is widened to one when asked for.
pub fn ask(
    c: &Connection,
    company_id: &str,
    full: bool,
    user_id: i64,
) -> DomainResult<(SyncRequestView, bool)> {
    if let Some(p) = pending(c, company_id)? {
        if full && !p.full {
            c.execute(
                "UPDATE sync_requests SET full = 1 WHERE id = ?1",
                [&p.sync_request_id],
            )?;
            return Ok((SyncRequestView { full: true, ..p }, false));
        }
        return Ok((p, false));
    }
    let id = uuid::Uuid::new_v4().to_string();
    c.execute(
        "INSERT INTO sync_requests (id, company_id, full, requested_by, requested_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, company_id, full, user_id, now_ms()],
    )?;
    let created = pending(c, company_id)?;
    Ok((
        created.ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)?,
        true,
    ))
}

/// The run `run_id` carries out the request: it is started and the run notes it, unless it
/// was started already (another connector of the company got there first) or is not this
/// company's; `true` when it was.
pub fn claim(
    c: &Connection,
    company_id: &str,
    request_id: &str,
    run_id: &str,
) -> DomainResult<bool> {
    let changed = c.execute(
        "UPDATE sync_requests SET sync_run_id = ?3, started_at = ?4
         WHERE id = ?1 AND company_id = ?2 AND sync_run_id IS NULL",
        params![request_id, company_id, run_id, now_ms()],
    )?;
    if changed == 1 {
        c.execute(
            "UPDATE integration_sync_runs SET sync_request_id = ?2 WHERE id = ?1",
            params![run_id, request_id],
        )?;
    }
    Ok(changed == 1)
}
