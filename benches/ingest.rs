//! Ingestion benchmark: a 20,000-ledger x 13-month payload (260,000 balances) POSTed to
//! `/api/connector/sync` on a real server, against a bare rusqlite insert of the same rows into
//! the same schema. Prints figures; asserts nothing about time.
//!
//! Targets (issue 2): the endpoint within 3x of the bare insert, and under 1 s on 2 cores.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

const LEDGERS: usize = 20_000;
const CLOSED_MONTHS: usize = 12;
const ROUNDS: usize = 3;

/// A company with 200 user groups under the predefined ones and balances that sum to zero.
fn payload() -> Value {
    let parents = [
        "Sundry Debtors",
        "Sundry Creditors",
        "Indirect Expenses",
        "Sales Accounts",
        "Bank Accounts",
    ];
    let groups: Vec<Value> = (0..200)
        .map(|g| json!({"name": format!("Group {g:03}"), "parent": parents[g % parents.len()], "guid": format!("grp-{g:05}")}))
        .collect();
    let ledgers: Vec<Value> = (0..LEDGERS)
        .map(|l| json!({"guid": format!("led-{l:08}-0000-4000-8000-000000000000"), "name": format!("Ledger {l}"), "parent": format!("Group {:03}", l % 200)}))
        .collect();
    let month = |m: usize| -> Value {
        // 2025-04 .. 2026-04: twelve closed months and the current one.
        let (y, mo) = (2025 + (3 + m) / 12, (3 + m) % 12 + 1);
        let key = format!("{y}-{mo:02}");
        let last = time::Month::try_from(mo as u8).unwrap().length(y as i32);
        let day = if m == CLOSED_MONTHS { 15 } else { last };
        let mut sum: i64 = 0;
        let mut items: Vec<Value> = (0..LEDGERS - 1)
            .map(|l| {
                let paise = ((l as i64 * 7919 + m as i64 * 104_729) % 10_000_000) - 5_000_000;
                sum += paise;
                json!({"ledgerGuid": format!("led-{l:08}-0000-4000-8000-000000000000"), "balance": aicfo::protocol::Amount::from_paise(paise)})
            })
            .collect();
        items.push(json!({"ledgerGuid": format!("led-{:08}-0000-4000-8000-000000000000", LEDGERS - 1), "balance": aicfo::protocol::Amount::from_paise(-sum)}));
        json!({"monthKey": key, "asOfDate": format!("{key}-{day:02}"), "items": items})
    };
    let closed: Vec<Value> = (0..CLOSED_MONTHS).map(month).collect();
    let current = month(CLOSED_MONTHS);
    json!({
        "chartOfAccounts": {"source": "tally", "groups": groups, "ledgers": ledgers,
            "balances": {"current": current, "closedMonths": closed}},
        "asOfDate": current["asOfDate"],
    })
}

/// The same 260,000 rows written straight into the appliance's schema, as fast as rusqlite goes.
fn bare_insert(dir: &std::path::Path, p: &Value) -> Duration {
    let path = dir.join("bare.sqlite3");
    let _ = std::fs::remove_file(&path);
    // Borrow the real schema by letting the server create the database, then drop the server.
    let db = aicfo::server::db::Db::open(&path).unwrap();
    drop(db);
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    )
    .unwrap();
    conn.execute_batch(
        "INSERT INTO companies (id, name, created_at) VALUES ('c', 'c', 0);
         INSERT INTO users (id, username, password_hash, role, created_at) VALUES (1, 'u', 'x', 'admin', 0);
         INSERT INTO connector_clients (id, company_id, device_id, first_seen, last_seen) VALUES ('k', 'c', 'd', 0, 0);
         INSERT INTO ingestion_logs (id, company_id, connector_id, bytes, groups_count, ledgers_count, months_count,
           balances_count, duration_ms, outcome, created_at) VALUES (1, 'c', 'k', 0, 0, 0, 0, 0, 0, 'x', 0);",
    )
    .unwrap();
    let coa = &p["chartOfAccounts"];
    let ledgers = coa["ledgers"].as_array().unwrap();
    let mut months = coa["balances"]["closedMonths"].as_array().unwrap().clone();
    months.push(coa["balances"]["current"].clone());
    // Parsed outside the timing, as the server's JSON parse is inside its timing only as HTTP.
    let rows: Vec<Vec<(usize, i64)>> = months
        .iter()
        .map(|m| {
            m["items"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    (
                        i,
                        it["balance"]
                            .to_string()
                            .parse::<aicfo::protocol::Amount>()
                            .unwrap()
                            .paise(),
                    )
                })
                .collect()
        })
        .collect();
    let start = Instant::now();
    let tx = conn.transaction().unwrap();
    {
        let mut led = tx
            .prepare("INSERT INTO ledgers (company_id, guid, name, parent_name, first_seen, last_seen, last_ingestion) VALUES ('c', ?1, ?2, ?3, 0, 0, 1)")
            .unwrap();
        let mut ids = Vec::with_capacity(ledgers.len());
        for l in ledgers {
            led.execute(rusqlite::params![
                l["guid"].as_str(),
                l["name"].as_str(),
                l["parent"].as_str()
            ])
            .unwrap();
            ids.push(tx.last_insert_rowid());
        }
        let mut snap = tx
            .prepare("INSERT INTO snapshots (company_id, month_key, as_of_date, is_closed, ledger_count, debit_total, credit_total, difference, ingestion_id, ingested_at) VALUES ('c', ?1, ?2, 1, 0, 0, 0, 0, 1, 0)")
            .unwrap();
        let mut bal = tx.prepare("INSERT INTO snapshot_balances (snapshot_id, ledger_id, balance) VALUES (?1, ?2, ?3)").unwrap();
        for (m, items) in months.iter().zip(&rows) {
            snap.execute(rusqlite::params![
                m["monthKey"].as_str(),
                m["asOfDate"].as_str()
            ])
            .unwrap();
            let sid = tx.last_insert_rowid();
            for &(i, paise) in items {
                bal.execute(rusqlite::params![sid, ids[i], paise]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let p = payload();
    let body = serde_json::to_vec(&p).unwrap();
    println!(
        "payload: {LEDGERS} ledgers x {} months = {} balances, {:.1} MB of JSON",
        CLOSED_MONTHS + 1,
        LEDGERS * (CLOSED_MONTHS + 1),
        body.len() as f64 / 1e6
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut endpoint = Vec::new();
    rt.block_on(async {
        let srv = common::TestServer::start(dir.path()).await;
        let admin = srv.admin_token().await;
        srv.create_company(&admin, "Bench Co", "bench").await;
        let (token, _, _) = srv.enrol(&admin, "bench", "bench-pc").await;
        for round in 0..ROUNDS {
            let start = Instant::now();
            let res = srv
                .http
                .post(srv.api("/connector/sync"))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = res.status();
            let text = res.text().await.unwrap();
            let took = start.elapsed();
            assert_eq!(status, 200, "{text}");
            println!(
                "endpoint round {}: {:.0} ms ({}) ",
                round + 1,
                ms(took),
                if round == 0 {
                    "first ingest: inserts"
                } else {
                    "re-ingest: replaces every month"
                }
            );
            endpoint.push(took);
        }
        srv.stop().await;
    });
    let mut bare = Vec::new();
    for round in 0..ROUNDS {
        let took = bare_insert(dir.path(), &p);
        println!(
            "bare rusqlite insert round {}: {:.0} ms",
            round + 1,
            ms(took)
        );
        bare.push(took);
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap();
    let (e, b) = (best(&endpoint), best(&bare));
    println!("---");
    println!(
        "endpoint (HTTP + JSON parse + validation + one transaction), best of {ROUNDS}: {:.0} ms",
        ms(e)
    );
    println!(
        "bare rusqlite insert of the same rows, best of {ROUNDS}: {:.0} ms",
        ms(b)
    );
    println!(
        "ratio endpoint / bare: {:.2}x (target <= 3x); endpoint under 1 s: {}",
        e.as_secs_f64() / b.as_secs_f64(),
        if e < Duration::from_secs(1) {
            "yes"
        } else {
            "NO"
        }
    );
}
