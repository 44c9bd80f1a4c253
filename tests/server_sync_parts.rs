//! A sync delivered in parts, against the real appliance over HTTP: months are stored only
//! when every part is in, a part sent twice changes nothing, and a run abandoned half-way
//! leaves the months it did not finish as they were.

mod common;

use common::{balanced_payload, TestServer};
use serde_json::{json, Value};

struct Conn {
    srv: TestServer,
    token: String,
    admin: String,
    _data: tempfile::TempDir,
}

async fn conn() -> Conn {
    let data = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let (token, _, _) = srv.enrol(&admin, "sharma", "pc-1").await;
    Conn {
        srv,
        token,
        admin,
        _data: data,
    }
}

impl Conn {
    async fn start(&self) -> (String, Value) {
        let (s, b) = self
            .srv
            .post("/connector/sync/start", Some(&self.token), &json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
        (b["syncRunId"].as_str().unwrap().to_string(), b)
    }

    async fn part(&self, body: &Value) -> (u16, Value) {
        self.srv
            .post("/connector/sync/part", Some(&self.token), body)
            .await
    }

    async fn months(&self) -> Value {
        self.srv
            .get("/companies/sharma/snapshots", Some(&self.admin))
            .await
            .1
    }
}

/// balanced_payload()'s chart and months as three parts; its January is split over two.
fn parts(run: &str) -> Vec<Value> {
    let whole = balanced_payload();
    let coa = &whole["chartOfAccounts"];
    let closed = coa["balances"]["closedMonths"].as_array().unwrap();
    let month = |m: &Value, closed: bool, items: Value| json!({"monthKey": m["monthKey"], "asOfDate": m["asOfDate"], "closed": closed, "items": items});
    let jan = &closed[0];
    let jan_items = jan["items"].as_array().unwrap();
    let part = |index: u32, chart: Option<Value>, months: Vec<Value>| {
        let mut p = json!({"syncRunId": run, "part": {"index": index, "count": 3},
            "asOfDate": "2026-03-15", "months": months});
        if let Some(c) = chart {
            p["chartOfAccounts"] = c;
        }
        p
    };
    let chart = json!({"source": "tally", "company": coa["company"], "groups": coa["groups"], "ledgers": coa["ledgers"]});
    vec![
        part(
            0,
            Some(chart),
            vec![month(jan, true, json!([jan_items[0]]))],
        ),
        part(
            1,
            None,
            vec![
                month(jan, true, json!([jan_items[1]])),
                month(&closed[1], true, closed[1]["items"].clone()),
            ],
        ),
        part(
            2,
            None,
            vec![month(
                &coa["balances"]["current"],
                false,
                coa["balances"]["current"]["items"].clone(),
            )],
        ),
    ]
}

#[tokio::test]
async fn months_are_stored_only_when_every_part_is_in_and_equal_the_whole_payload() {
    let c = conn().await;
    let (run, started) = c.start().await;
    assert!(
        started["parts"]["maxPartBytes"].as_u64().unwrap() >= 1 << 20,
        "{started}"
    );
    let parts = parts(&run);
    // Out of order: part 0 (the chart) comes first.
    let (s, b) = c.part(&parts[1]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (409, Some("sync_part_out_of_order"))
    );
    for p in &parts[..2] {
        let (s, b) = c.part(p).await;
        assert_eq!(s, 200, "{b}");
        assert!(b.get("stored").is_none(), "{b}");
        assert_eq!(
            c.months().await,
            json!([]),
            "no month before every part is in"
        );
    }
    // A part sent twice changes nothing.
    let before = c.srv.fingerprint();
    let (s, b) = c.part(&parts[1]).await;
    assert_eq!((s, b["received"].as_u64()), (200, Some(2)), "{b}");
    assert_eq!(c.srv.fingerprint(), before);
    // A part that says another count is refused.
    let mut wrong = parts[2].clone();
    wrong["part"]["count"] = json!(4);
    assert_eq!(c.part(&wrong).await.0, 422);

    let (s, b) = c.part(&parts[2]).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["stored"]["months"],
        json!(["2026-01", "2026-02", "2026-03"])
    );
    assert_eq!(b["stored"]["balances"], 8);
    assert_eq!(c.srv.count("SELECT count(*) FROM sync_part_balances"), 0);
    let (_, jan) = c
        .srv
        .get("/companies/sharma/snapshots/2026-01", Some(&c.admin))
        .await;
    assert_eq!(jan["balanced"], true, "{jan}");
    assert_eq!(jan["debitTotal"].to_string(), "1000.10");

    // The same books as one payload give the same months.
    let from_parts = c.months().await;
    let (s, _) = c
        .srv
        .post("/connector/sync", Some(&c.token), &balanced_payload())
        .await;
    assert_eq!(s, 200);
    let whole = c.months().await;
    assert_eq!(whole.as_array().unwrap().len(), 3);
    for (a, b) in from_parts
        .as_array()
        .unwrap()
        .iter()
        .zip(whole.as_array().unwrap())
    {
        for field in [
            "monthKey",
            "asOfDate",
            "closed",
            "debitTotal",
            "creditTotal",
            "ledgerCount",
            "balanced",
        ] {
            assert_eq!(a[field], b[field], "{field}");
        }
    }
}

#[tokio::test]
async fn an_abandoned_run_leaves_the_months_it_did_not_finish_as_they_were() {
    let c = conn().await;
    let (s, _) = c
        .srv
        .post("/connector/sync", Some(&c.token), &balanced_payload())
        .await;
    assert_eq!(s, 200);
    let held = c.months().await;

    let (run, _) = c.start().await;
    let mut parts = parts(&run);
    // Different balances for January: they must never show.
    parts[1]["months"][0]["items"][0]["balance"] = json!(-5);
    for p in &parts[..2] {
        assert_eq!(c.part(p).await.0, 200);
    }
    assert!(c.srv.count("SELECT count(*) FROM sync_part_balances") > 0);
    // The connector starts again: its unfinished run is abandoned, and what it staged goes.
    let (_next, _) = c.start().await;
    assert_eq!(c.srv.count("SELECT count(*) FROM sync_part_balances"), 0);
    assert_eq!(c.srv.count("SELECT count(*) FROM sync_part_received"), 0);
    // Only its row stays, marking it incomplete for the run views.
    assert_eq!(
        c.srv.count(
            "SELECT count(*) FROM sync_part_runs p JOIN ingestion_logs i ON i.id = p.ingestion_id
             WHERE i.outcome <> 'incomplete' OR p.staged_balances <> 0"
        ),
        0
    );
    assert_eq!(c.months().await, held, "every month as it was");
    let (s, b) = c.part(&parts[2]).await;
    assert_eq!((s, b["error"].as_str()), (409, Some("sync_run_finished")));
    assert_eq!(c.months().await, held);
}

#[tokio::test]
async fn a_part_over_the_limit_or_malformed_is_refused_with_its_reason() {
    let c = conn().await;
    let (run, _) = c.start().await;
    let mut p = parts(&run)[0].clone();
    p["part"] = json!({"index": 0, "count": 0});
    let (s, b) = c.part(&p).await;
    assert_eq!(s, 422, "{b}");
    assert!(b.to_string().contains("part.count"), "{b}");
    let mut p = parts(&run)[1].clone();
    p["chartOfAccounts"] = json!({"groups": [], "ledgers": []});
    let (s, b) = c.part(&p).await;
    assert_eq!(s, 422, "{b}");
    assert!(b.to_string().contains("only part 0"), "{b}");
    let mut p = parts(&run)[0].clone();
    p["months"][0]["items"][0]["ledgerGuid"] = json!("nobody");
    let (s, b) = c.part(&p).await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b.to_string().contains("months[0].items[0].ledgerGuid"),
        "{b}"
    );
    assert_eq!(
        c.srv.count("SELECT count(*) FROM sync_part_runs"),
        0,
        "nothing stays of a refused part"
    );
}

/// Review L11: while one connector's parts arrive, another connector of the company (a second
/// PC with the same books) syncs them whole, storing the same chart under its own ingestion.
/// The first run's remaining parts are still taken and its months stored when the last one
/// arrives; they used to be refused (422, every ledger unknown), and the connector then read
/// Tally in full again.
///
/// Review MED-1: the months the second connector stored are a newer reading than the late run's
/// and keep it (they used to be overwritten by the older reading, with a false restatement of
/// the closed month, and the second connector's next sync, Tally unchanged, never put them
/// back). The late run's other months are stored, and its run says which months it left.
#[tokio::test]
async fn another_connectors_sync_does_not_break_a_sync_arriving_in_parts() {
    let c = conn().await;
    let (second, _, _) = c.srv.enrol(&c.admin, "sharma", "pc-2").await;
    let (run, _) = c.start().await;
    let parts = parts(&run);
    let (s, b) = c.part(&parts[0]).await;
    assert_eq!(s, 200, "{b}");

    // The second PC's books: February and March read later, with other figures; no January.
    let mut other_books = balanced_payload();
    let balances = &mut other_books["chartOfAccounts"]["balances"];
    balances["closedMonths"] = json!([{ "monthKey": "2026-02", "asOfDate": "2026-02-28", "items": [
        { "ledgerGuid": "l-abc", "balance": 500 }, { "ledgerGuid": "l-sales", "balance": -500 }]}]);
    balances["current"]["items"][0]["balance"] = json!(150001.50);
    balances["current"]["items"][1]["balance"] = json!(-250001.50);
    let (s, b) = c
        .srv
        .post("/connector/sync", Some(&second), &other_books)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["ledgersGone"], 0, "{b}");
    let newer = c.months().await;
    assert_eq!(newer.as_array().unwrap().len(), 2, "{newer}");

    let (s, b) = c.part(&parts[1]).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c.part(&parts[2]).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["stored"]["months"], json!(["2026-01"]), "{b}");
    assert_eq!(b["stored"]["balances"], 2, "{b}");
    let jan = c.snapshot("2026-01").await;
    assert_eq!(
        jan["debitTotal"].to_string(),
        "1000.10",
        "the parts' January: {jan}"
    );
    let feb = c.snapshot("2026-02").await;
    assert_eq!(
        feb["debitTotal"].to_string(),
        "500.00",
        "the newer February: {feb}"
    );
    let march = c.snapshot("2026-03").await;
    assert_eq!(
        march["debitTotal"].to_string(),
        "350001.50",
        "the newer March: {march}"
    );
    let months = c.months().await;
    assert_eq!(
        &months.as_array().unwrap()[1..],
        &newer.as_array().unwrap()[..]
    );
    assert_eq!(
        c.srv.count("SELECT count(*) FROM restatements"),
        0,
        "no false restatement of February"
    );

    let view = c.run_view(&run).await;
    assert_eq!(view.get("partsOutcome"), None, "stored: {view}");
    let said = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "kept_newer")
        .unwrap_or_else(|| panic!("{view:#}"));
    assert_eq!(
        said["message"],
        "not stored: 2026-02, 2026-03; a later sync stored them while this run's parts \
         arrived, and they are kept as that newer sync had them"
    );
    assert_eq!(c.srv.count("SELECT count(*) FROM sync_part_balances"), 0);
}

impl Conn {
    async fn snapshot(&self, key: &str) -> Value {
        let path = format!("/companies/sharma/snapshots/{key}");
        self.srv.get(&path, Some(&self.admin)).await.1
    }

    async fn run_view(&self, run: &str) -> Value {
        let (s, b) = self
            .srv
            .get(
                &format!("/companies/sharma/sync-runs/{run}"),
                Some(&self.admin),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }
}

/// The run views name a sync in parts' outcome: `receiving` while its parts arrive (in the
/// runs list, the run, the status and the overview), `incomplete` once it ended without all of
/// them, with an event saying the months keep their snapshots.
#[tokio::test]
async fn a_run_in_parts_is_named_receiving_then_incomplete() {
    let c = conn().await;
    let (run, _) = c.start().await;
    let parts = parts(&run);
    for p in &parts[..2] {
        assert_eq!(c.part(p).await.0, 200);
    }
    let (_, runs) = c
        .srv
        .get("/companies/sharma/sync-runs", Some(&c.admin))
        .await;
    assert_eq!(runs[0]["partsOutcome"], "receiving", "{runs}");
    assert_eq!(c.run_view(&run).await["partsOutcome"], "receiving");
    let (_, status) = c
        .srv
        .get("/connector/status?companyId=sharma", Some(&c.admin))
        .await;
    assert_eq!(
        status["lastSyncRun"]["partsOutcome"], "receiving",
        "{status}"
    );
    let (_, overview) = c.srv.get("/overview", Some(&c.admin)).await;
    assert_eq!(
        overview["companies"][0]["lastSyncRun"]["partsOutcome"], "receiving",
        "{overview}"
    );

    // The connector starts again: the first run is superseded before its last part.
    let (next, _) = c.start().await;
    let view = c.run_view(&run).await;
    assert_eq!(view["partsOutcome"], "incomplete", "{view:#}");
    assert_eq!(view["status"], "abandoned");
    assert_eq!(view["ingestions"][0]["outcome"], "incomplete");
    let events = view["events"].as_array().unwrap();
    let said = events.iter().find(|e| e["kind"] == "incomplete").unwrap();
    assert_eq!(
        said["message"],
        "incomplete: 2 of its 3 parts arrived; none of its months was stored, \
         and they keep their previous snapshots"
    );
    assert_eq!(c.run_view(&next).await.get("partsOutcome"), None);
    let (_, overview) = c.srv.get("/overview", Some(&c.admin)).await;
    assert_eq!(
        overview["companies"][0]["lastSyncRun"].get("partsOutcome"),
        None
    );
    assert_eq!(c.months().await, json!([]));
}

/// A run cut short keeps a row only to be named `incomplete`: it does not count against the
/// syncs a company may have arriving in parts at once.
#[tokio::test]
async fn runs_cut_short_do_not_count_as_arriving_in_parts() {
    let c = conn().await;
    for _ in 0..6 {
        let (run, _) = c.start().await;
        let (s, b) = c.part(&parts(&run)[0]).await;
        assert_eq!(s, 200, "{b}");
    }
    let (_, runs) = c
        .srv
        .get("/companies/sharma/sync-runs", Some(&c.admin))
        .await;
    let outcomes: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["partsOutcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "receiving",
            "incomplete",
            "incomplete",
            "incomplete",
            "incomplete",
            "incomplete"
        ]
    );
}
