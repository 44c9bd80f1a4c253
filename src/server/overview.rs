//! The fleet at a glance (`GET /api/overview`): for every company a user may see, its connectors,
//! last runs and how fresh its books are, read in one go so the page needs one call. Reads only.
//! Each connector carries what the company's card shows and its update state; its agent state,
//! system and version are the status's, which the company page reads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::accounts::{self, User};
use super::clock::{now_ms, rfc3339};
use super::connectors::heartbeats::Heartbeats;
use super::connectors::{self, OnlineRule};
use super::domain_error::{DomainError, DomainResult};
use super::releases::Catalogue;
use super::{restatements, runs, snapshots, updates};
use crate::protocol::{
    CompanyOverview, CompanySummary, ConnectorView, Overview, OverviewConnector, RunStatus, RunView,
};

/// How far back the overview warns of a restated closed month.
const RESTATED_WINDOW_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Heartbeats come from the heartbeat book where it is newer than the database. A company whose
/// data cannot be read is shown as such (see [`Fleet::read`]); the others as always.
pub fn overview(
    c: &Connection,
    user: &User,
    rule: OnlineRule,
    beats: &Heartbeats,
    catalogue: &Catalogue,
) -> DomainResult<Overview> {
    let visible = accounts::visible_companies(c, user)?;
    let fleet = Fleet {
        c,
        rule,
        beats,
        catalogue,
    };
    let mut companies = Vec::with_capacity(visible.len());
    fleet.read(&visible, &mut companies);
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

/// What the card of a company whose data could not be read says; the cause goes to the log only.
pub const UNREADABLE: &str = "could not be read: the appliance met an error in this company's \
     stored data (the cause is in the appliance's log). The other companies are not affected.";

/// What every read of the overview needs.
struct Fleet<'a> {
    c: &'a Connection,
    rule: OnlineRule,
    beats: &'a Heartbeats,
    catalogue: &'a Catalogue,
}

impl Fleet<'_> {
    /// Appends the overview of `set`, in order, to `out`. The set-based read is tried first; when
    /// it fails (an error in one company's rows fails the query for all), the set is halved and
    /// each half read alike, so the failing companies are found in a few reads each and only
    /// they are shown as unreadable.
    fn read(&self, set: &[CompanySummary], out: &mut Vec<CompanyOverview>) {
        let mut read = match FleetRead::of(self.c, set, self.rule, self.beats) {
            Ok(read) => read,
            Err(_) if set.is_empty() => return,
            Err(e) if set.len() == 1 => return out.push(unreadable(&set[0], &e)),
            Err(_) => {
                let (first, second) = set.split_at(set.len() / 2);
                self.read(first, out);
                return self.read(second, out);
            }
        };
        for company in set {
            let shown = read
                .company(self.c, company.clone(), self.beats, self.catalogue)
                .unwrap_or_else(|e| unreadable(company, &e));
            out.push(shown);
        }
    }
}

/// The card of a company the overview could not read, the cause logged.
fn unreadable(company: &CompanySummary, cause: &DomainError) -> CompanyOverview {
    if first_in_a_while(&company.id) {
        let detail = std::error::Error::source(cause).map_or(String::new(), |s| format!(": {s}"));
        log::error!(
            "overview: company {:?} could not be read: {cause}{detail}",
            company.id
        );
    }
    CompanyOverview {
        id: company.id.clone(),
        name: company.name.clone(),
        tally_company_name: company.tally_company_name.clone(),
        financial_year_from: company.financial_year_from.clone(),
        connectors: Vec::new(),
        last_sync_run: None,
        last_successful_sync: None,
        latest_month: None,
        months_held: 0,
        unbalanced_months: Vec::new(),
        restated_months: Vec::new(),
        unreadable: Some(UNREADABLE.to_string()),
    }
}

/// Everything the overview shows of the visible companies, read in a handful of set-based
/// queries (one per kind of thing, each for every company at once) rather than a few queries
/// per company: with a thousand companies the per-company round trips were most of its time.
struct FleetRead {
    connectors: HashMap<String, Vec<ConnectorView>>,
    updates: updates::UpdateState,
    last_runs: HashMap<String, RunView>,
    last_successes: HashMap<String, RunView>,
    months: HashMap<String, snapshots::MonthsHeld>,
    /// The companies with a recent restatement; the rest have nothing to read.
    restated: HashSet<String>,
    restated_since: i64,
}

impl FleetRead {
    fn of(
        c: &Connection,
        visible: &[CompanySummary],
        rule: OnlineRule,
        beats: &Heartbeats,
    ) -> DomainResult<FleetRead> {
        let ids = serde_json::Value::from_iter(visible.iter().map(|co| co.id.clone())).to_string();
        let restated_since = now_ms() - RESTATED_WINDOW_MS;
        Ok(FleetRead {
            connectors: connectors::list_for_companies(c, &ids, rule, beats)?,
            updates: updates::UpdateState::of_companies(c, &ids)?,
            last_runs: runs::latest_of_companies(c, &ids, None)?,
            last_successes: runs::latest_of_companies(c, &ids, Some(RunStatus::Succeeded))?,
            months: snapshots::held_of_companies(c, &ids)?,
            restated: restatements::companies_restated_since(c, &ids, restated_since)?,
            restated_since,
        })
    }

    fn company(
        &mut self,
        c: &Connection,
        company: CompanySummary,
        beats: &Heartbeats,
        catalogue: &Catalogue,
    ) -> DomainResult<CompanyOverview> {
        let mut listed = self.connectors.remove(&company.id).unwrap_or_default();
        self.updates.annotate(&mut listed, catalogue, beats);
        let months = self.months.remove(&company.id).unwrap_or_default();
        let restated_months = if self.restated.contains(&company.id) {
            restatements::recent(c, &company.id, self.restated_since)?
        } else {
            Vec::new()
        };
        Ok(CompanyOverview {
            connectors: listed.into_iter().map(card_view).collect(),
            last_sync_run: self.last_runs.remove(&company.id),
            last_successful_sync: self.last_successes.remove(&company.id),
            months_held: months.count,
            unbalanced_months: months.unbalanced,
            restated_months,
            latest_month: months.latest,
            id: company.id,
            name: company.name,
            tally_company_name: company.tally_company_name,
            financial_year_from: company.financial_year_from,
            unreadable: None,
        })
    }
}

/// A failing company is logged once in this long, not at every refresh of every open page.
const LOG_EVERY: Duration = Duration::from_secs(600);
static LOGGED: Mutex<BTreeMap<String, Instant>> = Mutex::new(BTreeMap::new());

fn first_in_a_while(company_id: &str) -> bool {
    let Ok(mut logged) = LOGGED.lock() else {
        return true;
    };
    let now = Instant::now();
    logged.retain(|_, at| now.duration_since(*at) < LOG_EVERY);
    if logged.contains_key(company_id) {
        return false;
    }
    logged.insert(company_id.to_string(), now);
    true
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
