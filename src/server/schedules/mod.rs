//! When connectors sync, the appliance's side: the schedules administrators set (`store`),
//! "sync now" requests (`requests`) and how often they may be made (`brake`), schedules and
//! requests kept in memory for the heartbeat (`book`), and the status API's view with when the
//! next sync and full read are due.

pub mod book;
pub mod brake;
pub mod requests;
pub mod store;

use rusqlite::Connection;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::db::Db;
use super::domain_error::DomainResult;
use crate::protocol::{ScheduleStatus, SyncOrder, SyncSchedule};
pub use book::{CompanyEntry, ScheduleBook};

/// What a heartbeat answer carries for the company: the schedule in force and a pending
/// request. From the book; the database only when the book does not hold them.
pub async fn for_heartbeat(
    db: &Db,
    book: &ScheduleBook,
    company_id: &str,
) -> DomainResult<(Option<SyncSchedule>, Option<SyncOrder>)> {
    let (firm, entry) = match book.get(company_id) {
        (_, Some(firm), Some(entry)) => (firm, entry),
        (epoch, _, _) => {
            let id = company_id.to_string();
            let (firm, entry) = db
                .read(move |c| {
                    let entry = CompanyEntry {
                        own: store::own(c, &id)?,
                        pending: requests::pending_order(c, &id)?,
                    };
                    Ok((store::firm(c)?, entry))
                })
                .await?;
            book.fill(epoch, firm.clone(), company_id, entry.clone());
            (firm, entry)
        }
    };
    let now = super::clock::now_ms();
    let pending = entry.pending.filter(|(_, until)| now < *until);
    Ok((entry.own.or(firm), pending.map(|(order, _)| order)))
}

fn local(ms: i64, offset: UtcOffset) -> Option<PrimitiveDateTime> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    let t = t.to_offset(offset);
    Some(PrimitiveDateTime::new(t.date(), t.time()))
}

fn rfc3339_of(t: PrimitiveDateTime, offset: UtcOffset) -> Option<String> {
    t.assume_offset(offset)
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The company's schedule for the status API. The next sync counts from the company's last
/// run; the next full read from the last run its connector said reads in full. Times of day are
/// reckoned at `offset` (`AICFO_UTC_OFFSET`).
pub fn status(
    c: &Connection,
    company_id: &str,
    now_ms: i64,
    offset: UtcOffset,
) -> DomainResult<ScheduleStatus> {
    let setting = store::setting(c, company_id)?;
    let plan = setting.schedule.as_ref().and_then(|s| s.plan().ok());
    let (last_start, last_full) = last_runs(c, company_id)?;
    let local = |ms: i64| local(ms, offset);
    let now = local(now_ms);
    let due =
        |f: &dyn Fn(&crate::protocol::schedule::Plan, PrimitiveDateTime) -> PrimitiveDateTime| {
            plan.as_ref()
                .zip(now)
                .and_then(|(p, now)| rfc3339_of(f(p, now), offset))
        };
    Ok(ScheduleStatus {
        next_sync_at: due(&|p, now| p.next_sync(now, last_start.and_then(local))),
        next_full_read_at: due(&|p, now| p.next_full_read(now, last_full.and_then(local))),
        utc_offset: format!(
            "{:+03}:{:02}",
            offset.whole_hours(),
            offset.minutes_past_hour().abs()
        ),
        sync_request: requests::latest(c, company_id)?,
        setting,
    })
}

/// Start times (UTC ms) of the company's last run and last full read.
fn last_runs(c: &Connection, company_id: &str) -> DomainResult<(Option<i64>, Option<i64>)> {
    let (last, full) = c.query_row(
        "SELECT MAX(started_at), MAX(CASE WHEN full_read = 1 THEN started_at END)
         FROM integration_sync_runs WHERE company_id = ?1",
        [company_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((last, full))
}
