//! Revocation holds (issue 8, item 8): enrolling a revoked device again does not lift it, no
//! token from before it ever works again, only an admin restores, and a refresh token used twice
//! revokes its whole chain. All against the real server over HTTP.

mod common;

use common::TestServer;
use serde_json::{json, Value};

struct Office {
    srv: TestServer,
    admin: String,
    staff: String,
    _dir: tempfile::TempDir,
}

async fn office() -> Office {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma Traders", "sharma").await;
    let staff = srv
        .create_staff(&admin, "ravi", "staff-password-1", &["sharma"])
        .await;
    Office {
        srv,
        admin,
        staff,
        _dir: dir,
    }
}

fn heartbeat() -> Value {
    json!({"companyId": "sharma", "tallyReachable": true})
}

async fn heartbeat_with(srv: &TestServer, token: &str) -> (u16, Value) {
    srv.post("/connector/heartbeat", Some(token), &heartbeat())
        .await
}

async fn enrol_raw(srv: &TestServer, user: &str, device: &str) -> (u16, Value) {
    srv.post(
        "/connector/auth",
        None,
        &json!({"companyId": "sharma", "deviceId": device, "userJwt": user}),
    )
    .await
}

async fn refresh(srv: &TestServer, token: &str) -> (u16, Value) {
    srv.post(
        "/connector/token/refresh",
        None,
        &json!({"refreshToken": token}),
    )
    .await
}

#[tokio::test]
async fn enrolling_a_revoked_device_again_does_not_lift_the_revocation() {
    let o = office().await;
    let (token, _, id) = o.srv.enrol(&o.staff, "sharma", "pc-1").await;
    let (s, b) = o
        .srv
        .post(
            &format!("/connectors/{id}/revoke"),
            Some(&o.admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    for user in [&o.staff, &o.admin] {
        let (s, b) = enrol_raw(&o.srv, user, "pc-1").await;
        assert_eq!(
            (s, b["error"].as_str()),
            (403, Some("connector_revoked")),
            "{b}"
        );
    }
    let (s, b) = heartbeat_with(&o.srv, &token).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("connector_revoked")),
        "{b}"
    );
    let (_, status) = o
        .srv
        .get("/connector/status?companyId=sharma", Some(&o.admin))
        .await;
    assert_eq!(status["connectors"][0]["revoked"], true, "{status}");
    o.srv.stop().await;
}

#[tokio::test]
async fn only_an_admin_restores_and_no_token_from_before_works_again() {
    let o = office().await;
    let (before, refresh_before, id) = o.srv.enrol(&o.staff, "sharma", "pc-1").await;
    let revoke = format!("/connectors/{id}/revoke");
    let restore = format!("/connectors/{id}/restore");
    assert_eq!(o.srv.post(&revoke, Some(&o.admin), &json!({})).await.0, 200);

    let (s, b) = o.srv.post(&restore, Some(&o.staff), &json!({})).await;
    assert_eq!((s, b["error"].as_str()), (403, Some("admin_only")), "{b}");
    let (s, b) = o.srv.post(&restore, Some(&o.admin), &json!({})).await;
    assert_eq!((s, &b["revoked"]), (200, &json!(false)), "{b}");

    // Restored, yet what was issued before the revocation stays dead.
    let (s, b) = heartbeat_with(&o.srv, &before).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("token_superseded")),
        "{b}"
    );
    let (s, b) = refresh(&o.srv, &refresh_before).await;
    assert_eq!(s, 401, "{b}");

    // The device enrols afresh (any user of the company may) and works.
    let (after, _, same) = o.srv.enrol(&o.staff, "sharma", "pc-1").await;
    assert_eq!(same, id);
    assert_eq!(heartbeat_with(&o.srv, &after).await.0, 200);
    let (s, _) = heartbeat_with(&o.srv, &before).await;
    assert_eq!(s, 401);
    o.srv.stop().await;
}

#[tokio::test]
async fn a_revocation_holds_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma Traders", "sharma").await;
    let (token, _, id) = srv.enrol(&admin, "sharma", "pc-1").await;
    let revoke = format!("/connectors/{id}/revoke");
    assert_eq!(srv.post(&revoke, Some(&admin), &json!({})).await.0, 200);
    srv.stop().await;

    let srv = TestServer::start(dir.path()).await;
    let (s, b) = heartbeat_with(&srv, &token).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("connector_revoked")),
        "{b}"
    );
    let (s, b) = enrol_raw(&srv, &admin, "pc-1").await;
    assert_eq!(
        (s, b["error"].as_str()),
        (403, Some("connector_revoked")),
        "{b}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_refresh_token_used_twice_revokes_its_whole_chain() {
    let o = office().await;
    let (_, first, _) = o.srv.enrol(&o.staff, "sharma", "pc-1").await;
    let (s, second) = refresh(&o.srv, &first).await;
    assert_eq!(s, 200, "{second}");
    let newest_token = second["connectorToken"].as_str().unwrap().to_string();
    let newest_refresh = second["refreshToken"].as_str().unwrap().to_string();
    assert_eq!(heartbeat_with(&o.srv, &newest_token).await.0, 200);

    // Someone presents the first token again: whoever it is, the chain is no longer trusted.
    let (s, b) = refresh(&o.srv, &first).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("refresh_token_reused")),
        "{b}"
    );
    let (s, b) = refresh(&o.srv, &newest_refresh).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_refresh_token")),
        "{b}"
    );
    let (s, b) = heartbeat_with(&o.srv, &newest_token).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("token_superseded")),
        "{b}"
    );

    // Not an admin's revocation: the device's owner sets it up again and it works.
    let (fresh, _, _) = o.srv.enrol(&o.staff, "sharma", "pc-1").await;
    assert_eq!(heartbeat_with(&o.srv, &fresh).await.0, 200);
    // A token of the dead chain, used once more, revokes nothing of the new one.
    let (s, _) = refresh(&o.srv, &first).await;
    assert_eq!(s, 401);
    assert_eq!(heartbeat_with(&o.srv, &fresh).await.0, 200);
    o.srv.stop().await;
}
