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
