//! Sync schedules and "sync now" over real HTTP against a real appliance: administrators set a
//! firm-wide and a per-company schedule (checked), the heartbeat answer carries the one in force
//! and a pending request, a second request while one is pending queues nothing, and the run a
//! connector starts for it shows in the status API.

mod common;

use common::TestServer;
use serde_json::{json, Value};

async fn send(
    srv: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = srv.http.request(method, srv.api(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn put(srv: &TestServer, path: &str, token: &str, body: &Value) -> (u16, Value) {
    send(srv, reqwest::Method::PUT, path, token, Some(body)).await
}

async fn heartbeat(srv: &TestServer, token: &str) -> Value {
    let (s, b) = srv
        .post(
            "/connector/heartbeat",
            Some(token),
            &json!({"companyId": "sharma"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

fn office() -> Value {
    json!({
        "intervalMinutes": 20,
        "quietHours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "10:00", "to": "13:00"}],
        "fullReadAt": "02:30"
    })
}

struct World {
    srv: TestServer,
    admin: String,
    connector: String,
    _data: tempfile::TempDir,
}

async fn world() -> World {
    let data = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let (connector, _, _) = srv.enrol(&admin, "sharma", "pc-1").await;
    World {
        srv,
        admin,
        connector,
        _data: data,
    }
}

#[tokio::test]
async fn schedules_reach_the_connector_firm_wide_then_per_company() {
    let w = world().await;
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert!(
        hb.get("schedule").is_none(),
        "none set: config.json holds: {hb}"
    );
    let (s, b) = w.srv.get("/settings/sync-schedule", Some(&w.admin)).await;
    assert_eq!((s, &b["source"]), (200, &json!("connector")), "{b}");

    let firm = json!({"intervalMinutes": 60, "fullReadAt": "01:00"});
    let (s, b) = put(&w.srv, "/settings/sync-schedule", &w.admin, &firm).await;
    assert_eq!(s, 200, "{b}");
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["schedule"]["intervalMinutes"], 60, "{hb}");
    assert_eq!(hb["schedule"]["quietHours"], json!([]));

    let (s, b) = put(
        &w.srv,
        "/companies/sharma/sync-schedule",
        &w.admin,
        &office(),
    )
    .await;
    assert_eq!((s, &b["source"]), (200, &json!("company")), "{b}");
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["schedule"], office(), "the company's own wins");

    let (s, b) = send(
        &w.srv,
        reqwest::Method::DELETE,
        "/companies/sharma/sync-schedule",
        &w.admin,
        None,
    )
    .await;
    assert_eq!((s, &b["source"]), (200, &json!("firm")), "{b}");
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(
        hb["schedule"]["intervalMinutes"], 60,
        "back to the firm's: {hb}"
    );
}

#[tokio::test]
async fn a_bad_schedule_is_refused_with_each_problem_and_changes_nothing() {
    let w = world().await;
    put(
        &w.srv,
        "/companies/sharma/sync-schedule",
        &w.admin,
        &office(),
    )
    .await;
    let before = w.srv.fingerprint();
    let bad = json!({
        "intervalMinutes": 0,
        "quietHours": [{"days": ["mon", "someday"], "from": "13:00", "to": "13:00"}],
        "fullReadAt": "25:00"
    });
    let (s, b) = put(&w.srv, "/companies/sharma/sync-schedule", &w.admin, &bad).await;
    assert_eq!(s, 422, "{b}");
    let paths: Vec<&str> = b["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "intervalMinutes",
            "quietHours[0].days[1]",
            "quietHours[0].to",
            "fullReadAt"
        ],
        "{b}"
    );
    assert!(b["message"]
        .as_str()
        .unwrap()
        .contains("nothing was changed"));
    assert_eq!(w.srv.fingerprint(), before);
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["schedule"], office());

    let (s, b) = put(&w.srv, "/companies/nope/sync-schedule", &w.admin, &office()).await;
    assert_eq!((s, &b["error"]), (404, &json!("company_not_found")), "{b}");
    let (s, _) = w
        .srv
        .get("/companies/nope/sync-schedule", Some(&w.admin))
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn sync_now_is_pending_once_then_shows_the_run_it_started() {
    let w = world().await;
    let staff = w
        .srv
        .create_staff(&w.admin, "ravi", "staff-password-1", &["sharma"])
        .await;
    let (s, first) = w
        .srv
        .post("/companies/sharma/sync-requests", Some(&staff), &json!({}))
        .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["status"], "pending");
    assert_eq!(first["requestedBy"], "ravi");
    let id = first["syncRequestId"].as_str().unwrap().to_string();

    // Asked again while pending: the same request, now for a full read; nothing new queued.
    let (s, again) = w
        .srv
        .post(
            "/companies/sharma/sync-requests",
            Some(&w.admin),
            &json!({"full": true}),
        )
        .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["syncRequestId"], id.as_str());
    assert_eq!(again["full"], true);
    assert_eq!(w.srv.count("SELECT COUNT(*) FROM sync_requests"), 1);

    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["syncRequest"], json!({"id": id, "full": true}), "{hb}");
    let (_, status) = w
        .srv
        .get("/connector/status?companyId=sharma", Some(&w.admin))
        .await;
    assert_eq!(status["schedule"]["syncRequest"]["status"], "pending");

    let (s, run) = w
        .srv
        .post(
            "/connector/sync/start",
            Some(&w.connector),
            &json!({"companyId": "sharma", "trigger": "request", "syncRequestId": id}),
        )
        .await;
    assert_eq!(s, 200, "{run}");
    let run_id = run["syncRunId"].as_str().unwrap();

    let hb = heartbeat(&w.srv, &w.connector).await;
    assert!(
        hb.get("syncRequest").is_none(),
        "started: no longer carried: {hb}"
    );
    let (_, status) = w
        .srv
        .get("/connector/status?companyId=sharma", Some(&w.admin))
        .await;
    let shown = &status["schedule"]["syncRequest"];
    assert_eq!(shown["status"], "started", "{status:#}");
    assert_eq!(shown["syncRunId"], run_id);
    assert_eq!(status["lastSyncRun"]["trigger"], "request");
    assert_eq!(status["lastSyncRun"]["syncRequestId"], id.as_str());

    // A new request after that one started is a new one.
    let (s, next) = w
        .srv
        .post("/companies/sharma/sync-requests", Some(&staff), &json!({}))
        .await;
    assert_eq!(s, 201, "{next}");
    assert_ne!(next["syncRequestId"], id.as_str());
}

#[tokio::test]
async fn the_status_says_when_the_next_sync_and_full_read_are_due() {
    let w = world().await;
    let (_, status) = w
        .srv
        .get("/connector/status?companyId=sharma", Some(&w.admin))
        .await;
    assert_eq!(status["schedule"]["source"], "connector");
    assert_eq!(status["schedule"]["nextSyncAt"], Value::Null);

    put(
        &w.srv,
        "/companies/sharma/sync-schedule",
        &w.admin,
        &office(),
    )
    .await;
    let (_, status) = w
        .srv
        .get("/connector/status?companyId=sharma", Some(&w.admin))
        .await;
    let sched = &status["schedule"];
    assert_eq!(sched["utcOffset"], "+05:30");
    let next_sync = sched["nextSyncAt"].as_str().unwrap();
    let next_full = sched["nextFullReadAt"].as_str().unwrap();
    assert!(next_sync.ends_with("+05:30"), "{sched}");
    // No run yet: a full read is owed now, as is a sync (unless it is quiet now).
    assert_eq!(next_sync, next_full, "{sched}");
}

#[tokio::test]
async fn a_sync_now_no_run_claimed_within_the_hour_expires_and_a_new_one_is_made() {
    let w = world().await;
    let (s, first) = w
        .srv
        .post(
            "/companies/sharma/sync-requests",
            Some(&w.admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 201, "{first}");
    let old = first["syncRequestId"].as_str().unwrap().to_string();
    // The PC was off (or the appliance away when its run started) for more than the hour.
    let two_hours_ms = 2 * 60 * 60 * 1000;
    w.srv
        .db()
        .execute(
            "UPDATE sync_requests SET requested_at = requested_at - ?1",
            [two_hours_ms],
        )
        .unwrap();

    let hb = heartbeat(&w.srv, &w.connector).await;
    assert!(
        hb.get("syncRequest").is_none(),
        "expired: not carried: {hb}"
    );
    let (_, status) = w
        .srv
        .get("/connector/status?companyId=sharma", Some(&w.admin))
        .await;
    assert_eq!(status["schedule"]["syncRequest"]["status"], "expired");

    // Asked again: a fresh request, carried by the next heartbeat.
    let (s, fresh) = w
        .srv
        .post(
            "/companies/sharma/sync-requests",
            Some(&w.admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 201, "{fresh}");
    assert_eq!(fresh["status"], "pending");
    let fresh_id = fresh["syncRequestId"].as_str().unwrap().to_string();
    assert_ne!(fresh_id, old);
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["syncRequest"]["id"], fresh_id.as_str(), "{hb}");

    // A run that names the expired request still starts, but does not carry it out.
    let (s, run) = w
        .srv
        .post(
            "/connector/sync/start",
            Some(&w.connector),
            &json!({"companyId": "sharma", "trigger": "request", "syncRequestId": old}),
        )
        .await;
    assert_eq!(s, 200, "{run}");
    let (_, status) = w
        .srv
        .get("/connector/status?companyId=sharma", Some(&w.admin))
        .await;
    assert_eq!(status["lastSyncRun"]["syncRequestId"], Value::Null);
    assert_eq!(status["schedule"]["syncRequest"]["status"], "pending");
    assert_eq!(
        w.srv
            .count("SELECT COUNT(*) FROM sync_requests WHERE expired_at IS NOT NULL"),
        1
    );
}

#[tokio::test]
async fn the_next_full_read_counts_from_the_last_run_that_said_it_read_in_full() {
    let w = world().await;
    put(
        &w.srv,
        "/companies/sharma/sync-schedule",
        &w.admin,
        &json!({"intervalMinutes": 20, "fullReadAt": "02:30"}),
    )
    .await;
    let start = |body: Value| {
        let (srv, token) = (&w.srv, &w.connector);
        async move {
            let (s, b) = srv.post("/connector/sync/start", Some(token), &body).await;
            assert_eq!(s, 200, "{b}");
        }
    };
    let next_full = || async {
        let (_, status) = w
            .srv
            .get("/connector/status?companyId=sharma", Some(&w.admin))
            .await;
        status["schedule"]["nextFullReadAt"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // A start-up run that read only what changed: the full read is still owed (due now).
    start(json!({"companyId": "sharma", "trigger": "startup", "fullRead": false})).await;
    assert!(!next_full().await.contains("T02:30:00"), "owed now");

    // The connector's own full read at start-up counts, whatever its trigger.
    start(json!({"companyId": "sharma", "trigger": "startup", "fullRead": true})).await;
    let due = next_full().await;
    assert!(due.ends_with("T02:30:00+05:30"), "tomorrow's: {due}");
}

#[tokio::test]
async fn due_times_are_reckoned_at_the_configured_utc_offset() {
    let data = tempfile::tempdir().unwrap();
    let srv = TestServer::start_with(data.path(), &[("utc_offset", json!("-03:00"))]).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    put(&srv, "/companies/sharma/sync-schedule", &admin, &office()).await;
    let (_, status) = srv
        .get("/connector/status?companyId=sharma", Some(&admin))
        .await;
    let sched = &status["schedule"];
    assert_eq!(sched["utcOffset"], "-03:00", "{sched}");
    let next_full = sched["nextFullReadAt"].as_str().unwrap();
    assert!(next_full.ends_with("-03:00"), "{sched}");
}

#[tokio::test]
async fn quiet_hours_across_midnight_are_accepted_and_carried() {
    let w = world().await;
    let night = json!({
        "intervalMinutes": 30,
        "quietHours": [{"days": ["fri"], "from": "22:00", "to": "06:00"}],
        "fullReadAt": "02:00"
    });
    let (s, b) = put(&w.srv, "/companies/sharma/sync-schedule", &w.admin, &night).await;
    assert_eq!(s, 200, "{b}");
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["schedule"], night, "{hb}");
}
