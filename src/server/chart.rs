//! The chart of accounts as last read from Tally (`account_groups`, `ledgers`). Rows are never
//! deleted: a master gone from Tally keeps its history and is marked with `gone_at`.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::domain_error::DomainResult;
use crate::protocol::groups::{is_primary_parent, reserved_group};
use crate::protocol::{GroupRecord, LedgerRecord};

/// Which ingestion writes the chart, and when: rows it does not touch are gone from Tally.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub company_id: &'a str,
    pub ingestion_id: i64,
    pub at_ms: i64,
}

fn opt_bool(b: Option<bool>) -> Option<i64> {
    b.map(i64::from)
}

/// Inserts or updates every group, then marks the groups this ingestion did not name as gone.
pub fn store_groups(c: &Connection, stamp: Stamp<'_>, groups: &[GroupRecord]) -> DomainResult<()> {
    let mut upsert = c.prepare_cached(
        "INSERT INTO account_groups (company_id, guid, name, parent_name, is_revenue, is_deemed_positive,
            affects_gross_profit, reserved_name, first_seen, last_seen, last_ingestion)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
         ON CONFLICT (company_id, guid) DO UPDATE SET name = excluded.name, parent_name = excluded.parent_name,
            is_revenue = excluded.is_revenue, is_deemed_positive = excluded.is_deemed_positive,
            affects_gross_profit = excluded.affects_gross_profit, reserved_name = excluded.reserved_name,
            last_seen = excluded.last_seen, last_ingestion = excluded.last_ingestion, gone_at = NULL",
    )?;
    for g in groups {
        upsert.execute(params![
            stamp.company_id,
            g.guid,
            g.name.trim(),
            g.parent.as_deref().map(str::trim),
            opt_bool(g.is_revenue),
            opt_bool(g.is_deemed_positive),
            opt_bool(g.affects_gross_profit),
            g.reserved_name,
            stamp.at_ms,
            stamp.ingestion_id
        ])?;
    }
    c.execute(
        "UPDATE account_groups SET gone_at = ?3 WHERE company_id = ?1 AND last_ingestion <> ?2 AND gone_at IS NULL",
        params![stamp.company_id, stamp.ingestion_id, stamp.at_ms],
    )?;
    Ok(())
}

/// The ledgers' row ids (in the order given) and how many stored ledgers are now gone.
pub struct StoredLedgers {
    pub ids: Vec<i64>,
    pub gone: usize,
}

/// Inserts or updates every ledger, then marks the ledgers this ingestion did not name as gone.
pub fn store_ledgers(
    c: &Connection,
    stamp: Stamp<'_>,
    ledgers: &[LedgerRecord],
) -> DomainResult<StoredLedgers> {
    let mut upsert = c.prepare_cached(
        "INSERT INTO ledgers (company_id, guid, name, parent_name, first_seen, last_seen, last_ingestion)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
         ON CONFLICT (company_id, guid) DO UPDATE SET name = excluded.name, parent_name = excluded.parent_name,
            last_seen = excluded.last_seen, last_ingestion = excluded.last_ingestion, gone_at = NULL
         RETURNING id",
    )?;
    let mut ids = Vec::with_capacity(ledgers.len());
    for l in ledgers {
        let group = l.group().unwrap_or_default().trim();
        let id: i64 = upsert.query_row(
            params![
                stamp.company_id,
                l.guid,
                l.name.trim(),
                group,
                stamp.at_ms,
                stamp.ingestion_id
            ],
            |r| r.get(0),
        )?;
        ids.push(id);
    }
    let gone = c.execute(
        "UPDATE ledgers SET gone_at = ?3 WHERE company_id = ?1 AND last_ingestion <> ?2 AND gone_at IS NULL",
        params![stamp.company_id, stamp.ingestion_id, stamp.at_ms],
    )?;
    Ok(StoredLedgers { ids, gone })
}

/// The company's current group tree, to name the path from the top down to any group.
pub struct GroupTree {
    /// lowercased name -> (display name, parent name)
    groups: HashMap<String, (String, Option<String>)>,
    paths: HashMap<String, Vec<String>>,
}

pub fn group_tree(c: &Connection, company_id: &str) -> DomainResult<GroupTree> {
    let mut stmt = c.prepare(
        "SELECT name, parent_name FROM account_groups WHERE company_id = ?1 AND gone_at IS NULL",
    )?;
    let rows = stmt
        .query_map([company_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GroupTree {
        groups: rows
            .into_iter()
            .map(|(name, parent)| (name.to_lowercase(), (name, parent)))
            .collect(),
        paths: HashMap::new(),
    })
}

impl GroupTree {
    /// From the top-level group down to `group`. Tally's predefined groups need not be stored.
    pub fn path(&mut self, group: &str) -> Vec<String> {
        if let Some(p) = self.paths.get(group) {
            return p.clone();
        }
        let mut path = Vec::new();
        let mut at = Some(group.to_string());
        // The chart was checked for cycles on the way in; the bound only guards old data.
        while let Some(name) = at.take().filter(|n| !is_primary_parent(Some(n))) {
            if path.len() > 64 {
                break;
            }
            if let Some((display, parent)) = self.groups.get(&name.to_lowercase()) {
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
        self.paths.insert(group.to_string(), path.clone());
        path
    }
}
