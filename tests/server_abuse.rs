//! What one staff user or one connector of a company must not be able to do to the others, found
//! by a hostile review: take over another user's PC connector, act on another connector's sync
//! run, grow the database without bound, or store control characters from a heartbeat. All
//! against the real server over HTTP.

mod common;

use std::io::Write;

use common::{guide_payload, TestServer};
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
    let settings = [
        ("connector_package", json!(package(dir.path()))),
        // The tests send more than a connector's usual burst.
        ("connector_rate_burst", json!(10_000)),
    ];
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
    let config = common::config_in_zip(&res.bytes().await.unwrap());
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

async fn start_run(srv: &TestServer, token: &str) -> String {
    let (s, b) = srv
        .post(
            "/connector/sync/start",
            Some(token),
            &json!({"trigger": "manual"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["syncRunId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_connector_cannot_report_on_or_add_to_another_connectors_run() {
    let o = office().await;
    let (mine, _, _) = o.srv.enrol(&o.staff, "sharma", "PC-1").await;
    let (other, _, _) = o.srv.enrol(&o.staff, "sharma", "PC-2").await;
    let run = start_run(&o.srv, &mine).await;
    let before = o.srv.fingerprint();

    let mut sync = guide_payload();
    sync["syncRunId"] = json!(run);
    let part = json!({"syncRunId": run, "part": {"index": 0, "count": 2}, "months": []});
    let progress = json!({"syncRunId": run, "stage": "reading", "message": "hijacked"});
    let complete = json!({"syncRunId": run, "status": "failed", "error": "hijacked"});
    for (path, body) in [
        ("/connector/sync/progress", &progress),
        ("/connector/sync/part", &part),
        ("/connector/sync", &sync),
        ("/connector/sync/complete", &complete),
    ] {
        let (s, b) = o.srv.post(path, Some(&other), body).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (409, Some("sync_run_of_another_connector")),
            "{path}: {b}"
        );
        assert!(b["message"].as_str().unwrap().contains(&run), "{b}");
    }
    assert_eq!(
        o.srv.fingerprint(),
        before,
        "a refused report changes nothing"
    );

    // The run's own connector goes on as before.
    let (s, b) = o.srv.post("/connector/sync", Some(&mine), &sync).await;
    assert_eq!(s, 200, "{b}");
    let complete = json!({"syncRunId": run, "status": "succeeded"});
    let (s, b) = o
        .srv
        .post("/connector/sync/complete", Some(&mine), &complete)
        .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_runs_event_trail_is_bounded_however_much_its_connector_reports() {
    let o = office().await;
    let (token, _, _) = o.srv.enrol(&o.staff, "sharma", "PC-1").await;
    let run = start_run(&o.srv, &token).await;
    let long = "y".repeat(4000);
    for i in 0..250 {
        let body =
            json!({"syncRunId": run, "stage": "reading", "percent": i % 100, "message": long});
        let (s, b) = o
            .srv
            .post("/connector/sync/progress", Some(&token), &body)
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let complete = json!({"syncRunId": run, "status": "succeeded"});
    let (s, b) = o
        .srv
        .post("/connector/sync/complete", Some(&token), &complete)
        .await;
    assert_eq!(s, 200, "{b}");

    let (s, view) = o
        .srv
        .get(
            &format!("/companies/sharma/sync-runs/{run}"),
            Some(&o.admin),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    let events = view["events"].as_array().unwrap();
    // started, 199 progress reports, the count of those not kept, and the end.
    assert_eq!(events.len(), 202, "{:?}", events.len());
    let kinds = |k: &str| events.iter().filter(|e| e["kind"] == k).count();
    assert_eq!((kinds("started"), kinds("progress")), (1, 199));
    let omitted = events.iter().find(|e| e["kind"] == "omitted").unwrap();
    let said = omitted["message"].as_str().unwrap();
    assert!(said.starts_with("51 more progress reports"), "{said}");
    assert_eq!(events.last().unwrap()["kind"], "succeeded");
    assert_eq!(view["status"], "succeeded");
    for e in events.iter().filter(|e| e["kind"] == "progress") {
        assert_eq!(e["message"].as_str().unwrap().chars().count(), 500);
    }
}

#[tokio::test]
async fn a_runs_progress_and_failure_are_shown_without_a_connectors_escapes() {
    let o = office().await;
    let (token, _, _) = o.srv.enrol(&o.staff, "sharma", "PC-1").await;
    let run = start_run(&o.srv, &token).await;
    let body = json!({"syncRunId": run, "stage": "read\u{1b}[31ming",
        "message": "month 3\nERROR forged line\u{202e}"});
    let (s, b) = o
        .srv
        .post("/connector/sync/progress", Some(&token), &body)
        .await;
    assert_eq!(s, 200, "{b}");
    let failed = json!({"syncRunId": run, "status": "failed", "error": "Tally\r\nclosed\u{7}"});
    let (s, b) = o
        .srv
        .post("/connector/sync/complete", Some(&token), &failed)
        .await;
    assert_eq!(s, 200, "{b}");

    let path = format!("/companies/sharma/sync-runs/{run}");
    let (s, view) = o.srv.get(&path, Some(&o.admin)).await;
    assert_eq!(s, 200, "{view}");
    let events = view["events"].as_array().unwrap();
    let progress = events.iter().find(|e| e["kind"] == "progress").unwrap();
    assert_eq!(progress["stage"], "read[31ming", "{progress}");
    assert_eq!(
        progress["message"], "month 3 ERROR forged line",
        "{progress}"
    );
    let shown = view.to_string();
    assert!(
        !shown.contains("\\u001b") && !shown.contains("\\n"),
        "{shown}"
    );
    assert_eq!(view["error"], "Tally  closed", "{view}");
}

#[tokio::test]
async fn only_a_connectors_newest_update_attempts_are_kept() {
    let o = office().await;
    let (token, _, id) = o.srv.enrol(&o.staff, "sharma", "PC-1").await;
    for i in 0..80 {
        let at = format!("2026-11-26T10:00:{:02}.{i:03}Z", i % 60);
        let body = json!({"companyId": "sharma", "lastUpdate": {
            "version": "1.0.0", "outcome": "failed", "message": "x".repeat(500), "at": at}});
        let (s, b) = heartbeat(&o.srv, &token, body).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, status) = o
        .srv
        .get("/connector/status?companyId=sharma", Some(&o.admin))
        .await;
    assert_eq!(s, 200, "{status}");
    let last = &status["connectors"][0]["lastUpdate"];
    assert_eq!(last["at"], "2026-11-26T10:00:19.079Z", "{last}");
    let srv = o.srv;
    let db = srv.db();
    srv.stop().await;

    let kept: Vec<String> = db
        .prepare("SELECT at FROM connector_updates WHERE connector_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([&id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.len(), 50);
    assert_eq!(kept.first().unwrap(), "2026-11-26T10:00:30.030Z");
    assert_eq!(kept.last().unwrap(), "2026-11-26T10:00:19.079Z");
}

#[tokio::test]
async fn a_heartbeats_hidden_characters_are_taken_out_and_the_heartbeat_kept() {
    let o = office().await;
    let (token, _, _) = o.srv.enrol(&o.staff, "sharma", "PC-1").await;
    let body = json!({
        "companyId": "sharma",
        "appVersion": "1.0.0\r\n",
        "tallyProduct": "Tally\u{202E}Prime",
        "state": "\u{1b}[31mreading\u{7}",
        "lastSync": {"at": "2026-11-26T10:00:00Z", "outcome": "failed\n", "error": "a\u{2066}b\u{0}c"},
        "lastUpdate": {"version": "1.0.0", "outcome": "failed",
                       "message": "could not\nreplace \u{1b}[2Kthe program", "at": "2026-11-26T10:00:00Z"}
    });
    let (s, b) = heartbeat(&o.srv, &token, body).await;
    assert_eq!(s, 200, "{b}");
    let (_, status) = o
        .srv
        .get("/connector/status?companyId=sharma", Some(&o.admin))
        .await;
    let pc = &status["connectors"][0];
    assert_eq!(pc["appVersion"], "1.0.0  ", "{pc}");
    let agent = &pc["agentState"];
    assert_eq!(agent["tallyProduct"], "TallyPrime", "{agent}");
    assert_eq!(agent["state"], "[31mreading");
    assert_eq!(agent["lastSync"]["outcome"], "failed ");
    assert_eq!(agent["lastSync"]["error"], "abc");
    assert_eq!(
        pc["lastUpdate"]["message"],
        "could not replace [2Kthe program"
    );

    // A version with a line break names no attempt: dropped, the heartbeat still answered.
    let forged = json!({"companyId": "sharma", "lastUpdate": {"version": "1.0.1\nERROR forged",
        "outcome": "failed", "message": "m", "at": "2026-11-26T11:00:00Z"}});
    let (s, b) = heartbeat(&o.srv, &token, forged).await;
    assert_eq!(s, 200, "{b}");
    let (_, status) = o
        .srv
        .get("/connector/status?companyId=sharma", Some(&o.admin))
        .await;
    assert_eq!(status["connectors"][0]["lastUpdate"]["version"], "1.0.0");

    // Enrolling is no heartbeat: a hidden character in its appVersion is refused.
    let (s, b) = o
        .srv
        .post(
            "/connector/auth",
            None,
            &json!({"companyId": "sharma", "deviceId": "PC-2", "appVersion": "1.0\u{202E}",
                    "userJwt": o.staff}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["details"][0]["path"], "appVersion", "{b}");
}
