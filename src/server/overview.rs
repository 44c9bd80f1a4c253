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
/// stored data cannot be read is shown as such (see [`Fleet::read`]); the others as always. Any
/// other error (I/O, a corrupt page, a busy database) fails the whole overview, as it does when
/// not one company could be read.
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
    let mut read = Read {
        companies: Vec::with_capacity(visible.len()),
        first_unreadable: None,
    };
    fleet.read(&visible, &mut read)?;
    let companies = read.companies;
    if let Some(e) = read.first_unreadable {
        if companies.iter().all(|co| co.unreadable.is_some()) {
            return Err(e);
        }
    }
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

/// Whether `e` is an error in the stored data of the rows read (a value of the wrong type or out
/// of range, a sum that overflows, JSON that does not decode), which fails only the companies
/// whose rows hold it. Anything else (I/O, corruption, a busy or locked database) is the
/// appliance's and fails every read alike.
pub fn is_data_error(e: &DomainError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(e) = c.downcast_ref::<rusqlite::Error>() {
            return is_sqlite_data_error(e);
        }
        if let Some(e) = c.downcast_ref::<serde_json::Error>() {
            return !e.is_io();
        }
        cause = c.source();
    }
    false
}

fn is_sqlite_data_error(e: &rusqlite::Error) -> bool {
    use rusqlite::Error as E;
    match e {
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..) => true,
        // SUM over stored values beyond i64: SQLite's plain SQLITE_ERROR with this message.
        E::SqliteFailure(f, Some(message)) => {
            f.code == rusqlite::ErrorCode::Unknown && message == "integer overflow"
        }
        _ => false,
    }
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
    /// it fails on a data error (an error in one company's rows fails the query for all), the
    /// set is halved and each half read alike, so the failing companies are found in a few
    /// reads each and only they are shown as unreadable. Any other error is returned.
    fn read(&self, set: &[CompanySummary], out: &mut Read) -> DomainResult<()> {
        let mut read = match FleetRead::of(self.c, set, self.rule, self.beats) {
            Ok(read) => read,
            Err(e) if !is_data_error(&e) => return Err(e),
            Err(_) if set.is_empty() => return Ok(()),
            Err(e) if set.len() == 1 => {
                out.unreadable(&set[0], e);
                return Ok(());
            }
            Err(_) => {
                let (first, second) = set.split_at(set.len() / 2);
                self.read(first, out)?;
                return self.read(second, out);
            }
        };
        for company in set {
            match read.company(self.c, company.clone(), self.beats, self.catalogue) {
                Ok(shown) => out.companies.push(shown),
                Err(e) if is_data_error(&e) => out.unreadable(company, e),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The companies read so far, and the first error that made one unreadable.
struct Read {
    companies: Vec<CompanyOverview>,
    first_unreadable: Option<DomainError>,
}

impl Read {
    fn unreadable(&mut self, company: &CompanySummary, cause: DomainError) {
        self.companies.push(unreadable(company, &cause));
        self.first_unreadable.get_or_insert(cause);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(c: &Connection, sql: &str) -> DomainError {
        let read = c.query_row(sql, [], |r| r.get::<_, i64>(0));
        DomainError::from(read.expect_err(sql))
    }

    #[test]
    fn only_errors_in_stored_values_make_a_company_unreadable() {
        let c = Connection::open_in_memory().unwrap();
        for sql in [
            "SELECT 'not a number'",
            "SELECT 1.5",
            "SELECT sum(x) FROM (SELECT 9223372036854775807 AS x UNION ALL SELECT 1)",
        ] {
            assert!(is_data_error(&sqlite_error(&c, sql)), "{sql}");
        }
        let wide = c.query_row("SELECT 300", [], |r| r.get::<_, u8>(0));
        assert!(is_data_error(&wide.unwrap_err().into()));
        let conversion = rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            "unknown run status `x`".into(),
        );
        let within = DomainError::internal("reading connector update attempts", conversion);
        assert!(is_data_error(&within));
        let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert!(is_data_error(&DomainError::internal("decoding", json)));

        assert!(!is_data_error(&sqlite_error(&c, "SELECT x FROM nowhere")));
        let io = std::io::Error::other("disk gone");
        assert!(!is_data_error(&DomainError::internal("reading", io)));
        assert!(!is_data_error(&DomainError::not_found("x", "no such")));
    }

    #[test]
    fn a_busy_or_corrupt_database_is_not_a_data_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("books.db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);")
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        reader.busy_timeout(Duration::ZERO).unwrap();
        let busy = sqlite_error(&reader, "SELECT count(*) FROM t");
        assert!(
            cause_text(&busy).contains("locked"),
            "{}",
            cause_text(&busy)
        );
        assert!(!is_data_error(&busy));

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
        let corrupt = Connection::open(&garbage).unwrap();
        let e = sqlite_error(&corrupt, "SELECT count(*) FROM sqlite_master");
        assert!(
            cause_text(&e).contains("not a database"),
            "{}",
            cause_text(&e)
        );
        assert!(!is_data_error(&e));
    }

    fn cause_text(e: &DomainError) -> String {
        crate::server::domain_error::cause_chain(e)
    }
}
