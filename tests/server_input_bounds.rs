//! Small holes of issue 8 (item 10), each against the real server: over-long URIs get the
//! contract's JSON, staff cannot tell which company ids exist, heartbeat intervals are bounded,
//! names may not be huge nor hide characters, device ids are safe, and free text is bounded.
//! Every refusal names the field and changes nothing.

mod common;

use common::{balanced_payload, TestServer};
use serde_json::{json, Value};

struct Office {
    srv: TestServer,
    admin: String,
    staff: String,
    connector: String,
    _dir: tempfile::TempDir,
}

async fn office() -> Office {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma Traders", "sharma").await;
    srv.create_company(&admin, "Other Firm", "other").await;
    let staff = srv
        .create_staff(&admin, "ravi", "staff-password-1", &["sharma"])
        .await;
    let (connector, _, _) = srv.enrol(&staff, "sharma", "pc-1").await;
    Office {
        srv,
        admin,
        staff,
        connector,
        _dir: dir,
    }
}

/// Posts `body`, expects a 422 whose details name `path`, and that nothing changed.
async fn refused_at(o: &Office, route: &str, token: Option<&str>, body: &Value, path: &str) {
    let before = o.srv.fingerprint();
    let (s, b) = o.srv.post(route, token, body).await;
    assert_eq!(s, 422, "{route} {path}: {b}");
    assert_eq!(b["error"], "invalid_payload", "{b}");
    let paths: Vec<&str> = b["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert!(paths.contains(&path), "{route}: {path} not in {paths:?}");
    assert!(
        b.to_string().len() < 20_000,
        "the refusal does not echo the text back"
    );
    assert_eq!(o.srv.fingerprint(), before, "{route} changed the database");
}

#[tokio::test]
async fn an_over_long_uri_gets_the_contracts_json_414_and_changes_nothing() {
    let o = office().await;
    let long = "x".repeat(10_000);
    let before = o.srv.fingerprint();
    for (method, path) in [
        ("GET", format!("/api/companies?q={long}")),
        ("POST", format!("/api/companies?q={long}")),
        ("GET", format!("/{long}")),
    ] {
        let req = match method {
            "GET" => o.srv.http.get(format!("{}{path}", o.srv.url)),
            _ => o
                .srv
                .http
                .post(format!("{}{path}", o.srv.url))
                .json(&json!({"name": "Sneaky", "id": "sneaky"})),
        };
        let res = req.bearer_auth(&o.admin).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 414, "{method}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "uri_too_long", "{body}");
        assert!(body["details"].is_array(), "{body}");
    }
    assert_eq!(o.srv.fingerprint(), before);
    // Past 65,534 bytes hyper answers 414 itself, before Rocket sees the request: the status
    // holds, the body is hyper's (empty); see src/server/uri_limit.rs.
    // (reqwest refuses such a URI itself, hence a raw request.)
    let status_line = raw_request_status(&o.srv.url, &"x".repeat(70_000)).await;
    assert!(status_line.starts_with("HTTP/1.1 414"), "{status_line}");
    o.srv.stop().await;
}

/// The status line the server answers `GET /api/health?q=<query>` with, over a bare socket.
async fn raw_request_status(url: &str, query: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /api/health?q={query} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = socket.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn staff_cannot_tell_which_company_ids_exist() {
    let o = office().await;
    let staff = Some(o.staff.as_str());
    for route in [
        "/companies/{}/snapshots",
        "/companies/{}/snapshots/2026-03",
        "/connector/status?companyId={}",
    ] {
        let (s1, b1) = o.srv.get(&route.replace("{}", "other"), staff).await;
        let (s2, b2) = o.srv.get(&route.replace("{}", "ghost"), staff).await;
        assert_eq!(
            (s1, &b1["error"]),
            (403, &json!("company_not_assigned")),
            "{route}"
        );
        assert_eq!((s2, &b2["error"]), (s1, &b1["error"]), "{route}: {b2}");
    }
    let enrol =
        |company: &str| json!({"companyId": company, "deviceId": "pc-9", "userJwt": o.staff});
    let (s1, b1) = o.srv.post("/connector/auth", None, &enrol("other")).await;
    let (s2, b2) = o.srv.post("/connector/auth", None, &enrol("ghost")).await;
    assert_eq!((s1, &b1["error"]), (s2, &b2["error"]), "{b1} {b2}");
    assert_eq!(s1, 403);
    // An admin sees every company, so is told plainly that one does not exist.
    let (s, b) = o
        .srv
        .get("/companies/ghost/snapshots", Some(&o.admin))
        .await;
    assert_eq!((s, &b["error"]), (404, &json!("company_not_found")));
    o.srv.stop().await;
}

#[tokio::test]
async fn a_heartbeat_interval_is_bounded() {
    let o = office().await;
    let ct = Some(o.connector.as_str());
    for bad in [0u64, 4, 3601, 4_294_967_295] {
        let hb = json!({"companyId": "sharma", "intervalSeconds": bad});
        refused_at(&o, "/connector/heartbeat", ct, &hb, "intervalSeconds").await;
    }
    for good in [5, 3600] {
        let hb = json!({"companyId": "sharma", "intervalSeconds": good});
        assert_eq!(o.srv.post("/connector/heartbeat", ct, &hb).await.0, 200);
    }
    o.srv.stop().await;
}

#[tokio::test]
async fn names_that_are_huge_or_hide_characters_are_refused() {
    let o = office().await;
    let ct = Some(o.connector.as_str());
    let cases: [(&str, Value, &str); 6] = [
        (
            "/ledgers/0/name",
            json!("A".repeat(513)),
            "chartOfAccounts.ledgers[0].name",
        ),
        (
            "/groups/1/name",
            json!("Mumbai\u{0}Debtors"),
            "chartOfAccounts.groups[1].name",
        ),
        (
            "/ledgers/1/name",
            json!("Sales\u{202E}selaS"),
            "chartOfAccounts.ledgers[1].name",
        ),
        (
            "/ledgers/2/name",
            json!("\u{2066}Capital\u{2069}"),
            "chartOfAccounts.ledgers[2].name",
        ),
        (
            "/groups/0/name",
            json!("\u{4} Sundry Debtors"),
            "chartOfAccounts.groups[0].name",
        ),
        (
            "/ledgers/3/name",
            json!("Cash\nin hand"),
            "chartOfAccounts.ledgers[3].name",
        ),
    ];
    for (pointer, value, path) in cases {
        let mut p = balanced_payload();
        *p["chartOfAccounts"].pointer_mut(pointer).unwrap() = value;
        refused_at(&o, "/connector/sync", ct, &p, path).await;
    }
    let mut p = balanced_payload();
    p["chartOfAccounts"]["groups"][1]["parent"] = json!("x".repeat(600));
    refused_at(
        &o,
        "/connector/sync",
        ct,
        &p,
        "chartOfAccounts.groups[1].parent",
    )
    .await;

    // Tally's own marker before `Primary`, and a 512-character Indic name, pass.
    let mut p = balanced_payload();
    assert_eq!(p["chartOfAccounts"]["groups"][2]["parent"], "\u{4} Primary");
    p["chartOfAccounts"]["ledgers"][0]["name"] = json!("श".repeat(512));
    let (s, b) = o.srv.post("/connector/sync", ct, &p).await;
    assert_eq!(s, 200, "{b}");
    o.srv.stop().await;
}

#[tokio::test]
async fn device_ids_that_are_not_safe_names_are_refused() {
    let o = office().await;
    for bad in [
        "pc\u{0}1",
        "../pc-1",
        "..",
        "office/pc",
        "office\\pc",
        &"d".repeat(201),
    ] {
        let body = json!({"companyId": "sharma", "deviceId": bad, "userJwt": o.staff});
        refused_at(&o, "/connector/auth", None, &body, "deviceId").await;
    }
    o.srv.stop().await;
}

#[tokio::test]
async fn every_other_free_text_field_is_bounded() {
    let o = office().await;
    let ct = Some(o.connector.as_str());
    let long = "t".repeat(5000);
    let (s, run) = o
        .srv
        .post("/connector/sync/start", ct, &json!({"companyId": "sharma"}))
        .await;
    assert_eq!(s, 200, "{run}");
    let run = run["syncRunId"].as_str().unwrap();
    let cases: Vec<(&str, Option<&str>, Value, &str)> = vec![
        (
            "/connector/auth",
            None,
            json!({"companyId": "sharma", "deviceId": "pc-2", "deviceName": long, "userJwt": o.staff}),
            "deviceName",
        ),
        (
            "/connector/auth",
            None,
            json!({"companyId": "sharma", "deviceId": "pc-2", "os": long, "userJwt": o.staff}),
            "os",
        ),
        (
            "/connector/auth",
            None,
            json!({"companyId": "sharma", "deviceId": "pc-2", "appVersion": long, "userJwt": o.staff}),
            "appVersion",
        ),
        (
            "/connector/token/refresh",
            None,
            json!({"refreshToken": long}),
            "refreshToken",
        ),
        ("/connector/heartbeat", ct, json!({"state": long}), "state"),
        (
            "/connector/heartbeat",
            ct,
            json!({"tallyCompany": "Sharma\u{202E}"}),
            "tallyCompany",
        ),
        (
            "/connector/heartbeat",
            ct,
            json!({"lastSync": {"at": "now", "outcome": long}}),
            "lastSync.outcome",
        ),
        (
            "/connector/heartbeat",
            ct,
            json!({"companyId": long}),
            "companyId",
        ),
        (
            "/connector/sync/start",
            ct,
            json!({"trigger": long}),
            "trigger",
        ),
        (
            "/connector/sync/progress",
            ct,
            json!({"syncRunId": run, "stage": long}),
            "stage",
        ),
        (
            "/connector/sync/progress",
            ct,
            json!({"syncRunId": run, "stage": "reading", "message": long}),
            "message",
        ),
        (
            "/connector/sync/complete",
            ct,
            json!({"syncRunId": run, "status": "failed", "error": long}),
            "error",
        ),
        (
            "/connector/sync/complete",
            ct,
            json!({"syncRunId": long, "status": "failed"}),
            "syncRunId",
        ),
    ];
    for (route, token, body, path) in cases {
        refused_at(&o, route, token, &body, path).await;
    }
    let mut p = balanced_payload();
    p["chartOfAccounts"]["source"] = json!(long);
    p["chartOfAccounts"]["ledgers"][0]["guid"] = json!(long);
    refused_at(&o, "/connector/sync", ct, &p, "chartOfAccounts.source").await;
    refused_at(
        &o,
        "/connector/sync",
        ct,
        &p,
        "chartOfAccounts.ledgers[0].guid",
    )
    .await;
    o.srv.stop().await;
}

/// A balance near the limit of a 64-bit integer would make a later month's change, or a
/// report's sum, overflow: one hostile connector could then break the company's reports and the
/// overview every user reads. No real books hold ₹10^15 in one ledger.
#[tokio::test]
async fn a_ledger_balance_beyond_any_books_is_refused() {
    let o = office().await;
    let mut body = balanced_payload();
    let items = &mut body["chartOfAccounts"]["balances"]["current"]["items"];
    // ₹9.2 × 10^16: fits in paise as an i64, but is beyond any books.
    items[0]["balance"] = json!(92_233_720_368_547_758i64);
    items[3]["balance"] = json!(-92_233_720_368_547_758i64);
    refused_at(
        &o,
        "/connector/sync",
        Some(&o.connector),
        &body,
        "chartOfAccounts.balances.current.items[0].balance",
    )
    .await;
    o.srv.stop().await;
}
