//! Profit and loss and the balance sheet against figures worked by hand, over real HTTP.

mod common;
mod web_fixture;

use common::TestServer;
use serde_json::Value;

fn group(groups: &Value, name: &str) -> String {
    groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {groups}"))["amount"]
        .to_string()
}

#[tokio::test]
async fn profit_and_loss_for_the_month_and_the_year_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    web_fixture::trader(&srv, &admin).await;

    let (s, pl) = srv
        .get(
            "/companies/gupta/reports/2026-03/profit-and-loss",
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{pl}");
    assert_eq!(pl["yearFrom"], "2025-04");
    // Year to date, March 2026: sales 1,60,000 less purchases 90,000; interest 2,000 less rent 15,000.
    let ytd = &pl["yearToDate"];
    assert_eq!(group(&ytd["groups"], "Sales Accounts"), "160000.00");
    assert_eq!(group(&ytd["groups"], "Purchase Accounts"), "90000.00");
    assert_eq!(ytd["grossProfit"].to_string(), "70000.00");
    assert_eq!(ytd["netProfit"].to_string(), "57000.00");
    // March alone is March's year to date less February's.
    let month = &pl["month"];
    assert_eq!(group(&month["groups"], "Sales Accounts"), "60000.00");
    assert_eq!(group(&month["groups"], "Indirect Expenses"), "5000.00");
    assert_eq!(month["grossProfit"].to_string(), "30000.00");
    assert_eq!(month["netProfit"].to_string(), "27000.00");

    // April opens FY 2026-27: the month is its own year to date.
    let (_, pl) = srv
        .get(
            "/companies/gupta/reports/2026-04/profit-and-loss",
            Some(&admin),
        )
        .await;
    assert_eq!(pl["yearFrom"], "2026-04");
    assert_eq!(pl["month"]["netProfit"].to_string(), "15000.00");
    assert_eq!(pl["yearToDate"]["grossProfit"].to_string(), "15000.00");

    // February's previous month is not held: the month alone is unknown, and says why.
    let (_, pl) = srv
        .get(
            "/companies/gupta/reports/2026-02/profit-and-loss",
            Some(&admin),
        )
        .await;
    assert_eq!(pl["month"], Value::Null);
    assert!(
        pl["monthMissingReason"]
            .as_str()
            .unwrap()
            .contains("2026-01"),
        "{pl}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn the_balance_sheet_balances_with_the_year_profit() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    web_fixture::trader(&srv, &admin).await;

    let (s, bs) = srv
        .get(
            "/companies/gupta/reports/2026-03/balance-sheet",
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{bs}");
    assert_eq!(group(&bs["liabilities"], "Capital Account"), "100000.00");
    assert_eq!(group(&bs["assets"], "Current Assets"), "157000.00");
    assert_eq!(bs["profitAndLoss"].to_string(), "57000.00");
    assert_eq!(bs["totalLiabilities"].to_string(), "157000.00");
    assert_eq!(bs["totalAssets"].to_string(), "157000.00");

    // In the new year last year's profit is in Reserves & Surplus, under Capital Account.
    let (_, bs) = srv
        .get(
            "/companies/gupta/reports/2026-04/balance-sheet",
            Some(&admin),
        )
        .await;
    assert_eq!(group(&bs["liabilities"], "Capital Account"), "157000.00");
    assert_eq!(bs["profitAndLoss"].to_string(), "15000.00");
    assert_eq!(bs["totalAssets"].to_string(), "172000.00");
    assert_eq!(bs["totalLiabilities"].to_string(), "172000.00");
    srv.stop().await;
}

#[tokio::test]
async fn the_balance_sheet_compared_with_the_previous_month_and_a_year_before() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    web_fixture::trader(&srv, &admin).await;
    let base = "/companies/gupta/reports/2026-04/balance-sheet";

    let (s, bs) = srv
        .get(&format!("{base}?compare=previous"), Some(&admin))
        .await;
    assert_eq!(s, 200, "{bs}");
    assert_eq!(bs["comparedWith"]["monthKey"], "2026-03");
    assert_eq!(bs["comparedWith"]["held"], true);
    // April: capital 1,57,000 (last year's profit carried in), this year's profit 15,000.
    assert_eq!(group(&bs["liabilities"], "Capital Account"), "157000.00");
    assert_eq!(bs["totalAssets"].to_string(), "172000.00");
    // Beside it March as worked by hand: capital 1,00,000, the year's profit 57,000.
    let march = &bs["compared"];
    assert_eq!(march["monthKey"], "2026-03");
    assert_eq!(group(&march["liabilities"], "Capital Account"), "100000.00");
    assert_eq!(march["profitAndLoss"].to_string(), "57000.00");
    assert_eq!(march["totalLiabilities"].to_string(), "157000.00");
    assert_eq!(march["totalAssets"].to_string(), "157000.00");

    let res = srv
        .http
        .get(srv.api(&format!("{base}?compare=previous&format=csv")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "side,line,amount,amount_2026-03");
    assert!(
        lines.contains(&"liabilities,Capital Account,157000.00,100000.00"),
        "{csv}"
    );
    assert!(lines.contains(&"assets,TOTAL,172000.00,157000.00"), "{csv}");

    // April 2025 is not held: said, with no compared figures.
    let (_, bs) = srv.get(&format!("{base}?compare=year"), Some(&admin)).await;
    assert_eq!(bs["comparedWith"]["monthKey"], "2025-04");
    assert_eq!(bs["comparedWith"]["held"], false);
    assert_eq!(bs["compared"], Value::Null);
    let (s, b) = srv
        .get(&format!("{base}?compare=yesterday"), Some(&admin))
        .await;
    assert_eq!(s, 422, "{b}");
    srv.stop().await;
}
