//! The fleet at a glance (`GET /api/overview`): for every company a user may see, its connectors,
//! last runs and how fresh its books are, read in one go so the page needs one call. Reads only.
//! Each connector carries what the company's card shows and its update state; its agent state,
//! system and version are the status's, which the company page reads.

use rusqlite::Connection;

use super::accounts::{self, User};
use super::clock::{now_ms, rfc3339};
use super::connectors::heartbeats::Heartbeats;
use super::connectors::{self, OnlineRule};
use super::domain_error::DomainResult;
use super::releases::Catalogue;
use super::{restatements, runs, snapshots, updates};
use crate::protocol::{
    CompanyOverview, CompanySummary, ConnectorView, Overview, OverviewConnector, RunStatus,
};

/// How far back the overview warns of a restated closed month.
const RESTATED_WINDOW_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Heartbeats come from the heartbeat book where it is newer than the database.
pub fn overview(
    c: &Connection,
    user: &User,
    rule: OnlineRule,
    beats: &Heartbeats,
    catalogue: &Catalogue,
) -> DomainResult<Overview> {
    let companies = accounts::visible_companies(c, user)?
        .into_iter()
        .map(|company| company_overview(c, company, rule, beats, catalogue))
        .collect::<DomainResult<Vec<_>>>()?;
    let offline_connectors = companies
        .iter()
        .flat_map(|co| &co.connectors)
        .filter(|k| !k.online && !k.revoked)
        .count();
    Ok(Overview {
        server_time: rfc3339(now_ms()),
        offline_connectors,
        companies,
        last_backup: None,
    })
}

fn company_overview(
    c: &Connection,
    company: CompanySummary,
    rule: OnlineRule,
    beats: &Heartbeats,
    catalogue: &Catalogue,
) -> DomainResult<CompanyOverview> {
    let mut listed = connectors::list_for_company(c, &company.id, rule, beats)?;
    updates::annotate(c, &company.id, &mut listed, catalogue, beats)?;
    let connectors = listed.into_iter().map(card_view).collect();
    let months = snapshots::list(c, &company.id)?;
    Ok(CompanyOverview {
        connectors,
        last_sync_run: runs::latest(c, &company.id, None)?,
        last_successful_sync: runs::latest(c, &company.id, Some(RunStatus::Succeeded))?,
        months_held: months.len(),
        unbalanced_months: months
            .iter()
            .filter(|m| !m.balanced)
            .map(|m| m.month_key.clone())
            .collect(),
        restated_months: restatements::recent(c, &company.id, now_ms() - RESTATED_WINDOW_MS)?,
        latest_month: months.into_iter().last(),
        id: company.id,
        name: company.name,
        tally_company_name: company.tally_company_name,
        financial_year_from: company.financial_year_from,
    })
}

/// The card's part of a connector, with what its last heartbeat said about Tally lifted out of
/// the stored heartbeat body.
fn card_view(k: ConnectorView) -> OverviewConnector {
    let flag = |key: &str| {
        k.agent_state
            .as_ref()
            .and_then(|s| s.get(key))
            .and_then(|v| v.as_bool())
    };
    OverviewConnector {
        tally_reachable: flag("tallyReachable"),
        company_open: flag("companyOpen"),
        connector_id: k.connector_id,
        device_id: k.device_id,
        device_name: k.device_name,
        online: k.online,
        revoked: k.revoked,
        last_seen: k.last_seen,
        last_heartbeat: k.last_heartbeat,
        update_policy: k.update_policy,
        target_version: k.target_version,
        behind: k.behind,
        last_update: k.last_update,
    }
}
