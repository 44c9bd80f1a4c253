//! Fleet upgrade (issue 11): how long after an appliance upgrade every connector runs the new
//! version, and how many bytes each one downloads. Real processes only: the real server binary,
//! K real connector processes at version N (built with the test release key, as
//! tests/connector_update.rs builds them, into target/update-fixture), each on its own company
//! with its own tally-sim. The appliance is then "upgraded" (stopped, given release N+1, started
//! again on the same data and port) and the bench watches the appliance's overview until every
//! connector reports N+1 installed.
//!
//! Bytes are counted at the appliance's door: each connector talks to the appliance through its
//! own counting relay (a plain TCP pass-through in this process), which notes when an archive
//! request (`GET /api/connector/releases/...`) passes and counts the answer's bytes.
//!
//! `cargo bench --bench fleet_update -- --quick`: 8 connectors; without it, 20.
//! `--connectors K`, `--jitter 0,60` (the connectors' `AICFO_UPDATE_JITTER_SECS`, one round
//! each; default 0 and 60), `--heartbeat S` (config.json's `heartbeat_interval_seconds`,
//! at least 5, the default), `--keep` (leave the scratch folders in target/tmp),
//! `--release-connectors` (connectors built in release, as shipped, instead of the tests' dev
//! build; its first build takes minutes). Prints figures; fails only when the fleet does not
//! get there. Linux only (process groups, /proc).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const N: &str = "1.0.0";
const NEXT: &str = "1.1.0";
const TARGET: &str = "x86_64-unknown-linux-gnu";
const ADMIN_PASSWORD: &str = "fleet-bench-admin-password";
/// How long the fleet may take after the appliance is back, beyond the longest jitter.
const PATIENCE: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// The connector programs N and N+1 and their signed archives

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_dir() -> PathBuf {
    root().join("target/update-fixture")
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Raises `newest` to the latest change of any file under `dir`.
fn newest_source(dir: &Path, newest: &mut SystemTime) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            newest_source(&path, newest);
        } else if let Some(t) = modified(&path) {
            *newest = (*newest).max(t);
        }
    }
}

fn version_of(program: &Path) -> String {
    let out = Command::new(program)
        .arg("version")
        .output()
        .expect("the program runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string()
}

/// The newest change to anything the connector is built from.
fn sources_changed_at() -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    newest_source(&root().join("src"), &mut newest);
    for file in ["Cargo.toml", "Cargo.lock"] {
        newest = newest.max(modified(&root().join(file)).unwrap_or(newest));
    }
    newest
}

/// The connector built as `version` with the test release key (the key of
/// tests/connector_update.rs), in the dev profile as that test builds it or in release (what
/// ships), rebuilt only when the sources changed since the last build.
fn program(version: &str, release: bool) -> PathBuf {
    let dir = fixture_dir();
    let profile = if release { "release" } else { "debug" };
    let copy = dir.join(match release {
        true => format!("aicfo-connector-{version}-release"),
        false => format!("aicfo-connector-{version}"),
    });
    if modified(&copy).is_none_or(|t| t < sources_changed_at()) {
        println!(
            "building connector {version} ({profile}) into {}",
            dir.display()
        );
        let status = Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["build", "--bin", "aicfo-connector", "--no-default-features"])
            .args(["--features", "connector", "--target-dir"])
            .arg(&dir)
            .args(release.then_some("--release"))
            .env("AICFO_CONNECTOR_VERSION", version)
            .env(
                "AICFO_VERIFYING_KEY",
                aicfo::signing::verifying_key_hex(&release_key()),
            )
            .status()
            .expect("cargo runs");
        assert!(status.success(), "connector {version} builds");
        let built = dir.join(profile).join("aicfo-connector");
        std::fs::copy(built, &copy).expect("copy of the build");
    }
    assert_eq!(version_of(&copy), version, "{} says", copy.display());
    copy
}

fn release_key() -> zipsign_api::SigningKey {
    zipsign_api::SigningKey::from_bytes(&[7u8; 32])
}

fn file_name(version: &str) -> String {
    format!("aicfo-connector-{version}-{TARGET}.zip")
}

/// The release archive of `program` as packaging/build.sh makes it (the program alone,
/// deflated, signed for its file name), kept beside the program until the program changes.
fn signed_archive(version: &str, program: &Path) -> Vec<u8> {
    let program_name = program.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let cached = fixture_dir().join(format!("fleet-{program_name}.zip"));
    if modified(&cached).is_some_and(|t| Some(t) >= modified(program)) {
        return std::fs::read(&cached).expect("cached archive");
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    zip.start_file("aicfo-connector", options).expect("zip");
    zip.write_all(&std::fs::read(program).expect("program"))
        .expect("zip");
    let bytes = zip.finish().expect("zip").into_inner();
    let signed = aicfo::signing::sign(&bytes, &file_name(version), &release_key()).expect("signed");
    std::fs::write(&cached, &signed).expect("cached archive");
    signed
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The appliance's releases folder carrying only `version` for Linux, as build.sh writes it.
fn carry(dir: &Path, version: &str, bytes: &[u8]) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("releases folder");
    let file = file_name(version);
    std::fs::write(dir.join(&file), bytes).expect("archive");
    let manifest = json!({"releases": [{"version": version, "target": TARGET, "file": file,
        "size": bytes.len(), "sha256": sha256(bytes), "program": "aicfo-connector",
        "programSha256": ""}]});
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).expect("manifest");
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A process in its own process group, killed with everything it started (a connector
/// restarting into its new version) when dropped.
struct Group {
    child: Child,
    /// Ended and waited for: its process group id may belong to someone else by now.
    reaped: bool,
}

impl Group {
    fn spawn(cmd: &mut Command) -> Group {
        Group {
            child: cmd.process_group(0).spawn().expect("the program starts"),
            reaped: false,
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

/// Reads `child`'s output until a line holding `marker` and returns what follows it; the rest
/// of the output goes to `log`.
fn wait_for_line(child: &mut Child, marker: &str, mut log: std::fs::File) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let found = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("the program ended before saying `{marker}`"));
        let _ = writeln!(log, "{line}");
        if let Some(rest) = line.split(marker).nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
        }
    });
    found
}

/// The real appliance on `<scratch>/data`, carrying what `<scratch>/releases` holds.
struct Server {
    process: Group,
    url: String,
    port: u16,
}

impl Server {
    fn start(scratch: &Path, port: u16, heartbeat: u32) -> Server {
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(scratch.join(name))
                .expect("log file")
        };
        let mut process = Group::spawn(
            // The same port after an upgrade, and the server's errors kept beside its log.
            common::aicfo_server()
                .current_dir(scratch)
                .env("AICFO_DATA_DIR", scratch.join("data"))
                .env("AICFO_CONNECTOR_RELEASES", scratch.join("releases"))
                .env("AICFO_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("AICFO_HEARTBEAT_INTERVAL_SECS", heartbeat.to_string())
                .env("ROCKET_PORT", port.to_string())
                .stderr(log("server-stderr.log")),
        );
        let url = wait_for_line(&mut process.child, "listening on ", log("server.log"));
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        Server { process, url, port }
    }

    /// Stops it as a service manager would (SIGTERM, then SIGKILL after 20 s).
    fn stop(mut self) {
        let pid = self.process.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.process.child.try_wait() {
                self.process.reaped = true;
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// (resident, peak resident) memory in MB.
    fn rss_mb(&self) -> (f64, f64) {
        common::rss_mb(self.process.child.id())
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api{path}", self.url)
    }
}

/// A tally-sim serving a generated company (seed `seed`) on a free port; its URL.
fn tally_sim(seed: usize, log: std::fs::File) -> (Group, String) {
    let mut sim = Group::spawn(
        Command::new(env!("CARGO_BIN_EXE_tally-sim"))
            .args(["serve", "--seed", &seed.to_string()])
            .args(["--ledgers", "200", "--vouchers", "2000", "--port", "0"])
            .env("ROCKET_CLI_COLORS", "false")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let url = wait_for_line(&mut sim.child, "launched from ", log);
    (sim, url)
}

// ---------------------------------------------------------------------------------------------
// The counting relay in front of the appliance, one per connector

/// What one connector received from the appliance.
#[derive(Default)]
struct Traffic {
    /// Every byte the appliance sent it.
    bytes: u64,
    /// The bytes of archive answers (headers included).
    archive_bytes: u64,
    /// When each archive request passed.
    archive_requests: Vec<Instant>,
    /// When the last byte of an archive answer passed.
    archive_done: Option<Instant>,
    /// When the first heartbeat saying N+1 passed (the new program reporting).
    first_report: Option<Instant>,
}

type Shared = Arc<Mutex<Traffic>>;

fn traffic(shared: &Shared) -> std::sync::MutexGuard<'_, Traffic> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a relay to `upstream` on a free port; its URL.
fn relay(rt: &tokio::runtime::Runtime, upstream: SocketAddr, shared: Shared) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a relay port");
    let url = format!("http://{}", listener.local_addr().expect("relay address"));
    rt.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(pass(client, upstream, shared.clone()));
        }
    });
    url
}

/// The start of a request: no client sends the next request on a connection before the
/// previous answer has passed, so answer bytes belong to the last request seen.
fn note_request(chunk: &[u8], archive: &AtomicBool, shared: &Shared) {
    let report = format!("\"appVersion\":\"{NEXT}\"");
    if chunk.windows(report.len()).any(|w| w == report.as_bytes()) {
        traffic(shared)
            .first_report
            .get_or_insert_with(Instant::now);
    }
    if chunk.starts_with(b"GET /api/connector/releases/") {
        archive.store(true, Ordering::SeqCst);
        traffic(shared).archive_requests.push(Instant::now());
    } else if [&b"GET /"[..], b"POST /", b"PUT /", b"HEAD /", b"DELETE /"]
        .iter()
        .any(|m| chunk.starts_with(m))
    {
        archive.store(false, Ordering::SeqCst);
    }
}

fn note_answer(n: usize, archive: &AtomicBool, shared: &Shared) {
    let mut t = traffic(shared);
    t.bytes += n as u64;
    if archive.load(Ordering::SeqCst) {
        t.archive_bytes += n as u64;
        t.archive_done = Some(Instant::now());
    }
}

/// One connection: the client's bytes to the appliance and back, counted. A closed appliance
/// (while it is upgraded) closes the client's connection, as the appliance itself would.
async fn pass(client: tokio::net::TcpStream, upstream: SocketAddr, shared: Shared) {
    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_in, mut client_out) = client.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    let archive = AtomicBool::new(false);
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = client_in.read(&mut buf).await {
            note_request(&buf[..n], &archive, &shared);
            if server_out.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let answers = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = server_in.read(&mut buf).await {
            note_answer(n, &archive, &shared);
            if client_out.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = requests => {}
        _ = answers => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Talking to the appliance

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

fn call(req: reqwest::blocking::RequestBuilder, what: &str) -> Value {
    let res = req.send().unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = res.status();
    let text = res.text().unwrap_or_default();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn admin_token(srv: &Server) -> String {
    let login = json!({"username": "admin", "password": ADMIN_PASSWORD});
    let answer = call(http().post(srv.api("/auth/login")).json(&login), "login");
    answer["token"].as_str().expect("a token").to_string()
}

/// Creates company `id` and enrols a Linux connector at version N for it; its token.
fn enrol(srv: &Server, admin: &str, id: &str) -> String {
    let company = json!({"name": format!("Client {id}"), "id": id});
    call(
        http()
            .post(srv.api("/companies"))
            .bearer_auth(admin)
            .json(&company),
        "create company",
    );
    let enrol = json!({"companyId": id, "deviceId": format!("pc-{id}"), "deviceName": "Accounts PC",
        "os": "linux x86_64", "appVersion": N, "userJwt": admin});
    let answer = call(
        http().post(srv.api("/connector/auth")).json(&enrol),
        "enrol",
    );
    answer["connectorToken"]
        .as_str()
        .expect("a connector token")
        .to_string()
}

fn overview(srv: &Server, admin: &str) -> Vec<Value> {
    let answer = call(
        http().get(srv.api("/overview")).bearer_auth(admin),
        "overview",
    );
    answer["companies"].as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The fleet

/// One PC: the connector in its own folder, its Tally, and what it received.
struct Pc {
    company: String,
    dir: PathBuf,
    traffic: Shared,
    _connector: Group,
    _tally: Group,
}

/// What every connector is started with.
struct Setup<'a> {
    program: &'a Path,
    heartbeat: u32,
    jitter: u64,
}

impl Pc {
    /// Starts PC number `seat`: its tally-sim, and the connector from a copy of the program in
    /// `dir`, talking to the appliance through `relay`.
    fn start(
        setup: &Setup<'_>,
        seat: usize,
        dir: PathBuf,
        enrolled: (&str, &str),
        relay: (String, Shared),
    ) -> Pc {
        let (company, token) = enrolled;
        std::fs::create_dir_all(&dir).expect("connector folder");
        let tally_log = std::fs::File::create(dir.join("tally-sim.txt")).expect("log");
        let (tally, tally_url) = tally_sim(seat + 1, tally_log);
        let exe = dir.join("aicfo-connector");
        std::fs::copy(setup.program, &exe).expect("program copy");
        let config = json!({
            "api_url": format!("{}/api", relay.0), "company_id": company,
            "connector_token": token, "tally_url": tally_url,
            "sync_interval_minutes": 1440, "heartbeat_interval_seconds": setup.heartbeat,
            "max_retry_attempts": 3, "retry_delay_seconds": 5, "log_level": "info",
            "closed_months": 3,
        });
        std::fs::write(dir.join("config.json"), config.to_string()).expect("config.json");
        let log = std::fs::File::create(dir.join("console.txt")).expect("console log");
        let connector = Group::spawn(
            Command::new(&exe)
                .arg("run")
                .current_dir(&dir)
                .env_remove("AICFO_CONNECTOR_HOME")
                .env_remove("AICFO_UNDER_SERVICE")
                .env("AICFO_TALLY_LOCK_DIR", &dir)
                .env("AICFO_UPDATE_JITTER_SECS", setup.jitter.to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("console log"))
                .stderr(log),
        );
        Pc {
            company: company.to_string(),
            dir,
            traffic: relay.1,
            _connector: connector,
            _tally: tally,
        }
    }
}

/// The appliance, its connectors and the scratch folder they live in. Dropped in this order:
/// the PCs' processes, the appliance, the relays, then the folder.
struct Fleet {
    pcs: Vec<Pc>,
    server: Option<Server>,
    admin: String,
    _relays: tokio::runtime::Runtime,
    scratch: tempfile::TempDir,
}

impl Fleet {
    /// The appliance carrying N, and `k` companies each with a connector at N and its Tally.
    fn assemble(k: usize, setup: &Setup<'_>, archive_n: &[u8], keep: bool) -> Fleet {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(tmp).expect("target/tmp");
        let scratch = tempfile::Builder::new()
            .prefix("fleet-")
            .disable_cleanup(keep)
            .tempdir_in(tmp)
            .expect("a scratch folder");
        carry(&scratch.path().join("releases"), N, archive_n);
        let server = Server::start(scratch.path(), 0, setup.heartbeat);
        let admin = admin_token(&server);
        let relays = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the relays");
        let upstream: SocketAddr = format!("127.0.0.1:{}", server.port)
            .parse()
            .expect("the appliance's address");
        let pcs = (0..k)
            .map(|seat| {
                let company = format!("client-{seat:03}");
                let token = enrol(&server, &admin, &company);
                let shared = Shared::default();
                let url = relay(&relays, upstream, shared.clone());
                let dir = scratch.path().join(format!("pc-{seat:03}"));
                Pc::start(setup, seat, dir, (&company, &token), (url, shared))
            })
            .collect();
        Fleet {
            pcs,
            server: Some(server),
            admin,
            _relays: relays,
            scratch,
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the appliance runs")
    }

    /// Waits until every connector has sent a heartbeat and its first sync ended; how many
    /// of those syncs succeeded.
    fn settle(&self) -> usize {
        let started = Instant::now();
        loop {
            let companies = overview(self.server(), &self.admin);
            let ready = companies.iter().filter(|c| settled(c)).count();
            if ready == self.pcs.len() {
                let ok = companies
                    .iter()
                    .filter(|c| c["lastSuccessfulSync"].is_object());
                return ok.count();
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "only {ready} of {} connectors heartbeated and synced within 10 minutes",
                self.pcs.len()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Stops the appliance, gives it release N+1 and starts it again on the same data and
    /// port: how long it was away, and when it listened again.
    fn upgrade(&mut self, archive_next: &[u8], heartbeat: u32) -> (Duration, Instant) {
        let old = self.server.take().expect("the appliance runs");
        let port = old.port;
        let stopped = Instant::now();
        old.stop();
        carry(&self.scratch.path().join("releases"), NEXT, archive_next);
        self.server = Some(Server::start(self.scratch.path(), port, heartbeat));
        let back = Instant::now();
        (back - stopped, back)
    }

    /// When each connector was first seen reporting N+1 installed, counted from `back`;
    /// `None` for one that had not within `patience`.
    fn watch(&self, back: Instant, patience: Duration) -> Vec<Option<Duration>> {
        let mut seen = vec![None; self.pcs.len()];
        while seen.iter().any(Option::is_none) && back.elapsed() < patience {
            let companies = overview(self.server(), &self.admin);
            let now = back.elapsed();
            for (pc, when) in self.pcs.iter().zip(seen.iter_mut()) {
                if when.is_none() && installed(&companies, &pc.company) {
                    *when = Some(now);
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        seen
    }

    /// The version each connector's status shows.
    fn versions(&self) -> Vec<String> {
        self.pcs
            .iter()
            .map(|pc| {
                let path = format!("/connector/status?companyId={}", pc.company);
                let req = http()
                    .get(self.server().api(&path))
                    .bearer_auth(&self.admin);
                let status = call(req, "status");
                status["connectors"][0]["appVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }
}

fn settled(company: &Value) -> bool {
    let connectors = company["connectors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let heartbeating =
        !connectors.is_empty() && connectors.iter().all(|c| c["lastHeartbeat"].is_string());
    let synced = company["lastSyncRun"]["status"]
        .as_str()
        .is_some_and(|s| s != "running");
    heartbeating && synced
}

fn installed(companies: &[Value], id: &str) -> bool {
    companies
        .iter()
        .filter(|c| c["id"] == id)
        .flat_map(|c| c["connectors"].as_array().cloned().unwrap_or_default())
        .any(|c| c["lastUpdate"]["version"] == NEXT && c["lastUpdate"]["outcome"] == "installed")
}

// ---------------------------------------------------------------------------------------------
// Figures

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// (lowest, median, highest).
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One line per connector: when its download started and ended and when it was seen on N+1.
fn per_connector(fleet: &Fleet, seen: &[Option<Duration>], back: Instant) {
    println!("  pc   download start  done  reports {NEXT}  seen installed  requests  archive bytes  all bytes");
    for (pc, when) in fleet.pcs.iter().zip(seen) {
        let t = traffic(&pc.traffic);
        let at = |i: Option<&Instant>| i.map_or(f64::NAN, |i| secs(*i - back));
        println!(
            "  {:<4} {:>14.1} {:>5.1} {:>13.1} {:>14.1} {:>9} {:>14} {:>10}",
            &pc.company[pc.company.len() - 3..],
            at(t.archive_requests.first()),
            at(t.archive_done.as_ref()),
            at(t.first_report.as_ref()),
            when.map_or(f64::NAN, secs),
            t.archive_requests.len(),
            t.archive_bytes,
            t.bytes
        );
    }
}

fn summary(fleet: &Fleet, seen: &[Option<Duration>], back: Instant, archive_len: usize) {
    let done: Vec<f64> = seen.iter().flatten().map(|d| secs(*d)).collect();
    let (first, median, last) = spread(done.clone());
    println!(
        "  {} of {} connectors reported {NEXT} installed: last {last:.1} s, median {median:.1} s, first {first:.1} s after the appliance was back",
        done.len(),
        fleet.pcs.len()
    );
    let all: Vec<Traffic> = fleet
        .pcs
        .iter()
        .map(|pc| std::mem::take(&mut *traffic(&pc.traffic)))
        .collect();
    let starts = all.iter().filter_map(|t| t.archive_requests.first());
    let (s0, _, s1) = spread(starts.map(|i| secs(*i - back)).collect());
    println!("  downloads started {s0:.1} s to {s1:.1} s after the appliance was back");
    let took = all
        .iter()
        .filter_map(|t| Some(*t.archive_done.as_ref()? - *t.archive_requests.first()?));
    let (d0, dm, d1) = spread(took.map(secs).collect());
    println!("  each download took {d0:.2} s to {d1:.2} s (median {dm:.2} s)");
    let install = all
        .iter()
        .filter_map(|t| Some(*t.first_report.as_ref()? - *t.archive_done.as_ref()?));
    let (i0, im, i1) = spread(install.map(secs).collect());
    println!("  from the last byte downloaded to the new program's first heartbeat (verify, unpack, version and self-test, swap, restart): {i0:.1} s to {i1:.1} s (median {im:.1} s)");
    let requests: usize = all.iter().map(|t| t.archive_requests.len()).sum();
    let (b0, _, b1) = spread(all.iter().map(|t| t.archive_bytes as f64).collect());
    let (a0, _, a1) = spread(all.iter().map(|t| t.bytes as f64).collect());
    println!(
        "  archive requests {requests} for {} connectors; archive answer bytes per connector {b0:.0} to {b1:.0} (the archive is {archive_len} bytes: headers {:.0} bytes); all bytes from the appliance per connector {a0:.0} to {a1:.0}",
        fleet.pcs.len(),
        b0 - archive_len as f64
    );
    let (rss, peak) = fleet.server().rss_mb();
    println!(
        "  appliance RSS {rss:.0} MB, peak {peak:.0} MB since its restart; load {}",
        load()
    );
}

/// The tail of a connector's console, for one that did not get there.
fn tail(pc: &Pc) -> String {
    let text = std::fs::read_to_string(pc.dir.join("console.txt")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

// ---------------------------------------------------------------------------------------------

struct Args {
    connectors: usize,
    jitters: Vec<u64>,
    heartbeat: u32,
    /// Leave the scratch folders (logs of the appliance and every connector) behind.
    keep: bool,
    /// Connectors built in release, as shipped, rather than the tests' dev build.
    release_connectors: bool,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        let i = argv.iter().position(|a| a == name)?;
        argv.get(i + 1).cloned()
    };
    Args {
        connectors: value("--connectors")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 8 } else { 20 }),
        jitters: value("--jitter")
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![0, 60]),
        heartbeat: value("--heartbeat")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5)
            .max(5),
        keep: argv.iter().any(|a| a == "--keep"),
        release_connectors: argv.iter().any(|a| a == "--release-connectors"),
    }
}

/// One upgrade of a fresh fleet with the connectors' jitter at `jitter` seconds.
fn round(args: &Args, jitter: u64, program_n: &Path, archives: (&[u8], &[u8])) {
    let setup = Setup {
        program: program_n,
        heartbeat: args.heartbeat,
        jitter,
    };
    let started = Instant::now();
    let mut fleet = Fleet::assemble(args.connectors, &setup, archives.0, args.keep);
    if args.keep {
        println!("  keeping {}", fleet.scratch.path().display());
    }
    let synced = fleet.settle();
    println!(
        "--- jitter {jitter} s: {} connectors at {N} heartbeating ({synced} first syncs succeeded) after {:.0} s; load {}",
        args.connectors,
        secs(started.elapsed()),
        load()
    );
    let (away, back) = fleet.upgrade(archives.1, args.heartbeat);
    println!(
        "  appliance upgraded to carry {NEXT}: away {:.1} s (SIGTERM to listening again)",
        secs(away)
    );
    let seen = fleet.watch(back, Duration::from_secs(jitter) + PATIENCE);
    per_connector(&fleet, &seen, back);
    summary(&fleet, &seen, back, archives.1.len());
    let versions = fleet.versions();
    for ((pc, when), version) in fleet.pcs.iter().zip(&seen).zip(&versions) {
        if when.is_none() || version != NEXT {
            println!(
                "  {} shows version {version:?}; its console:\n{}",
                pc.company,
                tail(pc)
            );
        }
    }
    assert!(
        seen.iter().all(Option::is_some) && versions.iter().all(|v| v == NEXT),
        "not every connector reported {NEXT} installed"
    );
    for pc in &fleet.pcs {
        assert_eq!(version_of(&pc.dir.join("aicfo-connector")), NEXT);
        assert_eq!(version_of(&pc.dir.join("aicfo-connector.previous")), N);
    }
}

fn main() {
    let args = args();
    println!(
        "fleet_update: {} connectors (each with its own company and tally-sim), heartbeat every {} s, update jitter {:?} s; {} cores, load {}",
        args.connectors,
        args.heartbeat,
        args.jitters,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );
    let (n, next) = (
        program(N, args.release_connectors),
        program(NEXT, args.release_connectors),
    );
    let archives = (signed_archive(N, &n), signed_archive(NEXT, &next));
    println!(
        "  connector {NEXT}: program {} bytes ({} build), signed archive {} bytes",
        std::fs::metadata(&next).map_or(0, |m| m.len()),
        if args.release_connectors {
            "release"
        } else {
            "dev"
        },
        archives.1.len()
    );
    for &jitter in &args.jitters {
        round(&args, jitter, &n, (&archives.0, &archives.1));
    }
}
