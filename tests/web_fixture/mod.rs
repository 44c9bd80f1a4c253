//! A small firm for the web page's tests: two client companies, a staff user for each, and
//! Sharma's books ingested through a real sync run of an enrolled connector.
#![allow(dead_code)]

use serde_json::{json, Value};

use crate::common::{balanced_payload, guide_payload, TestServer};

pub struct Firm {
    pub admin: String,
    /// Staff of `sharma` only.
    pub ravi: String,
    /// Sharma's connector: its token and id.
    pub sharma_connector: (String, String),
    /// Other's connector, enrolled but never heard from since.
    pub other_connector: (String, String),
}

pub const RAVI_PASSWORD: &str = "staff-password-2";

pub async fn staff(srv: &TestServer, admin: &str, name: &str, password: &str, company: &str) {
    let (s, b) = srv
        .post(
            "/users",
            Some(admin),
            &json!({"username": name, "password": password, "role": "staff", "companyIds": [company]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

pub async fn heartbeat(srv: &TestServer, token: &str, company: &str) {
    let (s, b) = srv
        .post(
            "/connector/heartbeat",
            Some(token),
            &json!({"companyId": company, "tallyReachable": true, "companyOpen": true,
                    "tallyCompany": "Sharma & Sons", "appVersion": "1.2.0"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// A sync run around one payload, as the connector runs it.
pub async fn sync(srv: &TestServer, token: &str, payload: &Value) {
    let (s, started) = srv
        .post(
            "/connector/sync/start",
            Some(token),
            &json!({"trigger": "scheduled"}),
        )
        .await;
    assert_eq!(s, 200, "{started}");
    let run = started["syncRunId"].clone();
    let mut payload = payload.clone();
    payload["syncRunId"] = run.clone();
    let (s, b) = srv.post("/connector/sync", Some(token), &payload).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = srv
        .post(
            "/connector/sync/complete",
            Some(token),
            &json!({"syncRunId": run, "status": "succeeded"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// Sharma: balanced books, a heartbeat. Other: one unbalanced month, no heartbeat.
pub async fn firm(srv: &TestServer) -> Firm {
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    srv.create_company(&admin, "Other Traders", "other").await;
    staff(srv, &admin, "ravi", RAVI_PASSWORD, "sharma").await;
    let ravi = srv.login("ravi", RAVI_PASSWORD).await;
    let (token, _, id) = srv.enrol(&admin, "sharma", "pc-sharma").await;
    heartbeat(srv, &token, "sharma").await;
    sync(srv, &token, &balanced_payload()).await;
    let (other_token, _, other_id) = srv.enrol(&admin, "other", "pc-other").await;
    sync(srv, &other_token, &guide_payload()).await;
    Firm {
        admin,
        ravi,
        sharma_connector: (token, id),
        other_connector: (other_token, other_id),
    }
}

/// A small trader whose P&L and balance sheet are worked by hand (see tests/web_reports.rs):
/// February and March of FY 2025-26, then April, the first month of FY 2026-27, when revenue
/// ledgers start again from zero and last year's profit sits in Reserves & Surplus.
pub fn trader_payload() -> Value {
    let month = |key: &str, as_of: &str, items: &[(&str, f64)]| {
        json!({"monthKey": key, "asOfDate": as_of, "items": items.iter()
            .map(|(l, b)| json!({"ledgerGuid": l, "balance": b})).collect::<Vec<_>>()})
    };
    json!({
      "chartOfAccounts": {
        "source": "tally", "generatedAt": "2026-04-10T10:00:00Z",
        "company": { "tallyCompanyName": "Gupta Traders", "booksFrom": "2025-04-01", "financialYearFrom": "2025-04-01" },
        "groups": [],
        "ledgers": [
          { "guid": "sales", "name": "Sales", "parent": "Sales Accounts" },
          { "guid": "purchases", "name": "Purchases", "parent": "Purchase Accounts" },
          { "guid": "rent", "name": "Rent", "parent": "Indirect Expenses" },
          { "guid": "interest", "name": "Interest Received", "parent": "Indirect Incomes" },
          { "guid": "capital", "name": "Capital", "parent": "Capital Account" },
          { "guid": "reserves", "name": "Retained Profit", "parent": "Reserves & Surplus" },
          { "guid": "cash", "name": "Cash", "parent": "Cash-in-Hand" }
        ],
        "balances": {
          "current": month("2026-04", "2026-04-10", &[
            ("sales", -20000.0), ("purchases", 5000.0), ("capital", -100000.0),
            ("reserves", -57000.0), ("cash", 172000.0)]),
          "closedMonths": [
            month("2026-02", "2026-02-28", &[
              ("sales", -100000.0), ("purchases", 60000.0), ("rent", 10000.0),
              ("capital", -100000.0), ("cash", 130000.0)]),
            month("2026-03", "2026-03-31", &[
              ("sales", -160000.0), ("purchases", 90000.0), ("rent", 15000.0),
              ("interest", -2000.0), ("capital", -100000.0), ("cash", 157000.0)])
          ]
        }
      },
      "asOfDate": "2026-04-10"
    })
}

/// Gupta Traders with the trader's books, synced by its own connector; Ravi is not assigned.
pub async fn trader(srv: &TestServer, admin: &str) {
    srv.create_company(admin, "Gupta Traders", "gupta").await;
    let (token, _, _) = srv.enrol(admin, "gupta", "pc-gupta").await;
    sync(srv, &token, &trader_payload()).await;
}

/// A trader whose accounts are integrated with inventory, worked by hand. Stock at the start of
/// FY 2025-26 was 50,000. February: sales 1,00,000, purchases 80,000, closing stock 60,000.
/// March: sales 1,60,000, purchases 1,20,000, closing stock 45,000. April (FY 2026-27): sales
/// 20,000, purchases 10,000, last year's profit 35,000 in reserves, stock 45,000 -> 40,000.
/// Every month's ledgers sum to minus its opening stock, as in Tally.
pub fn stockist_payload() -> Value {
    let month = |key: &str, as_of: &str, items: &[(&str, f64)], stock: (f64, f64)| {
        json!({"monthKey": key, "asOfDate": as_of,
               "stock": {"opening": stock.0, "closing": stock.1},
               "items": items.iter().map(|(l, b)| json!({"ledgerGuid": l, "balance": b})).collect::<Vec<_>>()})
    };
    json!({
      "chartOfAccounts": {
        "source": "tally", "generatedAt": "2026-04-10T10:00:00Z",
        "company": { "tallyCompanyName": "Jain Stores", "booksFrom": "2025-04-01", "financialYearFrom": "2025-04-01" },
        "groups": [],
        "ledgers": [
          { "guid": "sales", "name": "Sales", "parent": "Sales Accounts" },
          { "guid": "purchases", "name": "Purchases", "parent": "Purchase Accounts" },
          { "guid": "capital", "name": "Capital", "parent": "Capital Account" },
          { "guid": "reserves", "name": "Retained Profit", "parent": "Reserves & Surplus" },
          { "guid": "cash", "name": "Cash", "parent": "Cash-in-Hand" }
        ],
        "balances": {
          "current": month("2026-04", "2026-04-10", &[
            ("sales", -20000.0), ("purchases", 10000.0), ("capital", -150000.0),
            ("reserves", -35000.0), ("cash", 150000.0)], (45000.0, 40000.0)),
          "closedMonths": [
            month("2026-02", "2026-02-28", &[
              ("sales", -100000.0), ("purchases", 80000.0), ("capital", -150000.0),
              ("cash", 120000.0)], (50000.0, 60000.0)),
            month("2026-03", "2026-03-31", &[
              ("sales", -160000.0), ("purchases", 120000.0), ("capital", -150000.0),
              ("cash", 140000.0)], (50000.0, 45000.0))
          ]
        }
      },
      "asOfDate": "2026-04-10"
    })
}
