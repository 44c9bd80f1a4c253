//! The appliance's side of inventory companies (issue 9, item 4): a month's stock and the
//! company's opening difference are stored and shown, and a month is balanced when Tally's own
//! trial balance (ledgers + opening stock, beside the "Difference in opening balances") is.

mod common;

use common::{balanced_payload, TestServer};
use serde_json::{json, Value};

use aicfo::protocol::Amount;

fn amount(v: &Value) -> Amount {
    v.to_string().parse().unwrap()
}

/// March: the ledgers sum to -80,000.00 (purchases of a trader whose goods sit in stock), the
/// opening stock is 80,000.00, the closing stock 95,000.00.
fn inventory_payload() -> Value {
    let mut p = balanced_payload();
    let current = &mut p["chartOfAccounts"]["balances"]["current"];
    current["items"][3]["balance"] = json!(120000);
    current["stock"] = json!({"opening": 80000, "closing": 95000.25});
    p
}

async fn appliance() -> (tempfile::TempDir, TestServer, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let (token, _, _) = srv.enrol(&admin, "sharma", "pc-1").await;
    (dir, srv, admin, token)
}

#[tokio::test]
async fn a_month_with_stock_balances_with_its_opening_stock() {
    let (_dir, srv, admin, token) = appliance().await;
    let (s, accepted) = srv
        .post("/connector/sync", Some(&token), &inventory_payload())
        .await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["unbalancedMonths"], json!([]));
    let (_, tb) = srv
        .get("/companies/sharma/snapshots/2026-03", Some(&admin))
        .await;
    assert_eq!(tb["balanced"], true, "{tb:#}");
    assert_eq!(amount(&tb["stock"]["opening"]), "80000".parse().unwrap());
    assert_eq!(amount(&tb["stock"]["closing"]), "95000.25".parse().unwrap());
    assert_eq!(amount(&tb["difference"]), Amount::ZERO);
    // The months without stock carry none.
    let (_, months) = srv.get("/companies/sharma/snapshots", Some(&admin)).await;
    assert!(months[0].get("stock").is_none(), "{months:#}");

    let csv = srv
        .http
        .get(srv.api("/companies/sharma/snapshots/2026-03?format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains(",Opening Stock,,80000.00,0.00,80000.00\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(",TOTAL,,350000.50,350000.50,0.00\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Closing Stock (balance sheet; not in the total),,,,95000.25"),
        "{csv}"
    );
}

#[tokio::test]
async fn the_same_ledgers_without_their_stock_are_flagged() {
    let (_dir, srv, _admin, token) = appliance().await;
    let mut p = inventory_payload();
    p["chartOfAccounts"]["balances"]["current"]
        .as_object_mut()
        .unwrap()
        .remove("stock");
    let (s, accepted) = srv.post("/connector/sync", Some(&token), &p).await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["unbalancedMonths"][0]["monthKey"], "2026-03");
    assert_eq!(
        amount(&accepted["unbalancedMonths"][0]["difference"]),
        "-80000".parse().unwrap()
    );
}

#[tokio::test]
async fn an_opening_difference_is_shown_as_such() {
    let (_dir, srv, admin, token) = appliance().await;
    // Every month's ledgers sum to 500.00 more than zero: openings that never tallied.
    let mut p = balanced_payload();
    p["chartOfAccounts"]["company"]["openingDifference"] = json!(500);
    let extra: Amount = "500".parse().unwrap();
    let balances = &mut p["chartOfAccounts"]["balances"];
    let mut months = vec![balances["current"].clone()];
    months.extend(balances["closedMonths"].as_array().unwrap().iter().cloned());
    for m in &mut months {
        let first = amount(&m["items"][0]["balance"]);
        m["items"][0]["balance"] = json!(first.checked_add(extra).unwrap().to_string());
    }
    balances["current"] = months.remove(0);
    balances["closedMonths"] = json!(months);
    let (s, accepted) = srv.post("/connector/sync", Some(&token), &p).await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["unbalancedMonths"], json!([]), "{accepted:#}");
    let (_, months) = srv.get("/companies/sharma/snapshots", Some(&admin)).await;
    for m in months.as_array().unwrap() {
        assert_eq!(amount(&m["openingDifference"]), "500".parse().unwrap());
        assert_eq!(m["balanced"], true, "{m:#}");
    }
}
