//! Limits that keep one caller from spoiling the appliance for others: the login throttle's
//! per-address cap, in-flight sync bodies, download links.

mod common;

use common::client_from;
use common::TestServer;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn login(
    http: &reqwest::Client,
    app: &TestServer,
    username: &str,
    password: &str,
) -> (u16, Value) {
    let res = http
        .post(app.api("/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn people_who_signed_in_from_an_office_address_still_can_after_a_username_spray() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestServer::start(dir.path()).await;
    let admin = app.admin_token().await;
    app.create_company(&admin, "Acme", "acme").await;
    app.create_staff(&admin, "meena", "staff-pass-123", &["acme"])
        .await;
    let office = client_from("127.0.0.5");
    let (s, b) = login(&office, &app, "admin", &app.admin_password()).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = login(&office, &app, "meena", "staff-pass-123").await;
    assert_eq!(s, 200, "{b}");

    // Someone on the same address sprays random usernames until the address is capped.
    let mut last = (0, Value::Null);
    for i in 0..25 {
        last = login(&office, &app, &format!("nobody{i}"), "xxxxxxxxxxxx").await;
    }
    assert_eq!(last.0, 429, "{}", last.1);
    let message = last.1["message"].as_str().unwrap_or_default();
    assert!(message.contains("from this address"), "{message}");
    assert!(!message.contains("for this user"), "{message}");
    let (s, _) = login(&office, &app, "ravi", "never-signed-in").await;
    assert_eq!(s, 429, "a new username from the capped address waits");

    // Those who signed in from here before still get in with their passwords.
    let (s, b) = login(&office, &app, "admin", &app.admin_password()).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = login(&office, &app, "meena", "staff-pass-123").await;
    assert_eq!(s, 200, "{b}");

    // Guessing at a known user's password from there still meets that user's own limit.
    let mut refused = None;
    for i in 0..8 {
        let (s, b) = login(&office, &app, "meena", &format!("guess-{i}")).await;
        if s == 429 {
            refused = Some(b);
            break;
        }
        assert_eq!(s, 401, "{b}");
    }
    let refused = refused.expect("the guesses are stopped");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("for this user"), "{message}");
    app.stop().await;
}

/// Starts `POST /api/connector/sync` with `body`, sending all of it but its last byte.
async fn sync_held_open(app: &TestServer, token: &str, body: &[u8]) -> TcpStream {
    let address = app.url.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /api/connector/sync HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body[..body.len() - 1]).await.unwrap();
    tcp
}

#[tokio::test]
async fn a_connector_sends_one_sync_body_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestServer::start(dir.path()).await;
    let admin = app.admin_token().await;
    app.create_company(&admin, "Acme", "acme").await;
    let (token, _, _) = app.enrol(&admin, "acme", "pc-1").await;
    let (other_token, _, _) = app.enrol(&admin, "acme", "pc-2").await;
    let body = serde_json::to_vec(&common::guide_payload()).unwrap();
    let mut first = sync_held_open(&app, &token, &body).await;

    // Once the first body is being received, a second from the same connector is turned away
    // (and changes nothing), while another connector's goes through.
    let before = app.fingerprint();
    let mut refused = None;
    for _ in 0..200 {
        let (s, b) = app.post("/connector/sync", Some(&token), &json!({})).await;
        if s == 429 {
            refused = Some(b);
            break;
        }
        assert_eq!(s, 422, "{b}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a second body from the same connector is refused");
    assert_eq!(refused["error"], "sync_in_progress", "{refused}");
    assert_eq!(app.fingerprint(), before);
    let (s, b) = app
        .post(
            "/connector/sync",
            Some(&other_token),
            &common::guide_payload(),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // The first body completes and is stored; then the connector may send the next.
    first.write_all(&body[body.len() - 1..]).await.unwrap();
    let mut answer = String::new();
    first.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (s, b) = app
        .post("/connector/sync", Some(&token), &common::guide_payload())
        .await;
    assert_eq!(s, 200, "{b}");
    app.stop().await;
}

/// A release folder with one Linux archive of `size` bytes; returns the folder and the file name.
fn release_folder(dir: &std::path::Path, size: usize) -> (std::path::PathBuf, String, Vec<u8>) {
    let out = dir.join("releases");
    std::fs::create_dir_all(&out).unwrap();
    let file = "aicfo-connector-0.3.0-x86_64-unknown-linux-gnu.zip".to_string();
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(out.join(&file), &bytes).unwrap();
    let manifest = json!({"releases": [{"version": "0.3.0", "target": "x86_64-unknown-linux-gnu",
        "file": file, "size": 0, "sha256": "", "program": "aicfo-connector", "programSha256": ""}]});
    std::fs::write(out.join("manifest.json"), manifest.to_string()).unwrap();
    (out, file, bytes)
}

#[tokio::test]
async fn many_readers_of_a_release_archive_each_get_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (releases, file, bytes) = release_folder(dir.path(), 3 * 1024 * 1024 + 17);
    let app = TestServer::start_with(
        &dir.path().join("data"),
        &[("connector_releases", json!(releases))],
    )
    .await;
    let admin = app.admin_token().await;
    app.create_company(&admin, "Acme", "acme").await;
    let (token, _, _) = app.enrol(&admin, "acme", "pc-1").await;
    let url = format!("{}/api/connector/releases/{file}", app.url);
    let readers = (0..12).map(|_| {
        let (http, url, token) = (reqwest::Client::new(), url.clone(), token.clone());
        tokio::spawn(async move { http.get(url).bearer_auth(token).send().await.unwrap() })
    });
    for reader in readers {
        let res = reader.await.unwrap();
        assert_eq!(res.status(), 200);
        let header = |name: &str| res.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("content-type"), "application/zip");
        assert_eq!(header("content-length"), bytes.len().to_string());
        assert_eq!(
            header("content-disposition"),
            format!("attachment; filename=\"{file}\"")
        );
        assert!(
            res.bytes().await.unwrap() == bytes,
            "the archive byte for byte"
        );
    }
    app.stop().await;
}
