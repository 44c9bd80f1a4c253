//! Writes a validated payload: one transaction, so a failure anywhere leaves nothing behind.
//! Ingest owns `ingestion_logs`; the chart, the snapshots, the company's facts and the run are
//! written through their own modules.

use std::time::Instant;

use rusqlite::{params, Connection};

use super::validate::{ValidMonth, Validated};
use crate::protocol::{Amount, SyncAccepted, SyncCounts, SyncPayload, UnbalancedMonth};
use crate::server::chart::{self, Stamp};
use crate::server::clock::now_ms;
use crate::server::domain_error::DomainResult;
use crate::server::snapshots::{self, MonthSnapshot};
use crate::server::{companies, runs};

/// Who sent the payload, and how it arrived.
pub struct Origin<'a> {
    pub company_id: &'a str,
    pub connector_id: &'a str,
    pub wire_bytes: usize,
    pub received: Instant,
}

pub fn store(
    tx: &Connection,
    origin: &Origin<'_>,
    p: &SyncPayload,
    v: &Validated,
) -> DomainResult<SyncAccepted> {
    if let Some(run_id) = &p.sync_run_id {
        runs::require_running(tx, origin.company_id, run_id)?;
    }
    let counts = counts(p, v);
    let stamp = Stamp {
        company_id: origin.company_id,
        ingestion_id: open_log(tx, origin, p.sync_run_id.as_deref(), &counts)?,
        at_ms: now_ms(),
    };
    let coa = &p.chart_of_accounts;
    if let Some(facts) = &coa.company {
        companies::record_facts(tx, origin.company_id, facts)?;
    }
    chart::store_groups(tx, stamp, &coa.groups)?;
    let ledgers = chart::store_ledgers(tx, stamp, &coa.ledgers)?;
    let opening_difference = coa
        .company
        .as_ref()
        .and_then(|f| f.opening_difference)
        .map_or(0, |d| d.paise());
    let unbalanced = store_months(tx, stamp, &v.months, &ledgers.ids, opening_difference)?;
    close_log(
        tx,
        stamp.ingestion_id,
        origin.received,
        unbalanced.is_empty(),
    )?;
    if let Some(run_id) = &p.sync_run_id {
        runs::record_ingestion(tx, run_id, &counts, &stored_message(&counts))?;
    }
    Ok(SyncAccepted {
        ingestion_id: stamp.ingestion_id,
        sync_run_id: p.sync_run_id.clone(),
        groups: coa.groups.len() as u64,
        ledgers: coa.ledgers.len() as u64,
        ledgers_gone: ledgers.gone as u64,
        balances: counts.balances.unwrap_or(0),
        months: v.months.iter().map(|m| m.key.to_string()).collect(),
        unbalanced_months: unbalanced,
    })
}

fn counts(p: &SyncPayload, v: &Validated) -> SyncCounts {
    let coa = &p.chart_of_accounts;
    SyncCounts {
        groups: Some(coa.groups.len() as u64),
        ledgers: Some(coa.ledgers.len() as u64),
        months: Some(v.months.len() as u64),
        balances: Some(v.months.iter().map(|m| m.items.len() as u64).sum()),
    }
}

pub(super) fn stored_message(c: &SyncCounts) -> String {
    let n = |v: Option<u64>| v.unwrap_or(0);
    format!(
        "stored {} groups, {} ledgers, {} balances in {} months",
        n(c.groups),
        n(c.ledgers),
        n(c.balances),
        n(c.months)
    )
}

/// Starts the ingestion's log row; its id marks every chart row this ingestion writes.
pub(super) fn open_log(
    c: &Connection,
    origin: &Origin<'_>,
    run_id: Option<&str>,
    counts: &SyncCounts,
) -> DomainResult<i64> {
    let n = |v: Option<u64>| v.unwrap_or(0) as i64;
    c.execute(
        "INSERT INTO ingestion_logs (company_id, connector_id, run_id, bytes, groups_count, ledgers_count,
         months_count, balances_count, duration_ms, outcome, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 'stored', ?9)",
        params![
            origin.company_id,
            origin.connector_id,
            run_id,
            origin.wire_bytes as i64,
            n(counts.groups),
            n(counts.ledgers),
            n(counts.months),
            n(counts.balances),
            now_ms()
        ],
    )?;
    Ok(c.last_insert_rowid())
}

pub(super) fn close_log(
    c: &Connection,
    ingestion: i64,
    received: Instant,
    balanced: bool,
) -> DomainResult<()> {
    let outcome = if balanced {
        "stored"
    } else {
        "stored_unbalanced"
    };
    c.execute(
        "UPDATE ingestion_logs SET duration_ms = ?2, outcome = ?3 WHERE id = ?1",
        params![ingestion, received.elapsed().as_millis() as i64, outcome],
    )?;
    Ok(())
}

/// Stores every month; returns the months whose trial balance does not sum to zero (with the
/// opening stock and the opening difference Tally shows beside the ledgers).
fn store_months(
    c: &Connection,
    stamp: Stamp<'_>,
    months: &[ValidMonth],
    ledger_ids: &[i64],
    opening_difference: i64,
) -> DomainResult<Vec<UnbalancedMonth>> {
    let mut unbalanced = Vec::new();
    for m in months {
        let difference = snapshots::store_month(
            c,
            &MonthSnapshot {
                company_id: stamp.company_id,
                month: m.key,
                as_of_date: &m.as_of_date,
                closed: m.closed,
                ingestion_id: stamp.ingestion_id,
                ingested_at: stamp.at_ms,
                balances: m.items.iter().map(|&(i, p)| (ledger_ids[i], p)).collect(),
                stock: m.stock,
                opening_difference,
            },
        )?;
        if difference != 0 {
            unbalanced.push(UnbalancedMonth {
                month_key: m.key.to_string(),
                difference: Amount::from_paise(difference),
            });
        }
    }
    Ok(unbalanced)
}
