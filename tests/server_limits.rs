//! Limits that keep one caller from spoiling the appliance for others: the login throttle's
//! per-address cap, in-flight sync bodies, download links.

mod common;

use std::net::IpAddr;

use common::TestServer;
use serde_json::{json, Value};

/// A client whose connections come from `from` (any 127.x address reaches the server on Linux).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().ok())
        .build()
        .unwrap()
}

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
