//! The schedules administrators set: firm-wide (`appliance_settings`, key `sync_schedule`) and
//! per company (`company_sync_schedules`), stored as the JSON they were given. Checking a
//! request, storing and reading.

use rusqlite::{params, Connection, OptionalExtension};

use crate::protocol::{ScheduleSetting, ScheduleSource, SyncSchedule};
use crate::server::clock::now_ms;
use crate::server::domain_error::DomainResult;
use crate::server::problems::Problems;

const FIRM_KEY: &str = "sync_schedule";

/// A schedule as given is one a connector can follow and that lets syncs run, or every
/// problem is named.
pub fn check(schedule: &SyncSchedule) -> DomainResult<()> {
    let mut problems = Problems::new();
    if let Err(found) = schedule.check() {
        for (path, message) in found {
            problems.add(path, message);
        }
    }
    problems.into_result("The sync schedule is invalid; nothing was changed.")
}

/// A stored schedule this appliance cannot read counts as none, rather than stopping every
/// heartbeat of the company.
fn parse(text: Option<String>, what: &str) -> Option<SyncSchedule> {
    let text = text?;
    match serde_json::from_str::<SyncSchedule>(&text) {
        Ok(s) if s.plan().is_ok() => Some(s),
        _ => {
            log::error!("the stored {what} sync schedule cannot be read; it is ignored: {text}");
            None
        }
    }
}

fn to_json(schedule: &SyncSchedule) -> String {
    serde_json::to_string(schedule).unwrap_or_default()
}

pub fn firm(c: &Connection) -> DomainResult<Option<SyncSchedule>> {
    let text = c
        .query_row(
            "SELECT value FROM appliance_settings WHERE key = ?1",
            [FIRM_KEY],
            |r| r.get(0),
        )
        .optional()?;
    Ok(parse(text, "firm-wide"))
}

pub fn set_firm(c: &Connection, schedule: &SyncSchedule, user_id: i64) -> DomainResult<()> {
    c.execute(
        "INSERT INTO appliance_settings (key, value, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3, updated_by = ?4",
        params![FIRM_KEY, to_json(schedule), now_ms(), user_id],
    )?;
    Ok(())
}

pub fn own(c: &Connection, company_id: &str) -> DomainResult<Option<SyncSchedule>> {
    let text = c
        .query_row(
            "SELECT schedule FROM company_sync_schedules WHERE company_id = ?1",
            [company_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(parse(text, company_id))
}

pub fn set_own(
    c: &Connection,
    company_id: &str,
    schedule: &SyncSchedule,
    user_id: i64,
) -> DomainResult<()> {
    c.execute(
        "INSERT INTO company_sync_schedules (company_id, schedule, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (company_id) DO UPDATE SET schedule = ?2, updated_at = ?3, updated_by = ?4",
        params![company_id, to_json(schedule), now_ms(), user_id],
    )?;
    Ok(())
}

pub fn clear_own(c: &Connection, company_id: &str) -> DomainResult<()> {
    c.execute(
        "DELETE FROM company_sync_schedules WHERE company_id = ?1",
        [company_id],
    )?;
    Ok(())
}

/// The schedule in force from a company's own and the firm-wide one.
pub fn in_force(own: Option<SyncSchedule>, firm: Option<SyncSchedule>) -> ScheduleSetting {
    match (own, firm) {
        (Some(s), _) => ScheduleSetting {
            schedule: Some(s),
            source: ScheduleSource::Company,
        },
        (None, Some(s)) => ScheduleSetting {
            schedule: Some(s),
            source: ScheduleSource::Firm,
        },
        (None, None) => ScheduleSetting {
            schedule: None,
            source: ScheduleSource::Connector,
        },
    }
}

pub fn setting(c: &Connection, company_id: &str) -> DomainResult<ScheduleSetting> {
    Ok(in_force(own(c, company_id)?, firm(c)?))
}
