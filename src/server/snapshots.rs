//! Reading the monthly snapshots back: the months held, and a month's trial balance.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::db::rfc3339;
use super::error::{ApiError, ApiResult};
use crate::protocol::groups::{is_primary_parent, reserved_group};
use crate::protocol::{Amount, MonthKey};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    pub month_key: String,
    pub as_of_date: String,
    /// A closed month holds month-end balances; the open (current) month a provisional reading.
    pub closed: bool,
    pub ledger_count: i64,
    pub debit_total: Amount,
    pub credit_total: Amount,
    pub difference: Amount,
    pub balanced: bool,
    pub ingested_at: String,
}

const SUMMARY_COLS: &str =
    "month_key, as_of_date, is_closed, ledger_count, debit_total, credit_total, difference, ingested_at";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotSummary> {
    let difference: i64 = r.get(6)?;
    Ok(SnapshotSummary {
        month_key: r.get(0)?,
        as_of_date: r.get(1)?,
        closed: r.get(2)?,
        ledger_count: r.get(3)?,
        debit_total: Amount::from_paise(r.get(4)?),
        credit_total: Amount::from_paise(r.get(5)?),
        difference: Amount::from_paise(difference),
        balanced: difference == 0,
        ingested_at: rfc3339(r.get(7)?),
    })
}

pub fn list(c: &Connection, company_id: &str) -> ApiResult<Vec<SnapshotSummary>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {SUMMARY_COLS} FROM snapshots WHERE company_id = ?1 ORDER BY month_key"
    ))?;
    let rows = stmt
        .query_map([company_id], summary)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalanceLine {
    pub ledger_guid: String,
    pub ledger_name: String,
    /// From the top-level group down to the ledger's own group.
    pub group_path: Vec<String>,
    /// Positive = debit, negative = credit.
    pub balance: Amount,
    pub debit: Amount,
    pub credit: Amount,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalance {
    pub company_id: String,
    #[serde(flatten)]
    pub summary: SnapshotSummary,
    pub ledgers: Vec<TrialBalanceLine>,
}

/// Group name (lowercased) -> (display name, parent name) for the company's current chart.
fn group_tree(
    c: &Connection,
    company_id: &str,
) -> ApiResult<HashMap<String, (String, Option<String>)>> {
    let mut stmt = c.prepare(
        "SELECT name, parent_name FROM account_groups WHERE company_id = ?1 AND gone_at IS NULL",
    )?;
    let rows = stmt
        .query_map([company_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|(name, parent)| (name.to_lowercase(), (name, parent)))
        .collect())
}

fn group_path(
    tree: &HashMap<String, (String, Option<String>)>,
    group: &str,
    cache: &mut HashMap<String, Vec<String>>,
) -> Vec<String> {
    if let Some(p) = cache.get(group) {
        return p.clone();
    }
    let mut path = Vec::new();
    let mut at = Some(group.to_string());
    // The chart was checked for cycles on the way in; the bound only guards old data.
    while let Some(name) = at.take().filter(|n| !is_primary_parent(Some(n))) {
        if path.len() > 64 {
            break;
        }
        if let Some((display, parent)) = tree.get(&name.to_lowercase()) {
            path.push(display.clone());
            at = parent.clone();
        } else if let Some(reserved) = reserved_group(&name) {
            path.push(reserved.name.to_string());
            at = reserved.parent.map(str::to_string);
        } else {
            path.push(name);
        }
    }
    path.reverse();
    cache.insert(group.to_string(), path.clone());
    path
}

/// Every ledger of the month: those with a stored balance, and those still in the chart with a
/// zero balance (a ledger missing from a month's items has a zero balance).
pub fn trial_balance(c: &Connection, company_id: &str, month: MonthKey) -> ApiResult<TrialBalance> {
    let key = month.to_string();
    let found = c
        .query_row(
            &format!(
                "SELECT {SUMMARY_COLS}, id FROM snapshots WHERE company_id = ?1 AND month_key = ?2"
            ),
            params![company_id, key],
            |r| Ok((r.get::<_, i64>(8)?, summary(r)?)),
        )
        .optional()?;
    let (snapshot_id, summary) = found.ok_or_else(|| {
        ApiError::not_found(
            "snapshot_not_found",
            format!("Company `{company_id}` has no snapshot for {key}."),
        )
    })?;
    let tree = group_tree(c, company_id)?;
    let mut cache = HashMap::new();
    let mut stmt = c.prepare(
        "SELECT l.guid, l.name, l.parent_name, COALESCE(b.balance, 0)
         FROM ledgers l LEFT JOIN snapshot_balances b ON b.snapshot_id = ?2 AND b.ledger_id = l.id
         WHERE l.company_id = ?1 AND (l.gone_at IS NULL OR b.ledger_id IS NOT NULL)
         ORDER BY l.name, l.guid",
    )?;
    let mut ledgers = Vec::new();
    let mut rows = stmt.query(params![company_id, snapshot_id])?;
    while let Some(r) = rows.next()? {
        let parent: String = r.get(2)?;
        let balance = Amount::from_paise(r.get(3)?);
        ledgers.push(TrialBalanceLine {
            ledger_guid: r.get(0)?,
            ledger_name: r.get(1)?,
            group_path: group_path(&tree, &parent, &mut cache),
            balance,
            debit: if balance.paise() > 0 {
                balance
            } else {
                Amount::ZERO
            },
            credit: if balance.paise() < 0 {
                balance.abs()
            } else {
                Amount::ZERO
            },
        });
    }
    Ok(TrialBalance {
        company_id: company_id.to_string(),
        summary,
        ledgers,
    })
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
    out.push_str(&format!(
        ",TOTAL,,{},{},{}\r\n",
        tb.summary.debit_total, tb.summary.credit_total, tb.summary.difference
    ));
    out
}
