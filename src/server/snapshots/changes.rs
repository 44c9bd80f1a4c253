//! Where a month's balances live (`balance_changes`, migration V10): a ledger's balance is stored
//! only in the held months where it changed, and a month's balance of a ledger is its latest
//! row at or before the month. A NULL balance marks a ledger that left the month's items; a
//! ledger with no row at or before a month was not in it.
//!
//! Every read and write of balances goes through here, so the rest of the appliance sees whole
//! months, as if each were stored in full.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::protocol::MonthKey;
use crate::server::domain_error::{DomainError, DomainResult};

/// A ledger's balances by ledger row id, paise, debit positive: the ledgers in a month's items.
pub type Month = HashMap<i64, i64>;

/// The month as `balance_changes` keys it: year * 12 + month - 1.
pub fn number(m: MonthKey) -> i64 {
    i64::from(m.year()) * 12 + i64::from(m.month()) - 1
}

fn number_of_key(key: &str) -> Option<i64> {
    key.parse::<MonthKey>().ok().map(number)
}

/// The company's balances as they stand at `month` (a month number): each ledger's latest row
/// at or before it.
pub fn at(c: &Connection, company_id: &str, month: i64) -> DomainResult<Month> {
    let mut stmt = c.prepare_cached(
        "SELECT l.id, (SELECT b.balance FROM balance_changes b
                       WHERE b.ledger_id = l.id AND b.month <= ?2 ORDER BY b.month DESC LIMIT 1)
         FROM ledgers l WHERE l.company_id = ?1",
    )?;
    let mut rows = stmt.query(params![company_id, month])?;
    let mut out = Month::new();
    while let Some(r) = rows.next()? {
        if let Some(balance) = r.get::<_, Option<i64>>(1)? {
            out.insert(r.get(0)?, balance);
        }
    }
    Ok(out)
}

/// The first month the company holds after `month`, if any.
fn next_held(c: &Connection, company_id: &str, month: MonthKey) -> DomainResult<Option<i64>> {
    let mut stmt = c.prepare_cached(
        "SELECT month_key FROM snapshots WHERE company_id = ?1 AND month_key > ?2
         ORDER BY month_key LIMIT 1",
    )?;
    let mut rows = stmt.query(params![company_id, month.to_string()])?;
    Ok(match rows.next()? {
        Some(r) => number_of_key(&r.get::<_, String>(0)?),
        None => None,
    })
}

/// Makes `month`'s rows say `target`, for a month whose previous held month stands at `base`.
fn rewrite(
    c: &Connection,
    company_id: &str,
    month: i64,
    base: &Month,
    target: &Month,
) -> DomainResult<()> {
    c.prepare_cached(
        "DELETE FROM balance_changes WHERE month = ?2
         AND ledger_id IN (SELECT id FROM ledgers WHERE company_id = ?1)",
    )?
    .execute(params![company_id, month])?;
    let mut rows: Vec<(i64, Option<i64>)> = target
        .iter()
        .filter(|(l, b)| base.get(l) != Some(b))
        .map(|(&l, &b)| (l, Some(b)))
        .chain(
            base.keys()
                .filter(|l| !target.contains_key(l))
                .map(|&l| (l, None)),
        )
        .collect();
    rows.sort_unstable();
    let mut insert = c.prepare_cached(
        "INSERT INTO balance_changes (ledger_id, month, balance) VALUES (?1, ?2, ?3)",
    )?;
    for (ledger, balance) in rows {
        insert.execute(params![ledger, month, balance])?;
    }
    Ok(())
}

/// Stores `balances` as the company's `month`, leaving every other held month as it was: the
/// next held month's rows are rewritten against the new month.
pub fn store(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
    balances: &[(i64, i64)],
) -> DomainResult<()> {
    let n = number(month);
    let target: Month = balances.iter().copied().collect();
    // A month synced again unchanged (the usual case for closed months) writes nothing.
    if at(c, company_id, n)? == target {
        return Ok(());
    }
    let after = match next_held(c, company_id, month)? {
        Some(next) => Some((next, at(c, company_id, next)?)),
        None => None,
    };
    let before = at(c, company_id, n - 1)?;
    rewrite(c, company_id, n, &before, &target)?;
    if let Some((next, stood)) = after {
        rewrite(c, company_id, next, &target, &stood)?;
    }
    Ok(())
}

/// For each held month of the company, oldest first (month key, as-of date), the sum of the
/// balances of `ledgers` in it.
pub fn sums(
    c: &Connection,
    company_id: &str,
    ledgers: &[i64],
) -> DomainResult<Vec<(String, String, i64)>> {
    let mut stmt = c.prepare_cached(
        "SELECT month_key, as_of_date FROM snapshots WHERE company_id = ?1 ORDER BY month_key",
    )?;
    let held: Vec<(String, String)> = stmt
        .query_map([company_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let numbers: Vec<Option<i64>> = held.iter().map(|(k, _)| number_of_key(k)).collect();
    let mut totals = vec![0i64; held.len()];
    let mut rows = c.prepare_cached(
        "SELECT month, balance FROM balance_changes WHERE ledger_id = ?1 ORDER BY month",
    )?;
    for &ledger in ledgers {
        let changes: Vec<(i64, Option<i64>)> = rows
            .query_map([ledger], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        add_ledger(&mut totals, &numbers, &changes)?;
    }
    Ok(held
        .into_iter()
        .zip(totals)
        .map(|((key, as_of), total)| (key, as_of, total))
        .collect())
}

/// Adds one ledger's balance in each held month (its latest change at or before) to `totals`.
fn add_ledger(
    totals: &mut [i64],
    months: &[Option<i64>],
    changes: &[(i64, Option<i64>)],
) -> DomainResult<()> {
    let mut next = 0;
    let mut standing: Option<i64> = None;
    for (total, month) in totals.iter_mut().zip(months) {
        let Some(month) = *month else { continue };
        while next < changes.len() && changes[next].0 <= month {
            standing = changes[next].1;
            next += 1;
        }
        if let Some(b) = standing {
            *total = total
                .checked_add(b)
                .ok_or_else(|| DomainError::internal("adding up a series", "integer overflow"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::db::Db;

    /// A real database file with one company of three ledgers (row ids 1, 2, 3) and an ingestion.
    fn company() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(&dir.path().join("t.sqlite3")).expect("database");
        db.write_blocking(|c| {
            c.execute_batch(
                "INSERT INTO companies (id, name, created_at) VALUES ('co', 'Co', 0);
                 INSERT INTO ledgers (id, company_id, guid, name, parent_name, first_seen, last_seen,
                   last_ingestion) VALUES (1, 'co', 'a', 'A', 'G', 0, 0, 0), (2, 'co', 'b', 'B', 'G', 0, 0, 0),
                   (3, 'co', 'c', 'C', 'G', 0, 0, 0);
                 INSERT INTO connector_clients (id, company_id, device_id, first_seen, last_seen)
                   VALUES ('k', 'co', 'pc', 0, 0);
                 INSERT INTO ingestion_logs (id, company_id, connector_id, bytes, groups_count,
                   ledgers_count, months_count, balances_count, duration_ms, outcome, created_at)
                   VALUES (1, 'co', 'k', 0, 0, 0, 0, 0, 0, 'stored', 0);",
            )?;
            Ok(())
        })
        .expect("company");
        (dir, db)
    }

    fn month(m: u8) -> MonthKey {
        MonthKey::new(2025, m).expect("a month")
    }

    /// Stores the month as a held snapshot would (the snapshot row is what `next_held` reads).
    fn put(c: &Connection, m: u8, balances: &[(i64, i64)]) {
        c.execute(
            "INSERT OR IGNORE INTO snapshots (company_id, month_key, as_of_date, is_closed, ledger_count,
             debit_total, credit_total, difference, ingestion_id, ingested_at)
             VALUES ('co', ?1, ?1 || '-28', 1, 0, 0, 0, 0, 1, 0)",
            [month(m).to_string()],
        )
        .expect("snapshot row");
        store(c, "co", month(m), balances).expect("stored");
    }

    fn read(c: &Connection, m: u8) -> Vec<(i64, i64)> {
        let mut v: Vec<_> = at(c, "co", number(month(m)))
            .expect("read")
            .into_iter()
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_month_replaced_in_the_middle_leaves_the_months_after_it_as_they_were() {
        let (_dir, db) = company();
        db.write_blocking(|c| {
            put(c, 4, &[(1, 100), (2, -100)]);
            put(c, 6, &[(1, 100), (2, -50), (3, -50)]);
            // May arrives later, between the two: June must read as stored.
            put(c, 5, &[(1, 70), (3, -70)]);
            assert_eq!(read(c, 4), [(1, 100), (2, -100)]);
            assert_eq!(read(c, 5), [(1, 70), (3, -70)]);
            assert_eq!(read(c, 6), [(1, 100), (2, -50), (3, -50)]);
            // May replaced again, ledger 2 back in it; April and June unchanged.
            put(c, 5, &[(1, 100), (2, -100)]);
            assert_eq!(read(c, 4), [(1, 100), (2, -100)]);
            assert_eq!(read(c, 5), [(1, 100), (2, -100)]);
            assert_eq!(read(c, 6), [(1, 100), (2, -50), (3, -50)]);
            // May unchanged from April: stored without a row of its own.
            let rows: i64 = c.query_row(
                "SELECT COUNT(*) FROM balance_changes WHERE month = ?1",
                [number(month(5))],
                |r| r.get(0),
            )?;
            assert_eq!(rows, 0);
            Ok(())
        })
        .expect("test transaction");
    }

    #[test]
    fn a_series_adds_each_held_month_and_ledgers_that_left_count_nothing() {
        let (_dir, db) = company();
        db.write_blocking(|c| {
            put(c, 4, &[(1, 100), (2, -100)]);
            put(c, 5, &[(1, 40), (3, -40)]);
            put(c, 7, &[(2, 10), (3, -10)]);
            let sums: Vec<i64> = sums(c, "co", &[1, 2])?.into_iter().map(|s| s.2).collect();
            assert_eq!(sums, [0, 40, 10]);
            Ok(())
        })
        .expect("test transaction");
    }
}
