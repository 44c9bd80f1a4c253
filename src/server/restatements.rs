//! Restated closed months (`restatements`): what changed when a sync replaced a month that was
//! already closed with different balances. A closed month's balances are final in Tally unless
//! someone goes back (a back-dated entry, an edited old voucher), which a chartered accountant
//! wants to know about. The open month changes every day and is never recorded here.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::chart::{self, GroupTree};
use super::clock::rfc3339;
use super::domain_error::DomainResult;
use super::reports::natures::{self, Kind};
use super::snapshots;
use crate::protocol::{Amount, MonthKey, RestatedLine, RestatedMonth, Restatement};

/// The balances (ledger row id -> paise) of the company's month as stored, when it is held
/// and closed: what a replacement is compared with.
pub fn closed_balances(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<Option<HashMap<i64, i64>>> {
    let closed: Option<bool> = c
        .prepare_cached("SELECT is_closed FROM snapshots WHERE company_id = ?1 AND month_key = ?2")?
        .query_row(params![company_id, month.to_string()], |r| r.get(0))
        .optional()?;
    let Some(true) = closed else {
        return Ok(None);
    };
    Ok(Some(snapshots::month_balances(c, company_id, month)?))
}

/// What one ingestion replaced a closed month with.
pub struct Replacement<'a> {
    pub company_id: &'a str,
    pub month: MonthKey,
    pub ingestion_id: i64,
    pub received_at: i64,
    /// (ledger row id, paise), as stored now.
    pub balances: &'a [(i64, i64)],
}

/// Records every ledger whose balance differs from `old` (a ledger missing on either side has
/// a zero balance there); nothing when nothing changed. Returns how many ledgers changed.
pub fn record(c: &Connection, r: &Replacement<'_>, old: &HashMap<i64, i64>) -> DomainResult<usize> {
    let mut changed: Vec<(i64, i64, i64)> = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(r.balances.len());
    for &(ledger, new) in r.balances {
        seen.insert(ledger);
        let was = old.get(&ledger).copied().unwrap_or(0);
        if was != new {
            changed.push((ledger, was, new));
        }
    }
    for (&ledger, &was) in old {
        if was != 0 && !seen.contains(&ledger) {
            changed.push((ledger, was, 0));
        }
    }
    let mut insert = c.prepare_cached(
        "INSERT INTO restatements (company_id, month_key, ledger_id, old_balance, new_balance,
         ingestion_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let month = r.month.to_string();
    for (ledger, was, new) in &changed {
        insert.execute(params![
            r.company_id,
            month,
            ledger,
            was,
            new,
            r.ingestion_id,
            r.received_at
        ])?;
    }
    Ok(changed.len())
}

/// Restatements in one answer, unless the caller asks for fewer.
pub const DEFAULT_PAGE: usize = 20;
/// The most restatements one answer holds.
pub const MAX_PAGE: usize = 200;
/// The most lines one restatement shows: its largest changes. A replaced chart can change
/// thousands of ledgers; `ledgersChanged` still counts them all.
pub const MAX_LINES: usize = 200;

/// Where a page starts: just after the restatement the previous page ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    received_at: i64,
    ingestion_id: i64,
    month_key: String,
}

impl Cursor {
    /// `before=` as `nextBefore` gave it: `<received ms>_<ingestion id>_<YYYY-MM>`.
    pub fn parse(text: &str) -> Option<Cursor> {
        let mut parts = text.splitn(3, '_');
        let received_at = parts.next()?.parse().ok()?;
        let ingestion_id = parts.next()?.parse().ok()?;
        let month: MonthKey = parts.next()?.parse().ok()?;
        Some(Cursor {
            received_at,
            ingestion_id,
            month_key: month.to_string(),
        })
    }

    fn text(&self) -> String {
        format!(
            "{}_{}_{}",
            self.received_at, self.ingestion_id, self.month_key
        )
    }
}

/// One page of the company's restatements, newest first, each with its largest changes; and
/// the cursor of the next page, when there is one.
pub fn page(
    c: &Connection,
    company_id: &str,
    limit: usize,
    before: Option<&Cursor>,
) -> DomainResult<(Vec<Restatement>, Option<String>)> {
    let (received, ingestion, month) = match before {
        Some(b) => (b.received_at, b.ingestion_id, b.month_key.clone()),
        None => (i64::MAX, i64::MAX, String::from("9999-99")),
    };
    let mut stmt = c.prepare_cached(
        "SELECT r.month_key, r.received_at, r.ingestion_id, i.run_id, COUNT(*),
                SUM(MAX(r.new_balance - r.old_balance, 0))
         FROM restatements r LEFT JOIN ingestion_logs i ON i.id = r.ingestion_id
         WHERE r.company_id = ?1
           AND (r.received_at, r.ingestion_id, r.month_key) < (?2, ?3, ?4)
         GROUP BY r.month_key, r.ingestion_id, r.received_at
         ORDER BY r.received_at DESC, r.ingestion_id DESC, r.month_key DESC
         LIMIT ?5",
    )?;
    let want = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![company_id, received, ingestion, month, want], |r| {
        Ok((
            Cursor {
                month_key: r.get(0)?,
                received_at: r.get(1)?,
                ingestion_id: r.get(2)?,
            },
            r.get::<_, Option<String>>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut heads: Vec<_> = rows.collect::<Result<_, _>>()?;
    let more = heads.len() > limit;
    heads.truncate(limit);
    let next = more.then(|| heads.last().map(|h| h.0.text())).flatten();
    let mut revenue = RevenueLedgers::new(c, company_id)?;
    let mut out = Vec::with_capacity(heads.len());
    for (at, sync_run_id, count, amount) in heads {
        out.push(Restatement {
            month_key: at.month_key.clone(),
            received_at: rfc3339(at.received_at),
            ingestion_id: at.ingestion_id,
            sync_run_id,
            ledgers_changed: usize::try_from(count).unwrap_or(0),
            amount: Amount::from_paise(amount),
            profit_change: profit_change(c, company_id, &at, &mut revenue)?,
            lines: largest_lines(c, company_id, &at)?,
        });
    }
    Ok((out, next))
}

/// The restatement's `MAX_LINES` largest changes, largest first (then by ledger name).
fn largest_lines(c: &Connection, company_id: &str, at: &Cursor) -> DomainResult<Vec<RestatedLine>> {
    let mut stmt = c.prepare_cached(
        "SELECT l.guid, l.name, r.old_balance, r.new_balance
         FROM restatements r JOIN ledgers l ON l.id = r.ledger_id
         WHERE r.company_id = ?1 AND r.ingestion_id = ?2 AND r.month_key = ?3
         ORDER BY ABS(r.new_balance - r.old_balance) DESC, l.name
         LIMIT ?4",
    )?;
    let cap = i64::try_from(MAX_LINES).unwrap_or(i64::MAX);
    let rows = stmt.query_map(
        params![company_id, at.ingestion_id, at.month_key, cap],
        |r| {
            let (old, new) = (r.get::<_, i64>(2)?, r.get::<_, i64>(3)?);
            Ok(RestatedLine {
                ledger_guid: r.get(0)?,
                ledger_name: r.get(1)?,
                old: Amount::from_paise(old),
                new: Amount::from_paise(new),
                change: Amount::from_paise(new.saturating_sub(old)),
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What every changed income and expense ledger of the restatement did to the year's profit.
fn profit_change(
    c: &Connection,
    company_id: &str,
    at: &Cursor,
    revenue: &mut RevenueLedgers,
) -> DomainResult<Amount> {
    let mut stmt = c.prepare_cached(
        "SELECT l.parent_name, SUM(r.new_balance - r.old_balance)
         FROM restatements r JOIN ledgers l ON l.id = r.ledger_id
         WHERE r.company_id = ?1 AND r.ingestion_id = ?2 AND r.month_key = ?3
         GROUP BY l.parent_name",
    )?;
    let rows = stmt.query_map(params![company_id, at.ingestion_id, at.month_key], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut profit: i64 = 0;
    for row in rows {
        let (parent, change) = row?;
        if revenue.is_revenue(&parent) {
            // Income is credit: a credit change (negative) is more profit.
            profit = profit.saturating_sub(change);
        }
    }
    Ok(Amount::from_paise(profit))
}

/// Which ledgers' balances are income or expense, by their parent group.
struct RevenueLedgers {
    tree: GroupTree,
    kinds: HashMap<String, Kind>,
}

impl RevenueLedgers {
    fn new(c: &Connection, company_id: &str) -> DomainResult<Self> {
        Ok(RevenueLedgers {
            tree: chart::group_tree(c, company_id)?,
            kinds: natures::group_kinds(c, company_id)?,
        })
    }

    fn is_revenue(&mut self, parent: &str) -> bool {
        let path = self.tree.path(parent);
        let primary = path.first().map_or(parent, String::as_str);
        natures::kind_of(&self.kinds, primary).is_some_and(|k| k.nature.is_revenue())
    }
}

/// Which of the companies (a JSON array of their ids) have a restatement received at or after
/// `since_ms`: the few whose [`recent`] the overview must read; most have none.
pub fn companies_restated_since(
    c: &Connection,
    company_ids_json: &str,
    since_ms: i64,
) -> DomainResult<std::collections::HashSet<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT company_id FROM restatements
         WHERE company_id IN (SELECT value FROM json_each(?1)) AND received_at >= ?2",
    )?;
    let rows = stmt.query_map(params![company_ids_json, since_ms], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The company's restatements received since `since_ms`, without their lines: the overview's
/// warning.
pub fn recent(c: &Connection, company_id: &str, since_ms: i64) -> DomainResult<Vec<RestatedMonth>> {
    let mut stmt = c.prepare_cached(
        "SELECT month_key, received_at, ingestion_id, COUNT(*), SUM(MAX(new_balance - old_balance, 0))
         FROM restatements WHERE company_id = ?1 AND received_at >= ?2
         GROUP BY month_key, ingestion_id, received_at
         ORDER BY received_at DESC, ingestion_id DESC, month_key DESC",
    )?;
    let rows = stmt.query_map(params![company_id, since_ms], |r| {
        Ok((
            Cursor {
                month_key: r.get(0)?,
                received_at: r.get(1)?,
                ingestion_id: r.get(2)?,
            },
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    let heads: Vec<_> = rows.collect::<Result<_, _>>()?;
    if heads.is_empty() {
        // Most companies: no chart to read.
        return Ok(Vec::new());
    }
    let mut revenue = RevenueLedgers::new(c, company_id)?;
    let mut out = Vec::with_capacity(heads.len());
    for (at, count, amount) in heads {
        out.push(RestatedMonth {
            profit_change: profit_change(c, company_id, &at, &mut revenue)?,
            received_at: rfc3339(at.received_at),
            month_key: at.month_key,
            ledgers: usize::try_from(count).unwrap_or(0),
            amount: Amount::from_paise(amount),
        });
    }
    Ok(out)
}
