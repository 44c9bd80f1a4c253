//! What one staff user or one connector of a company must not be able to do to the others, found
//! by a hostile review: take over another user's PC connector, act on another connector's sync
//! run, grow the database without bound, or store control characters from a heartbeat. All
//! against the real server over HTTP.

mod common;

use std::io::{Cursor, Read, Write};

use common::TestServer;
use serde_json::{json, Value};

struct Office {
    srv: TestServer,
    admin: String,
    staff: String,
    dir: tempfile::TempDir,
}

/// A development connector package (only a config.json), so that downloading a company's ZIP
/// makes an enrolment code.
fn package(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("AICFOConnector.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file("config.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"{}").unwrap();
    zip.finish().unwrap();
    path
}

async fn office() -> Office {
    let dir = tempfile::tempdir().unwrap();
    let settings = [("connector_package", json!(package(dir.path())))];
    let srv = TestServer::start_with(&dir.path().join("data"), &settings).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma Traders", "sharma").await;
    let staff = srv
        .create_staff(&admin, "ravi", "staff-password-1", &["sharma"])
        .await;
    Office {
        srv,
        admin,
        staff,
        dir,
    }
}

async fn enrol_raw(srv: &TestServer, user: &str, device: &str) -> (u16, Value) {
    srv.post(
        "/connector/auth",
        None,
        &json!({"companyId": "sharma", "deviceId": device, "userJwt": user}),
    )
    .await
}

async fn heartbeat(srv: &TestServer, token: &str, body: Value) -> (u16, Value) {
    srv.post("/connector/heartbeat", Some(token), &body).await
}

/// The enrolment code in the Windows ZIP `user` downloads for the company.
async fn code_made_by(o: &Office, user: &str) -> String {
    let res = o
        .srv
        .http
        .get(format!(
            "{}/download/connector?companyId=sharma&target=windows",
            o.srv.url
        ))
        .bearer_auth(user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut text = String::new();
    archive
        .by_name("config.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let config: Value = serde_json::from_str(&text).unwrap();
    config["enrollment_code"].as_str().unwrap().to_string()
}

fn assert_device_enrolled(s: u16, b: &Value) {
    assert_eq!(
        (s, b["error"].as_str()),
        (409, Some("device_enrolled")),
        "{b}"
    );
    let message = b["message"].as_str().unwrap();
    assert!(
        message.contains("administrator") && message.contains("user who enrolled it"),
        "{message}"
    );
}

#[tokio::test]
async fn a_staff_user_cannot_take_over_the_admins_connector() {
    let o = office().await;
    let (pc_token, _, pc_id) = o.srv.enrol(&o.admin, "sharma", "OFFICE-PC-ADMIN").await;
    // The staff user sees the device id in the status ...
    let (s, status) = o
        .srv
        .get("/connector/status?companyId=sharma", Some(&o.staff))
        .await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["connectors"][0]["deviceId"], "OFFICE-PC-ADMIN");
    let code = code_made_by(&o, &o.staff).await;
    let before = o.srv.fingerprint();

    // ... but enrolling it again, by token or with a code they made, is refused.
    let (s, b) = enrol_raw(&o.srv, &o.staff, "OFFICE-PC-ADMIN").await;
    assert_device_enrolled(s, &b);
    let (s, b) = o
        .srv
        .post(
            "/connector/enroll",
            None,
            &json!({"enrollmentCode": code, "deviceId": "OFFICE-PC-ADMIN", "companyId": "sharma"}),
        )
        .await;
    assert_device_enrolled(s, &b);
    assert_eq!(
        o.srv.fingerprint(),
        before,
        "a refused enrolment changes nothing"
    );
    // The refused code is not spent, and the real PC's connector goes on working.
    let (s, b) = o
        .srv
        .post(
            "/connector/enroll",
            None,
            &json!({"enrollmentCode": code, "deviceId": "RAVI-PC", "companyId": "sharma"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_ne!(b["connectorId"].as_str(), Some(pc_id.as_str()));
    let (s, b) = heartbeat(&o.srv, &pc_token, json!({"companyId": "sharma"})).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn the_user_who_enrolled_a_device_or_an_admin_may_enrol_it_again() {
    let o = office().await;
    let (_, _, id) = o.srv.enrol(&o.staff, "sharma", "RAVI-PC").await;
    let other = o
        .srv
        .create_staff(&o.admin, "meena", "staff-password-2", &["sharma"])
        .await;
    let (s, b) = enrol_raw(&o.srv, &other, "RAVI-PC").await;
    assert_device_enrolled(s, &b);

    for user in [&o.staff, &o.admin] {
        let (s, b) = enrol_raw(&o.srv, user, "RAVI-PC").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["connectorId"].as_str(), Some(id.as_str()));
    }
    let _ = &o.dir;
}
