//! Writes a validated payload: one transaction, so a failure anywhere leaves nothing behind.

use std::time::Instant;

use rusqlite::{params, Transaction};

use super::validate::Validated;
use crate::protocol::{Amount, SyncAccepted, SyncPayload, UnbalancedMonth};
use crate::server::db::now_ms;
use crate::server::error::{ApiError, ApiResult};
use crate::server::runs;

pub struct Origin<'a> {
    pub company_id: &'a str,
    pub connector_id: &'a str,
    pub wire_bytes: usize,
    pub received: Instant,
}

fn opt_bool(b: Option<bool>) -> Option<i64> {
    b.map(i64::from)
}

pub fn store(
    tx: &Transaction<'_>,
    origin: &Origin<'_>,
    p: &SyncPayload,
    v: &Validated,
) -> ApiResult<SyncAccepted> {
    let company = origin.company_id;
    let coa = &p.chart_of_accounts;
    if let Some(run_id) = &p.sync_run_id {
        let status = runs::status_of(tx, company, run_id)?;
        if status != "running" {
            return Err(ApiError::conflict(
                "sync_run_finished",
                format!("Sync run `{run_id}` is already {status}; start a new run."),
            ));
        }
    }
    let now = now_ms();
    let balance_count: usize = v.months.iter().map(|m| m.items.len()).sum();
    tx.execute(
        "INSERT INTO ingestion_logs (company_id, connector_id, run_id, bytes, groups_count, ledgers_count,
         months_count, balances_count, duration_ms, outcome, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 'stored', ?9)",
        params![
            company,
            origin.connector_id,
            p.sync_run_id,
            origin.wire_bytes as i64,
            coa.groups.len() as i64,
            coa.ledgers.len() as i64,
            v.months.len() as i64,
            balance_count as i64,
            now
        ],
    )?;
    let ingestion = tx.last_insert_rowid();

    if let Some(f) = &coa.company {
        tx.execute(
            "UPDATE companies SET tally_company_name = COALESCE(?2, tally_company_name),
             books_from = COALESCE(?3, books_from), financial_year_from = COALESCE(?4, financial_year_from)
             WHERE id = ?1",
            params![company, f.tally_company_name, f.books_from, f.financial_year_from],
        )?;
    }

    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO account_groups (company_id, guid, name, parent_name, is_revenue, is_deemed_positive,
                affects_gross_profit, reserved_name, first_seen, last_seen, last_ingestion)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
             ON CONFLICT (company_id, guid) DO UPDATE SET name = excluded.name, parent_name = excluded.parent_name,
                is_revenue = excluded.is_revenue, is_deemed_positive = excluded.is_deemed_positive,
                affects_gross_profit = excluded.affects_gross_profit, reserved_name = excluded.reserved_name,
                last_seen = excluded.last_seen, last_ingestion = excluded.last_ingestion, gone_at = NULL",
        )?;
        for g in &coa.groups {
            upsert.execute(params![
                company,
                g.guid,
                g.name.trim(),
                g.parent.as_deref().map(str::trim),
                opt_bool(g.is_revenue),
                opt_bool(g.is_deemed_positive),
                opt_bool(g.affects_gross_profit),
                g.reserved_name,
                now,
                ingestion
            ])?;
        }
    }
    tx.execute(
        "UPDATE account_groups SET gone_at = ?3 WHERE company_id = ?1 AND last_ingestion <> ?2 AND gone_at IS NULL",
        params![company, ingestion, now],
    )?;

    let mut ledger_ids = Vec::with_capacity(coa.ledgers.len());
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO ledgers (company_id, guid, name, parent_name, first_seen, last_seen, last_ingestion)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
             ON CONFLICT (company_id, guid) DO UPDATE SET name = excluded.name, parent_name = excluded.parent_name,
                last_seen = excluded.last_seen, last_ingestion = excluded.last_ingestion, gone_at = NULL
             RETURNING id",
        )?;
        for l in &coa.ledgers {
            let group = l.group().unwrap_or_default().trim();
            let id: i64 = upsert.query_row(
                params![company, l.guid, l.name.trim(), group, now, ingestion],
                |r| r.get(0),
            )?;
            ledger_ids.push(id);
        }
    }
    let ledgers_gone = tx.execute(
        "UPDATE ledgers SET gone_at = ?3 WHERE company_id = ?1 AND last_ingestion <> ?2 AND gone_at IS NULL",
        params![company, ingestion, now],
    )?;

    let mut unbalanced = Vec::new();
    {
        let mut find =
            tx.prepare_cached("SELECT id FROM snapshots WHERE company_id = ?1 AND month_key = ?2")?;
        let mut clear =
            tx.prepare_cached("DELETE FROM snapshot_balances WHERE snapshot_id = ?1")?;
        let mut insert_balance = tx.prepare_cached(
            "INSERT INTO snapshot_balances (snapshot_id, ledger_id, balance) VALUES (?1, ?2, ?3)",
        )?;
        for m in &v.months {
            let key = m.key.to_string();
            let (mut debit, mut credit) = (0i64, 0i64);
            for &(_, paise) in &m.items {
                if paise >= 0 {
                    debit = debit.checked_add(paise).ok_or_else(|| overflow(&key))?;
                } else {
                    credit = credit.checked_sub(paise).ok_or_else(|| overflow(&key))?;
                }
            }
            let difference = debit - credit;
            let existing: Option<i64> = {
                use rusqlite::OptionalExtension;
                find.query_row(params![company, key], |r| r.get(0))
                    .optional()?
            };
            let snapshot_id = match existing {
                Some(id) => {
                    clear.execute([id])?;
                    tx.execute(
                        "UPDATE snapshots SET as_of_date = ?2, is_closed = ?3, ledger_count = ?4, debit_total = ?5,
                         credit_total = ?6, difference = ?7, ingestion_id = ?8, ingested_at = ?9 WHERE id = ?1",
                        params![id, m.as_of_date, m.closed, m.items.len() as i64, debit, credit, difference, ingestion, now],
                    )?;
                    id
                }
                None => {
                    tx.execute(
                        "INSERT INTO snapshots (company_id, month_key, as_of_date, is_closed, ledger_count, debit_total,
                         credit_total, difference, ingestion_id, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        params![company, key, m.as_of_date, m.closed, m.items.len() as i64, debit, credit, difference, ingestion, now],
                    )?;
                    tx.last_insert_rowid()
                }
            };
            for &(idx, paise) in &m.items {
                insert_balance.execute(params![snapshot_id, ledger_ids[idx], paise])?;
            }
            if difference != 0 {
                unbalanced.push(UnbalancedMonth {
                    month_key: key,
                    difference: Amount::from_paise(difference),
                });
            }
        }
    }

    let outcome = if unbalanced.is_empty() {
        "stored"
    } else {
        "stored_unbalanced"
    };
    let duration = origin.received.elapsed().as_millis() as i64;
    tx.execute(
        "UPDATE ingestion_logs SET duration_ms = ?2, outcome = ?3 WHERE id = ?1",
        params![ingestion, duration, outcome],
    )?;
    if let Some(run_id) = &p.sync_run_id {
        let counts = serde_json::json!({
            "groups": coa.groups.len(), "ledgers": coa.ledgers.len(),
            "months": v.months.len(), "balances": balance_count,
        });
        tx.execute(
            "UPDATE integration_sync_runs SET counts = ?2, updated_at = ?3 WHERE id = ?1",
            params![run_id, counts.to_string(), now],
        )?;
        let message = format!(
            "stored {} groups, {} ledgers, {} balances in {} months",
            coa.groups.len(),
            coa.ledgers.len(),
            balance_count,
            v.months.len()
        );
        runs::event(tx, run_id, "ingested", None, None, Some(&message))?;
    }
    Ok(SyncAccepted {
        ingestion_id: ingestion,
        sync_run_id: p.sync_run_id.clone(),
        groups: coa.groups.len() as u64,
        ledgers: coa.ledgers.len() as u64,
        ledgers_gone: ledgers_gone as u64,
        balances: balance_count as u64,
        months: v.months.iter().map(|m| m.key.to_string()).collect(),
        unbalanced_months: unbalanced,
    })
}

fn overflow(month: &str) -> ApiError {
    ApiError::invalid_field(
        "chartOfAccounts.balances",
        format!("the balances of {month} add up to more than the appliance can hold"),
    )
}
