//! The overview of every company (`GET /api/overview`) reads all visible companies in a few
//! set-based queries: what it shows of each company must be exactly what that company's own
//! reads say (its connectors with their update state, its last run and last successful run, its
//! months, its restated months), over a firm built through the real server.

mod common;
mod web_fixture;

use aicfo::server::connectors::heartbeats::Heartbeats;
use aicfo::server::connectors::{self, OnlineRule};
use aicfo::server::releases::Catalogue;
use aicfo::server::{accounts, overview, restatements, runs, snapshots, updates};
use common::TestServer;
use rusqlite::Connection;
use serde_json::{json, Value};
use web_fixture::{firm, sync, trader, trader_payload};

const RULE: OnlineRule = OnlineRule {
    default_interval_secs: 60,
    grace_secs: 30,
};
const RESTATED_WINDOW_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// One company's entry as the overview showed it before it read companies in sets: each
/// company's own reads, one company at a time.
fn one_company(c: &Connection, company: &aicfo::protocol::CompanySummary) -> Value {
    let beats = Heartbeats::default();
    let mut listed = connectors::list_for_company(c, &company.id, RULE, &beats).unwrap();
    updates::annotate(c, &company.id, &mut listed, &Catalogue::default(), &beats).unwrap();
    let months = snapshots::list(c, &company.id).unwrap();
    let since = aicfo::server::clock::now_ms() - RESTATED_WINDOW_MS;
    let unbalanced: Vec<_> = months
        .iter()
        .filter(|m| !m.balanced)
        .map(|m| m.month_key.clone())
        .collect();
    json!({
        "connectorIds": listed.iter().map(|k| &k.connector_id).collect::<Vec<_>>(),
        "updatePolicies": listed.iter().map(|k| &k.update_policy).collect::<Vec<_>>(),
        "lastUpdates": listed.iter().map(|k| &k.last_update).collect::<Vec<_>>(),
        "lastSyncRun": runs::latest(c, &company.id, None).unwrap(),
        "lastSuccessfulSync": runs::latest(c, &company.id, Some(aicfo::protocol::RunStatus::Succeeded)).unwrap(),
        "monthsHeld": months.len(),
        "unbalancedMonths": unbalanced,
        "restatedMonths": restatements::recent(c, &company.id, since).unwrap(),
        "latestMonth": months.last(),
    })
}

/// The same fields of the overview's entry.
fn shown(entry: &Value) -> Value {
    let ks = entry["connectors"].as_array().unwrap();
    let field = |name: &str| ks.iter().map(|k| k[name].clone()).collect::<Vec<_>>();
    json!({
        "connectorIds": field("connectorId"),
        "updatePolicies": field("updatePolicy"),
        "lastUpdates": field("lastUpdate"),
        "lastSyncRun": entry["lastSyncRun"],
        "lastSuccessfulSync": entry["lastSuccessfulSync"],
        "monthsHeld": entry["monthsHeld"],
        "unbalancedMonths": entry["unbalancedMonths"],
        "restatedMonths": entry["restatedMonths"],
        "latestMonth": entry["latestMonth"],
    })
}

fn user_id(c: &Connection, name: &str) -> i64 {
    c.query_row("SELECT id FROM users WHERE username = ?1", [name], |r| {
        r.get(0)
    })
    .unwrap()
}

/// The overview as `name` sees it, read in-process from the stopped server's database.
fn overview_for(c: &Connection, name: &str) -> Value {
    let user = accounts::user_by_id(c, user_id(c, name)).unwrap().unwrap();
    let o = overview::overview(
        c,
        &user,
        RULE,
        &Heartbeats::default(),
        &Catalogue::default(),
    )
    .unwrap();
    serde_json::to_value(o).unwrap()
}

/// Sharma has two connectors (one with a paused policy and a reported update), a failed run
/// after a successful one; Other an unbalanced month; Gupta a restated March; Empty nothing.
async fn busy_firm(srv: &TestServer) {
    let f = firm(srv).await;
    trader(srv, &f.admin).await;
    srv.create_company(&f.admin, "Empty Books", "empty").await;
    let (second, _, _) = srv.enrol(&f.admin, "sharma", "pc-sharma-2").await;
    let (s, started) = srv
        .post(
            "/connector/sync/start",
            Some(&second),
            &json!({"trigger": "manual"}),
        )
        .await;
    assert_eq!(s, 200, "{started}");
    let failed =
        json!({"syncRunId": started["syncRunId"], "status": "failed", "error": "Tally closed"});
    let (s, b) = srv
        .post("/connector/sync/complete", Some(&second), &failed)
        .await;
    assert_eq!(s, 200, "{b}");

    let (gupta, _, _) = srv.enrol(&f.admin, "gupta", "pc-gupta-2").await;
    let mut p = trader_payload();
    let march = &mut p["chartOfAccounts"]["balances"]["closedMonths"][1]["items"];
    march[2]["balance"] = json!(35000.0);
    march[5]["balance"] = json!(137000.0);
    sync(srv, &gupta, &p).await;
}

fn add_update_state(c: &Connection) {
    let sharma_first: String = c
        .query_row(
            "SELECT id FROM connector_clients WHERE device_id = 'pc-sharma'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "INSERT INTO connector_update_policies (connector_id, policy, updated_at) VALUES (?1, 'paused', 1)",
        [&sharma_first],
    )
    .unwrap();
    for (at, received) in [("2026-04-01T10:00:00Z", 10), ("2026-04-02T10:00:00Z", 20)] {
        c.execute(
            "INSERT INTO connector_updates (connector_id, version, outcome, message, at, received_at)
             VALUES (?1, '1.3.0', 'failed', 'disk full', ?2, ?3)",
            rusqlite::params![sharma_first, at, received],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn every_company_on_the_overview_is_what_its_own_reads_say() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    busy_firm(&srv).await;
    srv.stop().await;
    let c = Connection::open(dir.path().join(aicfo::server::DATABASE_FILE)).unwrap();
    add_update_state(&c);

    let all = overview_for(&c, "admin");
    let entries = all["companies"].as_array().unwrap();
    let ids: Vec<_> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{all:#}");
    for company in accounts::visible_companies(
        &c,
        &accounts::user_by_id(&c, user_id(&c, "admin"))
            .unwrap()
            .unwrap(),
    )
    .unwrap()
    {
        let entry = entries.iter().find(|e| e["id"] == company.id).unwrap();
        assert_eq!(shown(entry), one_company(&c, &company), "{}", company.id);
    }
    let sharma = entries.iter().find(|e| e["id"] == "sharma").unwrap();
    assert_eq!(sharma["connectors"].as_array().unwrap().len(), 2);
    assert_eq!(sharma["connectors"][0]["updatePolicy"], "paused");
    assert_eq!(
        sharma["connectors"][0]["lastUpdate"]["at"],
        "2026-04-02T10:00:00Z"
    );
    assert_eq!(sharma["lastSyncRun"]["status"], "failed");
    assert_eq!(sharma["lastSuccessfulSync"]["status"], "succeeded");
    let gupta = entries.iter().find(|e| e["id"] == "gupta").unwrap();
    assert_eq!(gupta["restatedMonths"][0]["monthKey"], "2026-03", "{gupta}");
    let empty = entries.iter().find(|e| e["id"] == "empty").unwrap();
    assert_eq!(empty["connectors"], json!([]));
    assert_eq!(empty["lastSyncRun"], Value::Null);
    assert_eq!(empty["monthsHeld"], 0);

    // Staff see only their companies, with the same entries.
    let ravi = overview_for(&c, "ravi");
    assert_eq!(ravi["companies"].as_array().unwrap().len(), 1, "{ravi:#}");
    assert_eq!(ravi["companies"][0], *sharma);
}

/// An error in one company's stored rows (a month total that is not a number, restatements whose
/// sum overflows) fails that company's card alone: it says it could not be read, and every other
/// company shows exactly what its own reads say.
#[tokio::test]
async fn a_company_whose_data_cannot_be_read_is_named_and_the_others_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    busy_firm(&srv).await;
    srv.stop().await;
    let c = Connection::open(dir.path().join(aicfo::server::DATABASE_FILE)).unwrap();
    add_update_state(&c);
    // Other: its months fail the set-based read of every company's months.
    c.execute(
        "UPDATE snapshots SET debit_total = 'not a number' WHERE company_id = 'other'",
        [],
    )
    .unwrap();
    // Gupta: its restated months fail its own read (SUM overflows).
    let n = c
        .execute(
            "UPDATE restatements SET old_balance = 0, new_balance = 5000000000000000000
             WHERE company_id = 'gupta'",
            [],
        )
        .unwrap();
    assert!(n >= 2, "gupta has {n} restated lines");
    assert!(snapshots::list(&c, "other").is_err());
    assert!(restatements::recent(&c, "gupta", 0).is_err());

    let all = overview_for(&c, "admin");
    let admin = accounts::user_by_id(&c, user_id(&c, "admin"))
        .unwrap()
        .unwrap();
    let visible = accounts::visible_companies(&c, &admin).unwrap();
    let entries = all["companies"].as_array().unwrap();
    let ids: Vec<_> = entries.iter().map(|e| e["id"].clone()).collect();
    let expected: Vec<_> = visible.iter().map(|co| json!(co.id)).collect();
    assert_eq!(ids, expected, "every company, in order: {all:#}");
    for (company, entry) in visible.iter().zip(entries) {
        if ["other", "gupta"].contains(&company.id.as_str()) {
            assert_eq!(entry["unreadable"], overview::UNREADABLE, "{entry:#}");
            assert_eq!(entry["name"], company.name.as_str());
            assert_eq!(entry["connectors"], json!([]));
            assert_eq!(entry["monthsHeld"], 0);
            assert_eq!(entry["latestMonth"], Value::Null);
        } else {
            assert_eq!(entry.get("unreadable"), None, "{entry:#}");
            assert_eq!(shown(entry), one_company(&c, company), "{}", company.id);
        }
    }
    let sharma = entries.iter().find(|e| e["id"] == "sharma").unwrap();
    assert_eq!(sharma["lastSuccessfulSync"]["status"], "succeeded");
    assert!(sharma["monthsHeld"].as_u64().unwrap() > 0, "{sharma:#}");
}

/// Review MED-2: the overview shows a company as unreadable only for an error in its stored
/// values. When every company a user may see is unreadable, the page gets the general error
/// (its "the other companies are not affected" would be false), as it does for any other error,
/// such as a table the database lacks, rather than a card per company.
#[tokio::test]
async fn the_overview_fails_whole_when_no_company_or_the_database_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let f = firm(&srv).await;
    let ravi = srv.login("ravi", web_fixture::RAVI_PASSWORD).await;
    let c = srv.db();
    c.execute(
        "UPDATE snapshots SET debit_total = 'not a number' WHERE company_id = 'sharma'",
        [],
    )
    .unwrap();

    let (s, all) = srv.get("/overview", Some(&f.admin)).await;
    assert_eq!(s, 200, "{all}");
    let entries = all["companies"].as_array().unwrap();
    let sharma = entries.iter().find(|e| e["id"] == "sharma").unwrap();
    assert_eq!(sharma["unreadable"], overview::UNREADABLE, "{sharma:#}");
    assert!(entries
        .iter()
        .any(|e| e["id"] != "sharma" && e.get("unreadable").is_none()));

    // Ravi sees Sharma alone: not one company of his could be read.
    let (s, b) = srv.get("/overview", Some(&ravi)).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (500, Some("internal_error")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("server log"), "{b}");

    // Not an error in a company's values: the whole overview fails, no company is blamed.
    c.execute("UPDATE snapshots SET debit_total = 0", [])
        .unwrap();
    c.execute_batch("DROP TABLE restatements").unwrap();
    let admin = accounts::user_by_id(&c, user_id(&c, "admin"))
        .unwrap()
        .unwrap();
    let read = overview::overview(
        &c,
        &admin,
        RULE,
        &Heartbeats::default(),
        &Catalogue::default(),
    );
    let e = read.expect_err("a missing table fails the overview");
    assert!(!overview::is_data_error(&e), "{e:?}");
    let (s, b) = srv.get("/overview", Some(&f.admin)).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (500, Some("internal_error")),
        "{b}"
    );
    drop(c);
    srv.stop().await;
}
