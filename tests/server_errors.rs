//! Every way a request can be wrong: the right status and error body, and nothing changed.

mod common;

use common::{balanced_payload, guide_payload, TestServer};
use serde_json::{json, Value};

struct Fixture {
    srv: TestServer,
    admin: String,
    token: String,
    refresh: String,
    connector_id: String,
    _dir: tempfile::TempDir,
}

async fn fixture_with(extra: &[(&str, Value)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_with(dir.path(), extra).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    srv.create_company(&admin, "Other Co", "other").await;
    let (token, refresh, connector_id) = srv.enrol(&admin, "sharma", "pc-1").await;
    Fixture {
        srv,
        admin,
        token,
        refresh,
        connector_id,
        _dir: dir,
    }
}

async fn fixture() -> Fixture {
    fixture_with(&[]).await
}

/// Posts, expects `status` and `code`, and checks the database did not change.
async fn refused(
    f: &Fixture,
    path: &str,
    token: Option<&str>,
    body: &Value,
    status: u16,
    code: &str,
) -> Value {
    let before = f.srv.fingerprint();
    let (s, b) = f.srv.post(path, token, body).await;
    assert_eq!(s, status, "{path}: {b}");
    assert_eq!(b["error"], code, "{b}");
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    assert!(b["details"].is_array(), "{b}");
    assert_eq!(
        f.srv.fingerprint(),
        before,
        "{path} changed the database while failing"
    );
    b
}

fn paths(b: &Value) -> Vec<String> {
    b["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_string())
        .collect()
}

fn with(mut payload: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut payload["chartOfAccounts"]);
    payload
}

#[tokio::test]
async fn invalid_payloads_are_422_with_every_problem_located_and_store_nothing() {
    let f = fixture().await;
    let t = Some(f.token.as_str());
    // Something stored first, so "unchanged" means more than "still empty".
    assert_eq!(
        f.srv
            .post("/connector/sync", t, &balanced_payload())
            .await
            .0,
        200
    );

    let b = refused(
        &f,
        "/connector/sync",
        t,
        &json!({"chartOfAccounts": {"ledgers": []}}),
        422,
        "invalid_payload",
    )
    .await;
    assert_eq!(paths(&b), ["chartOfAccounts"], "{b}");

    let three_decimals = with(balanced_payload(), |c| {
        c["balances"]["current"]["items"][1]["balance"] = json!(-1.005)
    });
    let b = refused(
        &f,
        "/connector/sync",
        t,
        &three_decimals,
        422,
        "invalid_payload",
    )
    .await;
    assert_eq!(
        paths(&b),
        ["chartOfAccounts.balances.current.items[1].balance"]
    );

    let float_text = with(balanced_payload(), |c| {
        c["balances"]["current"]["items"][1]["balance"] = json!("1e3")
    });
    refused(
        &f,
        "/connector/sync",
        t,
        &float_text,
        422,
        "invalid_payload",
    )
    .await;

    let many = with(balanced_payload(), |c| {
        c["groups"][1]["guid"] = json!("g-sd"); // duplicate guid
        c["groups"][1]["parent"] = json!("No Such Group");
        c["ledgers"][0]["parent"] = json!("Nowhere");
        c["balances"]["current"]["monthKey"] = json!("2026-3");
        c["balances"]["closedMonths"][0]["asOfDate"] = json!("2026-02-01"); // outside January
        c["balances"]["closedMonths"][1]["items"][0]["ledgerGuid"] = json!("l-unknown");
        c["balances"]["closedMonths"][1]["items"][1]["ledgerGuid"] = json!("l-abc");
        // twice in a month
    });
    let b = refused(&f, "/connector/sync", t, &many, 422, "invalid_payload").await;
    assert_eq!(
        paths(&b),
        [
            "chartOfAccounts.groups[1].guid",
            "chartOfAccounts.groups[1].parent",
            "chartOfAccounts.ledgers[0].parent",
            "chartOfAccounts.balances.current.monthKey",
            "chartOfAccounts.balances.closedMonths[0].asOfDate",
            "chartOfAccounts.balances.closedMonths[1].items[0].ledgerGuid",
        ],
        "{b:#}"
    );

    let dup_month = with(balanced_payload(), |c| {
        c["balances"]["closedMonths"][1]["monthKey"] = json!("2026-01")
    });
    let dup_month = with(dup_month, |c| {
        c["balances"]["closedMonths"][1]["asOfDate"] = json!("2026-01-31")
    });
    let b = refused(&f, "/connector/sync", t, &dup_month, 422, "invalid_payload").await;
    assert_eq!(
        paths(&b),
        ["chartOfAccounts.balances.closedMonths[1].monthKey"]
    );

    let future_closed = with(balanced_payload(), |c| {
        c["balances"]["closedMonths"][1]["monthKey"] = json!("2026-04");
        c["balances"]["closedMonths"][1]["asOfDate"] = json!("2026-04-30");
    });
    let b = refused(
        &f,
        "/connector/sync",
        t,
        &future_closed,
        422,
        "invalid_payload",
    )
    .await;
    assert!(
        b["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not before the current month"),
        "{b}"
    );

    let cycle = with(balanced_payload(), |c| {
        c["groups"][0]["parent"] = json!("Mumbai Debtors");
    });
    let b = refused(&f, "/connector/sync", t, &cycle, 422, "invalid_payload").await;
    assert!(
        b["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cycle"),
        "{b}"
    );

    let mut wrong_date = balanced_payload();
    wrong_date["asOfDate"] = json!("2026-03-14");
    let b = refused(
        &f,
        "/connector/sync",
        t,
        &wrong_date,
        422,
        "invalid_payload",
    )
    .await;
    assert_eq!(paths(&b), ["asOfDate"]);

    let bad_facts = with(balanced_payload(), |c| {
        c["company"]["booksFrom"] = json!("01-04-2025")
    });
    refused(&f, "/connector/sync", t, &bad_facts, 422, "invalid_payload").await;
}

#[tokio::test]
async fn unreadable_and_oversized_bodies() {
    let f = fixture_with(&[("limits", json!({"json": "1 KiB", "sync": "4 KiB"}))]).await;
    let before = f.srv.fingerprint();
    let send = |body: Vec<u8>, encoding: Option<&'static str>| {
        let mut req = f
            .srv
            .http
            .post(f.srv.api("/connector/sync"))
            .bearer_auth(&f.token)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(e) = encoding {
            req = req.header("Content-Encoding", e);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = send(b"{\"chartOfAccounts\": ".to_vec(), None).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (400, "invalid_json"),
        "{b}"
    );
    let (s, b) = send(vec![b' '; 5000], None).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (413, "payload_too_large"),
        "{b}"
    );
    // A small gzip that inflates past the limit is refused too.
    let bomb = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 100_000]).unwrap();
        gz.finish().unwrap()
    };
    assert!(bomb.len() < 4096);
    let (s, b) = send(bomb, Some("gzip")).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (413, "payload_too_large"),
        "{b}"
    );
    let (s, b) = send(b"not gzip".to_vec(), Some("gzip")).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (400, "bad_encoding"),
        "{b}"
    );
    let (s, b) = send(b"{}".to_vec(), Some("br")).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (415, "unsupported_encoding"),
        "{b}"
    );
    assert_eq!(f.srv.fingerprint(), before);
}

#[tokio::test]
async fn tokens_are_checked_for_kind_company_expiry_and_revocation() {
    let f = fixture().await;
    let srv = &f.srv;
    let ct = Some(f.token.as_str());
    let hb = json!({"companyId": "sharma"});

    // No token, a garbage token, a user token on a connector endpoint, and the reverse.
    refused(&f, "/connector/heartbeat", None, &hb, 401, "missing_token").await;
    refused(
        &f,
        "/connector/heartbeat",
        Some("abc.def.ghi"),
        &hb,
        401,
        "invalid_token",
    )
    .await;
    refused(
        &f,
        "/connector/sync",
        Some(&f.admin),
        &guide_payload(),
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(srv.get("/companies", ct).await.0, 401);
    assert_eq!(
        srv.get("/connector/status?companyId=sharma", ct).await.0,
        401
    );
    // A user JWT is not a connector token even where a JWT is expected in the body.
    refused(
        &f,
        "/connector/auth",
        None,
        &json!({"companyId": "sharma", "deviceId": "d", "userJwt": f.token}),
        401,
        "invalid_token",
    )
    .await;

    // The connector's token names another company than the body: 403.
    refused(
        &f,
        "/connector/heartbeat",
        ct,
        &json!({"companyId": "other"}),
        403,
        "wrong_company",
    )
    .await;
    let mut other = guide_payload();
    other["companyId"] = json!("other");
    refused(&f, "/connector/sync", ct, &other, 403, "wrong_company").await;

    // An expired connector token, signed with the appliance's real secret.
    let expired = srv.expired_connector_token(&f.connector_id, "sharma");
    refused(
        &f,
        "/connector/heartbeat",
        Some(&expired),
        &hb,
        401,
        "token_expired",
    )
    .await;

    // Refresh rotates: the new refresh token works.
    let (s, fresh) = srv
        .post(
            "/connector/token/refresh",
            None,
            &json!({"refreshToken": f.refresh}),
        )
        .await;
    assert_eq!(s, 200, "{fresh}");
    assert_eq!(fresh["expiresIn"], 900);
    assert_ne!(fresh["refreshToken"], f.refresh.as_str());
    assert_eq!(
        srv.post(
            "/connector/heartbeat",
            fresh["connectorToken"].as_str(),
            &hb
        )
        .await
        .0,
        200
    );
    // (Presenting the old one again revokes the chain: tests/server_revocation.rs.)
    refused(
        &f,
        "/connector/token/refresh",
        None,
        &json!({"refreshToken": "never-issued"}),
        401,
        "invalid_refresh_token",
    )
    .await;

    // Staff may not revoke; an admin may; the revoked connector is refused at once.
    let (s, _) = srv
        .post("/users", Some(&f.admin), &json!({"username": "staffer", "password": "password123", "role": "staff", "companyIds": ["sharma"]}))
        .await;
    assert_eq!(s, 201);
    let staff = srv.login("staffer", "password123").await;
    let revoke = format!("/connectors/{}/revoke", f.connector_id);
    refused(&f, &revoke, Some(&staff), &json!({}), 403, "admin_only").await;
    refused(
        &f,
        "/connectors/nope/revoke",
        Some(&f.admin),
        &json!({}),
        404,
        "connector_not_found",
    )
    .await;
    assert_eq!(srv.post(&revoke, Some(&f.admin), &json!({})).await.0, 200);
    refused(
        &f,
        "/connector/heartbeat",
        ct,
        &hb,
        401,
        "connector_revoked",
    )
    .await;
    refused(
        &f,
        "/connector/token/refresh",
        None,
        &json!({"refreshToken": fresh["refreshToken"]}),
        401,
        "invalid_refresh_token",
    )
    .await;
    let (_, status) = srv
        .get("/connector/status?companyId=sharma", Some(&f.admin))
        .await;
    assert_eq!(status["connectors"][0]["revoked"], true);
    assert_eq!(status["connectors"][0]["online"], false);

    // Enrolling the device again does not lift the revocation; an admin's restore does.
    let enrol_again = json!({"companyId": "sharma", "deviceId": "pc-1", "userJwt": f.admin});
    refused(
        &f,
        "/connector/auth",
        None,
        &enrol_again,
        403,
        "connector_revoked",
    )
    .await;
    let restore = format!("/connectors/{}/restore", f.connector_id);
    assert_eq!(srv.post(&restore, Some(&f.admin), &json!({})).await.0, 200);
    let (again, _, id) = srv.enrol(&f.admin, "sharma", "pc-1").await;
    assert_eq!(id, f.connector_id);
    assert_eq!(
        srv.post("/connector/heartbeat", Some(&again), &hb).await.0,
        200
    );
}

#[tokio::test]
async fn account_errors() {
    let f = fixture().await;
    let a = Some(f.admin.as_str());
    let b = refused(
        &f,
        "/users",
        a,
        &json!({"username": "bad name!", "password": "short", "role": "owner", "companyIds": ["sharma", "ghost"]}),
        422,
        "invalid_payload",
    )
    .await;
    assert_eq!(paths(&b), ["username", "password", "role", "companyIds[1]"]);
    refused(
        &f,
        "/users",
        a,
        &json!({"username": "admin", "password": "password123", "role": "admin"}),
        409,
        "user_exists",
    )
    .await;
    refused(
        &f,
        "/companies",
        a,
        &json!({"name": "Dup", "id": "sharma"}),
        409,
        "company_exists",
    )
    .await;
    refused(
        &f,
        "/companies",
        a,
        &json!({"name": "  ", "id": "Bad Id"}),
        422,
        "invalid_payload",
    )
    .await;
    refused(
        &f,
        "/companies",
        a,
        &json!({"id": "x"}),
        422,
        "invalid_payload",
    )
    .await;
    refused(
        &f,
        "/auth/login",
        None,
        &json!({"username": "admin", "password": "wrong password"}),
        401,
        "invalid_credentials",
    )
    .await;
    refused(
        &f,
        "/connector/auth",
        None,
        &json!({"companyId": "ghost", "deviceId": "d", "userJwt": f.admin}),
        404,
        "company_not_found",
    )
    .await;
    let (s, b) = f.srv.get("/companies/ghost/snapshots", a).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (404, "company_not_found")
    );
    let (s, b) = f.srv.get("/companies/sharma/snapshots/2026-13", a).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (422, "invalid_payload"));
    let (s, b) = f.srv.get("/companies/sharma/snapshots/2026-01", a).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (404, "snapshot_not_found")
    );
    let (s, b) = f.srv.get("/connector/status", a).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (422, "invalid_payload"));
    let (s, b) = f.srv.get("/no/such/thing", a).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (404, "not_found"));
}

#[tokio::test]
async fn sync_runs_move_through_their_states() {
    let f = fixture_with(&[("sync_abandon_after_secs", json!(2))]).await;
    let srv = &f.srv;
    let t = Some(f.token.as_str());
    let (_, b) = srv.post("/connector/sync/start", t, &json!({})).await;
    let run = b["syncRunId"].as_str().unwrap().to_string();

    refused(
        &f,
        "/connector/sync/progress",
        t,
        &json!({"syncRunId": run, "stage": "x", "percent": 101}),
        422,
        "invalid_payload",
    )
    .await;
    refused(
        &f,
        "/connector/sync/progress",
        t,
        &json!({"syncRunId": "nope", "stage": "x"}),
        404,
        "sync_run_not_found",
    )
    .await;
    refused(
        &f,
        "/connector/sync/complete",
        t,
        &json!({"syncRunId": run, "status": "maybe"}),
        422,
        "invalid_payload",
    )
    .await;

    // The run goes quiet: the sweeper marks it abandoned.
    let mut status = String::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (_, s) = srv
            .get("/connector/status?companyId=sharma", Some(&f.admin))
            .await;
        status = s["lastSyncRun"]["status"].as_str().unwrap().to_string();
        if status == "abandoned" {
            break;
        }
    }
    assert_eq!(status, "abandoned");
    refused(
        &f,
        "/connector/sync/progress",
        t,
        &json!({"syncRunId": run, "stage": "late"}),
        409,
        "sync_run_finished",
    )
    .await;
    let mut late = balanced_payload();
    late["syncRunId"] = json!(run);
    refused(&f, "/connector/sync", t, &late, 409, "sync_run_finished").await;
    // A slow connector may still report how it ended.
    let (s, _) = srv
        .post(
            "/connector/sync/complete",
            t,
            &json!({"syncRunId": run, "status": "failed", "error": "Tally closed"}),
        )
        .await;
    assert_eq!(s, 200);
    refused(
        &f,
        "/connector/sync/complete",
        t,
        &json!({"syncRunId": run, "status": "succeeded"}),
        409,
        "sync_run_finished",
    )
    .await;
    let (_, s) = srv
        .get("/connector/status?companyId=sharma", Some(&f.admin))
        .await;
    assert_eq!(s["lastSyncRun"]["status"], "failed");
    assert_eq!(s["lastSyncRun"]["error"], "Tally closed");
    assert!(s["lastSuccessfulSync"].is_null());

    // A new run supersedes one the same connector left running.
    let (_, a) = srv.post("/connector/sync/start", t, &json!({})).await;
    let (_, b) = srv.post("/connector/sync/start", t, &json!({})).await;
    assert_ne!(a["syncRunId"], b["syncRunId"]);
    let superseded = srv.count(&format!(
        "SELECT count(*) FROM integration_sync_runs WHERE id = '{}' AND status = 'abandoned'",
        a["syncRunId"].as_str().unwrap()
    ));
    assert_eq!(superseded, 1);
}

#[tokio::test]
async fn connector_endpoints_are_rate_limited_per_connector() {
    let f = fixture_with(&[
        ("connector_rate_per_sec", json!(1)),
        ("connector_rate_burst", json!(3)),
    ])
    .await;
    let hb = json!({"companyId": "sharma"});
    for _ in 0..3 {
        assert_eq!(
            f.srv
                .post("/connector/heartbeat", Some(&f.token), &hb)
                .await
                .0,
            200
        );
    }
    let res = f
        .srv
        .http
        .post(f.srv.api("/connector/heartbeat"))
        .bearer_auth(&f.token)
        .json(&hb)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "rate_limited");
    // Another connector is not affected.
    let (other, _, _) = f.srv.enrol(&f.admin, "sharma", "pc-2").await;
    assert_eq!(
        f.srv
            .post("/connector/heartbeat", Some(&other), &hb)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn repeated_failed_logins_are_refused_with_429() {
    let f = fixture_with(&[("login_max_failures", json!(3))]).await;
    let wrong = json!({"username": "admin", "password": "not the password"});
    for _ in 0..3 {
        assert_eq!(f.srv.post("/auth/login", None, &wrong).await.0, 401);
    }
    let res = f
        .srv
        .http
        .post(f.srv.api("/auth/login"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    // Even the right password waits out the window now.
    let right = json!({"username": "admin", "password": f.srv.admin_password()});
    assert_eq!(f.srv.post("/auth/login", None, &right).await.0, 429);
}

#[tokio::test]
async fn cors_headers_only_for_the_configured_origin() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_with(
        dir.path(),
        &[("cors_origin", json!("https://cfo.example.in"))],
    )
    .await;
    let ask = |origin: &'static str| {
        let req = srv.http.get(srv.api("/health")).header("Origin", origin);
        async move {
            req.send()
                .await
                .unwrap()
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_string())
        }
    };
    assert_eq!(
        ask("https://cfo.example.in").await.as_deref(),
        Some("https://cfo.example.in")
    );
    assert_eq!(ask("https://evil.example.com").await, None);
    let pre = srv
        .http
        .request(reqwest::Method::OPTIONS, srv.api("/connector/sync"))
        .header("Origin", "https://cfo.example.in")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert!(pre.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("Authorization"));
    srv.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let plain = TestServer::start(dir.path()).await;
    let res = plain
        .http
        .get(plain.api("/health"))
        .header("Origin", "https://cfo.example.in")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    plain.stop().await;
}

#[tokio::test]
async fn a_connector_goes_offline_when_heartbeats_stop() {
    // Interval 1 s and no grace: offline once the last heartbeat is over 2 s old.
    let f = fixture_with(&[
        ("heartbeat_interval_secs", json!(1)),
        ("online_grace_secs", json!(0)),
    ])
    .await;
    let (s, hb) = f
        .srv
        .post("/connector/heartbeat", Some(&f.token), &json!({"companyId": "sharma", "tallyReachable": false, "state": "Tally is not running"}))
        .await;
    assert_eq!((s, hb["nextHeartbeatSeconds"].as_u64()), (200, Some(1)));
    async fn first_connector(f: &Fixture) -> Value {
        let (_, s) = f
            .srv
            .get("/connector/status?companyId=sharma", Some(&f.admin))
            .await;
        s["connectors"][0].clone()
    }
    let c = first_connector(&f).await;
    assert_eq!(c["online"], true);
    assert_eq!(c["agentState"]["tallyReachable"], false);
    assert_eq!(c["agentState"]["state"], "Tally is not running");
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert_eq!(first_connector(&f).await["online"], false);
}
