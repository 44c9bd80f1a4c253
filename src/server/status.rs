//! What the admin sees for one company: its connectors (with their update state), its last
//! runs and the months held. Connectors' heartbeats come from the heartbeat book where it is
//! newer than the database.

use rusqlite::Connection;

use super::clock::{now_ms, rfc3339};
use super::connectors::heartbeats::Heartbeats;
use super::connectors::{self, OnlineRule};
use super::domain_error::DomainResult;
use super::releases::Catalogue;
use super::{runs, schedules, snapshots, updates};
use crate::protocol::{ConnectorStatus, RunStatus};

pub fn connector_status(
    c: &Connection,
    company_id: &str,
    rule: OnlineRule,
    beats: &Heartbeats,
    catalogue: &Catalogue,
    schedule_offset: time::UtcOffset,
) -> DomainResult<ConnectorStatus> {
    let mut listed = connectors::list_for_company(c, company_id, rule, beats)?;
    updates::annotate(c, company_id, &mut listed, catalogue, beats)?;
    Ok(ConnectorStatus {
        connectors: listed,
        last_sync_run: runs::latest(c, company_id, None)?,
        last_successful_sync: runs::latest(c, company_id, Some(RunStatus::Succeeded))?,
        months: snapshots::list(c, company_id)?,
        schedule: Some(schedules::status(c, company_id, now_ms(), schedule_offset)?),
        server_time: rfc3339(now_ms()),
        company_id: company_id.to_string(),
    })
}
