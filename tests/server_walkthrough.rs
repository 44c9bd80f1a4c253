//! The deployment guide's curl sequence against the real appliance, then the snapshots read back.

mod common;

use common::{balanced_payload, guide_payload, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn guide_curl_sequence_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Your Company", "your-company-id")
        .await;

    // Step 3.2: register the connector with the user JWT.
    let (token, _refresh, connector_id) = srv
        .enrol(&admin, "your-company-id", "test-device-123")
        .await;

    // Step 3.3: heartbeat.
    let (s, hb) = srv
        .post(
            "/connector/heartbeat",
            Some(&token),
            &json!({"companyId": "your-company-id"}),
        )
        .await;
    assert_eq!(s, 200, "{hb}");
    assert_eq!(hb["nextHeartbeatSeconds"], 30);
    assert!(hb["serverTime"].as_str().unwrap().ends_with('Z'));

    // The run around the ingestion.
    let (s, started) = srv
        .post(
            "/connector/sync/start",
            Some(&token),
            &json!({"trigger": "manual"}),
        )
        .await;
    assert_eq!(s, 200, "{started}");
    let run = started["syncRunId"].as_str().unwrap().to_string();
    let (s, b) = srv
        .post(
            "/connector/sync/progress",
            Some(&token),
            &json!({"syncRunId": run, "stage": "reading ledgers", "percent": 40}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // Step 3.4: data ingestion, the guide's payload verbatim.
    let (s, accepted) = srv
        .post("/connector/sync", Some(&token), &guide_payload())
        .await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["ledgers"], 1);
    assert_eq!(accepted["months"], json!(["2026-02"]));
    // One debtor and nothing else: the month cannot balance, and says by how much.
    assert_eq!(
        accepted["unbalancedMonths"],
        json!([{"monthKey": "2026-02", "difference": 12345.67}])
    );

    let (s, b) = srv
        .post(
            "/connector/sync/complete",
            Some(&token),
            &json!({"syncRunId": run, "status": "succeeded"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // The admin's view.
    let (s, status) = srv
        .get("/connector/status?companyId=your-company-id", Some(&admin))
        .await;
    assert_eq!(s, 200, "{status}");
    let c = &status["connectors"][0];
    assert_eq!(c["connectorId"], connector_id.as_str());
    assert_eq!(c["online"], true);
    assert_eq!(c["appVersion"], "1.0.0");
    assert_eq!(status["lastSyncRun"]["status"], "succeeded");
    assert_eq!(status["lastSyncRun"]["percent"], 100);
    assert_eq!(status["lastSuccessfulSync"]["syncRunId"], run.as_str());
    assert_eq!(status["months"][0]["monthKey"], "2026-02");
    // started, progress, succeeded (the guide's payload names no run, so no "ingested" event).
    let kinds: Vec<String> = {
        let conn = srv.db();
        let mut stmt = conn
            .prepare("SELECT kind FROM integration_sync_events ORDER BY id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    };
    assert_eq!(kinds, ["started", "progress", "succeeded"]);
    assert_eq!(
        srv.count("SELECT count(*) FROM ingestion_logs WHERE outcome = 'stored_unbalanced'"),
        1
    );

    let (s, tb) = srv
        .get("/companies/your-company-id/snapshots/2026-02", Some(&admin))
        .await;
    assert_eq!(s, 200, "{tb}");
    assert_eq!(tb["ledgers"][0]["ledgerName"], "ABC Ltd");
    assert_eq!(
        tb["ledgers"][0]["groupPath"],
        json!(["Current Assets", "Sundry Debtors"])
    );
    assert_eq!(tb["ledgers"][0]["balance"], json!(12345.67));
    assert_eq!(tb["debitTotal"], json!(12345.67));
    assert_eq!(tb["balanced"], false);
    srv.stop().await;
}

async fn setup_company(srv: &TestServer) -> (String, String) {
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let (token, _, _) = srv.enrol(&admin, "sharma", "pc-1").await;
    (admin, token)
}

#[tokio::test]
async fn snapshots_read_back_exactly_with_group_paths_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, token) = setup_company(&srv).await;
    let (s, accepted) = srv
        .post("/connector/sync", Some(&token), &balanced_payload())
        .await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["unbalancedMonths"], json!([]));
    assert_eq!(accepted["months"], json!(["2026-01", "2026-02", "2026-03"]));

    let (_, months) = srv.get("/companies/sharma/snapshots", Some(&admin)).await;
    let months = months.as_array().unwrap();
    assert_eq!(months.len(), 3);
    assert_eq!(months[0]["closed"], true);
    assert_eq!(months[2]["closed"], false);
    // Exact to the paisa, no float artefacts, even past 2^53 paise.
    assert_eq!(months[1]["debitTotal"].to_string(), "99999999999.99");

    let (_, tb) = srv
        .get("/companies/sharma/snapshots/2026-03", Some(&admin))
        .await;
    assert_eq!(tb["balanced"], true);
    assert_eq!(tb["debitTotal"].to_string(), "350000.50");
    assert_eq!(tb["creditTotal"].to_string(), "350000.50");
    let by_name = |n: &str| {
        tb["ledgers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["ledgerName"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_name("ABC Ltd")["groupPath"],
        json!(["Current Assets", "Sundry Debtors", "Mumbai Debtors"])
    );
    assert_eq!(
        by_name("Cash")["groupPath"],
        json!(["Current Assets", "Cash-in-Hand"])
    );
    assert_eq!(by_name("Sales")["groupPath"], json!(["Sales Accounts"]));
    assert_eq!(by_name("Sales")["credit"].to_string(), "250000.50");
    assert_eq!(by_name("Sales")["balance"].to_string(), "-250000.50");

    // In January only two ledgers had balances; the others are listed at zero.
    let (_, jan) = srv
        .get("/companies/sharma/snapshots/2026-01", Some(&admin))
        .await;
    assert_eq!(jan["ledgers"].as_array().unwrap().len(), 4);
    assert_eq!(by_name("Cash")["balance"].to_string(), "200000.00");
    let cash_jan = jan["ledgers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ledgerName"] == "Cash")
        .unwrap()
        .clone();
    assert_eq!(cash_jan["balance"].to_string(), "0.00");

    // CSV, by query and by Accept header.
    let csv = srv
        .http
        .get(srv.api("/companies/sharma/snapshots/2026-03?format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ledger_guid,ledger_name,group_path,debit,credit,balance"
    );
    assert!(lines.contains(
        &"l-abc,ABC Ltd,Current Assets / Sundry Debtors / Mumbai Debtors,150000.50,0.00,150000.50"
    ));
    assert!(lines.contains(&"l-sales,Sales,Sales Accounts,0.00,250000.50,-250000.50"));
    assert_eq!(*lines.last().unwrap(), ",TOTAL,,350000.50,350000.50,0.00");
    let by_accept = srv
        .http
        .get(srv.api("/companies/sharma/snapshots/2026-03"))
        .bearer_auth(&admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(by_accept, text);

    // Company facts sent by the connector are kept.
    let (_, companies) = srv.get("/companies", Some(&admin)).await;
    assert_eq!(companies[0]["tallyCompanyName"], "Sharma & Sons");
    assert_eq!(companies[0]["financialYearFrom"], "2025-04-01");
    // Group flags are kept.
    assert_eq!(
        srv.count("SELECT count(*) FROM account_groups WHERE is_revenue = 1 AND affects_gross_profit = 1 AND reserved_name = 'Sales Accounts'"),
        1
    );
    srv.stop().await;
}

#[tokio::test]
async fn same_payload_twice_leaves_the_same_state_and_gone_ledgers_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, token) = setup_company(&srv).await;
    let payload = balanced_payload();
    assert_eq!(
        srv.post("/connector/sync", Some(&token), &payload).await.0,
        200
    );
    let state = |srv: &TestServer| {
        let conn = srv.db();
        let q = "SELECT s.month_key, l.guid, b.balance FROM snapshot_balances b JOIN snapshots s ON s.id = b.snapshot_id
                 JOIN ledgers l ON l.id = b.ledger_id ORDER BY 1, 2";
        let rows: Vec<(String, String, i64)> = conn
            .prepare(q)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let masters: i64 = conn
            .query_row("SELECT (SELECT count(*) FROM ledgers) * 1000 + (SELECT count(*) FROM account_groups)", [], |r| r.get(0))
            .unwrap();
        (rows, masters)
    };
    let first = state(&srv);
    let (_, tb1) = srv
        .get("/companies/sharma/snapshots/2026-03", Some(&admin))
        .await;
    assert_eq!(
        srv.post("/connector/sync", Some(&token), &payload).await.0,
        200
    );
    assert_eq!(state(&srv), first);
    let (_, tb2) = srv
        .get("/companies/sharma/snapshots/2026-03", Some(&admin))
        .await;
    assert_eq!(tb1["ledgers"], tb2["ledgers"]);
    assert_eq!(first.0.len(), 8);

    // Cash is closed in Tally: the next payload no longer has it.
    let mut next = payload.clone();
    let coa = &mut next["chartOfAccounts"];
    coa["ledgers"]
        .as_array_mut()
        .unwrap()
        .retain(|l| l["guid"] != "l-cash");
    let items = coa["balances"]["current"]["items"].as_array_mut().unwrap();
    items.retain(|i| i["ledgerGuid"] != "l-cash");
    items.push(json!({"ledgerGuid": "l-cap", "balance": 100000}));
    items.retain(|i| !(i["ledgerGuid"] == "l-cap" && i["balance"] == json!(-100000)));
    coa["balances"]["current"]["items"] = json!([
        {"ledgerGuid": "l-abc", "balance": 150000.50}, {"ledgerGuid": "l-sales", "balance": -50000.50},
        {"ledgerGuid": "l-cap", "balance": -100000}
    ]);
    let (s, b) = srv.post("/connector/sync", Some(&token), &next).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["ledgersGone"], 1);
    assert_eq!(
        srv.count("SELECT count(*) FROM ledgers WHERE guid = 'l-cash' AND gone_at IS NOT NULL"),
        1
    );
    let (_, tb) = srv
        .get("/companies/sharma/snapshots/2026-03", Some(&admin))
        .await;
    let names: Vec<Value> = tb["ledgers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ledgerName"].clone())
        .collect();
    assert!(!names.contains(&json!("Cash")), "{names:?}");
    srv.stop().await;
}

#[tokio::test]
async fn gzip_bodies_are_accepted() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, token) = setup_company(&srv).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(balanced_payload().to_string().as_bytes())
        .unwrap();
    let res = srv
        .http
        .post(srv.api("/connector/sync"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (_, months) = srv.get("/companies/sharma/snapshots", Some(&admin)).await;
    assert_eq!(months.as_array().unwrap().len(), 3);
    srv.stop().await;
}

#[tokio::test]
async fn staff_see_only_their_companies() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Alpha Traders", "alpha").await;
    srv.create_company(&admin, "Beta Exports", "beta").await;
    let (s, b) = srv
        .post("/users", Some(&admin), &json!({"username": "meera", "password": "correct horse", "role": "staff", "companyIds": ["alpha"]}))
        .await;
    assert_eq!(s, 201, "{b}");
    let meera = srv.login("meera", "correct horse").await;
    let (_, list) = srv.get("/companies", Some(&meera)).await;
    assert_eq!(list, json!([{"id": "alpha", "name": "Alpha Traders"}]));
    assert_eq!(
        srv.get("/connector/status?companyId=beta", Some(&meera))
            .await
            .0,
        403
    );
    assert_eq!(
        srv.get("/connector/status?companyId=alpha", Some(&meera))
            .await
            .0,
        200
    );
    // Staff may enrol a connector for their own company only.
    srv.enrol(&meera, "alpha", "pc-meera").await;
    let (s, b) = srv
        .post(
            "/connector/auth",
            None,
            &json!({"companyId": "beta", "deviceId": "x", "userJwt": meera}),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    // Staff may not administer.
    assert_eq!(
        srv.post("/companies", Some(&meera), &json!({"name": "Gamma"}))
            .await
            .0,
        403
    );
    // An id is generated from the name when none is given.
    let (s, b) = srv
        .post(
            "/companies",
            Some(&admin),
            &json!({"name": "Sharma & Sons Pvt. Ltd."}),
        )
        .await;
    assert_eq!((s, b["id"].clone()), (201, json!("sharma-sons-pvt-ltd")));
    srv.stop().await;
}
