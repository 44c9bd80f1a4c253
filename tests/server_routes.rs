//! Every mounted route states who may call it, and the server enforces it. The table below is the
//! list of routes: a route added without an entry here fails `every_route_is_in_the_table`, and
//! each entry is checked over real HTTP by calling the route without a token, as staff of
//! another company, and as the admin.

mod common;

use common::TestServer;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Anyone.
    Public,
    /// Any signed-in person.
    User,
    /// An administrator.
    Admin,
    /// A person who may see the company in the path or `companyId`.
    Company,
    /// An enrolled connector (connector token).
    Connector,
    /// Any signed-in person, or an enrolled connector.
    UserOrConnector,
}

use Guard::*;

/// (method, route as mounted, guard, a path that reaches the route for company `sharma`)
const ROUTES: &[(&str, &str, Guard, &str)] = &[
    ("GET", "/api/health", Public, "/api/health"),
    ("GET", "/api/health/tls", Public, "/api/health/tls"),
    ("OPTIONS", "/api/<_..>", Public, "/api/companies"),
    ("POST", "/api/auth/login", Public, "/api/auth/login"),
    ("POST", "/api/companies", Admin, "/api/companies"),
    ("GET", "/api/companies", User, "/api/companies"),
    ("POST", "/api/users", Admin, "/api/users"),
    ("GET", "/api/users", Admin, "/api/users"),
    (
        "POST",
        "/api/users/<id>/disable",
        Admin,
        "/api/users/999/disable",
    ),
    (
        "POST",
        "/api/users/<id>/enable",
        Admin,
        "/api/users/999/enable",
    ),
    (
        "PUT",
        "/api/users/<id>/password",
        Admin,
        "/api/users/999/password",
    ),
    (
        "PUT",
        "/api/users/<id>/companies",
        Admin,
        "/api/users/999/companies",
    ),
    // The company is in the body, checked by the handler: tests/web_admin.rs.
    ("POST", "/api/download-links", User, "/api/download-links"),
    ("POST", "/api/connector/auth", Public, "/api/connector/auth"),
    (
        "POST",
        "/api/connector/token/refresh",
        Public,
        "/api/connector/token/refresh",
    ),
    (
        "POST",
        "/api/connector/heartbeat",
        Connector,
        "/api/connector/heartbeat",
    ),
    (
        "POST",
        "/api/connector/sync/start",
        Connector,
        "/api/connector/sync/start",
    ),
    (
        "POST",
        "/api/connector/sync/progress",
        Connector,
        "/api/connector/sync/progress",
    ),
    (
        "POST",
        "/api/connector/sync/complete",
        Connector,
        "/api/connector/sync/complete",
    ),
    (
        "POST",
        "/api/connector/sync",
        Connector,
        "/api/connector/sync",
    ),
    (
        "POST",
        "/api/connector/sync/part",
        Connector,
        "/api/connector/sync/part",
    ),
    (
        "GET",
        "/api/connector/status",
        Company,
        "/api/connector/status?companyId=sharma",
    ),
    (
        "POST",
        "/api/connectors/<id>/revoke",
        Admin,
        "/api/connectors/nope/revoke",
    ),
    (
        "POST",
        "/api/connectors/<id>/restore",
        Admin,
        "/api/connectors/nope/restore",
    ),
    (
        "POST",
        "/api/connector/enroll",
        Public,
        "/api/connector/enroll",
    ),
    (
        "GET",
        "/api/enrollment-codes",
        Admin,
        "/api/enrollment-codes",
    ),
    (
        "POST",
        "/api/enrollment-codes/<id>/revoke",
        Admin,
        "/api/enrollment-codes/999/revoke",
    ),
    (
        "GET",
        "/api/connector/releases",
        UserOrConnector,
        "/api/connector/releases",
    ),
    (
        "GET",
        "/api/connector/releases/<file>",
        Connector,
        "/api/connector/releases/aicfo-connector-0.1.0-x86_64-pc-windows-gnu.zip",
    ),
    (
        "GET",
        "/api/settings/connector-updates",
        Admin,
        "/api/settings/connector-updates",
    ),
    (
        "PUT",
        "/api/settings/connector-updates",
        Admin,
        "/api/settings/connector-updates",
    ),
    (
        "GET",
        "/api/connectors/<id>/update-policy",
        Admin,
        "/api/connectors/nope/update-policy",
    ),
    (
        "PUT",
        "/api/connectors/<id>/update-policy",
        Admin,
        "/api/connectors/nope/update-policy",
    ),
    (
        "GET",
        "/api/settings/sync-schedule",
        Admin,
        "/api/settings/sync-schedule",
    ),
    (
        "PUT",
        "/api/settings/sync-schedule",
        Admin,
        "/api/settings/sync-schedule",
    ),
    (
        "GET",
        "/api/companies/<id>/sync-schedule",
        Admin,
        "/api/companies/sharma/sync-schedule",
    ),
    (
        "PUT",
        "/api/companies/<id>/sync-schedule",
        Admin,
        "/api/companies/sharma/sync-schedule",
    ),
    (
        "DELETE",
        "/api/companies/<id>/sync-schedule",
        Admin,
        "/api/companies/sharma/sync-schedule",
    ),
    (
        "POST",
        "/api/companies/<_id>/sync-requests",
        Company,
        "/api/companies/sharma/sync-requests",
    ),
    (
        "GET",
        "/api/companies/<_id>/snapshots",
        Company,
        "/api/companies/sharma/snapshots",
    ),
    (
        "GET",
        "/api/companies/<_id>/snapshots/<month>?<format>",
        Company,
        "/api/companies/sharma/snapshots/2026-03",
    ),
    ("GET", "/api/overview", User, "/api/overview"),
    (
        "GET",
        "/api/companies/<_id>/reports/<month>/trial-balance?<compare>&<format>",
        Company,
        "/api/companies/sharma/reports/2026-03/trial-balance",
    ),
    (
        "GET",
        "/api/companies/<_id>/reports/<month>/profit-and-loss?<compare>&<format>",
        Company,
        "/api/companies/sharma/reports/2026-03/profit-and-loss",
    ),
    (
        "GET",
        "/api/companies/<_id>/reports/<month>/balance-sheet?<compare>&<format>",
        Company,
        "/api/companies/sharma/reports/2026-03/balance-sheet",
    ),
    (
        "GET",
        "/api/companies/<_id>/series?<ledger>&<group>",
        Company,
        "/api/companies/sharma/series?group=Current%20Assets",
    ),
    (
        "GET",
        "/api/companies/<_id>/restatements?<limit>&<before>",
        Company,
        "/api/companies/sharma/restatements",
    ),
    (
        "GET",
        "/api/companies/<_id>/sync-runs?<limit>",
        Company,
        "/api/companies/sharma/sync-runs",
    ),
    (
        "GET",
        "/api/companies/<_id>/sync-runs/<run_id>",
        Company,
        "/api/companies/sharma/sync-runs/no-such-run",
    ),
    ("GET", "/", Public, "/"),
    ("GET", "/<path..>", Public, "/no-such-file.txt"),
    ("GET", "/download/connector", Public, "/download/connector"),
    // Internal: where the JSON-only fairing sends an API write whose body is not JSON; it only
    // ever answers 415, to anyone.
    (
        "POST",
        "/__aicfo/unsupported-media-type",
        Public,
        "/__aicfo/unsupported-media-type",
    ),
];

#[test]
fn every_route_is_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let rocket = aicfo::server::build(common::figment(dir.path(), &[])).unwrap();
    let mut mounted: Vec<String> = rocket
        .routes()
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    let mut listed: Vec<String> = ROUTES
        .iter()
        .map(|(m, u, _, _)| format!("{m} {u}"))
        .collect();
    mounted.sort();
    listed.sort();
    assert_eq!(
        mounted, listed,
        "every route needs an entry in ROUTES saying which guard protects it"
    );
}

async fn call(srv: &TestServer, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let url = format!("{}{path}", srv.url);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = srv.http.request(method.clone(), url);
    if method == reqwest::Method::POST || method == reqwest::Method::PUT {
        req = req.json(&json!({}));
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn refused(status: u16) -> bool {
    status == 401 || status == 403
}

#[tokio::test]
async fn each_route_refuses_who_its_guard_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma", "sharma").await;
    srv.create_company(&admin, "Other", "other").await;
    let (s, b) = srv
        .post(
            "/users",
            Some(&admin),
            &json!({"username": "meera", "password": "staff-password-1", "role": "staff", "companyIds": ["other"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let staff = srv.login("meera", "staff-password-1").await;
    let (s, b) = srv
        .post(
            "/users",
            Some(&admin),
            &json!({"username": "ravi", "password": "staff-password-2", "role": "staff", "companyIds": ["sharma"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let own_staff = srv.login("ravi", "staff-password-2").await;

    for &(method, route, guard, path) in ROUTES {
        let what = format!("{method} {route} ({guard:?}) at {path}");
        let (anon, anon_body) = call(&srv, method, path, None).await;
        let (other, other_body) = call(&srv, method, path, Some(&staff)).await;
        let (by_admin, admin_body) = call(&srv, method, path, Some(&admin)).await;
        match guard {
            Public => {
                assert!(
                    !refused(anon),
                    "{what}: anyone may call it: {anon} {anon_body}"
                );
            }
            User | UserOrConnector => {
                assert_eq!(anon, 401, "{what}: {anon_body}");
                assert!(!refused(other), "{what}: staff may call it: {other_body}");
            }
            Admin => {
                assert_eq!(anon, 401, "{what}: {anon_body}");
                assert_eq!(other, 403, "{what}: {other_body}");
                assert_eq!(other_body["error"], "admin_only", "{what}");
                assert!(!refused(by_admin), "{what}: {admin_body}");
            }
            Company => {
                assert_eq!(anon, 401, "{what}: {anon_body}");
                assert_eq!(other, 403, "{what}: {other_body}");
                assert_eq!(other_body["error"], "company_not_assigned", "{what}");
                assert!(!refused(by_admin), "{what}: {admin_body}");
                let (own, own_body) = call(&srv, method, path, Some(&own_staff)).await;
                assert!(!refused(own), "{what}: the company's own staff: {own_body}");
            }
            Connector => {
                assert_eq!(anon, 401, "{what}: {anon_body}");
                assert_eq!(
                    other, 401,
                    "{what}: a user token is no connector token: {other_body}"
                );
                assert_eq!(by_admin, 401, "{what}: {admin_body}");
            }
        }
    }
    srv.stop().await;
}
