//! A month's books as a CFO reads them (issue 12, item 4), over real HTTP against real SQLite:
//! restated closed months, comparisons, a ledger's or group's series, the reports as CSV, and
//! an inventory company's stock in the P&L and balance sheet, against figures worked by hand.

mod common;
mod web_fixture;

use common::TestServer;
use serde_json::{json, Value};
use web_fixture::{stockist_payload, sync, trader_payload};

fn group<'a>(groups: &'a Value, name: &str) -> &'a Value {
    groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {groups}"))
}

fn amount(groups: &Value, name: &str) -> String {
    group(groups, name)["amount"].to_string()
}

fn ledger<'a>(tree_group: &'a Value, name: &str) -> &'a Value {
    tree_group["ledgers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ledgerName"] == name)
        .unwrap_or_else(|| panic!("{name} in {tree_group}"))
}

/// The trader's payload with some ledgers' balances in one closed month replaced.
fn restated(month: &str, changes: &[(&str, f64)]) -> Value {
    let mut p = trader_payload();
    let closed = p["chartOfAccounts"]["balances"]["closedMonths"]
        .as_array_mut()
        .unwrap();
    let m = closed.iter_mut().find(|m| m["monthKey"] == month).unwrap();
    let items = m["items"].as_array_mut().unwrap();
    for (guid, balance) in changes {
        let item = items.iter_mut().find(|i| i["ledgerGuid"] == *guid).unwrap();
        item["balance"] = json!(balance);
    }
    p
}

async fn gupta(srv: &TestServer) -> (String, String) {
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Gupta Traders", "gupta").await;
    let (token, _, _) = srv.enrol(&admin, "gupta", "pc-gupta").await;
    sync(srv, &token, &trader_payload()).await;
    (admin, token)
}

#[tokio::test]
async fn a_closed_month_changed_by_a_later_sync_is_kept_as_a_restatement() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, token) = gupta(&srv).await;
    let (s, r) = srv.get("/companies/gupta/restatements", Some(&admin)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["restatements"],
        json!([]),
        "a first sync restates nothing"
    );

    // A rent of 20,000 entered back in March, paid in cash; April (the open month) moves too.
    let mut p = restated("2026-03", &[("rent", 35000.0), ("cash", 137000.0)]);
    p["chartOfAccounts"]["balances"]["current"]["items"][4]["balance"] = json!(150000.0);
    sync(&srv, &token, &p).await;
    // The same books again: nothing new to say.
    sync(&srv, &token, &p).await;

    let (_, r) = srv.get("/companies/gupta/restatements", Some(&admin)).await;
    let list = r["restatements"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{r:#}");
    let march = &list[0];
    assert_eq!(march["monthKey"], "2026-03");
    assert_eq!(march["ledgersChanged"], 2);
    assert_eq!(march["amount"].to_string(), "20000.00");
    // 20,000 more rent: the year's profit is 20,000 less.
    assert_eq!(march["profitChange"].to_string(), "-20000.00");
    assert!(march["syncRunId"].is_string(), "{march}");
    let lines = march["lines"].as_array().unwrap();
    assert_eq!(lines[0]["ledgerName"], "Cash");
    assert_eq!(lines[0]["old"].to_string(), "157000.00");
    assert_eq!(lines[0]["new"].to_string(), "137000.00");
    assert_eq!(lines[0]["change"].to_string(), "-20000.00");
    assert_eq!(lines[1]["ledgerName"], "Rent");
    assert_eq!(lines[1]["change"].to_string(), "20000.00");

    // The overview warns of it on the company's entry.
    let (_, o) = srv.get("/overview", Some(&admin)).await;
    let co = group(&o["companies"], "Gupta Traders");
    assert_eq!(co["restatedMonths"].as_array().unwrap().len(), 1, "{co}");
    assert_eq!(co["restatedMonths"][0]["monthKey"], "2026-03");
    assert_eq!(co["restatedMonths"][0]["ledgers"], 2);
    assert_eq!(co["restatedMonths"][0]["amount"].to_string(), "20000.00");
    assert_eq!(
        co["restatedMonths"][0]["profitChange"].to_string(),
        "-20000.00"
    );
    // The card shows a connector's state, not its full view (that is the status's).
    let k = &co["connectors"][0];
    assert_eq!(k["deviceId"], "pc-gupta", "{k}");
    assert!(k.get("agentState").is_none(), "{k}");
    srv.stop().await;
}

#[tokio::test]
async fn restatements_are_only_for_companies_the_user_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, _) = gupta(&srv).await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    web_fixture::staff(&srv, &admin, "ravi", "staff-password-2", "sharma").await;
    let ravi = srv.login("ravi", "staff-password-2").await;
    let (s, _) = srv.get("/companies/gupta/restatements", Some(&ravi)).await;
    assert_eq!(s, 403);
    let (s, _) = srv
        .get("/companies/gupta/series?ledger=Sales", Some(&ravi))
        .await;
    assert_eq!(s, 403);
    srv.stop().await;
}

#[tokio::test]
async fn the_trial_balance_compared_with_the_previous_month_and_a_year_before() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, _) = gupta(&srv).await;

    let path = "/companies/gupta/reports/2026-03/trial-balance?compare=previous";
    let (s, tb) = srv.get(path, Some(&admin)).await;
    assert_eq!(s, 200, "{tb}");
    assert_eq!(
        tb["comparedWith"],
        json!({"monthKey": "2026-02", "held": true})
    );
    let sales = group(&tb["groups"], "Sales Accounts");
    assert_eq!(sales["balance"].to_string(), "-160000.00");
    assert_eq!(sales["compareBalance"].to_string(), "-100000.00");
    assert_eq!(sales["change"].to_string(), "-60000.00");
    // Interest first appears in March: it had nothing in February.
    let interest = ledger(
        group(&tb["groups"], "Indirect Incomes"),
        "Interest Received",
    );
    assert_eq!(interest["compareBalance"].to_string(), "0.00");
    assert_eq!(interest["change"].to_string(), "-2000.00");
    let assets = group(&tb["groups"], "Current Assets");
    let cash = ledger(group(&assets["groups"], "Cash-in-Hand"), "Cash");
    assert_eq!(cash["change"].to_string(), "27000.00");

    // March 2025 is not held: the report says so and carries no compared figures.
    let path = "/companies/gupta/reports/2026-03/trial-balance?compare=year";
    let (_, tb) = srv.get(path, Some(&admin)).await;
    assert_eq!(
        tb["comparedWith"],
        json!({"monthKey": "2025-03", "held": false})
    );
    assert!(group(&tb["groups"], "Sales Accounts")
        .get("change")
        .is_none());

    let path = "/companies/gupta/reports/2026-03/trial-balance?compare=last-week";
    let (s, e) = srv.get(path, Some(&admin)).await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("previous"), "{e}");
    srv.stop().await;
}

#[tokio::test]
async fn profit_and_loss_compared_month_by_month() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, _) = gupta(&srv).await;
    let path = "/companies/gupta/reports/2026-04/profit-and-loss?compare=previous";
    let (s, pl) = srv.get(path, Some(&admin)).await;
    assert_eq!(s, 200, "{pl}");
    // April alone (the new year's first month) beside March alone.
    assert_eq!(pl["month"]["netProfit"].to_string(), "15000.00");
    assert_eq!(pl["compared"]["monthKey"], "2026-03");
    let march = &pl["compared"]["month"];
    assert_eq!(amount(&march["groups"], "Sales Accounts"), "60000.00");
    assert_eq!(march["netProfit"].to_string(), "27000.00");
    srv.stop().await;
}

#[tokio::test]
async fn a_ledger_or_a_group_over_every_month_held() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, _) = gupta(&srv).await;

    let (s, sales) = srv
        .get("/companies/gupta/series?ledger=sales", Some(&admin))
        .await;
    assert_eq!(s, 200, "{sales}");
    assert_eq!(sales["revenue"], true);
    let p = sales["points"].as_array().unwrap();
    let months: Vec<&str> = p.iter().map(|p| p["monthKey"].as_str().unwrap()).collect();
    assert_eq!(months, ["2026-02", "2026-03", "2026-04"]);
    assert_eq!(p[0]["closing"].to_string(), "-100000.00");
    // January is not held, so February alone is unknown.
    assert!(p[0].get("movement").is_none(), "{sales}");
    assert_eq!(p[1]["movement"].to_string(), "-60000.00");
    // April starts the year again: its closing balance is the month's.
    assert_eq!(p[2]["closing"].to_string(), "-20000.00");
    assert_eq!(p[2]["movement"].to_string(), "-20000.00");

    let (s, ca) = srv
        .get(
            "/companies/gupta/series?group=Current%20Assets",
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{ca}");
    assert_eq!(ca["revenue"], false);
    let closing: Vec<String> = ca["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["closing"].to_string())
        .collect();
    assert_eq!(closing, ["130000.00", "157000.00", "172000.00"]);

    let (s, e) = srv
        .get("/companies/gupta/series?ledger=Nobody", Some(&admin))
        .await;
    assert_eq!(s, 404, "{e}");
    assert!(e.to_string().contains("Nobody"), "{e}");
    let (s, e) = srv.get("/companies/gupta/series", Some(&admin)).await;
    assert_eq!(s, 422, "{e}");
    srv.stop().await;
}

async fn csv(srv: &TestServer, token: &str, path: &str) -> String {
    let res = reqwest::Client::new()
        .get(srv.api(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/csv"), "{kind}");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("attachment"), "{disposition}");
    res.text().await.unwrap()
}

#[tokio::test]
async fn each_report_downloads_as_csv_with_exact_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, _) = gupta(&srv).await;
    let base = "/companies/gupta/reports/2026-03";

    let tb = csv(
        &srv,
        &admin,
        &format!("{base}/trial-balance?compare=previous&format=csv"),
    )
    .await;
    let lines: Vec<&str> = tb.lines().collect();
    assert_eq!(
        lines[0],
        "kind,level,group_path,name,debit,credit,balance,balance_2026-02,change"
    );
    assert!(
        tb.contains(
            "\r\nledger,2,Sales Accounts,Sales,0.00,160000.00,-160000.00,-100000.00,-60000.00\r\n"
        ),
        "{tb}"
    );
    assert!(
        tb.contains("\r\ngroup,1,,Capital Account,0.00,100000.00,-100000.00,-100000.00,0.00\r\n"),
        "{tb}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &"total,,,TOTAL,262000.00,262000.00,0.00"
    );

    let pl = csv(&srv, &admin, &format!("{base}/profit-and-loss?format=csv")).await;
    assert!(
        pl.starts_with("line,nature,month_2026-03,year_to_date\r\n"),
        "{pl}"
    );
    assert!(
        pl.contains("\r\nSales Accounts,income,60000.00,160000.00\r\n"),
        "{pl}"
    );
    assert!(pl.contains("\r\nNet Profit,,27000.00,57000.00\r\n"), "{pl}");

    let bs = csv(&srv, &admin, &format!("{base}/balance-sheet?format=csv")).await;
    assert!(
        bs.contains("\r\nliabilities,Profit & Loss A/c,57000.00\r\n"),
        "{bs}"
    );
    assert!(bs.ends_with("\r\nassets,TOTAL,157000.00\r\n"), "{bs}");

    let (s, e) = srv
        .get(&format!("{base}/balance-sheet?format=xlsx"), Some(&admin))
        .await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("xlsx"), "{e}");
    srv.stop().await;
}

#[tokio::test]
async fn stock_counts_in_gross_profit_and_in_the_balance_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Jain Stores", "jain").await;
    let (token, _, _) = srv.enrol(&admin, "jain", "pc-jain").await;
    sync(&srv, &token, &stockist_payload()).await;

    let (s, pl) = srv
        .get(
            "/companies/jain/reports/2026-03/profit-and-loss",
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{pl}");
    // Year to date: 1,60,000 - 1,20,000 + closing 45,000 - opening 50,000.
    let ytd = &pl["yearToDate"];
    assert_eq!(ytd["openingStock"].to_string(), "50000.00");
    assert_eq!(ytd["closingStock"].to_string(), "45000.00");
    assert_eq!(ytd["grossProfit"].to_string(), "35000.00");
    assert_eq!(ytd["netProfit"].to_string(), "35000.00");
    // March alone: 60,000 - 40,000 + 45,000 - February's closing 60,000.
    let month = &pl["month"];
    assert_eq!(month["openingStock"].to_string(), "60000.00");
    assert_eq!(month["grossProfit"].to_string(), "5000.00");

    let (_, bs) = srv
        .get(
            "/companies/jain/reports/2026-03/balance-sheet",
            Some(&admin),
        )
        .await;
    // Cash 1,40,000 and stock 45,000 against capital 1,50,000 and the year's profit 35,000.
    assert_eq!(amount(&bs["assets"], "Current Assets"), "185000.00");
    assert_eq!(bs["closingStock"].to_string(), "45000.00");
    assert_eq!(bs["profitAndLoss"].to_string(), "35000.00");
    assert_eq!(bs["totalAssets"].to_string(), "185000.00");
    assert_eq!(bs["totalLiabilities"].to_string(), "185000.00");

    let (_, bs) = srv
        .get(
            "/companies/jain/reports/2026-04/balance-sheet",
            Some(&admin),
        )
        .await;
    // April: 20,000 - 10,000 + 40,000 - 45,000 = 5,000 on top of capital and reserves.
    assert_eq!(bs["profitAndLoss"].to_string(), "5000.00");
    assert_eq!(bs["totalAssets"].to_string(), "190000.00");
    assert_eq!(bs["totalLiabilities"].to_string(), "190000.00");
    srv.stop().await;
}

/// The real connector reads tally-sim; then a voucher is entered three months back in Tally, and
/// the next scheduled sync restates the closed months from that one on.
#[tokio::test]
async fn a_back_dated_voucher_in_tally_shows_as_a_restated_month() {
    use aicfo::protocol::{Amount, MonthKey};
    use aicfo::sim::model::{SimEntry, SimVoucher};
    use aicfo::sim::{generate, Books, GenSpec};
    use common::{connector, text};

    let mut company = generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 11,
        ledgers: 60,
        vouchers: 1500,
        years: 3,
        first_year: 2024,
    });
    let sim = common::tally_serving(company.clone()).await;
    let state = sim.state.clone();
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let out = srv.setup_connector(home.path(), "sharma", &sim.url).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, r) = srv
        .get("/companies/sharma/restatements", Some(&admin))
        .await;
    assert_eq!(r["restatements"], json!([]), "{r}");

    // 1,234.56 between the first two ledgers, dated three months back.
    let now = MonthKey::of(time::OffsetDateTime::now_utc().date());
    let back = now.previous().previous().previous();
    let entry = |i: usize, paise: i64| SimEntry {
        ledger: company.ledgers[i].name.clone(),
        amount: Amount::from_paise(paise),
    };
    let late = SimVoucher {
        date: format!("{back}-15"),
        voucher_type: "Journal".into(),
        number: "late-1".into(),
        entries: vec![entry(0, 123_456), entry(1, -123_456)],
        stock: Vec::new(),
    };
    company.vouchers.push(late);
    state.set_companies(vec![Books::new(company.clone()).unwrap()]);
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (s, r) = srv
        .get("/companies/sharma/restatements", Some(&admin))
        .await;
    assert_eq!(s, 200, "{r}");
    let list = r["restatements"].as_array().unwrap();
    let months: Vec<&str> = list
        .iter()
        .map(|x| x["monthKey"].as_str().unwrap())
        .collect();
    assert!(months.contains(&back.to_string().as_str()), "{months:?}");
    assert!(
        !months.contains(&now.to_string().as_str()),
        "the open month is never restated: {months:?}"
    );
    let first = list
        .iter()
        .find(|x| x["monthKey"] == back.to_string())
        .unwrap();
    assert_eq!(first["ledgersChanged"], 2, "{first:#}");
    assert_eq!(first["amount"].to_string(), "1234.56");
    assert!(first["syncRunId"].is_string(), "{first}");
    let names: Vec<&str> = first["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ledgerName"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&company.ledgers[0].name.as_str()),
        "{names:?}"
    );
    let (_, o) = srv.get("/overview", Some(&admin)).await;
    let restated = &o["companies"][0]["restatedMonths"];
    assert_eq!(restated.as_array().unwrap().len(), list.len(), "{restated}");
    srv.stop().await;
    sim.stop().await;
}

/// An inventory company in tally-sim, read by the real connector: every month's balance sheet
/// balances only if the stock is counted as Tally counts it (closing stock in the assets, closing
/// less opening stock in the profit), and the months of a year add up to its year to date.
#[tokio::test]
async fn a_simulated_stockist_balances_every_month_with_its_stock() {
    use aicfo::sim::{add_inventory, generate, GenSpec};
    use common::{connector, text};

    let mut company = generate(&GenSpec {
        name: "Stock Traders".into(),
        seed: 11,
        ledgers: 60,
        vouchers: 1500,
        years: 3,
        first_year: 2024,
    });
    add_inventory(&mut company, 11, 12);
    let sim = common::tally_serving(company).await;
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Stock Traders", "stock").await;
    let out = srv.setup_connector(home.path(), "stock", &sim.url).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (_, months) = srv.get("/companies/stock/snapshots", Some(&admin)).await;
    let months = months.as_array().unwrap();
    assert!(months.len() > 3, "{months:?}");
    let paise = |v: &Value| {
        v.to_string()
            .parse::<aicfo::protocol::Amount>()
            .unwrap()
            .paise()
    };
    let mut checked_months = 0;
    for m in months {
        let key = m["monthKey"].as_str().unwrap();
        assert!(m["stock"].is_object(), "{m}");
        let (_, bs) = srv
            .get(
                &format!("/companies/stock/reports/{key}/balance-sheet"),
                Some(&admin),
            )
            .await;
        assert_eq!(bs["totalAssets"], bs["totalLiabilities"], "{key}: {bs:#}");
        let (_, pl) = srv
            .get(
                &format!("/companies/stock/reports/{key}/profit-and-loss"),
                Some(&admin),
            )
            .await;
        assert_eq!(pl["yearToDate"]["netProfit"], bs["profitAndLoss"], "{key}");
        assert_eq!(
            pl["yearToDate"]["closingStock"], m["stock"]["closing"],
            "{key}"
        );
        // The month alone and the year to date before it make the year to date.
        if pl["month"].is_object() && pl["yearFrom"] != key {
            let (_, before) = srv
                .get(
                    &format!(
                        "/companies/stock/reports/{}/profit-and-loss",
                        months_before(key)
                    ),
                    Some(&admin),
                )
                .await;
            let sum =
                paise(&before["yearToDate"]["grossProfit"]) + paise(&pl["month"]["grossProfit"]);
            assert_eq!(sum, paise(&pl["yearToDate"]["grossProfit"]), "{key}");
            checked_months += 1;
        }
    }
    assert!(checked_months > 0);
    srv.stop().await;
    sim.stop().await;
}

fn months_before(key: &str) -> String {
    key.parse::<aicfo::protocol::MonthKey>()
        .unwrap()
        .previous()
        .to_string()
}

/// The trader's books with March's rent at `rent` (cash paying for it) and 250 more ledgers in
/// March, in balancing pairs of 10, 20, ... 1,250.
fn wide(rent: f64) -> Value {
    let mut p = restated("2026-03", &[("rent", rent), ("cash", 172000.0 - rent)]);
    let coa = &mut p["chartOfAccounts"];
    let march = coa["balances"]["closedMonths"][1]["items"]
        .as_array_mut()
        .unwrap();
    let mut ledgers = Vec::new();
    for i in 0..125 {
        let v = f64::from(i + 1) * 10.0;
        for (side, parent, balance) in [("d", "Sundry Debtors", v), ("c", "Sundry Creditors", -v)] {
            let guid = format!("{side}{i}");
            ledgers.push(
                json!({"guid": guid, "name": format!("Party {side}{i:03}"), "parent": parent}),
            );
            march.push(json!({"ledgerGuid": guid, "balance": balance}));
        }
    }
    coa["ledgers"].as_array_mut().unwrap().extend(ledgers);
    p
}

#[tokio::test]
async fn restatements_come_in_pages_and_show_a_restatements_largest_lines() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let (admin, token) = gupta(&srv).await;
    for rent in [15000.0, 16000.0, 17000.0, 18000.0] {
        sync(&srv, &token, &wide(rent)).await;
    }
    let path = "/companies/gupta/restatements";
    let (s, r) = srv.get(path, Some(&admin)).await;
    assert_eq!(s, 200, "{r}");
    assert!(r.get("nextBefore").is_none(), "{r}");
    let all = r["restatements"].as_array().unwrap();
    assert_eq!(all.len(), 4);

    // The 250 ledgers that appeared in March: all counted, the 200 largest shown, largest first.
    let wide = &all[3];
    assert_eq!(wide["ledgersChanged"], 250);
    let lines = wide["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 200);
    assert_eq!(lines[0]["change"].to_string(), "-1250.00", "{}", lines[0]);
    assert_eq!(lines[1]["change"].to_string(), "1250.00", "{}", lines[1]);
    assert_eq!(
        lines[199]["change"].to_string().trim_start_matches('-'),
        "260.00"
    );
    assert_eq!(
        wide["amount"].to_string(),
        "78750.00",
        "every debit counted"
    );

    let (s, first) = srv.get(&format!("{path}?limit=3"), Some(&admin)).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["restatements"].as_array().unwrap().len(), 3);
    assert_eq!(first["restatements"][0], all[0]);
    let cursor = first["nextBefore"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (s, rest) = srv
        .get(&format!("{path}?limit=3&before={cursor}"), Some(&admin))
        .await;
    assert_eq!(s, 200, "{rest}");
    assert_eq!(rest["restatements"], json!([all[3]]));
    assert!(rest.get("nextBefore").is_none(), "{rest}");

    for bad in [
        "limit=0",
        "limit=201",
        "limit=many",
        "before=yesterday",
        "before=1_2_2026-13",
    ] {
        let (s, b) = srv.get(&format!("{path}?{bad}"), Some(&admin)).await;
        assert_eq!(s, 422, "{bad}: {b}");
    }
    srv.stop().await;
}
