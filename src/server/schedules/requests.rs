//! "Sync now" requests (`sync_requests`): a person asks, the company's connector sees the
//! pending request in its next heartbeat answer and starts a run for it; the run's start
//! marks the request started. At most one is pending per company. A request no run claimed
//! within [`EXPIRES_AFTER_MS`] is expired (the PC was off, the appliance away when its run
//! started): it is no longer carried nor claimable, and a new "sync now" makes a fresh one.

use rusqlite::{named_params, params, Connection, OptionalExtension, Row};

use super::brake;
use crate::protocol::{SyncOrder, SyncRequestView};
use crate::server::clock::{now_ms, rfc3339};
use crate::server::domain_error::{DomainError, DomainResult};

/// How long a request waits for a run to claim it.
pub const EXPIRES_AFTER_MS: i64 = 60 * 60 * 1000;

const COLUMNS: &str = "r.id, r.company_id, r.full, u.username, r.requested_at, r.sync_run_id,
    r.started_at, r.expired_at FROM sync_requests r LEFT JOIN users u ON u.id = r.requested_by";

/// Neither started nor expired, marked or due (`:cutoff`: now less the bound).
const LIVE: &str = "r.sync_run_id IS NULL AND r.expired_at IS NULL AND r.requested_at > :cutoff";

/// The run `s` holds its request: it reads Tally for it or did. A run that failed (Tally closed
/// on that PC) or was abandoned (superseded, gone quiet) leaves the request to another run.
pub(super) const HOLDS: &str = "s.status IN ('running', 'succeeded')";

/// Not yet started, or started by a run that no longer holds it (see [`HOLDS`]).
const CLAIMABLE: &str = "(sync_run_id IS NULL OR sync_run_id IN
    (SELECT id FROM integration_sync_runs WHERE status IN ('failed', 'abandoned')))";

fn cutoff() -> i64 {
    now_ms() - EXPIRES_AFTER_MS
}

fn status_of(run: bool, requested_at: i64, expired_at: Option<i64>) -> &'static str {
    if run {
        "started"
    } else if expired_at.is_some() || requested_at <= cutoff() {
        "expired"
    } else {
        "pending"
    }
}

fn view(r: &Row<'_>) -> rusqlite::Result<SyncRequestView> {
    let run: Option<String> = r.get(5)?;
    let started: Option<i64> = r.get(6)?;
    let requested_at: i64 = r.get(4)?;
    Ok(SyncRequestView {
        sync_request_id: r.get(0)?,
        company_id: r.get(1)?,
        status: status_of(run.is_some(), requested_at, r.get(7)?).into(),
        full: r.get(2)?,
        requested_by: r.get(3)?,
        requested_at: rfc3339(requested_at),
        sync_run_id: run,
        started_at: started.map(rfc3339),
    })
}

/// The company's pending request, if any.
pub fn pending(c: &Connection, company_id: &str) -> DomainResult<Option<SyncRequestView>> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} WHERE r.company_id = :company AND {LIVE}"),
        named_params! {":company": company_id, ":cutoff": cutoff()},
        view,
    )
    .optional()?)
}

/// What the heartbeat answer carries for the pending request, and until when (UTC ms).
pub fn pending_order(c: &Connection, company_id: &str) -> DomainResult<Option<(SyncOrder, i64)>> {
    Ok(c.query_row(
        &format!(
            "SELECT r.id, r.full, r.requested_at FROM sync_requests r
             WHERE r.company_id = :company AND {LIVE}"
        ),
        named_params! {":company": company_id, ":cutoff": cutoff()},
        |r| {
            let order = SyncOrder {
                id: r.get(0)?,
                full: r.get(1)?,
            };
            Ok((order, r.get::<_, i64>(2)? + EXPIRES_AFTER_MS))
        },
    )
    .optional()?)
}

/// Marks the company's request expired when no run claimed it in time, freeing its place.
fn expire(c: &Connection, company_id: &str) -> DomainResult<()> {
    c.execute(
        "UPDATE sync_requests SET expired_at = requested_at + ?3
         WHERE company_id = ?1 AND sync_run_id IS NULL AND expired_at IS NULL AND requested_at <= ?2",
        params![company_id, now_ms() - EXPIRES_AFTER_MS, EXPIRES_AFTER_MS],
    )?;
    Ok(())
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

/// Who asks for a "sync now".
#[derive(Debug, Clone, Copy)]
pub struct Asker {
    pub user_id: i64,
    /// Administrators are not held to the daily bound on full reads.
    pub admin: bool,
}

/// A new pending request, or (`false`) the one already pending: asking twice queues one.
/// A pending request that wants less than a full read is widened to one when asked for. Making
/// or widening one is refused while the company's Tally was read on request too recently (see
/// `brake`); asking again for what already waits is not.
pub fn ask(
    c: &Connection,
    company_id: &str,
    full: bool,
    by: Asker,
) -> DomainResult<(SyncRequestView, bool)> {
    expire(c, company_id)?;
    if let Some(p) = pending(c, company_id)? {
        if full && !p.full {
            brake::check_full(c, company_id, by.admin)?;
            c.execute(
                "UPDATE sync_requests SET full = 1 WHERE id = ?1",
                [&p.sync_request_id],
            )?;
            return Ok((SyncRequestView { full: true, ..p }, false));
        }
        return Ok((p, false));
    }
    if full {
        brake::check_full(c, company_id, by.admin)?;
    }
    brake::check_new(c, company_id)?;
    let id = uuid::Uuid::new_v4().to_string();
    c.execute(
        "INSERT INTO sync_requests (id, company_id, full, requested_by, requested_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, company_id, full, by.user_id, now_ms()],
    )?;
    let created = pending(c, company_id)?;
    Ok((
        created.ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)?,
        true,
    ))
}

/// A run naming a request another connector of the company already started would read Tally a
/// second time for it: refused (`409 sync_request_taken`) before anything changes, while that
/// run holds it (see [`HOLDS`]). The same connector naming it again (its answer was lost on the
/// way) is let through, as is a request expired, unknown or pending, or whose run failed (Tally
/// closed on that PC: another connector of the company may well read it).
pub fn refuse_if_taken(
    c: &Connection,
    company_id: &str,
    request_id: &str,
    connector_id: &str,
) -> DomainResult<()> {
    let taken: Option<String> = c
        .query_row(
            &format!(
                "SELECT r.sync_run_id FROM sync_requests r
             JOIN integration_sync_runs s ON s.id = r.sync_run_id
             WHERE r.id = ?1 AND r.company_id = ?2 AND s.connector_id <> ?3 AND {HOLDS}"
            ),
            params![request_id, company_id, connector_id],
            |r| r.get(0),
        )
        .optional()?;
    match taken {
        Some(run) => Err(DomainError::conflict(
            "sync_request_taken",
            format!(
                "Sync request `{request_id}` was already started by another connector of company \
                 `{company_id}` (run `{run}`); this one need not read Tally for it."
            ),
        )),
        None => Ok(()),
    }
}

/// The run `run_id` carries out the request: it is started and the run notes it, unless it
/// was started already by a run that still holds it (another connector of the company got there
/// first), has expired, or is not this company's; `true` when it was. A request whose run failed
/// or was abandoned (superseded by this connector's retry of `sync/start`) passes to this run. A run that says it does not read in full
/// (`run_full`) carrying out a request for a full read (widened after its connector was told
/// to sync what changed) leaves that full read pending as a new request.
pub fn claim(
    c: &Connection,
    company_id: &str,
    request_id: &str,
    run_id: &str,
    run_full: Option<bool>,
) -> DomainResult<bool> {
    let changed = c.execute(
        &format!(
            "UPDATE sync_requests SET sync_run_id = ?3, started_at = ?4
             WHERE id = ?1 AND company_id = ?2 AND {CLAIMABLE} AND expired_at IS NULL
               AND requested_at > ?5"
        ),
        params![request_id, company_id, run_id, now_ms(), cutoff()],
    )?;
    if changed == 1 {
        c.execute(
            "UPDATE integration_sync_runs SET sync_request_id = ?2 WHERE id = ?1",
            params![run_id, request_id],
        )?;
        if run_full == Some(false) {
            leave_full_read_pending(c, request_id)?;
        }
    }
    Ok(changed == 1)
}

/// The request, started by a run that reads only what changed, was for a full read: it is
/// recorded as what its run does, and the full read waits as a new request (a new id: the
/// connector has handled the old one) of the same person, carried by the next heartbeats.
fn leave_full_read_pending(c: &Connection, request_id: &str) -> DomainResult<()> {
    let narrowed = c.execute(
        "UPDATE sync_requests SET full = 0 WHERE id = ?1 AND full = 1",
        [request_id],
    )?;
    if narrowed == 1 {
        let id = uuid::Uuid::new_v4().to_string();
        c.execute(
            "INSERT INTO sync_requests (id, company_id, full, requested_by, requested_at)
             SELECT ?2, company_id, 1, requested_by, ?3 FROM sync_requests WHERE id = ?1",
            params![request_id, id, now_ms()],
        )?;
        log::info!("sync request {request_id} became a full read after its connector was told; the full read waits as request {id}");
    }
    Ok(())
}
