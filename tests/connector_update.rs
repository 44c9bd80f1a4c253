//! Connector self-update with real processes: the connector program runs from its own folder
//! against a small appliance stand-in in this test (real HTTP over TCP) that answers
//! heartbeats with an update instruction and serves release archives, and can cut a download
//! off half-way. Once the appliance's own release endpoints are merged, these tests can point
//! the connector at `TestServer` instead (see the report of branch wt-upd-connector).
//!
//! An update needs a connector with a release key compiled in, which the ordinary test build
//! has not: the tests marked `#[ignore]` build the connector twice (versions [`N`] and [`NEXT`],
//! both with the test key) into one dedicated folder, `target/update-fixture`, reused between
//! runs. Run them with `cargo test --test connector_update -- --ignored`. The ordinary build
//! serves the cases that must fetch nothing.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zipsign_api::SigningKey;

const N: &str = "1.0.0";
const NEXT: &str = "1.1.0";
const TARGET: &str = "x86_64-unknown-linux-gnu";

fn release_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[9u8; 32])
}

// ---------------------------------------------------------------------------------------------
// The connector programs

/// Builds the connector as `version` with the test release key into target/update-fixture and
/// keeps a copy named after the version.
fn build_fixture(version: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/update-fixture");
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "build",
            "--bin",
            "aicfo-connector",
            "--no-default-features",
            "--features",
            "connector",
            "--target-dir",
        ])
        .arg(&dir)
        .env("AICFO_CONNECTOR_VERSION", version)
        .env(
            "AICFO_VERIFYING_KEY",
            aicfo::signing::verifying_key_hex(&release_key()),
        )
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the fixture connector {version} builds");
    let copy = dir.join(format!("aicfo-connector-{version}"));
    std::fs::copy(dir.join("debug/aicfo-connector"), &copy).unwrap();
    copy
}

/// Versions N and NEXT, built once per test run.
fn fixtures() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| (build_fixture(N), build_fixture(NEXT)))
}

/// A shell script standing in for a program: `version` says `version`, `self-test` exits
/// `self_test`, anything else (a start) exits 3 at once.
fn script(version: &str, self_test: u8) -> Vec<u8> {
    format!(
        "#!/bin/sh\ncase \"$1\" in\n  version) echo \"aicfo-connector {version} (linux)\" ;;\n  self-test) exit {self_test} ;;\n  *) exit 3 ;;\nesac\n"
    )
    .into_bytes()
}

fn file_name(version: &str) -> String {
    format!("aicfo-connector-{version}-{TARGET}.zip")
}

/// A release archive holding `program`, signed by `key` for `name` (unsigned without a key).
fn archive(program: &[u8], name: &str, key: Option<&SigningKey>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "aicfo-connector",
        zip::write::SimpleFileOptions::default().unix_permissions(0o755),
    )
    .unwrap();
    zip.write_all(program).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    match key {
        Some(k) => aicfo::signing::sign(&bytes, name, k).unwrap(),
        None => bytes,
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn instruction(policy: &str, version: &str, bytes: &[u8]) -> Value {
    let file = file_name(version);
    json!({
        "policy": policy, "version": version, "file": file, "size": bytes.len(),
        "sha256": sha256(bytes), "url": format!("/api/connector/releases/{file}"),
    })
}

// ---------------------------------------------------------------------------------------------
// The appliance stand-in

#[derive(Default)]
struct Fake {
    update: Option<Value>,
    archives: HashMap<String, Vec<u8>>,
    /// Serve only this many bytes of an archive, then close the connection.
    cut_after: Option<usize>,
    heartbeats: Vec<Value>,
    archive_requests: usize,
}

#[derive(Clone)]
struct Appliance {
    url: String,
    fake: Arc<Mutex<Fake>>,
}

impl Appliance {
    async fn start(fake: Fake) -> Appliance {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = Arc::new(Mutex::new(fake));
        let shared = fake.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(answer(socket, shared.clone()));
            }
        });
        Appliance { url, fake }
    }

    fn heartbeats(&self) -> Vec<Value> {
        self.fake.lock().unwrap().heartbeats.clone()
    }

    fn archive_requests(&self) -> usize {
        self.fake.lock().unwrap().archive_requests
    }

    /// Waits (at most two minutes) for a heartbeat that `wanted` accepts.
    async fn heartbeat_where(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(hb) = self.heartbeats().into_iter().find(|h| wanted(h)) {
                return hb;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no heartbeat {what}; got {:#?}",
                self.heartbeats()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for `count` more heartbeats than now.
    async fn more_heartbeats(&self, count: usize) {
        let target = self.heartbeats().len() + count;
        self.heartbeat_where("to come", |_| self.heartbeats().len() >= target)
            .await;
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = head.lines().next()?.to_string();
    Some((line, buf[head_end..head_end + length].to_vec()))
}

async fn answer(mut socket: tokio::net::TcpStream, fake: Arc<Mutex<Fake>>) {
    let Some((line, body)) = read_request(&mut socket).await else {
        return;
    };
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (status, bytes, cut) = {
        let mut f = fake.lock().unwrap();
        if path == "/api/connector/heartbeat" {
            f.heartbeats
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            let mut answer =
                json!({"serverTime": "2026-11-26T00:00:00Z", "nextHeartbeatSeconds": 5});
            if let Some(u) = &f.update {
                answer["update"] = u.clone();
            }
            (200, serde_json::to_vec(&answer).unwrap(), None)
        } else if let Some(file) = path.strip_prefix("/api/connector/releases/") {
            f.archive_requests += 1;
            match f.archives.get(file) {
                Some(a) => (200, a.clone(), f.cut_after),
                None => (
                    404,
                    br#"{"error":"not_found","message":"no such release","details":[]}"#.to_vec(),
                    None,
                ),
            }
        } else {
            (
                404,
                br#"{"error":"not_found","message":"not in this stand-in","details":[]}"#.to_vec(),
                None,
            )
        }
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let sent = cut.unwrap_or(bytes.len()).min(bytes.len());
    let _ = socket.write_all(&bytes[..sent]).await;
    let _ = socket.flush().await;
}

// ---------------------------------------------------------------------------------------------
// A connector in its own folder

struct Connector {
    dir: tempfile::TempDir,
    child: Child,
}

impl Connector {
    /// Copies `program` into a fresh folder with a config.json for `appliance` and starts `run`.
    fn start(program: &Path, appliance: &Appliance) -> Connector {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("aicfo-connector");
        std::fs::copy(program, &exe).unwrap();
        let config = json!({
            "api_url": format!("{}/api", appliance.url),
            "company_id": "acme",
            "connector_token": "a-pasted-test-token",
            "tally_url": "http://127.0.0.1:9",
            "sync_interval_minutes": 1440,
            "heartbeat_interval_seconds": 5,
            "max_retry_attempts": 0,
            "retry_delay_seconds": 1,
            "log_level": "debug",
        });
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let log = std::fs::File::create(dir.path().join("console.txt")).unwrap();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(&exe)
                .arg("run")
                .current_dir(dir.path())
                .env_remove("AICFO_CONNECTOR_HOME")
                .env_remove("AICFO_UNDER_SERVICE")
                .env("AICFO_TALLY_LOCK_DIR", dir.path())
                .env("AICFO_UPDATE_JITTER_SECS", "0")
                .env("AICFO_UPDATE_RETRY_SECS", "3600")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                // Its own process group: the program it restarts into is stopped with it.
                .process_group(0)
                .spawn()
                .unwrap()
        };
        Connector { dir, child }
    }

    fn program(&self) -> PathBuf {
        self.dir.path().join("aicfo-connector")
    }

    fn previous(&self) -> PathBuf {
        self.dir.path().join("aicfo-connector.previous")
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn version_of(program: &Path) -> String {
    let out = Command::new(program).arg("version").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string()
}

fn last_update(hb: &Value) -> Option<(&str, &str, &str)> {
    let u = hb.get("lastUpdate")?;
    Some((
        u["version"].as_str()?,
        u["outcome"].as_str()?,
        u["message"].as_str()?,
    ))
}

// ---------------------------------------------------------------------------------------------
// With the ordinary build (no release key): nothing is ever fetched

#[tokio::test]
async fn without_a_release_key_no_update_is_fetched_and_the_admin_is_told_once() {
    let bytes = b"anything".to_vec();
    let appliance = Appliance::start(Fake {
        update: Some(instruction("auto", "99.0.0", &bytes)),
        archives: HashMap::from([(file_name("99.0.0"), bytes)]),
        ..Fake::default()
    })
    .await;
    let connector = Connector::start(Path::new(env!("CARGO_BIN_EXE_aicfo-connector")), &appliance);
    let told = appliance
        .heartbeat_where("reporting the refusal", |h| last_update(h).is_some())
        .await;
    let (version, outcome, message) = last_update(&told).unwrap();
    assert_eq!((version, outcome), ("99.0.0", "failed"));
    assert!(message.contains("release key"), "{message}");
    appliance.more_heartbeats(2).await;
    let reports = appliance
        .heartbeats()
        .iter()
        .filter(|h| h.get("lastUpdate").is_some())
        .count();
    assert_eq!(reports, 1, "said once");
    assert_eq!(appliance.archive_requests(), 0);
    drop(connector);
}

#[tokio::test]
async fn paused_means_no_download_at_all() {
    let bytes = b"anything".to_vec();
    let appliance = Appliance::start(Fake {
        update: Some(instruction("paused", "99.0.0", &bytes)),
        archives: HashMap::from([(file_name("99.0.0"), bytes)]),
        ..Fake::default()
    })
    .await;
    let _connector = Connector::start(Path::new(env!("CARGO_BIN_EXE_aicfo-connector")), &appliance);
    appliance.more_heartbeats(3).await;
    assert_eq!(appliance.archive_requests(), 0);
    assert!(appliance
        .heartbeats()
        .iter()
        .all(|h| h.get("lastUpdate").is_none()));
}

// ---------------------------------------------------------------------------------------------
// With the fixture builds (release key compiled in)

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_connector_updates_to_the_next_version_restarts_and_keeps_the_previous() {
    let (n, next) = fixtures();
    let name = file_name(NEXT);
    let bytes = archive(&std::fs::read(next).unwrap(), &name, Some(&release_key()));
    let appliance = Appliance::start(Fake {
        update: Some(instruction("auto", NEXT, &bytes)),
        archives: HashMap::from([(name, bytes)]),
        ..Fake::default()
    })
    .await;
    let connector = Connector::start(n, &appliance);
    appliance
        .heartbeat_where("from version N", |h| h["appVersion"] == N)
        .await;
    let hb = appliance
        .heartbeat_where("from the next version", |h| h["appVersion"] == NEXT)
        .await;
    let (version, outcome, message) = last_update(&hb).expect("the update is reported");
    assert_eq!((version, outcome), (NEXT, "installed"), "{message}");
    assert_eq!(version_of(&connector.program()), NEXT);
    assert_eq!(
        version_of(&connector.previous()),
        N,
        "the previous program is kept"
    );
    assert_eq!(appliance.archive_requests(), 1);
    appliance.more_heartbeats(1).await;
    assert!(
        !connector.dir.path().join("update-pending.json").exists(),
        "the marker is cleared after the first heartbeat"
    );
}

/// Runs version N against `fake`, waits for the failure report of `version`, and checks that
/// N stays in place and running and the archive is not fetched again.
async fn stays_on_n(fake: Fake, version: &str, said: &str) {
    let (n, _) = fixtures();
    let appliance = Appliance::start(fake).await;
    let connector = Connector::start(n, &appliance);
    let hb = appliance
        .heartbeat_where("reporting the failure", |h| last_update(h).is_some())
        .await;
    let (v, outcome, message) = last_update(&hb).unwrap();
    assert_eq!((v, outcome), (version, "failed"), "{message}");
    assert!(message.contains(said), "{message:?} should say {said:?}");
    let fetched = appliance.archive_requests();
    appliance.more_heartbeats(2).await;
    assert!(appliance.heartbeats().iter().all(|h| h["appVersion"] == N));
    assert_eq!(
        appliance.archive_requests(),
        fetched,
        "not fetched again soon"
    );
    assert_eq!(
        std::fs::read(connector.program()).unwrap(),
        std::fs::read(n).unwrap()
    );
    assert!(!connector.previous().exists());
}

/// An instruction for NEXT whose archive is `bytes` as served, announced as `announced`.
fn serving(bytes: Vec<u8>, announced: &[u8], version: &str) -> Fake {
    Fake {
        update: Some(instruction("auto", version, announced)),
        archives: HashMap::from([(file_name(version), bytes)]),
        ..Fake::default()
    }
}

fn next_archive(key: Option<&SigningKey>) -> Vec<u8> {
    let (_, next) = fixtures();
    archive(&std::fs::read(next).unwrap(), &file_name(NEXT), key)
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_tampered_archive_is_refused() {
    let mut bytes = next_archive(Some(&release_key()));
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    // Announced as served, so only the signature can tell.
    stays_on_n(serving(bytes.clone(), &bytes, NEXT), NEXT, "not signed").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn an_archive_signed_by_another_key_is_refused() {
    let bytes = next_archive(Some(&other_key()));
    stays_on_n(serving(bytes.clone(), &bytes, NEXT), NEXT, "not signed").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn an_unsigned_archive_is_refused() {
    let bytes = next_archive(None);
    stays_on_n(serving(bytes.clone(), &bytes, NEXT), NEXT, "not signed").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn an_archive_that_is_not_the_one_announced_is_refused() {
    let bytes = next_archive(Some(&release_key()));
    let mut announced = bytes.clone();
    announced[0] ^= 1;
    stays_on_n(serving(bytes, &announced, NEXT), NEXT, "SHA-256").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn an_older_version_is_refused_unless_pinned_without_a_download() {
    let (n, _) = fixtures();
    let bytes = archive(
        &std::fs::read(n).unwrap(),
        &file_name("0.9.0"),
        Some(&release_key()),
    );
    let fake = serving(bytes.clone(), &bytes, "0.9.0");
    let appliance = Appliance::start(fake).await;
    let _connector = Connector::start(n, &appliance);
    let hb = appliance
        .heartbeat_where("reporting the refusal", |h| last_update(h).is_some())
        .await;
    let (v, outcome, message) = last_update(&hb).unwrap();
    assert_eq!((v, outcome), ("0.9.0", "failed"));
    assert!(message.contains("older"), "{message}");
    assert_eq!(appliance.archive_requests(), 0);
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_program_that_is_not_the_version_announced_is_refused() {
    // The archive holds NEXT but is announced, signed and named as 1.2.0.
    let (_, next) = fixtures();
    let bytes = archive(
        &std::fs::read(next).unwrap(),
        &file_name("1.2.0"),
        Some(&release_key()),
    );
    stays_on_n(
        serving(bytes.clone(), &bytes, "1.2.0"),
        "1.2.0",
        "says it is version `1.1.0`",
    )
    .await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_program_that_fails_its_self_test_is_refused() {
    let bytes = archive(
        &script("1.2.0", 1),
        &file_name("1.2.0"),
        Some(&release_key()),
    );
    stays_on_n(
        serving(bytes.clone(), &bytes, "1.2.0"),
        "1.2.0",
        "self-test",
    )
    .await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_download_cut_off_half_way_is_refused() {
    let bytes = next_archive(Some(&release_key()));
    let mut fake = serving(bytes.clone(), &bytes, NEXT);
    fake.cut_after = Some(bytes.len() / 2);
    stays_on_n(fake, NEXT, "download").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn pinned_to_an_older_version_downgrades() {
    let (n, next) = fixtures();
    let name = file_name(N);
    let bytes = archive(&std::fs::read(n).unwrap(), &name, Some(&release_key()));
    let appliance = Appliance::start(Fake {
        update: Some(instruction("pinned", N, &bytes)),
        archives: HashMap::from([(name, bytes)]),
        ..Fake::default()
    })
    .await;
    let connector = Connector::start(next, &appliance);
    let hb = appliance
        .heartbeat_where("from the pinned version", |h| h["appVersion"] == N)
        .await;
    assert_eq!(last_update(&hb).map(|u| (u.0, u.1)), Some((N, "installed")));
    assert_eq!(version_of(&connector.previous()), NEXT);
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_new_program_that_crashes_at_start_is_rolled_back() {
    let (n, _) = fixtures();
    // Passes `version` and `self-test`, then dies at every start.
    let bytes = archive(
        &script("1.2.0", 0),
        &file_name("1.2.0"),
        Some(&release_key()),
    );
    let appliance = Appliance::start(serving(bytes.clone(), &bytes, "1.2.0")).await;
    let connector = Connector::start(n, &appliance);
    let hb = appliance
        .heartbeat_where("reporting the roll-back", |h| {
            last_update(h).is_some_and(|u| u.1 == "rolled_back")
        })
        .await;
    assert_eq!(hb["appVersion"], N);
    let (v, _, message) = last_update(&hb).unwrap();
    assert_eq!(v, "1.2.0");
    assert!(message.contains("put back"), "{message}");
    assert_eq!(
        std::fs::read(connector.program()).unwrap(),
        std::fs::read(n).unwrap()
    );
    let fetched = appliance.archive_requests();
    appliance.more_heartbeats(2).await;
    assert_eq!(
        appliance.archive_requests(),
        fetched,
        "the broken version waits its backoff"
    );
}
