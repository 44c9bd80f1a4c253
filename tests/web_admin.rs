//! The administrator's API behind the page's admin screens, over real HTTP against the real
//! appliance: disabling, enabling and resetting users, giving staff their companies, signed
//! download links, and a sync run's detail.

mod common;

use std::io::Write;

use common::TestServer;
use serde_json::{json, Value};

async fn put(srv: &TestServer, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let res = srv
        .http
        .put(srv.api(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn login_status(srv: &TestServer, username: &str, password: &str) -> (u16, Value) {
    srv.post(
        "/auth/login",
        None,
        &json!({"username": username, "password": password}),
    )
    .await
}

async fn user_id(srv: &TestServer, admin: &str, username: &str) -> i64 {
    let (s, users) = srv.get("/users", Some(admin)).await;
    assert_eq!(s, 200, "{users}");
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("no user {username} in {users}"))["id"]
        .as_i64()
        .unwrap()
}

async fn setup() -> (tempfile::TempDir, TestServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    srv.create_company(&admin, "Other Traders", "other").await;
    (dir, srv, admin)
}

#[tokio::test]
async fn a_disabled_user_is_locked_out_at_once_and_enabled_signs_in_afresh() {
    let (_dir, srv, admin) = setup().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let id = user_id(&srv, &admin, "ravi").await;

    let (s, b) = srv
        .post(&format!("/users/{id}/disable"), Some(&admin), &json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["disabled"], true);
    let (s, b) = srv.get("/companies", Some(&ravi)).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("user_disabled")),
        "{b}"
    );
    let (s, b) = login_status(&srv, "ravi", "ravi-password-1").await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["error"], "user_disabled");
    assert!(b["message"].as_str().unwrap().contains("disabled"), "{b}");
    // A wrong password still gets the plain refusal: the account's state is not told to guessers.
    let (_, b) = login_status(&srv, "ravi", "wrong-password-1").await;
    assert_eq!(b["error"], "invalid_credentials");
    let (_, users) = srv.get("/users", Some(&admin)).await;
    let listed = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(listed["disabled"], true, "{listed}");

    // Enabled again: signing in works, the token from before does not come back.
    let (s, b) = srv
        .post(&format!("/users/{id}/enable"), Some(&admin), &json!({}))
        .await;
    assert_eq!((s, &b["disabled"]), (200, &json!(false)), "{b}");
    let (s, b) = srv.get("/companies", Some(&ravi)).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("token_superseded")),
        "{b}"
    );
    let fresh = srv.login("ravi", "ravi-password-1").await;
    let (s, _) = srv.get("/companies", Some(&fresh)).await;
    assert_eq!(s, 200);
    srv.stop().await;
}

#[tokio::test]
async fn a_disabled_users_token_enrols_no_connector() {
    let (_dir, srv, admin) = setup().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let id = user_id(&srv, &admin, "ravi").await;
    srv.post(&format!("/users/{id}/disable"), Some(&admin), &json!({}))
        .await;
    let (s, b) = srv
        .post(
            "/connector/auth",
            None,
            &json!({"companyId": "sharma", "deviceId": "pc-1", "deviceName": "PC",
                    "os": "Windows 10", "appVersion": "1.0.0", "userJwt": ravi}),
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("user_disabled")),
        "{b}"
    );
    assert_eq!(srv.count("SELECT COUNT(*) FROM connector_clients"), 0);
    srv.stop().await;
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_disabled() {
    let (_dir, srv, admin) = setup().await;
    let id = user_id(&srv, &admin, "admin").await;
    let before = srv.fingerprint();
    let (s, b) = srv
        .post(&format!("/users/{id}/disable"), Some(&admin), &json!({}))
        .await;
    assert_eq!((s, b["error"].as_str()), (409, Some("last_admin")), "{b}");
    assert_eq!(
        srv.fingerprint(),
        before,
        "a refused request changes nothing"
    );

    // With a second admin, the first may be disabled; then the second is the last.
    let (s, b) = srv
        .post(
            "/users",
            Some(&admin),
            &json!({"username": "priya", "password": "admin-password-2", "role": "admin"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let priya = srv.login("priya", "admin-password-2").await;
    let (s, b) = srv
        .post(&format!("/users/{id}/disable"), Some(&priya), &json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let priya_id = user_id(&srv, &priya, "priya").await;
    let (s, b) = srv
        .post(
            &format!("/users/{priya_id}/disable"),
            Some(&priya),
            &json!({}),
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (409, Some("last_admin")), "{b}");
    srv.stop().await;
}

#[tokio::test]
async fn a_password_reset_ends_the_old_sessions() {
    let (_dir, srv, admin) = setup().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let id = user_id(&srv, &admin, "ravi").await;

    let (s, b) = put(
        &srv,
        &format!("/users/{id}/password"),
        &admin,
        &json!({"password": "short"}),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["details"][0]["path"], "password", "{b}");
    let long = "x".repeat(1025);
    let (s, _) = put(
        &srv,
        &format!("/users/{id}/password"),
        &admin,
        &json!({"password": long}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = srv.get("/companies", Some(&ravi)).await;
    assert_eq!(s, 200, "a refused reset changes nothing");

    let (s, b) = put(
        &srv,
        &format!("/users/{id}/password"),
        &admin,
        &json!({"password": "new-password-2"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = srv.get("/companies", Some(&ravi)).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("token_superseded")),
        "{b}"
    );
    let (s, _) = login_status(&srv, "ravi", "ravi-password-1").await;
    assert_eq!(s, 401, "the old password no longer works");
    srv.login("ravi", "new-password-2").await;

    let (s, b) = put(
        &srv,
        "/users/999/password",
        &admin,
        &json!({"password": "new-password-2"}),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (404, Some("user_not_found")),
        "{b}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn an_admin_gives_staff_their_companies() {
    let (_dir, srv, admin) = setup().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let id = user_id(&srv, &admin, "ravi").await;

    let before = srv.fingerprint();
    let (s, b) = put(
        &srv,
        &format!("/users/{id}/companies"),
        &admin,
        &json!({"companyIds": ["other", "nope"]}),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["details"][0]["path"], "companyIds[1]", "{b}");
    assert!(
        b["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`nope`"),
        "{b}"
    );
    assert_eq!(srv.fingerprint(), before);

    let (s, b) = put(
        &srv,
        &format!("/users/{id}/companies"),
        &admin,
        &json!({"companyIds": ["other"]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["companyIds"], json!(["other"]));
    let (_, mine) = srv.get("/companies", Some(&ravi)).await;
    let ids: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["other"]);
    let (s, _) = srv.get("/companies/sharma/snapshots", Some(&ravi)).await;
    assert_eq!(s, 403, "Sharma is no longer Ravi's");

    // Staff cannot do any of this, even to themselves.
    let (s, b) = put(
        &srv,
        &format!("/users/{id}/companies"),
        &ravi,
        &json!({"companyIds": ["sharma"]}),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (403, Some("admin_only")), "{b}");
    let (s, _) = srv
        .post(&format!("/users/{id}/disable"), Some(&ravi), &json!({}))
        .await;
    assert_eq!(s, 403);
    let (s, _) = put(
        &srv,
        &format!("/users/{id}/password"),
        &ravi,
        &json!({"password": "mine-now-123"}),
    )
    .await;
    assert_eq!(s, 403);

    let admin_id = user_id(&srv, &admin, "admin").await;
    let (s, b) = put(
        &srv,
        &format!("/users/{admin_id}/companies"),
        &admin,
        &json!({"companyIds": []}),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (409, Some("user_is_admin")),
        "{b}"
    );
    srv.stop().await;
}

/// A development connector package, as packaging/build-windows.sh leaves it.
fn package(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("AICFOConnector.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let files: [(&str, &[u8]); 2] = [
        ("AICFOConnector.exe", b"MZ not really a program"),
        ("config.json", br#"{"api_url": "", "company_id": ""}"#),
    ];
    for (name, bytes) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

async fn fetch(srv: &TestServer, url: &str) -> (u16, Vec<u8>) {
    let res = srv
        .http
        .get(format!("{}{url}", srv.url))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

fn error_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).expect("a JSON error");
    v["error"].as_str().unwrap().to_string()
}

async fn with_package() -> (tempfile::TempDir, TestServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path());
    let srv = TestServer::start_with(
        dir.path(),
        &[
            ("connector_package", json!(pkg)),
            ("connector_releases", json!(dir.path().join("no-releases"))),
        ],
    )
    .await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    srv.create_company(&admin, "Other Traders", "other").await;
    (dir, srv, admin)
}

#[tokio::test]
async fn a_download_link_works_without_a_token_for_its_company_only() {
    let (_dir, srv, admin) = with_package().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let (s, link) = srv
        .post(
            "/download-links",
            Some(&ravi),
            &json!({"companyId": "sharma", "target": "windows"}),
        )
        .await;
    assert_eq!(s, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with("/download/connector?companyId=sharma&target=windows&link="),
        "{url}"
    );
    assert!(link["expiresAt"].as_str().unwrap().ends_with('Z'), "{link}");

    let (s, zip) = fetch(&srv, url).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&zip));
    let config = common::config_in_zip(&zip);
    assert_eq!(config["company_id"], "sharma");
    assert!(config["enrollment_code"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    let (_, codes) = srv.get("/enrollment-codes", Some(&admin)).await;
    assert_eq!(codes[0]["companyId"], "sharma", "{codes}");

    // It works once: a second use mints no second enrolment code.
    let (s, body) = fetch(&srv, url).await;
    assert_eq!((s, error_of(&body)), (401, "download_link_used".into()));
    let (_, codes) = srv.get("/enrollment-codes", Some(&admin)).await;
    assert_eq!(codes.as_array().map(Vec::len), Some(1), "{codes}");

    // Pointed at another company or target, or altered, it does nothing.
    let other = url.replace("companyId=sharma", "companyId=other");
    let (s, body) = fetch(&srv, &other).await;
    assert_eq!((s, error_of(&body)), (403, "download_link_mismatch".into()));
    let linux = url.replace("target=windows", "target=linux");
    let (s, body) = fetch(&srv, &linux).await;
    assert_eq!((s, error_of(&body)), (403, "download_link_mismatch".into()));
    let mut tampered = url.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (s, body) = fetch(&srv, &tampered).await;
    assert_eq!((s, error_of(&body)), (401, "invalid_download_link".into()));

    // Staff get no link for a company not theirs.
    let (s, b) = srv
        .post(
            "/download-links",
            Some(&ravi),
            &json!({"companyId": "other", "target": "windows"}),
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (403, Some("company_not_assigned")),
        "{b}"
    );
    let (s, b) = srv
        .post(
            "/download-links",
            Some(&admin),
            &json!({"companyId": "sharma", "target": "mac"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, _) = srv
        .post("/download-links", None, &json!({"companyId": "sharma"}))
        .await;
    assert_eq!(s, 401);

    // The link dies with its maker's access.
    let id = user_id(&srv, &admin, "ravi").await;
    put(
        &srv,
        &format!("/users/{id}/companies"),
        &admin,
        &json!({"companyIds": []}),
    )
    .await;
    let (s, body) = fetch(&srv, url).await;
    assert_eq!((s, error_of(&body)), (403, "company_not_assigned".into()));
    srv.stop().await;
}

#[tokio::test]
async fn an_expired_download_link_is_refused() {
    let (_dir, srv, _admin) = with_package().await;
    let secrets = aicfo::server::secrets::Secrets::load_or_create(&srv.data_dir).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"sub": 1, "generation": 0, "cid": "sharma", "target": "windows",
                        "typ": "download", "iat": now - 600, "exp": now - 300,
                        "jti": "an-old-link"});
    let link = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secrets.jwt),
    )
    .unwrap();
    let url = format!("/download/connector?companyId=sharma&target=windows&link={link}");
    let (s, body) = fetch(&srv, &url).await;
    assert_eq!((s, error_of(&body)), (401, "download_link_expired".into()));
    srv.stop().await;
}

#[tokio::test]
async fn a_download_link_for_an_over_long_company_id_is_refused_without_repeating_it() {
    let (_dir, srv, admin) = with_package().await;
    let body = json!({"companyId": "s".repeat(100_000), "target": "windows"});
    let (s, b) = srv.post("/download-links", Some(&admin), &body).await;
    assert_eq!(
        (s, &b["details"][0]["path"]),
        (422, &json!("companyId")),
        "{b}"
    );
    assert!(
        b.to_string().len() < 1000,
        "a short answer: {} bytes",
        b.to_string().len()
    );
    srv.stop().await;
}

/// The enrolment code in a connector ZIP that `token`'s user downloads for `company`.
async fn code_downloaded_by(srv: &TestServer, token: &str, company: &str) -> String {
    let body = json!({"companyId": company, "target": "windows"});
    let (s, link) = srv.post("/download-links", Some(token), &body).await;
    assert_eq!(s, 200, "{link}");
    let (s, zip) = fetch(srv, link["url"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&zip));
    common::config_in_zip(&zip)["enrollment_code"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn enrol_with(srv: &TestServer, code: &str, device: &str) -> (u16, Value) {
    let body = json!({"enrollmentCode": code, "deviceId": device, "deviceName": device,
                      "os": "Windows 10", "appVersion": "0.1.0"});
    srv.post("/connector/enroll", None, &body).await
}

#[tokio::test]
async fn a_password_reset_revokes_the_enrolment_codes_the_user_made_and_nobody_used() {
    let (_dir, srv, admin) = with_package().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let used = code_downloaded_by(&srv, &ravi, "sharma").await;
    let unused = code_downloaded_by(&srv, &ravi, "sharma").await;
    let admins = code_downloaded_by(&srv, &admin, "sharma").await;
    let (s, b) = enrol_with(&srv, &used, "pc-1").await;
    assert_eq!(s, 200, "{b}");

    let id = user_id(&srv, &admin, "ravi").await;
    let reset = json!({"password": "new-password-2"});
    let (s, b) = put(&srv, &format!("/users/{id}/password"), &admin, &reset).await;
    assert_eq!(s, 200, "{b}");

    let (s, b) = enrol_with(&srv, &unused, "pc-2").await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("enrollment_code_invalid")),
        "{b}"
    );
    let (_, codes) = srv.get("/enrollment-codes", Some(&admin)).await;
    let states: Vec<(&str, &str)> = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["createdBy"].as_str().unwrap(),
                c["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("admin", "unused"), ("ravi", "revoked"), ("ravi", "used")],
        "{codes}"
    );
    // Another user's code is untouched.
    let (s, b) = enrol_with(&srv, &admins, "pc-3").await;
    assert_eq!(s, 200, "{b}");
    srv.stop().await;
}

#[tokio::test]
async fn a_run_shows_its_events_and_what_it_stored() {
    let (_dir, srv, admin) = setup().await;
    let (token, _, _) = srv.enrol(&admin, "sharma", "pc-sharma").await;
    let (_, started) = srv
        .post(
            "/connector/sync/start",
            Some(&token),
            &json!({"trigger": "manual"}),
        )
        .await;
    let run = started["syncRunId"].as_str().unwrap().to_string();
    srv.post(
        "/connector/sync/progress",
        Some(&token),
        &json!({"syncRunId": run, "stage": "reading ledgers", "percent": 40, "message": "2 of 5 months"}),
    )
    .await;
    let (s, detail) = srv
        .get(&format!("/companies/sharma/sync-runs/{run}"), Some(&admin))
        .await;
    assert_eq!(s, 200, "{detail}");
    assert_eq!(detail["status"], "running");
    assert_eq!(detail["percent"], 40);
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["started", "progress"]);
    assert_eq!(detail["events"][1]["message"], "2 of 5 months");

    let mut payload = common::balanced_payload();
    payload["syncRunId"] = json!(run);
    let (s, b) = srv.post("/connector/sync", Some(&token), &payload).await;
    assert_eq!(s, 200, "{b}");
    srv.post(
        "/connector/sync/complete",
        Some(&token),
        &json!({"syncRunId": run, "status": "succeeded"}),
    )
    .await;
    let (_, detail) = srv
        .get(&format!("/companies/sharma/sync-runs/{run}"), Some(&admin))
        .await;
    assert_eq!(detail["status"], "succeeded");
    let ingestions = detail["ingestions"].as_array().unwrap();
    assert_eq!(ingestions.len(), 1, "{detail}");
    assert_eq!(ingestions[0]["outcome"], "stored");
    assert!(ingestions[0]["ledgers"].as_i64().unwrap() > 0, "{detail}");

    // Another company's staff cannot read it, and a run of another company is not found.
    let meera = srv
        .create_staff(&admin, "meera", "meera-password-1", &["other"])
        .await;
    let (s, _) = srv
        .get(&format!("/companies/sharma/sync-runs/{run}"), Some(&meera))
        .await;
    assert_eq!(s, 403);
    let (s, b) = srv
        .get(&format!("/companies/other/sync-runs/{run}"), Some(&meera))
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (404, Some("sync_run_not_found")),
        "{b}"
    );
    srv.stop().await;
}

async fn heartbeat(srv: &TestServer, token: &str) -> u16 {
    srv.post(
        "/connector/heartbeat",
        Some(token),
        &json!({"companyId": "sharma", "tallyReachable": true, "companyOpen": true}),
    )
    .await
    .0
}

/// Review L9: a reset (often after a suspected compromise) leaves the connectors the user
/// enrolled working, and its answer lists them (device, company, when) so the admin can revoke
/// any with the existing call; revoked ones and other users' are not listed.
#[tokio::test]
async fn a_password_reset_lists_the_connectors_the_user_enrolled_that_still_work() {
    let (_dir, srv, admin) = setup().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let (kept, _, kept_id) = srv.enrol(&ravi, "sharma", "pc-ravi").await;
    let (_, _, old_id) = srv.enrol(&ravi, "sharma", "pc-old").await;
    let (s, b) = srv
        .post(
            &format!("/connectors/{old_id}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    srv.enrol(&admin, "sharma", "pc-admin").await;

    let id = user_id(&srv, &admin, "ravi").await;
    let reset = json!({"password": "new-password-2"});
    let (s, b) = put(&srv, &format!("/users/{id}/password"), &admin, &reset).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["username"], "ravi", "still the user: {b}");
    let listed = b["enrolledConnectors"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{b}");
    let k = &listed[0];
    assert_eq!(k["connectorId"], kept_id.as_str());
    assert_eq!(k["companyId"], "sharma");
    assert_eq!(k["companyName"], "Sharma & Sons");
    assert_eq!(k["deviceId"], "pc-ravi");
    assert_eq!(k["deviceName"], "Test Connector");
    assert!(k["firstSeen"].as_str().unwrap().ends_with('Z'), "{k}");
    assert_eq!(
        heartbeat(&srv, &kept).await,
        200,
        "the reset does not stop it"
    );

    // The admin revokes it with the existing call; a later reset lists nothing.
    let (s, b) = srv
        .post(
            &format!("/connectors/{kept_id}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(heartbeat(&srv, &kept).await, 401);
    let (s, b) = put(&srv, &format!("/users/{id}/password"), &admin, &reset).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["enrolledConnectors"], json!([]), "{b}");
    srv.stop().await;
}

#[tokio::test]
async fn a_device_enrolled_again_is_listed_from_its_new_enrolment_not_its_first_sight() {
    let (_dir, srv, admin) = setup().await;
    let ravi = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["sharma"])
        .await;
    let (_, _, id) = srv.enrol(&ravi, "sharma", "pc-ravi").await;
    // The device was first enrolled years ago...
    let long_ago: i64 = 1_577_836_800_000; // 2020-01-01T00:00:00Z
    let changed = srv
        .db()
        .execute(
            "UPDATE connector_clients SET first_seen = ?1, registered_at = ?1 WHERE id = ?2",
            rusqlite::params![long_ago, id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    // ...and enrolled again now (as whoever holds ravi's password could).
    let (_, _, again) = srv.enrol(&ravi, "sharma", "pc-ravi").await;
    assert_eq!(again, id, "the same connector");

    let user = user_id(&srv, &admin, "ravi").await;
    let reset = json!({"password": "new-password-2"});
    let (s, b) = put(&srv, &format!("/users/{user}/password"), &admin, &reset).await;
    assert_eq!(s, 200, "{b}");
    let k = &b["enrolledConnectors"][0];
    assert_eq!(k["firstSeen"], "2020-01-01T00:00:00.000Z", "{k}");
    let enrolled = k["enrolledAt"].as_str().unwrap();
    assert!(
        enrolled > "2021",
        "listed from the enrolment just made, not 2020: {k}"
    );
    assert_ne!(k["enrolledAt"], k["firstSeen"], "{k}");
    srv.stop().await;
}
