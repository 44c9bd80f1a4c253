//! Right on a real Tally, or loudly wrong (issue 9): the connector as a real process between
//! the real appliance and tally-sim misbehaving as real Tally installs are reported to. Every
//! fault ends in exact data or in a clear failure with a non-zero exit, and never in a month
//! stored with wrong numbers.

mod common;

use std::collections::HashMap;
use std::process::Output;
use std::sync::Arc;

use common::{connector, text, TestServer};
use serde_json::{json, Value};

use aicfo::protocol::calendar::parse_date;
use aicfo::protocol::Amount;
use aicfo::sim::{
    add_inventory, expected_month, expected_trial_balance, generate, Books, ExpectedMonth, Fault,
    GenSpec, SimCompany, SimServer, SimState,
};

fn company(name: &str) -> SimCompany {
    generate(&GenSpec {
        name: name.into(),
        seed: 11,
        ledgers: 60,
        vouchers: 1500,
        years: 3,
        first_year: 2024,
    })
}

struct World {
    srv: TestServer,
    sim: SimServer,
    /// The books tally-sim serves.
    company: SimCompany,
    admin: String,
    home: tempfile::TempDir,
    _data: tempfile::TempDir,
}

async fn world(tally_name: &str) -> World {
    world_of(company(tally_name)).await
}

async fn world_of(books: SimCompany) -> World {
    let data = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Fidelity Traders", "fid").await;
    let state = Arc::new(SimState::new(vec![Books::new(books.clone()).unwrap()]));
    let sim = SimServer::start(state, "127.0.0.1", 0, false)
        .await
        .unwrap();
    let w = World {
        srv,
        sim,
        company: books,
        admin,
        home: tempfile::tempdir().unwrap(),
        _data: data,
    };
    let out = connector(
        w.home.path(),
        &[
            "setup",
            "--api-url",
            &format!("{}/api", w.srv.url),
            "--username",
            "admin",
            "--password-stdin",
            "--company-id",
            "fid",
            "--tally-url",
            &w.sim.url,
            "--non-interactive",
        ],
        Some(&format!("{}\n", w.srv.admin_password())),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    w.edit_config(|c| {
        c["retry_delay_seconds"] = json!(1);
        c["max_retry_attempts"] = json!(1);
    });
    w
}

/// One ledger of a stored month as the API shows it (the rest of the line is not checked here).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredLine {
    ledger_guid: String,
    balance: Amount,
}

impl World {
    fn edit_config(&self, f: impl FnOnce(&mut Value)) {
        let path = self.home.path().join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    }

    /// A full sync, whatever Tally's change counters say.
    async fn sync(&self) -> Output {
        connector(self.home.path(), &["once", "--full"], None).await
    }

    /// Every month the appliance holds, ledger GUID -> balance.
    async fn snapshots(&self) -> HashMap<String, (String, HashMap<String, Amount>)> {
        let (_, months) = self
            .srv
            .get("/companies/fid/snapshots", Some(&self.admin))
            .await;
        let mut out = HashMap::new();
        for m in months.as_array().unwrap() {
            let key = m["monthKey"].as_str().unwrap().to_string();
            let (_, tb) = self
                .srv
                .get(
                    &format!("/companies/fid/snapshots/{key}"),
                    Some(&self.admin),
                )
                .await;
            let lines: Vec<StoredLine> = serde_json::from_value(tb["ledgers"].clone()).unwrap();
            let ledgers = lines
                .into_iter()
                .map(|l| (l.ledger_guid, l.balance))
                .collect();
            out.insert(key, (m["asOfDate"].as_str().unwrap().to_string(), ledgers));
        }
        out
    }

    /// Every month held equals `tally-sim expected` at that month's date, ledger by ledger.
    async fn assert_exact(&self) -> usize {
        let books = Books::new(self.company.clone()).unwrap();
        let held = self.snapshots().await;
        assert!(held.len() >= 13, "{} months held", held.len());
        for (key, (as_of, got)) in &held {
            let expected = expected_trial_balance(&books, parse_date(as_of).unwrap());
            // Every ledger whose stored balance is not what the books mean, and any extra.
            let wrong: Vec<String> = expected
                .iter()
                .filter(|e| got.get(&e.ledger_guid) != Some(&e.balance))
                .map(|e| {
                    format!(
                        "{}: {:?} for {}",
                        e.ledger_name,
                        got.get(&e.ledger_guid),
                        e.balance
                    )
                })
                .collect();
            assert!(wrong.is_empty(), "{key}: {wrong:#?}");
            assert_eq!(
                got.len(),
                expected.len(),
                "{key}: no ledger beyond the books"
            );
        }
        held.len()
    }

    /// A full sync that succeeds with every month exact; returns the connector's log.
    async fn syncs_exactly(&self) -> String {
        let out = self.sync().await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        self.assert_exact().await;
        std::fs::read_to_string(self.home.path().join("logs/connector.log")).unwrap()
    }

    fn outbox_is_empty(&self) -> bool {
        std::fs::read_dir(self.home.path().join("outbox"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .all(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            })
            .unwrap_or(true)
    }
}

/// Under `fault` the sync fails with a message containing `says`, exit 3, and neither a first
/// sync nor a later one stores anything of it: the months already held stay exactly right.
async fn fails_loudly_and_stores_nothing(fault: &str, says: &[&str]) {
    fails_loudly_in(world("Fidelity Traders").await, fault, says).await;
}

async fn fails_loudly_in(w: World, fault: &str, says: &[&str]) {
    w.sim.set_fault(fault.parse().unwrap());
    let out = w.sync().await;
    assert_eq!(out.status.code(), Some(3), "{fault}: {}", text(&out));
    let all = text(&out);
    for s in says {
        assert!(all.contains(s), "{fault}: `{s}` not said:\n{all}");
    }
    assert!(w.snapshots().await.is_empty(), "{fault}: nothing stored");
    assert!(w.outbox_is_empty(), "{fault}: nothing queued");

    // Right data first, then the fault again: no month is replaced.
    w.sim.set_fault(Fault::None);
    let out = w.sync().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let months = w.assert_exact().await;
    let before = w.srv.count("SELECT count(*) FROM ingestion_logs");
    w.sim.set_fault(fault.parse().unwrap());
    let out = w.sync().await;
    assert_eq!(out.status.code(), Some(3), "{fault}: {}", text(&out));
    assert_eq!(w.assert_exact().await, months);
    assert_eq!(
        w.srv.count("SELECT count(*) FROM ingestion_logs"),
        before,
        "{fault}: nothing reached the appliance"
    );
    assert!(w.outbox_is_empty(), "{fault}: nothing queued");
    let status = w
        .srv
        .get("/connector/status?companyId=fid", Some(&w.admin))
        .await
        .1;
    assert_eq!(status["lastSyncRun"]["status"], "failed", "{status:#}");
}

#[tokio::test]
async fn no_closing_balance_at_all_fails_the_sync() {
    fails_loudly_and_stores_nothing(
        "drop-closing",
        &["left out the closing balance of 62 of 62 ledgers"],
    )
    .await;
}

#[tokio::test]
async fn closing_balances_missing_on_some_ledgers_fail_the_sync_naming_them() {
    fails_loudly_and_stores_nothing(
        "blank-closing",
        &["left out the closing balance of 9 of 62 ledgers", "`"],
    )
    .await;
}

#[tokio::test]
async fn a_lineerror_midway_fails_the_sync() {
    fails_loudly_and_stores_nothing("lineerror-midway", &["Memory Access Violation"]).await;
}

#[tokio::test]
async fn when_no_request_form_confirms_the_date_the_sync_fails_saying_what_to_send() {
    fails_loudly_and_stores_nothing(
        "ignore-todate-all",
        &[
            "did not confirm that it computed the balances",
            "tally-sim (aicfo Tally simulator",
            "Help > About",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_report_form_that_disagrees_with_the_collection_is_not_trusted() {
    fails_loudly_and_stores_nothing(
        "report-misreads",
        &["did not confirm", "the two forms disagree on"],
    )
    .await;
}

/// With no company loaded, Tally answers a bare `<ERRORMSG>Could not find Company:…!</ERRORMSG>`:
/// a failure naming the company, never an empty set of books.
#[tokio::test]
async fn a_bare_errormsg_fails_the_sync_saying_the_company_is_not_open() {
    fails_loudly_and_stores_nothing(
        "no-company-errormsg",
        &["is not open in Tally", "Could not find Company"],
    )
    .await;
}

/// A Tally that answers the inline `TYPE Data` reports with "Unknown Request": the stock
/// form cannot confirm its period, so the sync fails saying so, for every company (the stock is
/// asked even where there is none), and nothing is stored.
#[tokio::test]
async fn a_tally_refusing_report_requests_fails_the_sync_saying_so() {
    fails_loudly_and_stores_nothing(
        "refuse-reports",
        &["did not confirm", "Unknown Request, cannot be processed"],
    )
    .await;
}

/// A ledger collection with SVFROMDATE froze a TallyPrime 7.0's XML server until it was
/// restarted (field report). The connector still sends SVFROMDATE (a revenue ledger's balance
/// is counted from the period's start); against a frozen Tally the sync ends at the timeout,
/// after one retry split by group, and stores nothing.
#[tokio::test]
async fn a_tally_frozen_by_svfromdate_fails_the_sync_and_stores_nothing() {
    let w = world("Fidelity Traders").await;
    w.edit_config(|c| c["tally_timeout_seconds"] = json!(1));
    fails_loudly_in(w, "freeze-on-fromdate", &["did not answer within 1 s"]).await;
}

/// Every Tally way of writing an amount (`(-)` and Indian grouping, `Dr`/`Cr`, `₹`, foreign
/// currency with `?` for `₹`) in the balances and the openings: every month stored exactly,
/// with the opening difference Tally shows.
#[tokio::test]
async fn amounts_in_every_form_tally_writes_are_stored_exactly() {
    let w = world_of(inventory_company()).await;
    w.sim.set_fault(Fault::AmountForms);
    w.syncs_exactly().await;
    assert!(w
        .assert_months_as_tally_shows_them()
        .await
        .iter()
        .all(|m| m.balanced));
}

/// Peers report Ledger collections whose CLOSINGBALANCE is blank on every ledger: read as zero
/// it would store empty books. The connector does not take it; and with no number from the
/// collection the report form cannot be cross-checked, so the sync fails saying why, and
/// nothing is stored.
#[tokio::test]
async fn blank_closing_balances_everywhere_are_not_stored_as_zero() {
    fails_loudly_and_stores_nothing(
        "blank-all",
        &[
            "did not confirm",
            "blank (zero) closing balance",
            "report form: not asked",
        ],
    )
    .await;
}

/// The same blank collection from a Tally whose report names the date asked but gives the
/// numbers of 31 days earlier (a trial balance that still balances): taken unchecked it would
/// store every month with another month's numbers. Nothing is stored.
#[tokio::test]
async fn a_blank_collection_never_lets_an_unchecked_report_through() {
    fails_loudly_and_stores_nothing(
        "blank-all+report-misreads",
        &[
            "did not confirm",
            "blank (zero) closing balance",
            "nothing could show that its numbers are those of the day it names",
        ],
    )
    .await;
}

/// Under `fault` (with a Tally timeout of 1 s when `short_timeout`) a full sync still stores
/// every month exactly; returns the connector's log, which says how it got there.
async fn exact_despite(fault: &str, short_timeout: bool) -> String {
    let w = world("Fidelity Traders").await;
    if short_timeout {
        w.edit_config(|c| c["tally_timeout_seconds"] = json!(1));
    }
    w.sim.set_fault(fault.parse().unwrap());
    w.syncs_exactly().await
}

#[tokio::test]
async fn a_tally_ignoring_svtodate_on_collections_is_read_through_its_report() {
    let log = exact_despite("ignore-todate", false).await;
    assert!(log.contains("asking its report form instead"), "{log}");
}

#[tokio::test]
async fn a_timeout_on_a_big_company_is_retried_group_by_group() {
    let log = exact_despite("slow-whole:2500", true).await;
    assert!(log.contains("one primary group at a time"), "{log}");
}

#[tokio::test]
async fn a_big_company_on_a_tally_ignoring_svtodate_is_read_group_by_group_through_its_report() {
    let log = exact_despite("ignore-todate-slow:2500", true).await;
    assert!(log.contains("one primary group at a time"), "{log}");
    assert!(log.contains("asking its report form"), "{log}");
}

#[tokio::test]
async fn the_company_name_goes_back_to_tally_exactly_as_tally_gave_it() {
    // Stray spaces and a control character, which a cleaned name would lose, and `&` and `<`,
    // which a request must escape: otherwise Tally would say the company is not open.
    let w = world("  Fidelity\u{4} Traders & Sons <HO> (2025-26) ").await;
    w.syncs_exactly().await;
}

#[tokio::test]
async fn connector_processes_take_turns_with_tally() {
    let w = world("Fidelity Traders").await;
    w.sim.set_fault("slow:300".parse().unwrap());
    let runs: Vec<_> = (0..3)
        .map(|_| connector(w.home.path(), &["companies"], None))
        .collect();
    let sync = w.sync();
    let (outs, sync) = tokio::join!(futures_util::future::join_all(runs), sync);
    for out in outs.iter().chain([&sync]) {
        assert_eq!(out.status.code(), Some(0), "{}", text(out));
    }
    assert!(String::from_utf8_lossy(&outs[0].stdout).contains("Fidelity Traders"));
    assert_eq!(
        w.sim.state.max_in_flight(),
        1,
        "never two requests at Tally at once"
    );
}

/// An amount as the API writes it (an exact JSON number).
fn amount(v: &Value) -> Amount {
    v.to_string().parse().unwrap()
}

/// A trader whose accounts are integrated with inventory: 12 stock items, moved by its
/// purchases and sales.
fn inventory_company() -> SimCompany {
    let mut c = company("Stock Traders");
    add_inventory(&mut c, 11, 12);
    c
}

impl World {
    /// A month's trial balance as the appliance's CSV download.
    async fn csv(&self, month: &str) -> String {
        let url = self
            .srv
            .api(&format!("/companies/fid/snapshots/{month}?format=csv"));
        let res = reqwest::Client::new().get(url).bearer_auth(&self.admin);
        res.send().await.unwrap().text().await.unwrap()
    }

    /// Every month's summary as the appliance shows it.
    async fn summaries(&self) -> Vec<Value> {
        let (status, months) = self
            .srv
            .get("/companies/fid/snapshots", Some(&self.admin))
            .await;
        assert_eq!(status, 200, "{months}");
        months.as_array().unwrap().clone()
    }

    /// Each month is balanced exactly when tally-sim's Tally-style trial balance is, with the
    /// stock and the opening difference Tally shows.
    async fn assert_months_as_tally_shows_them(&self) -> Vec<ExpectedMonth> {
        let books = Books::new(self.company.clone()).unwrap();
        let mut seen = Vec::new();
        for m in self.summaries().await {
            let at = parse_date(m["asOfDate"].as_str().unwrap()).unwrap();
            let expected = expected_month(&books, at);
            let key = &m["monthKey"];
            assert_eq!(m["balanced"], json!(expected.balanced), "{key}: {m:#}");
            assert_eq!(amount(&m["difference"]), expected.difference, "{key}");
            assert_eq!(
                amount(&m["openingDifference"]),
                expected.opening_difference,
                "{key}"
            );
            let stock = expected
                .stock
                .filter(|s| !(s.opening.is_zero() && s.closing.is_zero()));
            assert_eq!(
                m.get("stock").cloned(),
                stock.map(|s| serde_json::to_value(s).unwrap()),
                "{key}"
            );
            seen.push(expected);
        }
        seen
    }
}

#[tokio::test]
async fn an_inventory_company_balances_as_tallys_own_trial_balance_does() {
    let w = world_of(inventory_company()).await;
    w.syncs_exactly().await;
    let months = w.assert_months_as_tally_shows_them().await;
    assert!(months.iter().all(|m| m.balanced));
    // The ledgers alone do not sum to zero: without the opening stock every month would be
    // flagged, as it was before.
    for m in w.summaries().await {
        assert_ne!(amount(&m["debitTotal"]), amount(&m["creditTotal"]), "{m:#}");
        assert!(m["stock"]["closing"].is_number(), "{m:#}");
    }
    // Across the financial year the opening stock changes to the last year's closing stock.
    let openings: std::collections::HashSet<String> = months
        .iter()
        .map(|m| m.stock.unwrap().opening.to_string())
        .collect();
    assert!(openings.len() >= 2, "{openings:?}");

    // The CSV lists the opening stock beside the ledgers, as Tally's trial balance does.
    let csv = w.csv("2025-06").await;
    assert!(csv.contains(",Opening Stock,,"), "{csv}");
    assert!(csv.contains(",TOTAL,,"), "{csv}");
    assert!(csv.contains("Closing Stock"), "{csv}");
}

#[tokio::test]
async fn openings_that_do_not_tally_show_as_the_opening_difference() {
    let mut c = inventory_company();
    let cash = c
        .ledgers
        .iter_mut()
        .find(|l| l.parent == "Capital Account")
        .unwrap();
    // The capital typed 12,345.67 short of the assets: Tally's "Difference in opening balances".
    cash.opening_balance = Amount::from_paise(cash.opening_balance.paise() + 1_234_567);
    let w = world_of(c).await;
    w.syncs_exactly().await;
    let months = w.assert_months_as_tally_shows_them().await;
    assert!(months.iter().all(|m| m.balanced));
    for m in w.summaries().await {
        assert_eq!(
            amount(&m["openingDifference"]),
            "12345.67".parse().unwrap(),
            "{m:#}"
        );
        assert_eq!(amount(&m["difference"]), Amount::ZERO, "{m:#}");
    }
    let csv = w.csv("2025-06").await;
    assert!(
        csv.contains(",Difference in opening balances,,0.00,12345.67,-12345.67"),
        "{csv}"
    );
}

#[tokio::test]
async fn a_company_without_inventory_sends_no_stock() {
    let w = world("Fidelity Traders").await;
    let out = w.sync().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for m in w.assert_months_as_tally_shows_them().await {
        assert!(m.stock.is_none() && m.balanced && m.opening_difference.is_zero());
    }
    for m in w.summaries().await {
        assert!(m.get("stock").is_none(), "{m:#}");
        assert_eq!(amount(&m["openingDifference"]), Amount::ZERO);
    }
}

impl World {
    /// Tally's books change while it runs.
    fn change_books(&mut self, change: impl FnOnce(&mut SimCompany)) {
        change(&mut self.company);
        let books = Books::new(self.company.clone()).unwrap();
        self.sim.state.set_companies(vec![books]);
    }

    /// A sync as the schedule runs it (Tally's change markers decide what is read); returns
    /// the requests it made to Tally and the months the appliance was sent.
    async fn scheduled_sync(&self) -> (u64, i64) {
        let before = self.sim.state.requests();
        let out = connector(self.home.path(), &["once"], None).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let months = self.srv.count(
            "SELECT COALESCE((SELECT months_count FROM ingestion_logs ORDER BY id DESC LIMIT 1), 0)",
        );
        (self.sim.state.requests() - before, months)
    }
}

/// A voucher between the first two ledgers, dated `date`.
fn voucher(c: &SimCompany, date: &str) -> aicfo::sim::model::SimVoucher {
    let entry = |i: usize, paise: i64| aicfo::sim::model::SimEntry {
        ledger: c.ledgers[i].name.clone(),
        amount: Amount::from_paise(paise),
    };
    aicfo::sim::model::SimVoucher {
        date: date.into(),
        voucher_type: "Journal".into(),
        number: "late-1".into(),
        entries: vec![entry(0, 123_456), entry(1, -123_456)],
        stock: Vec::new(),
    }
}

#[tokio::test]
async fn a_back_dated_voucher_rereads_only_from_its_month() {
    let mut w = world_of(inventory_company()).await;
    let out = w.sync().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let held = w.assert_exact().await;
    let ingestions = w.srv.count("SELECT count(*) FROM ingestion_logs");

    // Nothing changed: one request (the companies and their change markers), nothing sent.
    let (requests, _) = w.scheduled_sync().await;
    assert_eq!(requests, 1);
    assert_eq!(
        w.srv.count("SELECT count(*) FROM ingestion_logs"),
        ingestions
    );

    // A voucher back-dated six months: the month-ends from its month on are read again.
    let today = time::OffsetDateTime::now_utc().date();
    let back = aicfo::protocol::MonthKey::of(today)
        .previous()
        .previous()
        .previous()
        .previous()
        .previous()
        .previous();
    let date = format!("{back}-15");
    w.change_books(|c| {
        let v = voucher(c, &date);
        c.vouchers.push(v);
    });
    let (requests, months) = w.scheduled_sync().await;
    assert_eq!(months, 7, "six closed months and the current one");
    assert!(requests < 20, "{requests} requests");
    assert_eq!(w.assert_exact().await, held, "the other months are kept");
    w.assert_months_as_tally_shows_them().await;

    // A new ledger (masters only): masters and today's balances.
    w.change_books(|c| {
        let mut l = c.ledgers[0].clone();
        l.name = "New Customer".into();
        l.guid = "new-customer".into();
        l.opening_balance = Amount::ZERO;
        c.ledgers.push(l);
    });
    let (_, months) = w.scheduled_sync().await;
    assert_eq!(months, 1);
    assert_eq!(w.assert_exact().await, held);

    // A voucher removed leaves no date to find: everything is read again.
    w.change_books(|c| {
        c.vouchers.remove(3);
    });
    let (_, months) = w.scheduled_sync().await;
    assert_eq!(months as usize, held);
    assert_eq!(w.assert_exact().await, held);
}

#[tokio::test]
async fn books_beginning_mid_year_take_their_opening_stock_from_that_day() {
    let mut c = inventory_company();
    c.books_from = "2025-06-10".into();
    c.vouchers.retain(|v| v.date.as_str() >= "2025-06-10");
    let w = world_of(c).await;
    let out = w.sync().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let months = w.assert_months_as_tally_shows_them().await;
    assert!(months.iter().all(|m| m.balanced));
    assert_eq!(
        w.summaries().await[0]["monthKey"],
        "2025-06",
        "no month before the books"
    );
}
