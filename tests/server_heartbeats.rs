//! Heartbeats do not wait for the database's writer (issue 8, item 5): they are kept in memory
//! and written in batches, and the online state survives a restart.

mod common;

use common::{balanced_payload, TestServer};
use serde_json::{json, Value};

async fn connector_view(srv: &TestServer, admin: &str) -> Value {
    let (s, status) = srv
        .get("/connector/status?companyId=sharma", Some(admin))
        .await;
    assert_eq!(s, 200, "{status}");
    status["connectors"][0].clone()
}

#[tokio::test]
async fn a_heartbeat_is_answered_while_a_sync_waits_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma Traders", "sharma").await;
    let (token, _, _) = srv.enrol(&admin, "sharma", "pc-1").await;

    // Someone else holds SQLite's write lock, as a long ingestion does.
    let blocker = srv.db();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let sync = {
        let (http, url, token) = (srv.http.clone(), srv.api("/connector/sync"), token.clone());
        tokio::spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .json(&balanced_payload())
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        })
    };
    let hb = json!({"companyId": "sharma", "state": "syncing", "intervalSeconds": 30});
    let (s, b) = srv.post("/connector/heartbeat", Some(&token), &hb).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        !sync.is_finished(),
        "the sync cannot finish while the lock is held, yet the heartbeat was answered"
    );
    // The status shows the heartbeat at once (it reads the book over the database).
    let view = connector_view(&srv, &admin).await;
    assert_eq!(view["online"], true, "{view}");
    assert_eq!(view["agentState"]["state"], "syncing", "{view}");

    blocker.execute_batch("COMMIT").unwrap();
    assert_eq!(sync.await.unwrap(), 200);
    srv.stop().await;
}

#[tokio::test]
async fn the_online_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma Traders", "sharma").await;
    let (token, _, _) = srv.enrol(&admin, "sharma", "pc-1").await;
    let hb = json!({"companyId": "sharma", "tallyCompany": "Sharma Traders", "appVersion": "1.2.3", "intervalSeconds": 60});
    assert_eq!(
        srv.post("/connector/heartbeat", Some(&token), &hb).await.0,
        200
    );
    let before = connector_view(&srv, &admin).await;
    srv.stop().await;

    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    let after = connector_view(&srv, &admin).await;
    assert_eq!(after["online"], true, "{after}");
    for field in [
        "lastHeartbeat",
        "heartbeatIntervalSeconds",
        "agentState",
        "appVersion",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["agentState"]["tallyCompany"], "Sharma Traders");
    srv.stop().await;
}
