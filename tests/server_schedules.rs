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

impl World {
    /// Sets the company's own schedule, expected to be accepted.
    async fn set_own(&self, schedule: &Value) {
        let path = "/companies/sharma/sync-schedule";
        let (s, b) = put(&self.srv, path, &self.admin, schedule).await;
        assert_eq!(s, 200, "{b}");
    }

    async fn status(&self) -> Value {
        let path = "/connector/status?companyId=sharma";
        let (s, b) = self.srv.get(path, Some(&self.admin)).await;
        assert_eq!(s, 200, "{b}");
        b
    }

    /// `sync/start` as `token`'s connector says it, expected to open a run; its id.
    async fn start(&self, token: &str, body: Value) -> String {
        let (s, b) = self
            .srv
            .post("/connector/sync/start", Some(token), &body)
            .await;
        assert_eq!(s, 200, "{b}");
        b["syncRunId"].as_str().unwrap().to_string()
    }

    /// "Sync now" (`full`: a full read) as `token`'s user: status, body and `Retry-After`.
    async fn ask(&self, token: &str, full: bool) -> (u16, Value, Option<u64>) {
        let res = self
            .srv
            .http
            .post(self.srv.api("/companies/sharma/sync-requests"))
            .bearer_auth(token)
            .json(&json!({"full": full}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        (status, res.json().await.unwrap_or(Value::Null), retry_after)
    }

    /// Moves every "sync now" and run of the past `minutes` earlier, as if they had been.
    fn earlier(&self, minutes: i64) {
        let ms = minutes * 60 * 1000;
        self.srv
            .db()
            .execute(
                "UPDATE sync_requests SET requested_at = requested_at - ?1,
                 started_at = started_at - ?1",
                [ms],
            )
            .unwrap();
    }
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
    w.set_own(&office()).await;
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
    let status = w.status().await;
    assert_eq!(status["schedule"]["syncRequest"]["status"], "pending");

    let body = json!({"companyId": "sharma", "trigger": "request", "syncRequestId": id,
                      "fullRead": true});
    let run_id = w.start(&w.connector, body).await;

    let hb = heartbeat(&w.srv, &w.connector).await;
    assert!(
        hb.get("syncRequest").is_none(),
        "started: no longer carried: {hb}"
    );
    let status = w.status().await;
    let shown = &status["schedule"]["syncRequest"];
    assert_eq!(shown["status"], "started", "{status:#}");
    assert_eq!(shown["syncRunId"], run_id.as_str());
    assert_eq!(status["lastSyncRun"]["trigger"], "request");
    assert_eq!(status["lastSyncRun"]["syncRequestId"], id.as_str());

    // A new request after that one started is a new one, once Tally had its rest.
    w.earlier(11);
    let (s, next, _) = w.ask(&staff, false).await;
    assert_eq!(s, 201, "{next}");
    assert_ne!(next["syncRequestId"], id.as_str());
}

#[tokio::test]
async fn sync_now_is_spaced_out_and_full_reads_are_bounded_per_day_unless_an_admin_asks() {
    let w = world().await;
    let staff = w
        .srv
        .create_staff(&w.admin, "ravi", "staff-password-1", &["sharma"])
        .await;
    let carry_out = |id: Value| {
        let body = json!({"trigger": "request", "syncRequestId": id, "fullRead": true});
        w.start(&w.connector, body)
    };
    let (s, first, _) = w.ask(&staff, false).await;
    assert_eq!(s, 201, "{first}");
    carry_out(first["syncRequestId"].clone()).await;

    // Asked again two minutes after its run started: refused, saying when, changing nothing.
    w.earlier(2);
    let before = w.srv.fingerprint();
    for token in [&staff, &w.admin] {
        let (s, refused, retry_after) = w.ask(token, false).await;
        assert_eq!(
            (s, &refused["error"]),
            (429, &json!("rate_limited")),
            "{refused}"
        );
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.contains("the next can be asked in 8 minutes"),
            "{message}"
        );
        assert!(
            retry_after.is_some_and(|r| r > 7 * 60 && r <= 8 * 60),
            "{retry_after:?}"
        );
    }
    assert_eq!(w.srv.fingerprint(), before);

    // Three full reads a day on request.
    for _ in 0..3 {
        w.earlier(11);
        let (s, asked, _) = w.ask(&staff, true).await;
        assert_eq!(s, 201, "{asked}");
        carry_out(asked["syncRequestId"].clone()).await;
    }
    w.earlier(11);
    let (s, refused, retry_after) = w.ask(&staff, true).await;
    assert_eq!(s, 429, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("3 full reads on request in the last 24 hours"),
        "{message}"
    );
    // The first of the three started 33 minutes ago: 23 h 27 min to go.
    assert!(message.contains("in 23 h 27 min"), "{message}");
    assert!(
        retry_after.is_some_and(|r| r > 23 * 3600),
        "{retry_after:?}"
    );

    // What changed may still be read, and an administrator may still ask for a full read.
    let (s, changes, _) = w.ask(&staff, false).await;
    assert_eq!(s, 201, "{changes}");
    let (s, refused, _) = w.ask(&staff, true).await;
    assert_eq!(s, 429, "not widened by staff either: {refused}");
    let (s, widened, _) = w.ask(&w.admin, true).await;
    assert_eq!((s, &widened["full"]), (200, &json!(true)), "{widened}");
    assert_eq!(widened["syncRequestId"], changes["syncRequestId"]);

    // Staff repeating "Full read now" while that full read waits: told it waits, not refused.
    let (s, again, _) = w.ask(&staff, true).await;
    assert_eq!((s, &again["full"]), (200, &json!(true)), "{again}");
    assert_eq!(again["syncRequestId"], changes["syncRequestId"]);
}

#[tokio::test]
async fn the_status_says_when_the_next_sync_and_full_read_are_due() {
    let w = world().await;
    let status = w.status().await;
    assert_eq!(status["schedule"]["source"], "connector");
    assert_eq!(status["schedule"]["nextSyncAt"], Value::Null);

    w.set_own(&office()).await;
    let status = w.status().await;
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
    let status = w.status().await;
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
    let body = json!({"companyId": "sharma", "trigger": "request", "syncRequestId": old});
    w.start(&w.connector, body).await;
    let status = w.status().await;
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
    let next_full = || async {
        w.status().await["schedule"]["nextFullReadAt"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // A start-up run that read only what changed: the full read is still owed (due now).
    let changes = json!({"companyId": "sharma", "trigger": "startup", "fullRead": false});
    w.start(&w.connector, changes).await;
    assert!(!next_full().await.contains("T02:30:00"), "owed now");

    // The connector's own full read at start-up counts, whatever its trigger.
    let full = json!({"companyId": "sharma", "trigger": "startup", "fullRead": true});
    w.start(&w.connector, full).await;
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

#[tokio::test]
async fn a_full_read_asked_after_the_connector_was_told_to_sync_changes_is_not_lost() {
    let w = world().await;
    let (s, asked, _) = w.ask(&w.admin, false).await;
    assert_eq!(s, 201, "{asked}");
    let id = asked["syncRequestId"].as_str().unwrap().to_string();
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["syncRequest"], json!({"id": id, "full": false}));

    // Widened after the connector was told, before its run starts.
    let (s, widened, _) = w.ask(&w.admin, true).await;
    assert_eq!((s, &widened["full"]), (200, &json!(true)), "{widened}");
    let body = json!({"trigger": "request", "syncRequestId": id, "fullRead": false});
    let run = w.start(&w.connector, body).await;

    // That run did what it was told; the full read waits as a new request.
    let hb = heartbeat(&w.srv, &w.connector).await;
    let order = &hb["syncRequest"];
    assert_eq!(order["full"], true, "{hb}");
    assert_ne!(
        order["id"],
        id.as_str(),
        "a new id: the connector handled the old one"
    );
    let status = w.status().await;
    let shown = &status["schedule"]["syncRequest"];
    assert_eq!(
        (&shown["status"], &shown["full"]),
        (&json!("pending"), &json!(true))
    );
    assert_eq!(shown["requestedBy"], "admin");
    assert_eq!(status["lastSyncRun"]["syncRequestId"], id.as_str());
    let run_path = format!("/companies/sharma/sync-runs/{run}");
    let (_, first) = w.srv.get(&run_path, Some(&w.admin)).await;
    assert_eq!(first["syncRequestId"], id.as_str(), "{first}");

    // Its full run carries it out, and nothing more waits.
    let body = json!({"trigger": "request", "syncRequestId": order["id"], "fullRead": true});
    w.start(&w.connector, body).await;
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert!(hb.get("syncRequest").is_none(), "{hb}");
    assert_eq!(
        w.srv
            .count("SELECT COUNT(*) FROM sync_requests WHERE full = 1"),
        1
    );
}

#[tokio::test]
async fn a_request_one_connector_started_is_refused_to_another_of_the_company() {
    let w = world().await;
    let (second, _, _) = w.srv.enrol(&w.admin, "sharma", "pc-2").await;
    let (_, asked, _) = w.ask(&w.admin, false).await;
    let id = asked["syncRequestId"].as_str().unwrap().to_string();
    for token in [&w.connector, &second] {
        let hb = heartbeat(&w.srv, token).await;
        assert_eq!(hb["syncRequest"]["id"], id.as_str(), "both are told: {hb}");
    }
    let body = json!({"trigger": "request", "syncRequestId": id, "fullRead": false});
    let run = w.start(&w.connector, body.clone()).await;

    let before = w.srv.fingerprint();
    let (s, refused) = w
        .srv
        .post("/connector/sync/start", Some(&second), &body)
        .await;
    assert_eq!(
        (s, &refused["error"]),
        (409, &json!("sync_request_taken")),
        "{refused}"
    );
    assert!(
        refused["message"].as_str().unwrap().contains(&run),
        "{refused}"
    );
    assert_eq!(w.srv.fingerprint(), before, "no second run");

    // The connector that started it may name it again (its answer was lost on the way).
    w.start(&w.connector, body).await;
    // Another connector's own syncs are not held up.
    w.start(&second, json!({"trigger": "schedule", "fullRead": false}))
        .await;
}

#[tokio::test]
async fn a_schedule_repeating_a_day_or_quiet_all_week_is_refused_and_changes_nothing() {
    let w = world().await;
    w.set_own(&office()).await;
    let before = w.srv.fingerprint();
    let all_week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let refusals = [
        (
            json!(["mon", "tue", "mon"]),
            "00:00",
            "quietHours[0].days[2]",
            "repeats `mon`",
        ),
        (
            json!(vec!["mon"; 8]),
            "00:00",
            "quietHours[0].days",
            "names 8 days",
        ),
        (
            json!(all_week),
            "00:00",
            "quietHours",
            "no sync would ever start",
        ),
        (
            json!(all_week),
            "13:00",
            "quietHours",
            "no sync would ever start",
        ),
    ];
    for (days, from, path, says) in refusals {
        let bad = json!({
            "intervalMinutes": 30,
            "quietHours": [{"days": days, "from": from, "to": "24:00"}, {"days": all_week, "from": "00:00", "to": "13:00"}]
        });
        for at in ["/companies/sharma/sync-schedule", "/settings/sync-schedule"] {
            let (s, b) = put(&w.srv, at, &w.admin, &bad).await;
            assert_eq!((s, &b["details"][0]["path"]), (422, &json!(path)), "{b}");
            let message = b["details"][0]["message"].as_str().unwrap();
            assert!(message.contains(says), "{b}");
        }
    }
    assert_eq!(w.srv.fingerprint(), before);
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["schedule"], office());
}

impl World {
    /// Ends the run as failed, the way a connector says Tally could not be read.
    async fn fail(&self, token: &str, run: &str) {
        let body = json!({"syncRunId": run, "status": "failed", "error": "Tally is not running"});
        let (s, b) = self
            .srv
            .post("/connector/sync/complete", Some(token), &body)
            .await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test]
async fn a_sync_now_whose_run_failed_passes_to_another_connector_and_may_be_asked_again() {
    let w = world().await;
    let (second, _, _) = w.srv.enrol(&w.admin, "sharma", "pc-2").await;
    let (_, asked, _) = w.ask(&w.admin, false).await;
    let id = asked["syncRequestId"].as_str().unwrap().to_string();
    for token in [&w.connector, &second] {
        heartbeat(&w.srv, token).await;
    }
    // Tally is closed on the first PC: its run fails at once.
    let body = json!({"trigger": "request", "syncRequestId": id, "fullRead": false});
    let failed = w.start(&w.connector, body.clone()).await;
    w.fail(&w.connector, &failed).await;

    // The second PC, where Tally is open, carries the request out.
    let run = w.start(&second, body).await;
    let shown = &w.status().await["schedule"]["syncRequest"];
    assert_eq!(
        (&shown["status"], &shown["syncRunId"]),
        (&json!("started"), &json!(run)),
        "{shown}"
    );

    // Tally was closed there too: asking again right away is not held to the spacing.
    w.fail(&second, &run).await;
    let (s, retried, retry_after) = w.ask(&w.admin, false).await;
    assert_eq!((s, retry_after), (201, None), "{retried}");
    assert_ne!(retried["syncRequestId"], id.as_str());
    let hb = heartbeat(&w.srv, &w.connector).await;
    assert_eq!(hb["syncRequest"]["id"], retried["syncRequestId"], "{hb}");
}

#[tokio::test]
async fn a_retried_sync_start_leaves_the_request_with_the_run_that_carries_it_out() {
    let w = world().await;
    let (_, asked, _) = w.ask(&w.admin, false).await;
    let id = asked["syncRequestId"].as_str().unwrap().to_string();
    let body = json!({"trigger": "request", "syncRequestId": id, "fullRead": false});
    // The answer to the first start was lost on the way: the connector starts again.
    let lost = w.start(&w.connector, body.clone()).await;
    let run = w.start(&w.connector, body).await;

    let status = w.status().await;
    let shown = &status["schedule"]["syncRequest"];
    assert_eq!(
        (&shown["status"], &shown["syncRunId"]),
        (&json!("started"), &json!(run)),
        "{status:#}"
    );
    assert_eq!(status["lastSyncRun"]["syncRequestId"], id.as_str());
    let (_, superseded) = w
        .srv
        .get(
            &format!("/companies/sharma/sync-runs/{lost}"),
            Some(&w.admin),
        )
        .await;
    assert_eq!(superseded["status"], "abandoned", "{superseded}");
}
