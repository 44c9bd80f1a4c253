//! Connector self-update with real processes: the connector program runs from its own folder
//! against the real appliance (`TestServer`, real HTTP over TCP) carrying signed release
//! archives in its releases folder; policies are set through the admin's `PUT` endpoints and
//! every outcome is read where an administrator reads it, in the appliance's status and its
//! `connector_updates` table. Only the download cut off half-way needs a small stand-in
//! appliance written here, since the real one never does that. The connectors here have no
//! wait of their own (`AICFO_UPDATE_JITTER_SECS`): the appliance tells them to spread their
//! downloads over 0 s (`update_spread_secs`), as an administrator would set it, so an update
//! that happens within the test's patience is one that took the appliance's word.
//!
//! An update needs a connector with a release key compiled in, which the ordinary test build
//! has not: the tests marked `#[ignore]` build the connector twice (versions [`N`] and [`NEXT`],
//! both with the test key) into one dedicated folder, `target/update-fixture`, reused between
//! runs. Run them with `cargo test --test connector_update -- --ignored`. The ordinary build
//! serves the cases that must fetch nothing.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aicfo::protocol::Version;
use common::updates::{carrying, last_update, nothing, sha256, Enrolled};
use common::TestServer;
use serde_json::{json, Value};
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

fn instruction(policy: &str, version: &str, bytes: &[u8]) -> Value {
    let file = file_name(version);
    json!({
        "policy": policy, "version": version, "file": file, "size": bytes.len(),
        "sha256": sha256(bytes), "url": format!("/api/connector/releases/{file}"),
        "spreadSeconds": 0,
    })
}

// ---------------------------------------------------------------------------------------------
// The real appliance

/// A release folder as packaging/build.sh writes it: each `(version, archive)` as
/// `aicfo-connector-<version>-<triple>.zip` for Linux, listed in manifest.json.
fn carry(dir: &Path, carried: &[(&str, &[u8])]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut list = Vec::new();
    for (version, bytes) in carried {
        let file = file_name(version);
        std::fs::write(dir.join(&file), bytes).unwrap();
        list.push(json!({"version": version, "target": TARGET, "file": file,
            "size": bytes.len(), "sha256": sha256(bytes), "program": "aicfo-connector",
            "programSha256": ""}));
    }
    std::fs::write(
        dir.join("manifest.json"),
        json!({ "releases": list }).to_string(),
    )
    .unwrap();
}

/// The appliance (`TestServer`) carrying some Linux releases, with company `acme` and one
/// connector enrolled from a Linux PC at version [`N`].
struct Appliance {
    base: Enrolled,
    releases: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Appliance {
    type Target = Enrolled;
    fn deref(&self) -> &Enrolled {
        &self.base
    }
}

impl Appliance {
    async fn start(carried: &[(&str, &[u8])]) -> Appliance {
        let dir = tempfile::tempdir().unwrap();
        let releases = dir.path().join("releases");
        carry(&releases, carried);
        let data = dir.path().join("data");
        let patience = Duration::from_secs(120);
        let base = Enrolled::start(&data, &carrying(&releases), "linux x86_64", N, patience).await;
        Appliance {
            base,
            releases,
            _dir: dir,
        }
    }

    /// The appliance upgraded: stopped, given `carried` as its releases, and started again on
    /// the same data and the same port, as the connectors know it.
    async fn upgrade(mut self, carried: &[(&str, &[u8])]) -> Appliance {
        let data = self.srv.data_dir.clone();
        let port: u16 = self.srv.url.rsplit(':').next().unwrap().parse().unwrap();
        self.base.srv.stop().await;
        std::fs::remove_dir_all(&self.releases).unwrap();
        carry(&self.releases, carried);
        let mut settings = carrying(&self.releases);
        settings.push(("port", json!(port)));
        self.base.srv = TestServer::start_with(&data, &settings).await;
        self
    }

    fn archive_path(&self, version: &str) -> PathBuf {
        self.releases.join(file_name(version))
    }

    /// Sets a policy through the admin's `PUT` endpoint (`/settings/connector-updates` or this
    /// connector's `update-policy`).
    async fn set_policy(&self, own: bool, body: Value) {
        let path = if own {
            format!("/connectors/{}/update-policy", self.connector_id)
        } else {
            "/settings/connector-updates".to_string()
        };
        let res = self
            .srv
            .http
            .put(self.srv.api(&path))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path} {body}");
    }

    /// Stops the appliance and returns the update attempts it stored, oldest first.
    async fn stop_and_read_attempts(self) -> Vec<(String, String, String)> {
        let data = self.srv.data_dir.clone();
        self.base.srv.stop().await;
        let db = rusqlite::Connection::open(data.join(aicfo::server::DATABASE_FILE)).unwrap();
        let mut stmt = db
            .prepare("SELECT version, outcome, message FROM connector_updates ORDER BY id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// A connector in its own folder

struct Connector {
    dir: tempfile::TempDir,
    child: Child,
}

impl Connector {
    /// Copies `program` into a fresh folder with a config.json for the appliance at `url`
    /// (holding `token`) and starts `run`.
    fn start(program: &Path, url: &str, token: &str) -> Connector {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("aicfo-connector");
        std::fs::copy(program, &exe).unwrap();
        let config = json!({
            "api_url": format!("{url}/api"),
            "company_id": "acme",
            "connector_token": token,
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
                .env_remove("AICFO_UPDATE_JITTER_SECS")
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

    /// What it printed and logged, to show when a test fails.
    fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}\n{}", read("console.txt"), read("logs/connector.log"))
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

impl Appliance {
    /// Starts `program` as the enrolled connector of this appliance.
    fn connector(&self, program: &Path) -> Connector {
        Connector::start(program, &self.srv.url, &self.token)
    }
}

// ---------------------------------------------------------------------------------------------
// With the ordinary build (no release key): nothing is ever fetched

/// The ordinary connector, which has no release key.
fn ordinary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_aicfo-connector"))
}

#[tokio::test]
async fn without_a_release_key_no_update_is_fetched_and_the_admin_is_told_once() {
    let appliance = Appliance::start(&[("99.0.0", b"anything")]).await;
    let _connector = appliance.connector(ordinary());
    let shown = appliance
        .status_where("the refusal", nothing, |s| last_update(s).is_some())
        .await;
    let (version, outcome, message) = last_update(&shown).unwrap();
    assert_eq!((version, outcome), ("99.0.0", "failed"));
    assert!(message.contains("release key"), "{message}");
    assert_eq!(shown["behind"], true);
    assert_eq!(shown["targetVersion"], "99.0.0");
    appliance.more_heartbeats(2, nothing).await;
    let stored = appliance.stop_and_read_attempts().await;
    assert_eq!(stored.len(), 1, "said once: {stored:?}");
}

#[tokio::test]
async fn paused_means_no_download_at_all() {
    let appliance = Appliance::start(&[("99.0.0", b"anything")]).await;
    appliance
        .set_policy(false, json!({"policy": "paused"}))
        .await;
    let _connector = appliance.connector(ordinary());
    appliance.more_heartbeats(3, nothing).await;
    let shown = appliance.status().await;
    assert_eq!(shown["updatePolicy"], "paused");
    assert_eq!(shown["behind"], true);
    assert!(shown.get("lastUpdate").is_none(), "{shown:#}");
    assert_eq!(appliance.stop_and_read_attempts().await, []);
}

// ---------------------------------------------------------------------------------------------
// With the fixture builds (release key compiled in)

fn next_archive(key: Option<&SigningKey>) -> Vec<u8> {
    let (_, next) = fixtures();
    archive(&std::fs::read(next).unwrap(), &file_name(NEXT), key)
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_connector_updates_to_the_next_version_restarts_and_keeps_the_previous() {
    let (n, _) = fixtures();
    let appliance = Appliance::start(&[]).await;
    let connector = appliance.connector(n);
    let before = appliance
        .status_where(
            "a heartbeat from version N",
            || connector.log(),
            |s| s["lastHeartbeat"].is_string() && s["appVersion"] == N,
        )
        .await;
    assert!(
        before.get("targetVersion").is_none() && before.get("behind").is_none(),
        "nothing carried yet: {before:#}"
    );
    // The firm upgrades its appliance to one that carries the next version.
    let bytes = next_archive(Some(&release_key()));
    let upgraded = Instant::now();
    // Its update instruction says `spreadSeconds: 0`; without it the connector would wait up
    // to 10 minutes, beyond this test's patience.
    let appliance = appliance.upgrade(&[(NEXT, &bytes)]).await;
    let shown = appliance
        .status_where(
            "the next version",
            || connector.log(),
            |s| s["appVersion"] == NEXT,
        )
        .await;
    eprintln!(
        "the connector reported {NEXT} {:.1} s after the appliance was upgraded; it downloaded {} bytes",
        upgraded.elapsed().as_secs_f64(),
        bytes.len()
    );
    assert_eq!(shown["behind"], false);
    assert_eq!(shown["targetVersion"], NEXT);
    let (version, outcome, message) = last_update(&shown).expect("the update is reported");
    assert_eq!((version, outcome), (NEXT, "installed"), "{message}");
    assert_eq!(version_of(&connector.program()), NEXT);
    assert_eq!(
        version_of(&connector.previous()),
        N,
        "the previous program is kept"
    );
    appliance.more_heartbeats(1, || connector.log()).await;
    assert!(
        !connector.dir.path().join("update-pending.json").exists(),
        "the marker is cleared after the first heartbeat"
    );
    let stored = appliance.stop_and_read_attempts().await;
    assert_eq!(
        stored.iter().map(|a| a.1.as_str()).collect::<Vec<_>>(),
        ["installed"]
    );
}

/// Runs version N against `appliance`, waits for the failure of `version` shown in its status,
/// and checks that N stays in place and running and that it does not try again soon.
async fn stays_on_n(appliance: Appliance, version: &str, said: &str) {
    let (n, _) = fixtures();
    let connector = appliance.connector(n);
    let shown = appliance
        .status_where(
            "the failure",
            || connector.log(),
            |s| last_update(s).is_some(),
        )
        .await;
    let (v, outcome, message) = last_update(&shown).unwrap();
    assert_eq!((v, outcome), (version, "failed"), "{message}");
    assert!(message.contains(said), "{message:?} should say {said:?}");
    appliance.more_heartbeats(2, || connector.log()).await;
    let shown = appliance.status().await;
    assert_eq!(shown["appVersion"], N);
    assert_eq!(shown["targetVersion"], version);
    let newer = Version::parse(version) > Version::parse(N);
    assert_eq!(
        shown["behind"], newer,
        "behind only while {version} is newer"
    );
    assert_eq!(
        std::fs::read(connector.program()).unwrap(),
        std::fs::read(n).unwrap()
    );
    assert!(!connector.previous().exists());
    let stored = appliance.stop_and_read_attempts().await;
    assert_eq!(stored.len(), 1, "not tried again soon: {stored:?}");
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_tampered_archive_is_refused() {
    let mut bytes = next_archive(Some(&release_key()));
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    // The appliance announces the bytes it serves, so only the signature can tell.
    let appliance = Appliance::start(&[(NEXT, &bytes)]).await;
    stays_on_n(appliance, NEXT, "not signed").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn an_archive_signed_by_another_key_is_refused() {
    let bytes = next_archive(Some(&other_key()));
    let appliance = Appliance::start(&[(NEXT, &bytes)]).await;
    stays_on_n(appliance, NEXT, "not signed").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn an_unsigned_archive_is_refused() {
    let bytes = next_archive(None);
    let appliance = Appliance::start(&[(NEXT, &bytes)]).await;
    stays_on_n(appliance, NEXT, "not signed").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn an_archive_that_is_not_the_one_announced_is_refused() {
    let bytes = next_archive(Some(&release_key()));
    let appliance = Appliance::start(&[(NEXT, &bytes)]).await;
    // The appliance reads its releases once; a file changed on its disk afterwards is served
    // as it now is, under the SHA-256 announced before.
    let (s, _) = appliance
        .srv
        .get("/connector/releases", Some(&appliance.admin))
        .await;
    assert_eq!(s, 200);
    let mut changed = bytes;
    changed[0] ^= 1;
    std::fs::write(appliance.archive_path(NEXT), changed).unwrap();
    stays_on_n(appliance, NEXT, "SHA-256").await;
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
    let appliance = Appliance::start(&[("0.9.0", &bytes)]).await;
    // A download would fail (the archive is gone) and say so; the refusal comes first.
    appliance
        .srv
        .get("/connector/releases", Some(&appliance.admin))
        .await;
    std::fs::remove_file(appliance.archive_path("0.9.0")).unwrap();
    stays_on_n(appliance, "0.9.0", "older").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_program_that_is_not_the_version_announced_is_refused() {
    // The archive holds NEXT but is carried, signed and named as 1.2.0.
    let (_, next) = fixtures();
    let bytes = archive(
        &std::fs::read(next).unwrap(),
        &file_name("1.2.0"),
        Some(&release_key()),
    );
    let appliance = Appliance::start(&[("1.2.0", &bytes)]).await;
    stays_on_n(appliance, "1.2.0", "says it is version `1.1.0`").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_program_that_fails_its_self_test_is_refused() {
    let bytes = archive(
        &script("1.2.0", 1),
        &file_name("1.2.0"),
        Some(&release_key()),
    );
    let appliance = Appliance::start(&[("1.2.0", &bytes)]).await;
    stays_on_n(appliance, "1.2.0", "self-test").await;
}

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn pinned_to_an_older_version_downgrades() {
    let (n, next) = fixtures();
    let older = archive(
        &std::fs::read(n).unwrap(),
        &file_name(N),
        Some(&release_key()),
    );
    let newer = next_archive(Some(&release_key()));
    let appliance = Appliance::start(&[(N, &older), (NEXT, &newer)]).await;
    appliance
        .set_policy(true, json!({"policy": "pinned", "version": N}))
        .await;
    let connector = appliance.connector(next);
    let shown = appliance
        .status_where(
            "the pinned version installed",
            || connector.log(),
            |s| s["appVersion"] == N && last_update(s).is_some(),
        )
        .await;
    assert_eq!(
        last_update(&shown).map(|u| (u.0, u.1)),
        Some((N, "installed"))
    );
    assert_eq!(shown["updatePolicy"], "pinned");
    assert_eq!(shown["targetVersion"], N);
    assert_eq!(shown["behind"], false);
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
    let appliance = Appliance::start(&[("1.2.0", &bytes)]).await;
    let connector = appliance.connector(n);
    let shown = appliance
        .status_where(
            "the roll-back",
            || connector.log(),
            |s| last_update(s).is_some_and(|u| u.1 == "rolled_back"),
        )
        .await;
    assert_eq!(shown["appVersion"], N);
    let (v, _, message) = last_update(&shown).unwrap();
    assert_eq!(v, "1.2.0");
    assert!(message.contains("put back"), "{message}");
    assert_eq!(
        std::fs::read(connector.program()).unwrap(),
        std::fs::read(n).unwrap()
    );
    appliance.more_heartbeats(2, || connector.log()).await;
    let stored = appliance.stop_and_read_attempts().await;
    assert_eq!(
        stored.iter().map(|a| a.1.as_str()).collect::<Vec<_>>(),
        ["rolled_back"],
        "the broken version waits its backoff"
    );
}

// ---------------------------------------------------------------------------------------------
// A connection cut mid-download: the appliance never does that on its own, so a stand-in here
// answers heartbeats and serves half an archive.

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
struct StandIn {
    url: String,
    fake: Arc<Mutex<Fake>>,
}

impl StandIn {
    async fn start(fake: Fake) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = Arc::new(Mutex::new(fake));
        let shared = fake.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(answer(socket, shared.clone()));
            }
        });
        StandIn { url, fake }
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

#[tokio::test]
#[ignore = "builds two connectors into target/update-fixture; run with --ignored"]
async fn a_download_cut_off_half_way_is_refused() {
    let (n, _) = fixtures();
    let bytes = next_archive(Some(&release_key()));
    let stand_in = StandIn::start(Fake {
        update: Some(instruction("auto", NEXT, &bytes)),
        cut_after: Some(bytes.len() / 2),
        archives: HashMap::from([(file_name(NEXT), bytes)]),
        ..Fake::default()
    })
    .await;
    let connector = Connector::start(n, &stand_in.url, "a-pasted-test-token");
    let hb = stand_in
        .heartbeat_where("reporting the failure", |h| last_update(h).is_some())
        .await;
    let (v, outcome, message) = last_update(&hb).unwrap();
    assert_eq!((v, outcome), (NEXT, "failed"), "{message}");
    assert!(message.contains("download"), "{message}");
    let fetched = stand_in.archive_requests();
    stand_in.more_heartbeats(2).await;
    assert!(stand_in.heartbeats().iter().all(|h| h["appVersion"] == N));
    assert_eq!(
        stand_in.archive_requests(),
        fetched,
        "not fetched again soon"
    );
    assert_eq!(
        std::fs::read(connector.program()).unwrap(),
        std::fs::read(n).unwrap()
    );
    assert!(!connector.previous().exists());
}
