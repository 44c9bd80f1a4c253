//! Login memory benchmark (issue 8, item 1) against the real server binary on loopback:
//! - RSS growth after 600 logins with ~1 MB usernames (goal: under 50 MB);
//! - peak RSS while 400 logins arrive at once (goal: under 300 MB).
//!
//! Prints the figures; asserts nothing. Linux only (reads /proc).
//!
//! Before the fix (issue 8): 11 MB -> 1.4 GB for the first, 6.85 GB peak for the second.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{aicfo_server, rss_mb, spawn_listening};
use serde_json::json;

const LONG_LOGINS: usize = 600;
const CONCURRENT_LOGINS: usize = 400;

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = spawn_listening(
        aicfo_server()
            .current_dir(dir.path())
            .env("AICFO_DATA_DIR", dir.path().join("data"))
            .env("AICFO_ADMIN_PASSWORD", "bench-admin-password")
            // Every login reaches the password check instead of being turned away by the throttle.
            .env("AICFO_LOGIN_MAX_FAILURES", "100000"),
    );
    Server {
        child,
        url,
        _dir: dir,
    }
}

async fn login(http: &reqwest::Client, url: &str, username: &str) -> u16 {
    http.post(format!("{url}/api/auth/login"))
        .json(&json!({"username": username, "password": "not the password"}))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

fn tally(codes: &[u16]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for c in codes {
        *counts.entry(*c).or_insert(0) += 1;
    }
    format!("{counts:?}")
}

async fn long_usernames(server: &Server) {
    let http = reqwest::Client::new();
    login(&http, &server.url, "admin").await;
    let (before, _) = rss_mb(server.child.id());
    let started = Instant::now();
    let mut codes = Vec::new();
    for batch in 0..LONG_LOGINS / 8 {
        let logins = (0..8).map(|i| {
            let name = format!("{batch}-{i}-{}", "x".repeat(1_000_000));
            let http = &http;
            async move { login(http, &server.url, &name).await }
        });
        codes.extend(futures_util::future::join_all(logins).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (after, _) = rss_mb(server.child.id());
    println!(
        "{LONG_LOGINS} logins with 1 MB usernames in {:.1} s: RSS {before:.1} MB -> {after:.1} MB, \
         growth {:.1} MB (goal < 50 MB); answers {}",
        started.elapsed().as_secs_f64(),
        after - before,
        tally(&codes)
    );
}

async fn concurrent(server: &Server) {
    let (before, _) = rss_mb(server.child.id());
    let started = Instant::now();
    let logins = (0..CONCURRENT_LOGINS).map(|i| {
        let url = server.url.clone();
        tokio::spawn(async move {
            // One client each: 400 separate connections, as 400 attackers would open.
            login(&reqwest::Client::new(), &url, &format!("user{i}")).await
        })
    });
    let codes: Vec<u16> = futures_util::future::join_all(logins)
        .await
        .into_iter()
        .map(|r| r.unwrap_or(0))
        .collect();
    let (after, peak) = rss_mb(server.child.id());
    println!(
        "{CONCURRENT_LOGINS} concurrent logins in {:.1} s: RSS {before:.1} MB -> {after:.1} MB, \
         peak {peak:.1} MB (goal < 300 MB); answers {}",
        started.elapsed().as_secs_f64(),
        tally(&codes)
    );
}

#[tokio::main]
async fn main() {
    if !cfg!(target_os = "linux") {
        println!("login bench: Linux only (reads /proc)");
        return;
    }
    // A fresh server for each figure, so the peak of one does not hide in the other.
    let server = start();
    long_usernames(&server).await;
    drop(server);
    let server = start();
    concurrent(&server).await;
}
