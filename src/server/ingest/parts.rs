//! A sync delivered in parts (`POST /api/connector/sync/part`). Owns the `sync_part_*` tables.
//!
//! Part 0 carries the chart of accounts and is stored as it arrives (under the run's one
//! ingestion); the months of every part are staged. When the last missing part arrives, every
//! staged month is stored, in that part's transaction, and the staging rows go: a month is never
//! half replaced. A part sent again changes nothing. A run that ends or is abandoned before all
//! its parts arrived loses what was staged ([`discard`]); its months keep their snapshots.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::{params, Connection, OptionalExtension};

use super::store::{close_log, open_log, Origin};
use super::validate::{check_chart, check_month, Chart, ValidMonth};
use crate::protocol::{
    Amount, MonthBalances, MonthKey, StockValues, SyncAccepted, SyncCounts, SyncPart,
    SyncPartAccepted, UnbalancedMonth,
};
use crate::server::chart::{self, Stamp};
use crate::server::clock::now_ms;
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::problems::Problems;
use crate::server::snapshots::{self, MonthSnapshot};
use crate::server::{companies, runs};

/// At most this many parts in one sync.
pub const MAX_PARTS: u32 = 10_000;
/// At most this many balances staged for one company at once (a 200,000-ledger company over
/// 50 months), whichever of its runs they belong to.
pub const MAX_STAGED_BALANCES: i64 = 10_000_000;
/// At most this many months in one run.
pub const MAX_MONTHS: usize = 600;
/// At most this many runs of one company receiving parts at once (a connector's new run
/// supersedes its old one, so this is about several connectors of one company).
pub const MAX_RECEIVING_RUNS: i64 = 4;

/// The texts and, in part 0, the chart: everything that needs no database. Run before the
/// writer is taken.
pub fn check(p: &SyncPart) -> DomainResult<()> {
    let mut bounds = Problems::new();
    super::bounds::check_part(p, &mut bounds);
    bounds.into_counted_result("The part", "nothing was stored")?;
    let mut problems = Problems::new();
    check_position(p, &mut problems);
    if let Some(coa) = &p.chart_of_accounts {
        check_chart(Chart::from(coa), &mut problems);
    }
    if p.months.len() > MAX_MONTHS {
        problems.add("months", format!("at most {MAX_MONTHS} months per sync"));
    }
    problems.into_counted_result("The part", "nothing was stored")
}

fn check_position(p: &SyncPart, problems: &mut Problems) {
    let (index, count) = (p.part.index, p.part.count);
    if count == 0 || count > MAX_PARTS {
        problems.add("part.count", format!("must be between 1 and {MAX_PARTS}"));
    } else if index >= count {
        problems.add(
            "part.index",
            format!("part {index} does not exist in a sync of {count} parts (the first is 0)"),
        );
    }
    match (index, &p.chart_of_accounts) {
        (0, None) => problems.add(
            "chartOfAccounts",
            "part 0 carries the chart of accounts, once per sync",
        ),
        (1.., Some(_)) => problems.add(
            "chartOfAccounts",
            "only part 0 carries the chart of accounts",
        ),
        _ => {}
    }
}

/// A run receiving parts, as part 0 made it.
struct PartRun {
    count: u32,
    ingestion_id: i64,
    opening_difference: i64,
    ledgers_gone: i64,
    stored: bool,
}

fn part_run(c: &Connection, run_id: &str) -> DomainResult<Option<PartRun>> {
    Ok(c.query_row(
        "SELECT part_count, ingestion_id, opening_difference, ledgers_gone,
             stored_at IS NOT NULL FROM sync_part_runs WHERE run_id = ?1",
        [run_id],
        |r| {
            Ok(PartRun {
                count: r.get(0)?,
                ingestion_id: r.get(1)?,
                opening_difference: r.get(2)?,
                ledgers_gone: r.get(3)?,
                stored: r.get(4)?,
            })
        },
    )
    .optional()?)
}

fn received(c: &Connection, run_id: &str) -> DomainResult<u32> {
    Ok(c.query_row(
        "SELECT count(*) FROM sync_part_received WHERE run_id = ?1",
        [run_id],
        |r| r.get(0),
    )?)
}

fn answer(p: &SyncPart, received: u32, stored: Option<SyncAccepted>) -> SyncPartAccepted {
    SyncPartAccepted {
        sync_run_id: p.sync_run_id.clone(),
        index: p.part.index,
        count: p.part.count,
        received,
        stored,
    }
}

/// Stages a checked part; stores the run's months when it was the last one missing.
pub fn receive(
    tx: &Connection,
    origin: &Origin<'_>,
    mut p: SyncPart,
) -> DomainResult<SyncPartAccepted> {
    let run_id = p.sync_run_id.clone();
    runs::require_running(tx, origin.company_id, &run_id)?;
    let run = match part_run(tx, &run_id)? {
        Some(run) => run,
        None if p.part.index == 0 => begin(tx, origin, &p)?,
        None => {
            return Err(DomainError::conflict(
                "sync_part_out_of_order",
                format!(
                "Part 0 of sync run `{run_id}` (the chart of accounts) must arrive before part {}.",
                p.part.index
            ),
            ))
        }
    };
    if run.count != p.part.count {
        return Err(DomainError::invalid_field(
            "part.count",
            format!(
                "sync run `{run_id}` has {} parts, not {}",
                run.count, p.part.count
            ),
        ));
    }
    let already: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sync_part_received WHERE run_id = ?1 AND part_index = ?2)",
        params![run_id, p.part.index],
        |r| r.get(0),
    )?;
    if already || run.stored {
        // Sent again (its answer lost on the way): what it carried is already here.
        return Ok(answer(&p, received(tx, &run_id)?, None));
    }
    let months = std::mem::take(&mut p.months);
    let staged = stage_months(tx, origin.company_id, &run_id, &run, months)?;
    tx.execute(
        "INSERT INTO sync_part_received (run_id, part_index, bytes, received_at) VALUES (?1, ?2, ?3, ?4)",
        params![run_id, p.part.index, origin.wire_bytes as i64, now_ms()],
    )?;
    tx.execute(
        "UPDATE ingestion_logs SET bytes = bytes + ?2 WHERE id = ?1 AND ?3 > 0",
        params![run.ingestion_id, origin.wire_bytes as i64, p.part.index],
    )?;
    let got = received(tx, &run_id)?;
    let message = format!(
        "part {} of {} received ({staged} balances)",
        p.part.index + 1,
        run.count
    );
    runs::note(tx, &run_id, "part", &message)?;
    let stored = if got == run.count {
        Some(store_run(tx, origin, &run_id, &run)?)
    } else {
        None
    };
    Ok(answer(&p, got, stored))
}

/// Part 0: the chart is stored under the run's ingestion, and the run starts receiving.
fn begin(tx: &Connection, origin: &Origin<'_>, p: &SyncPart) -> DomainResult<PartRun> {
    let receiving: i64 = tx.query_row(
        "SELECT count(*) FROM sync_part_runs p JOIN ingestion_logs i ON i.id = p.ingestion_id
         WHERE p.company_id = ?1 AND p.stored_at IS NULL AND i.outcome = 'receiving'",
        [origin.company_id],
        |r| r.get(0),
    )?;
    if receiving >= MAX_RECEIVING_RUNS {
        return Err(DomainError::conflict(
            "too_many_partial_syncs",
            format!("Company `{}` already has {receiving} syncs arriving in parts; finish or abandon one first.", origin.company_id),
        ));
    }
    let coa = p.chart_of_accounts.clone().unwrap_or_default();
    let counts = SyncCounts {
        groups: Some(coa.groups.len() as u64),
        ledgers: Some(coa.ledgers.len() as u64),
        months: Some(0),
        balances: Some(0),
    };
    let stamp = Stamp {
        company_id: origin.company_id,
        ingestion_id: open_log(tx, origin, Some(&p.sync_run_id), &counts)?,
        at_ms: now_ms(),
    };
    // Until its last part is in, the ingestion is only receiving.
    tx.execute(
        "UPDATE ingestion_logs SET outcome = 'receiving' WHERE id = ?1",
        [stamp.ingestion_id],
    )?;
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
    tx.execute(
        "INSERT INTO sync_part_runs (run_id, company_id, part_count, ingestion_id, opening_difference,
         ledgers_gone, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            p.sync_run_id,
            origin.company_id,
            p.part.count,
            stamp.ingestion_id,
            opening_difference,
            ledgers.gone as i64,
            stamp.at_ms
        ],
    )?;
    Ok(PartRun {
        count: p.part.count,
        ingestion_id: stamp.ingestion_id,
        opening_difference,
        ledgers_gone: ledgers.gone as i64,
        stored: false,
    })
}

/// The ledgers of the run's chart: their GUIDs (to check items against) and row ids.
///
/// Those the run's part 0 stored, and any a later chart stored: while this run's parts
/// arrive, another connector of the company may sync and store its own chart, which takes
/// over `last_ingestion` of every ledger it names (a later ingestion, so a larger id). A ledger
/// it does not name keeps this run's id (it is only marked gone). So the run still finds every
/// ledger of its own chart, and its remaining parts are taken rather than refused.
fn run_ledgers(
    c: &Connection,
    company_id: &str,
    ingestion_id: i64,
) -> DomainResult<(Vec<String>, Vec<i64>)> {
    let mut stmt = c.prepare_cached(
        "SELECT guid, id FROM ledgers WHERE company_id = ?1 AND last_ingestion >= ?2",
    )?;
    let mut rows = stmt.query(params![company_id, ingestion_id])?;
    let (mut guids, mut ids) = (Vec::new(), Vec::new());
    while let Some(r) = rows.next()? {
        guids.push(r.get(0)?);
        ids.push(r.get(1)?);
    }
    Ok((guids, ids))
}

/// Checks the part's months against the run's chart and stages them; returns how many
/// balances it staged. Each part month is dropped once its rows are written.
fn stage_months(
    tx: &Connection,
    company_id: &str,
    run_id: &str,
    run: &PartRun,
    months: Vec<crate::protocol::PartMonth>,
) -> DomainResult<i64> {
    let (guids, ids) = run_ledgers(tx, company_id, run.ingestion_id)?;
    let index: HashMap<&str, usize> = guids
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let mut problems = Problems::new();
    let mut valid = Vec::with_capacity(months.len());
    for (i, m) in months.into_iter().enumerate() {
        let (closed, m): (bool, MonthBalances) = m.into_balances();
        if let Some(v) = check_month(&m, &format!("months[{i}]"), &index, &mut problems, closed) {
            valid.push(v);
        }
    }
    problems.into_counted_result("The part", "nothing was stored")?;
    let count: i64 = valid.iter().map(|m| m.items.len() as i64).sum();
    // Over every sync of the company arriving in parts: several connectors together cannot
    // stage more than one sync may.
    let staged: i64 = tx.query_row(
        "SELECT COALESCE(sum(staged_balances), 0) FROM sync_part_runs
         WHERE company_id = ?1 AND stored_at IS NULL",
        [company_id],
        |r| r.get(0),
    )?;
    if staged + count > MAX_STAGED_BALANCES {
        return Err(DomainError::invalid_field(
            "months",
            format!("the syncs of a company arriving in parts may hold at most {MAX_STAGED_BALANCES} balances at once"),
        ));
    }
    for (i, m) in valid.iter().enumerate() {
        stage_month(tx, run_id, m, &ids, &format!("months[{i}]"))?;
    }
    let months: i64 = tx.query_row(
        "SELECT count(*) FROM sync_part_months WHERE run_id = ?1",
        [run_id],
        |r| r.get(0),
    )?;
    if months as usize > MAX_MONTHS {
        return Err(DomainError::invalid_field(
            "months",
            format!("a sync may carry at most {MAX_MONTHS} months"),
        ));
    }
    tx.execute(
        "UPDATE sync_part_runs SET staged_balances = staged_balances + ?2 WHERE run_id = ?1",
        params![run_id, count],
    )?;
    Ok(count)
}

/// The month's description (the same in every part that carries it) and its balances.
fn stage_month(
    tx: &Connection,
    run_id: &str,
    m: &ValidMonth,
    ids: &[i64],
    path: &str,
) -> DomainResult<()> {
    let key = m.key.to_string();
    let (opening, closing) = (
        m.stock.map(|s| s.opening.paise()),
        m.stock.map(|s| s.closing.paise()),
    );
    tx.prepare_cached(
        "INSERT INTO sync_part_months (run_id, month_key, as_of_date, is_closed, stock_opening, stock_closing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?
    .execute(params![run_id, key, m.as_of_date, m.closed, opening, closing])?;
    let same: bool = tx.query_row(
        "SELECT as_of_date = ?3 AND is_closed = ?4 AND stock_opening IS ?5 AND stock_closing IS ?6
         FROM sync_part_months WHERE run_id = ?1 AND month_key = ?2",
        params![run_id, key, m.as_of_date, m.closed, opening, closing],
        |r| r.get(0),
    )?;
    if !same {
        return Err(DomainError::invalid_field(
            path,
            format!("month {key} differs from the same month in an earlier part (asOfDate, closed or stock)"),
        ));
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO sync_part_balances (run_id, month_key, ledger_id, balance) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    for &(i, paise) in &m.items {
        if insert.execute(params![run_id, key, ids[i], paise])? == 0 {
            return Err(DomainError::invalid_field(
                path,
                format!("a ledger of month {key} already has a balance from an earlier part"),
            ));
        }
    }
    Ok(())
}

/// Every part is in: the months are checked as a whole payload's are, then stored, except
/// those a later sync stored while this run's parts arrived (see [`keep_newer`]).
fn store_run(
    tx: &Connection,
    origin: &Origin<'_>,
    run_id: &str,
    run: &PartRun,
) -> DomainResult<SyncAccepted> {
    let mut months = staged_months(tx, run_id)?;
    check_calendar(&months)?;
    keep_newer(tx, origin.company_id, run_id, run.ingestion_id, &mut months)?;
    let stamp = Stamp {
        company_id: origin.company_id,
        ingestion_id: run.ingestion_id,
        at_ms: now_ms(),
    };
    let (mut unbalanced, mut stored_balances) = (Vec::new(), 0u64);
    for m in &months {
        let balances = staged_balances(tx, run_id, &m.key)?;
        stored_balances += balances.len() as u64;
        let difference = snapshots::store_month(
            tx,
            &MonthSnapshot {
                company_id: origin.company_id,
                month: m.month,
                as_of_date: &m.as_of_date,
                closed: m.closed,
                ingestion_id: stamp.ingestion_id,
                ingested_at: stamp.at_ms,
                balances,
                stock: m.stock,
                opening_difference: run.opening_difference,
            },
        )?;
        if difference != 0 {
            unbalanced.push(UnbalancedMonth {
                month_key: m.key.clone(),
                difference: Amount::from_paise(difference),
            });
        }
    }
    let (groups, ledgers): (i64, i64) = tx.query_row(
        "SELECT groups_count, ledgers_count FROM ingestion_logs WHERE id = ?1",
        [run.ingestion_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let counts = SyncCounts {
        groups: Some(groups as u64),
        ledgers: Some(ledgers as u64),
        months: Some(months.len() as u64),
        balances: Some(stored_balances),
    };
    tx.execute(
        "UPDATE ingestion_logs SET months_count = ?2, balances_count = ?3 WHERE id = ?1",
        params![
            run.ingestion_id,
            months.len() as i64,
            counts.balances.unwrap_or(0) as i64
        ],
    )?;
    close_log(tx, run.ingestion_id, origin.received, unbalanced.is_empty())?;
    runs::record_ingestion(tx, run_id, &counts, &super::store::stored_message(&counts))?;
    clear_staging(tx, run_id)?;
    tx.execute(
        "UPDATE sync_part_runs SET stored_at = ?2 WHERE run_id = ?1",
        params![run_id, stamp.at_ms],
    )?;
    Ok(SyncAccepted {
        ingestion_id: run.ingestion_id,
        sync_run_id: Some(run_id.to_string()),
        groups: groups as u64,
        ledgers: ledgers as u64,
        ledgers_gone: run.ledgers_gone as u64,
        balances: counts.balances.unwrap_or(0),
        months: months.iter().map(|m| m.key.clone()).collect(),
        unbalanced_months: unbalanced,
    })
}

/// Drops from `months` those whose snapshot a later ingestion stored, and notes them on the run.
///
/// While this run's parts arrive, another connector of the company may sync whole, under a later
/// ingestion. Its months are a newer reading of the books than this run's: storing this run's
/// over them would put the older reading back, and that connector's next sync, finding Tally
/// unchanged, would not correct it. A snapshot's `ingestion_id` is the ingestion that last
/// stored the month, so a larger one than the run's is a newer sync's.
fn keep_newer(
    tx: &Connection,
    company_id: &str,
    run_id: &str,
    ingestion_id: i64,
    months: &mut Vec<StagedMonth>,
) -> DomainResult<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT month_key FROM snapshots WHERE company_id = ?1 AND ingestion_id > ?2",
    )?;
    let newer = stmt
        .query_map(params![company_id, ingestion_id], |r| r.get::<_, String>(0))?
        .collect::<Result<std::collections::HashSet<_>, _>>()?;
    let kept: Vec<String> = months
        .iter()
        .filter(|m| newer.contains(&m.key))
        .map(|m| m.key.clone())
        .collect();
    if kept.is_empty() {
        return Ok(());
    }
    months.retain(|m| !newer.contains(&m.key));
    let message = format!(
        "not stored: {}; a later sync stored {} while this run's parts arrived, and {} kept as \
         that newer sync had {}",
        kept.join(", "),
        if kept.len() == 1 { "it" } else { "them" },
        if kept.len() == 1 { "it is" } else { "they are" },
        if kept.len() == 1 { "it" } else { "them" },
    );
    runs::note(tx, run_id, "kept_newer", &message)
}

struct StagedMonth {
    key: String,
    month: MonthKey,
    as_of_date: String,
    closed: bool,
    stock: Option<StockValues>,
}

fn staged_months(c: &Connection, run_id: &str) -> DomainResult<Vec<StagedMonth>> {
    let mut stmt = c.prepare(
        "SELECT month_key, as_of_date, is_closed, stock_opening, stock_closing FROM sync_part_months
         WHERE run_id = ?1 ORDER BY month_key",
    )?;
    let rows = stmt
        .query_map([run_id], |r| {
            let stock = match (r.get::<_, Option<i64>>(3)?, r.get::<_, Option<i64>>(4)?) {
                (Some(o), Some(c)) => Some(StockValues {
                    opening: Amount::from_paise(o),
                    closing: Amount::from_paise(c),
                }),
                _ => None,
            };
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, stock))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(key, as_of_date, closed, stock)| {
            let month = key
                .parse()
                .map_err(|e| DomainError::internal("staged month key", format!("{key}: {e}")))?;
            Ok(StagedMonth {
                key,
                month,
                as_of_date,
                closed,
                stock,
            })
        })
        .collect()
}

/// As in a whole payload: one current month, every closed month before it.
fn check_calendar(months: &[StagedMonth]) -> DomainResult<()> {
    let current: Vec<&StagedMonth> = months.iter().filter(|m| !m.closed).collect();
    let [cur] = current.as_slice() else {
        return Err(DomainError::invalid_field(
            "months",
            format!(
                "a sync carries exactly one current month (closed: false); its parts carried {}",
                current.len()
            ),
        ));
    };
    if let Some(late) = months.iter().find(|m| m.closed && m.month >= cur.month) {
        return Err(DomainError::invalid_field(
            "months",
            format!(
                "closed month {} is not before the current month {}",
                late.key, cur.key
            ),
        ));
    }
    Ok(())
}

fn staged_balances(c: &Connection, run_id: &str, key: &str) -> DomainResult<Vec<(i64, i64)>> {
    let mut stmt = c.prepare_cached(
        "SELECT ledger_id, balance FROM sync_part_balances WHERE run_id = ?1 AND month_key = ?2",
    )?;
    let rows = stmt
        .query_map(params![run_id, key], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn clear_staging(c: &Connection, run_id: &str) -> DomainResult<()> {
    c.execute("DELETE FROM sync_part_balances WHERE run_id = ?1", [run_id])?;
    c.execute("DELETE FROM sync_part_months WHERE run_id = ?1", [run_id])?;
    Ok(())
}

/// The run has ended or been abandoned: what it staged goes, and an ingestion that never got
/// all its parts says so. Its months keep their previous snapshots. The run's row stays when it
/// ended incomplete (nothing staged, its ingestion `incomplete`): the run views read that
/// outcome through it, as cheaply as `receiving`.
pub fn discard(c: &Connection, run_id: &str) -> DomainResult<()> {
    clear_staging(c, run_id)?;
    let cut_short = c.execute(
        "UPDATE ingestion_logs SET outcome = 'incomplete' WHERE outcome = 'receiving' AND id =
         (SELECT ingestion_id FROM sync_part_runs WHERE run_id = ?1)",
        [run_id],
    )?;
    if cut_short > 0 {
        // The run's view reads its `incomplete` outcome from this event.
        let got = received(c, run_id)?;
        let count = part_run(c, run_id)?.map_or(0, |run| run.count);
        let message = format!(
            "incomplete: {got} of its {count} parts arrived; none of its months was stored, \
             and they keep their previous snapshots"
        );
        crate::server::runs::note(c, run_id, "incomplete", &message)?;
    }
    c.execute("DELETE FROM sync_part_received WHERE run_id = ?1", [run_id])?;
    c.execute(
        "DELETE FROM sync_part_runs WHERE run_id = ?1 AND NOT EXISTS (SELECT 1 FROM ingestion_logs i
         WHERE i.id = sync_part_runs.ingestion_id AND i.outcome = 'incomplete')",
        [run_id],
    )?;
    c.execute(
        "UPDATE sync_part_runs SET staged_balances = 0 WHERE run_id = ?1",
        [run_id],
    )?;
    Ok(())
}

/// Checks a part off the writer, then stages it (and stores the run when it completes).
pub async fn ingest_part(
    db: &crate::server::db::Db,
    company_id: String,
    connector_id: String,
    part: SyncPart,
    wire_bytes: usize,
    received: Instant,
) -> DomainResult<SyncPartAccepted> {
    let part = tokio::task::spawn_blocking(move || check(&part).map(|()| part))
        .await
        .map_err(|e| DomainError::internal("part check task", e))??;
    db.write(move |tx| {
        let origin = Origin {
            company_id: &company_id,
            connector_id: &connector_id,
            wire_bytes,
            received,
        };
        receive(tx, &origin, part)
    })
    .await
}
