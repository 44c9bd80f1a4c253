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
