//! Restated closed months (`restatements`): what changed when a sync replaced a month that was
//! already closed with different balances. A closed month's balances are final in Tally unless
//! someone goes back (a back-dated entry, an edited old voucher), which a chartered accountant
//! wants to know about. The open month changes every day and is never recorded here.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::clock::rfc3339;
use super::domain_error::DomainResult;
use crate::protocol::{Amount, MonthKey, RestatedLine, RestatedMonth, Restatement};

/// The balances (ledger row id -> paise) of the company's month as stored, when it is held
/// and closed: what a replacement is compared with.
pub fn closed_balances(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<Option<HashMap<i64, i64>>> {
    let closed: Option<(i64, bool)> = c
        .prepare_cached(
            "SELECT id, is_closed FROM snapshots WHERE company_id = ?1 AND month_key = ?2",
        )?
        .query_row(params![company_id, month.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((snapshot_id, true)) = closed else {
        return Ok(None);
    };
    let mut stmt = c.prepare_cached(
        "SELECT ledger_id, balance FROM snapshot_balances WHERE snapshot_id = ?1",
    )?;
    let rows = stmt.query_map([snapshot_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Some(rows.collect::<Result<_, _>>()?))
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

/// Every restatement of the company, newest first, with its lines by ledger name.
pub fn list(c: &Connection, company_id: &str) -> DomainResult<Vec<Restatement>> {
    let mut stmt = c.prepare(
        "SELECT r.month_key, r.received_at, r.ingestion_id, i.run_id, l.guid, l.name,
                r.old_balance, r.new_balance
         FROM restatements r JOIN ledgers l ON l.id = r.ledger_id
         LEFT JOIN ingestion_logs i ON i.id = r.ingestion_id
         WHERE r.company_id = ?1
         ORDER BY r.received_at DESC, r.ingestion_id DESC, r.month_key DESC, l.name",
    )?;
    let mut rows = stmt.query([company_id])?;
    let mut out: Vec<Restatement> = Vec::new();
    while let Some(row) = rows.next()? {
        let month: String = row.get(0)?;
        let ingestion: i64 = row.get(2)?;
        let (old, new) = (row.get::<_, i64>(6)?, row.get::<_, i64>(7)?);
        let line = RestatedLine {
            ledger_guid: row.get(4)?,
            ledger_name: row.get(5)?,
            old: Amount::from_paise(old),
            new: Amount::from_paise(new),
            change: Amount::from_paise(new.saturating_sub(old)),
        };
        let same = out
            .last()
            .is_some_and(|r| r.month_key == month && r.ingestion_id == ingestion);
        if !same {
            out.push(Restatement {
                month_key: month,
                received_at: rfc3339(row.get(1)?),
                ingestion_id: ingestion,
                sync_run_id: row.get(3)?,
                ledgers_changed: 0,
                amount: Amount::ZERO,
                lines: Vec::new(),
            });
        }
        if let Some(r) = out.last_mut() {
            r.ledgers_changed += 1;
            let moved = line.change.paise().max(0);
            r.amount = Amount::from_paise(r.amount.paise().saturating_add(moved));
            r.lines.push(line);
        }
    }
    Ok(out)
}

/// The company's restatements received since `since_ms`, without their lines: the overview's
/// warning.
pub fn recent(c: &Connection, company_id: &str, since_ms: i64) -> DomainResult<Vec<RestatedMonth>> {
    let mut stmt = c.prepare_cached(
        "SELECT month_key, received_at, COUNT(*), SUM(MAX(new_balance - old_balance, 0))
         FROM restatements WHERE company_id = ?1 AND received_at >= ?2
         GROUP BY month_key, ingestion_id, received_at
         ORDER BY received_at DESC, ingestion_id DESC, month_key DESC",
    )?;
    let rows = stmt.query_map(params![company_id, since_ms], |r| {
        Ok(RestatedMonth {
            month_key: r.get(0)?,
            received_at: rfc3339(r.get(1)?),
            ledgers: r.get::<_, i64>(2)? as usize,
            amount: Amount::from_paise(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
