//! Monthly snapshots (`snapshots`, and the balances in `balance_changes` through [`changes`]):
//! storing a month's balances, and reading back the months held and a month's trial balance.

mod changes;

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::chart;
use super::clock::rfc3339;
use super::domain_error::{DomainError, DomainResult};
use super::restatements;
use crate::protocol::{
    Amount, MonthKey, SnapshotSummary, StockValues, TrialBalance, TrialBalanceLine,
};

const SUMMARY_COLS: &str =
    "month_key, as_of_date, is_closed, ledger_count, debit_total, credit_total, \
     difference, ingested_at, stock_opening, stock_closing, opening_difference";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotSummary> {
    let difference: i64 = r.get(6)?;
    let stock = match (r.get::<_, Option<i64>>(8)?, r.get::<_, Option<i64>>(9)?) {
        (Some(opening), Some(closing)) => Some(StockValues {
            opening: Amount::from_paise(opening),
            closing: Amount::from_paise(closing),
        }),
        _ => None,
    };
    Ok(SnapshotSummary {
        month_key: r.get(0)?,
        as_of_date: r.get(1)?,
        closed: r.get(2)?,
        ledger_count: r.get(3)?,
        debit_total: Amount::from_paise(r.get(4)?),
        credit_total: Amount::from_paise(r.get(5)?),
        stock,
        opening_difference: Amount::from_paise(r.get(10)?),
        difference: Amount::from_paise(difference),
        balanced: difference == 0,
        ingested_at: rfc3339(r.get(7)?),
    })
}

pub fn list(c: &Connection, company_id: &str) -> DomainResult<Vec<SnapshotSummary>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {SUMMARY_COLS} FROM snapshots WHERE company_id = ?1 ORDER BY month_key"
    ))?;
    let rows = stmt
        .query_map([company_id], summary)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What the overview shows of a company's months: how many are held, which do not balance,
/// and the latest.
#[derive(Debug, Default)]
pub struct MonthsHeld {
    pub count: usize,
    pub unbalanced: Vec<String>,
    pub latest: Option<SnapshotSummary>,
}

/// [`MonthsHeld`] of each of the companies (a JSON array of their ids), in two queries: the
/// latest month and the count by the (company, month) index, and the few months that do not
/// balance. Companies without months are not in the answer.
pub fn held_of_companies(
    c: &Connection,
    company_ids_json: &str,
) -> DomainResult<HashMap<String, MonthsHeld>> {
    let cols = SUMMARY_COLS
        .split(", ")
        .map(|col| format!("s.{}", col.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {cols}, s.company_id, held.n FROM (
             SELECT company_id, MAX(month_key) AS latest, COUNT(*) AS n FROM snapshots
             WHERE company_id IN (SELECT value FROM json_each(?1)) GROUP BY company_id) AS held
         JOIN snapshots s ON s.company_id = held.company_id AND s.month_key = held.latest"
    ))?;
    let rows = stmt.query_map([company_ids_json], |r| {
        let held = MonthsHeld {
            count: usize::try_from(r.get::<_, i64>(12)?).unwrap_or(0),
            unbalanced: Vec::new(),
            latest: Some(summary(r)?),
        };
        Ok((r.get::<_, String>(11)?, held))
    })?;
    let mut by_company: HashMap<String, MonthsHeld> = rows.collect::<Result<_, _>>()?;
    let mut stmt = c.prepare_cached(
        "SELECT company_id, month_key FROM snapshots
         WHERE company_id IN (SELECT value FROM json_each(?1)) AND difference != 0
         ORDER BY company_id, month_key",
    )?;
    let rows = stmt.query_map([company_ids_json], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (company_id, month_key) = row?;
        if let Some(held) = by_company.get_mut(&company_id) {
            held.unbalanced.push(month_key);
        }
    }
    Ok(by_company)
}

/// One month's balances as an ingestion stores them.
pub struct MonthSnapshot<'a> {
    pub company_id: &'a str,
    pub month: MonthKey,
    pub as_of_date: &'a str,
    pub closed: bool,
    pub ingestion_id: i64,
    pub ingested_at: i64,
    /// (ledger row id, balance in paise); positive is debit.
    pub balances: Vec<(i64, i64)>,
    pub stock: Option<StockValues>,
    /// Tally's "Difference in opening balances", in paise.
    pub opening_difference: i64,
}

/// Debit and credit totals of a month, or the month's key when they overflow.
fn totals(balances: &[(i64, i64)], month: MonthKey) -> DomainResult<(i64, i64)> {
    let overflow = || {
        DomainError::invalid_field(
            "chartOfAccounts.balances",
            format!("the balances of {month} add up to more than the appliance can hold"),
        )
    };
    let (mut debit, mut credit) = (0i64, 0i64);
    for &(_, paise) in balances {
        if paise >= 0 {
            debit = debit.checked_add(paise).ok_or_else(overflow)?;
        } else {
            credit = credit.checked_sub(paise).ok_or_else(overflow)?;
        }
    }
    if i128::from(debit) + i128::from(credit) > i128::from(MAX_MONTH_GROSS_PAISE) {
        return Err(overflow());
    }
    Ok((debit, credit))
}

/// The most a month's debit and credit balances may add up to (₹10^16). Any sum the appliance
/// later takes over one month's balances or their changes (restatements, profit) then stays
/// within i64: the changes' sum is at most twice this, far below i64::MAX (about 9.2 × 10^18).
pub const MAX_MONTH_GROSS_PAISE: i64 = 1_000_000_000_000_000_000;

/// What Tally's own trial balance leaves unexplained: the ledgers, plus the opening stock it
/// lists beside them, less the "Difference in opening balances" it shows as its own line. The
/// closing stock is not in a trial balance (it is the balance sheet's and the P&L's).
fn unexplained(m: &MonthSnapshot<'_>, debit: i64, credit: i64) -> DomainResult<i64> {
    let opening_stock = m.stock.map_or(0, |s| s.opening.paise());
    (debit - credit)
        .checked_add(opening_stock)
        .and_then(|d| d.checked_sub(m.opening_difference))
        .ok_or_else(|| {
            DomainError::invalid_field(
                "chartOfAccounts.balances",
                format!(
                    "the trial balance of {} adds up to more than the appliance can hold",
                    m.month
                ),
            )
        })
}

/// Replaces the company's snapshot of the month; returns what its trial balance leaves
/// unexplained (non-zero: the month does not balance, and is stored flagged). A closed month
/// replaced with different balances leaves its changes in `restatements`.
pub fn store_month(c: &Connection, m: &MonthSnapshot<'_>) -> DomainResult<i64> {
    let (debit, credit) = totals(&m.balances, m.month)?;
    let difference = unexplained(m, debit, credit)?;
    let was_closed = restatements::closed_balances(c, m.company_id, m.month)?;
    let key = m.month.to_string();
    let count = m.balances.len() as i64;
    c.prepare_cached(
            "INSERT INTO snapshots (company_id, month_key, as_of_date, is_closed, ledger_count, debit_total,
             credit_total, difference, ingestion_id, ingested_at, stock_opening, stock_closing,
             opening_difference) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (company_id, month_key) DO UPDATE SET as_of_date = excluded.as_of_date,
             is_closed = excluded.is_closed, ledger_count = excluded.ledger_count,
             debit_total = excluded.debit_total, credit_total = excluded.credit_total,
             difference = excluded.difference, ingestion_id = excluded.ingestion_id,
             ingested_at = excluded.ingested_at, stock_opening = excluded.stock_opening,
             stock_closing = excluded.stock_closing, opening_difference = excluded.opening_difference",
        )?
        .execute(
            params![
                m.company_id,
                key,
                m.as_of_date,
                m.closed,
                count,
                debit,
                credit,
                difference,
                m.ingestion_id,
                m.ingested_at,
                m.stock.map(|s| s.opening.paise()),
                m.stock.map(|s| s.closing.paise()),
                m.opening_difference
            ],
        )?;
    changes::store(c, m.company_id, m.month, &m.balances)?;
    if let Some(old) = was_closed {
        let replacement = restatements::Replacement {
            company_id: m.company_id,
            month: m.month,
            ingestion_id: m.ingestion_id,
            received_at: m.ingested_at,
            balances: &m.balances,
        };
        restatements::record(c, &replacement, &old)?;
    }
    Ok(difference)
}

fn find(c: &Connection, company_id: &str, key: &str) -> DomainResult<SnapshotSummary> {
    c.query_row(
        &format!("SELECT {SUMMARY_COLS} FROM snapshots WHERE company_id = ?1 AND month_key = ?2"),
        params![company_id, key],
        summary,
    )
    .optional()?
    .ok_or_else(|| {
        DomainError::not_found(
            "snapshot_not_found",
            format!("Company `{company_id}` has no snapshot for {key}."),
        )
    })
}

fn line(guid: String, name: String, group_path: Vec<String>, balance: Amount) -> TrialBalanceLine {
    let debit = if balance.paise() > 0 {
        balance
    } else {
        Amount::ZERO
    };
    let credit = if balance.paise() < 0 {
        balance.abs()
    } else {
        Amount::ZERO
    };
    TrialBalanceLine {
        ledger_guid: guid,
        ledger_name: name,
        group_path,
        balance,
        debit,
        credit,
        compare_balance: None,
        change: None,
    }
}

/// Every ledger of the month: those with a stored balance, and those still in the chart with a
/// zero balance (a ledger missing from a month's items has a zero balance). The ledgers are
/// the chart's; the join with them is read-only.
pub fn trial_balance(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<TrialBalance> {
    let summary = find(c, company_id, &month.to_string())?;
    let mut tree = chart::group_tree(c, company_id)?;
    // A ledger's balance in the month is its latest change at or before it (NULL: not in it).
    let mut stmt = c.prepare_cached(
        "SELECT l.guid, l.name, l.parent_name, l.gone_at IS NULL,
                (SELECT b.balance FROM balance_changes b
                 WHERE b.ledger_id = l.id AND b.month <= ?2 ORDER BY b.month DESC LIMIT 1)
         FROM ledgers l WHERE l.company_id = ?1
         ORDER BY l.name, l.guid",
    )?;
    let mut ledgers = Vec::new();
    let mut rows = stmt.query(params![company_id, changes::number(month)])?;
    while let Some(r) = rows.next()? {
        let (current, stored): (bool, Option<i64>) = (r.get(3)?, r.get(4)?);
        if !current && stored.is_none() {
            continue;
        }
        let parent: String = r.get(2)?;
        let balance = Amount::from_paise(stored.unwrap_or(0));
        ledgers.push(line(r.get(0)?, r.get(1)?, tree.path(&parent), balance));
    }
    Ok(TrialBalance {
        company_id: company_id.to_string(),
        summary,
        ledgers,
    })
}

/// The balances of the company's month (ledger row id -> paise): the ledgers in its items. Empty
/// for a month not held before its first held month.
pub fn month_balances(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<HashMap<i64, i64>> {
    changes::at(c, company_id, changes::number(month))
}

/// For each held month of the company, oldest first (month key, as-of date), the sum of the
/// balances of `ledgers` (row ids) in it.
pub fn sums_by_month(
    c: &Connection,
    company_id: &str,
    ledgers: &[i64],
) -> DomainResult<Vec<(String, String, i64)>> {
    changes::sums(c, company_id, ledgers)
}

fn csv_field(s: &str) -> String {
    // Leading =, +, -, @ would run as formulas when a bookkeeper opens the file in a spreadsheet.
    let guarded = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

pub fn to_csv(tb: &TrialBalance) -> String {
    let mut out = String::with_capacity(64 * (tb.ledgers.len() + 2));
    out.push_str("ledger_guid,ledger_name,group_path,debit,credit,balance\r\n");
    for l in &tb.ledgers {
        out.push_str(&format!(
            "{},{},{},{},{},{}\r\n",
            csv_field(&l.ledger_guid),
            csv_field(&l.ledger_name),
            csv_field(&l.group_path.join(" / ")),
            l.debit,
            l.credit,
            l.balance
        ));
    }
    let s = &tb.summary;
    // Tally's trial balance lists these two beside the ledgers; the closing stock follows the
    // total, as it belongs to the balance sheet.
    let mut debit = s.debit_total;
    let mut credit = s.credit_total;
    let mut extra = |label: &str, amount: Amount| {
        let l = line(String::new(), label.into(), Vec::new(), amount);
        debit = debit.checked_add(l.debit).unwrap_or(debit);
        credit = credit.checked_add(l.credit).unwrap_or(credit);
        format!(",{label},,{},{},{}\r\n", l.debit, l.credit, l.balance)
    };
    if let Some(stock) = s.stock {
        out.push_str(&extra("Opening Stock", stock.opening));
    }
    if !s.opening_difference.is_zero() {
        // The contrary balance that makes the openings tally.
        let contrary = Amount::from_paise(-s.opening_difference.paise());
        out.push_str(&extra("Difference in opening balances", contrary));
    }
    out.push_str(&format!(",TOTAL,,{debit},{credit},{}\r\n", s.difference));
    if let Some(stock) = s.stock {
        out.push_str(&format!(
            ",Closing Stock (balance sheet; not in the total),,,,{}\r\n",
            stock.closing
        ));
    }
    out
}

#[cfg(test)]
mod gross_tests {
    use super::*;

    #[test]
    fn a_month_whose_balances_add_up_beyond_any_books_is_refused() {
        let month: MonthKey = "2026-10".parse().unwrap();
        let max_ledger = 100_000_000_000_000_000; // the largest one ledger may hold
        let ten: Vec<(i64, i64)> = (0..10).map(|i| (i, max_ledger)).collect();
        assert!(totals(&ten, month).is_ok());
        let many: Vec<(i64, i64)> = (0..60)
            .map(|i| (i, if i % 2 == 0 { max_ledger } else { -max_ledger }))
            .collect();
        let refused = totals(&many, month).unwrap_err().to_string();
        assert!(refused.contains("2026-10"), "{refused}");
    }
}
