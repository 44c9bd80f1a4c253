//! The appliance under hostile input (issue 8): login memory and concurrency, login limits that
//! hold against forged addresses, races and lockouts, JSON-only writes.

mod common;

use std::io::Write;
use std::net::IpAddr;

use aicfo::server::auth::passwords::PasswordGate;
use common::client_from;
use rocket::fairing::AdHoc;
use serde_json::{json, Value};

/// The real appliance in-process, with a handle on its password gate to count checks.
struct Appliance {
    url: String,
    gate: PasswordGate,
    shutdown: rocket::Shutdown,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start(extra: &[(&str, Value)]) -> Appliance {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<u16>();
    let tx = std::sync::Mutex::new(Some(tx));
    let rocket = aicfo::server::build(common::figment(dir.path(), extra))
        .expect("server builds")
        .attach(AdHoc::on_liftoff("report port", move |r| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(r.config().port);
            }
            Box::pin(async {})
        }))
        .ignite()
        .await
        .expect("server ignites");
    let gate = rocket.state::<PasswordGate>().expect("gate").clone();
    let shutdown = rocket.shutdown();
    let task = tokio::spawn(async move {
        let _ = rocket.launch().await;
    });
    let port = rx.await.unwrap();
    Appliance {
        url: format!("http://127.0.0.1:{port}"),
        gate,
        shutdown,
        task,
        _dir: dir,
    }
}

impl Appliance {
    fn admin_password(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("admin-password.txt"))
            .unwrap()
            .trim()
            .to_string()
    }

    async fn stop(self) {
        self.shutdown.notify();
        let _ = self.task.await;
    }
}

async fn login(
    http: &reqwest::Client,
    app: &Appliance,
    username: &str,
    password: &str,
    forwarded: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut req = http
        .post(format!("{}/api/auth/login", app.url))
        .json(&json!({"username": username, "password": password}));
    if let Some(ip) = forwarded {
        req = req.header("X-Real-IP", ip);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, res.json().await.unwrap_or(Value::Null), retry)
}

#[tokio::test]
async fn over_long_usernames_are_refused_before_anything_is_counted_or_hashed() {
    let app = start(&[("login_max_failures", json!(2))]).await;
    let http = reqwest::Client::new();
    for i in 0..200 {
        let name = format!("{i}{}", "u".repeat(10_000));
        let (s, b, _) = login(&http, &app, &name, "whatever-password", None).await;
        assert_eq!(s, 422, "{b}");
        assert_eq!(b["details"][0]["path"], "username");
    }
    // A megabyte is not even read: a login body is small.
    for i in 0..20 {
        let name = format!("{i}{}", "u".repeat(1_000_000));
        let (s, b, _) = login(&http, &app, &name, "whatever-password", None).await;
        assert_eq!((s, &b["error"]), (413, &json!("payload_too_large")));
    }
    let (s, b, _) = login(&http, &app, "admin", &"p".repeat(5000), None).await;
    assert_eq!((s, &b["details"][0]["path"]), (422, &json!("password")));
    assert_eq!(app.gate.checks(), 0, "no password was hashed");
    // Nothing was counted against this address either.
    let (s, _, _) = login(&http, &app, "admin", &app.admin_password(), None).await;
    assert_eq!(s, 200);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_guesses_at_one_username_get_at_most_the_limit_of_checks() {
    let app = start(&[("login_max_failures", json!(5))]).await;
    let http = reqwest::Client::new();
    let guesses = (0..200).map(|i| {
        let (http, app) = (&http, &app);
        async move { login(http, app, "admin", &format!("guess-{i}"), None).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let wrong = answers.iter().filter(|a| a.0 == 401).count();
    let slowed = answers.iter().filter(|a| a.0 == 429).count();
    assert_eq!(wrong + slowed, 200, "only 401 and 429");
    assert!(wrong <= 5, "{wrong} guesses were checked");
    assert!(
        app.gate.checks() <= 5,
        "{} password checks",
        app.gate.checks()
    );
    assert!(answers
        .iter()
        .filter(|a| a.0 == 429)
        .all(|a| a.2.is_some() && a.1["error"] == "rate_limited"));
    app.stop().await;
}

#[tokio::test]
async fn password_checks_beyond_the_machine_wait_or_are_told_to_come_back() {
    let app = start(&[("login_max_failures", json!(1000))]).await;
    let http = reqwest::Client::new();
    let logins = (0..60).map(|i| {
        let (http, app) = (&http, &app);
        async move { login(http, app, &format!("nobody{i}"), "some password", None).await }
    });
    let answers = futures_util::future::join_all(logins).await;
    for (s, b, retry) in &answers {
        assert!(*s == 401 || (*s == 429 && retry.is_some()), "{s} {b}");
    }
    assert!(app.gate.peak() >= 1);
    assert!(
        app.gate.peak() <= app.gate.size(),
        "{} checks ran at once, the gate admits {}",
        app.gate.peak(),
        app.gate.size()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_flood_from_one_address_does_not_lock_admin_out_of_another() {
    let app = start(&[("login_max_failures", json!(3))]).await;
    let attacker = client_from("127.0.0.2");
    let mut refused = 0;
    for i in 0..12 {
        let (s, _, _) = login(&attacker, &app, "admin", &format!("guess-{i}"), None).await;
        refused += usize::from(s == 429);
    }
    assert!(refused > 0, "the flood is slowed down");
    let office = client_from("127.0.0.1");
    let (s, b, _) = login(&office, &app, "admin", &app.admin_password(), None).await;
    assert_eq!(s, 200, "{b}");
    app.stop().await;
}

#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let app = start(&[("login_max_failures", json!(3))]).await;
    let http = reqwest::Client::new();
    for i in 0..3 {
        let forged = format!("10.9.9.{i}");
        let (s, _, _) = login(&http, &app, "admin", "wrong password", Some(&forged)).await;
        assert_eq!(s, 401);
    }
    let (s, _, _) = login(&http, &app, "admin", "wrong password", Some("10.9.9.200")).await;
    assert_eq!(s, 429, "a new X-Real-IP does not make a new client");
    app.stop().await;
}

#[tokio::test]
async fn a_forwarded_address_from_a_trusted_proxy_is_believed() {
    let app = start(&[
        ("login_max_failures", json!(3)),
        ("trusted_proxies", json!("127.0.0.1, ::1")),
    ])
    .await;
    let http = client_from("127.0.0.1");
    for _ in 0..3 {
        let (s, _, _) = login(&http, &app, "admin", "wrong password", Some("10.0.0.1")).await;
        assert_eq!(s, 401);
    }
    let (s, _, _) = login(&http, &app, "admin", "wrong password", Some("10.0.0.1")).await;
    assert_eq!(s, 429);
    let (s, _, _) = login(
        &http,
        &app,
        "admin",
        &app.admin_password(),
        Some("10.0.0.2"),
    )
    .await;
    assert_eq!(s, 200, "another client behind the proxy is not held back");
    // An address that is not a proxy still cannot choose its own.
    let other = client_from("127.0.0.3");
    for _ in 0..3 {
        login(&other, &app, "admin", "wrong password", Some("10.0.0.3")).await;
    }
    let (s, _, _) = login(&other, &app, "admin", "wrong password", Some("10.0.0.4")).await;
    assert_eq!(s, 429);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_trusted_proxy_setting_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let figment = common::figment(dir.path(), &[("trusted_proxies", json!("10.0.0.1, proxy"))]);
    let Err(err) = aicfo::server::build(figment) else {
        panic!("a bad proxy address was accepted");
    };
    let err = err.to_string();
    assert!(err.contains("`proxy` is not an IP address"), "{err}");
}

async fn post_raw(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = http.post(url).body(body);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn state_changing_requests_accept_only_json() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    let before = srv.fingerprint();
    let login = format!(
        r#"{{"username":"admin","password":"{}"}}"#,
        srv.admin_password()
    );
    let http = reqwest::Client::new();
    for ct in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let (s, b) = post_raw(
            &http,
            srv.api("/auth/login"),
            None,
            ct,
            login.clone().into(),
        )
        .await;
        assert_eq!(
            (s, &b["error"]),
            (415, &json!("unsupported_media_type")),
            "{ct:?}"
        );
        let company = br#"{"name":"Forged","id":"forged"}"#.to_vec();
        let (s, _) = post_raw(&http, srv.api("/companies"), Some(&admin), ct, company).await;
        assert_eq!(s, 415, "{ct:?}");
    }
    assert_eq!(
        srv.fingerprint(),
        before,
        "nothing refused changed anything"
    );
    let json_ct = Some("application/json; charset=utf-8");
    let (s, _) = post_raw(&http, srv.api("/auth/login"), None, json_ct, login.into()).await;
    assert_eq!(s, 200);

    // A connector's compressed sync is JSON too.
    srv.create_company(&admin, "Sharma", "sharma").await;
    let (token, _, connector) = srv.enrol(&admin, "sharma", "pc-1").await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(common::balanced_payload().to_string().as_bytes())
        .unwrap();
    let res = http
        .post(srv.api("/connector/sync"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A write without a body needs no content type.
    let revoke = srv.api(&format!("/connectors/{connector}/revoke"));
    let (s, b) = post_raw(&http, revoke, Some(&admin), None, Vec::new()).await;
    assert_eq!(s, 200, "{b}");
    srv.stop().await;
}

/// The real server binary, started in `cwd`, as a service manager starts it.
struct Process {
    child: std::process::Child,
    url: String,
    /// What it printed before it was listening.
    said: Vec<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(
    cwd: &std::path::Path,
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> Process {
    let cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aicfo-server"));
    spawn_command(cmd, cwd, data_dir, env)
}

fn spawn_command(
    mut cmd: std::process::Command,
    cwd: &std::path::Path,
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> Process {
    use std::io::BufRead;
    cmd.current_dir(cwd)
        .env("AICFO_DATA_DIR", data_dir)
        .env("AICFO_ADMIN_PASSWORD", "process-admin-password")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_CLI_COLORS", "false")
        .env_remove("ROCKET_ADDRESS")
        .env_remove("ROCKET_CONFIG")
        .env_remove("ROCKET_LIMITS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("aicfo-server starts");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            panic!("the server stopped before listening: {said:?}");
        };
        if let Some(at) = line.split("listening on ").nth(1) {
            break at.trim().to_string();
        }
        said.push(line);
    };
    std::thread::spawn(move || lines.for_each(drop));
    Process { child, url, said }
}

impl Process {
    /// The listening URL with a wildcard address replaced by loopback.
    fn reach(&self) -> String {
        self.url
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]")
    }

    fn post(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut req = reqwest::blocking::Client::new()
            .post(format!("{}/api{path}", self.reach()))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().unwrap();
        (res.status().as_u16(), res.json().unwrap_or(Value::Null))
    }

    /// Logs in as admin, creates a company and enrols a connector; returns its token.
    fn connector_token(&self) -> String {
        let body = |v: Value| v.to_string().into_bytes();
        let login = json!({"username": "admin", "password": "process-admin-password"});
        let (s, b) = self.post("/auth/login", None, body(login));
        assert_eq!(s, 200, "{b}");
        let admin = b["token"].as_str().unwrap().to_string();
        let company = json!({"name": "Sharma", "id": "sharma"});
        assert_eq!(self.post("/companies", Some(&admin), body(company)).0, 201);
        let enrol = json!({"companyId": "sharma", "deviceId": "pc-1", "userJwt": admin});
        let (s, b) = self.post("/connector/auth", None, body(enrol));
        assert_eq!(s, 200, "{b}");
        b["connectorToken"].as_str().unwrap().to_string()
    }
}

/// The guide's payload padded with whitespace to two megabytes: valid JSON, over 1 MiB.
fn two_megabyte_sync() -> Vec<u8> {
    let mut body = common::guide_payload().to_string().into_bytes();
    body.resize(2 * 1024 * 1024, b' ');
    body
}

#[test]
fn started_where_there_is_no_rocket_toml_the_built_in_settings_hold() {
    let cwd = tempfile::tempdir().unwrap();
    let app = spawn_server(cwd.path(), &cwd.path().join("data"), &[]);
    assert!(
        app.said
            .iter()
            .any(|l| l.contains("no Rocket.toml") && l.contains("built-in defaults")),
        "{:?}",
        app.said
    );
    assert!(
        app.url.starts_with("http://0.0.0.0:"),
        "listens on every address: {}",
        app.url
    );
    let token = app.connector_token();
    let (s, b) = app.post("/connector/sync", Some(&token), two_megabyte_sync());
    assert_eq!(s, 200, "the 64 MiB sync limit holds: {b}");
}

/// A connector whose `lastUpdate` is garbled (here 200 KB of it) stays online, and what the
/// log says of it is short and said once, however often it is sent: a broken connector must not
/// fill the appliance's disk.
#[test]
fn a_huge_garbled_last_update_is_answered_and_logged_short_and_once() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    let app = spawn_server(cwd.path(), &data, &[]);
    let token = app.connector_token();
    let huge = "x".repeat(200 * 1024);
    let at = "2026-03-01T10:00:00Z";
    let unreadable = json!({"version": "1.0.0", "outcome": huge, "message": "m", "at": at});
    let not_a_version = json!({"version": huge, "outcome": "failed", "message": "m", "at": at});
    for last in [&unreadable, &not_a_version, &unreadable, &not_a_version] {
        let beat = json!({"companyId": "sharma", "lastUpdate": last});
        let (s, b) = app.post(
            "/connector/heartbeat",
            Some(&token),
            beat.to_string().into_bytes(),
        );
        assert_eq!(s, 200, "{b}");
    }
    let log = std::fs::read_to_string(data.join("logs/aicfo-server.log")).unwrap();
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1024, "a log line of {longest} bytes");
    let said = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    assert_eq!(said("lastUpdate is not an update attempt"), 1, "{log}");
    assert_eq!(said("names no update attempt"), 1, "{log}");
}

#[test]
fn a_rocket_toml_in_the_start_folder_is_read_and_named() {
    let cwd = tempfile::tempdir().unwrap();
    let file = cwd.path().join("Rocket.toml");
    std::fs::write(&file, "[default.limits]\nsync = \"1 MiB\"\n").unwrap();
    let app = spawn_server(cwd.path(), &cwd.path().join("data"), &[]);
    let named = file.display().to_string();
    assert!(
        app.said.iter().any(|l| l.contains(&named)),
        "{:?}",
        app.said
    );
    let token = app.connector_token();
    let (s, b) = app.post("/connector/sync", Some(&token), two_megabyte_sync());
    assert_eq!((s, &b["error"]), (413, &json!("payload_too_large")));
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn an_open_data_folder_is_made_private_and_the_books_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let app = spawn_server(cwd.path(), &data, &[]);
    assert!(
        app.said
            .iter()
            .any(|l| l.contains("mode 755") && l.contains("owner-only")),
        "the server says it tightened the folder: {:?}",
        app.said
    );
    assert_eq!(mode(&data), 0o700);
    // A write, so the write-ahead log and its index exist.
    app.connector_token();
    for name in [
        "aicfo.sqlite3",
        "aicfo.sqlite3-wal",
        "aicfo.sqlite3-shm",
        "secrets.json",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit() {
    let cwd = tempfile::tempdir().unwrap();
    // Started with a low soft limit, as a service manager starts it.
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "ulimit -S -n 256 && exec \"$0\""])
        .arg(env!("CARGO_BIN_EXE_aicfo-server"));
    let app = spawn_command(cmd, cwd.path(), &cwd.path().join("data"), &[]);
    assert!(
        app.said
            .iter()
            .any(|l| l.contains("open-file limit raised from 256")),
        "{:?}",
        app.said
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", app.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3], fields[4], "soft limit = hard limit: {line}");
}

/// Raises this test process's own soft open-file limit, to hold many connections at once.
#[cfg(unix)]
fn allow_many_open_files() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: now.maximum.or(Some(1 << 20)),
            maximum: now.maximum,
        },
    );
}

#[cfg(target_os = "linux")]
#[test]
fn slow_clients_are_closed_and_do_not_shut_out_a_real_login() {
    use std::io::{Read, Write};
    allow_many_open_files();
    let cwd = tempfile::tempdir().unwrap();
    // The default soft limit a service gets: 1,100 stalled clients used to exhaust it.
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "ulimit -S -n 1024 && exec \"$0\""])
        .arg(env!("CARGO_BIN_EXE_aicfo-server"));
    let env = [("AICFO_HEADER_TIMEOUT_SECS", "2")];
    let app = spawn_command(cmd, cwd.path(), &cwd.path().join("data"), &env);
    let at = app.reach().trim_start_matches("http://").to_string();
    // From many addresses, so that no one address's cap turns them away.
    let stalled: Vec<std::net::TcpStream> = (0..1100)
        .map(|i| {
            let mut s = connect_from(&format!("127.0.1.{}", 1 + i / 30), &at);
            s.write_all(b"POST /api/auth/login HTTP/1.1\r\nHost: appliance\r\nContent-Ty")
                .unwrap();
            s
        })
        .collect();
    let login = json!({"username": "admin", "password": "process-admin-password"});
    let (s, b) = app.post("/auth/login", None, login.to_string().into_bytes());
    assert_eq!(s, 200, "{b}");
    eprintln!(
        "with 1,100 stalled clients from 37 addresses: {}",
        memory_of(&app)
    );
    // Each stalled client is closed (the bound only keeps a broken build from hanging the test).
    for mut s in stalled {
        s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("a stalled client was not closed: {other:?}"),
        }
    }
}

/// A TCP connection to `at` from the local address `from` (on Linux every 127.x address is this
/// machine), blocking.
fn connect_from(from: &str, at: &str) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(at.parse().unwrap()).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// The server's resident memory, for the test's output (not asserted).
fn memory_of(app: &Process) -> String {
    let status = std::fs::read_to_string(format!("/proc/{}/status", app.child.id()));
    status
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS unknown")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the server has closed `s` (or answered on it), without waiting.
fn closed_by_server(s: &std::net::TcpStream) -> bool {
    use std::io::Read;
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let closed = match (&*s).read(&mut buf) {
        Ok(0) => true,
        Ok(n) => {
            let said = String::from_utf8_lossy(&buf[..n]);
            assert!(said.starts_with("HTTP/1.1 503"), "{said}");
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e) => panic!("{e}"),
    };
    s.set_nonblocking(false).unwrap();
    closed
}

#[cfg(target_os = "linux")]
#[test]
fn idle_sockets_from_one_address_do_not_shut_out_another_client() {
    let cwd = tempfile::tempdir().unwrap();
    // Long enough that the sockets the front keeps are still open when the test looks.
    let env = [("AICFO_HEADER_TIMEOUT_SECS", "600")];
    let app = spawn_server(cwd.path(), &cwd.path().join("data"), &env);
    let at = app.reach().trim_start_matches("http://").to_string();
    let flood: Vec<std::net::TcpStream> = (0..40).map(|_| connect_from("127.0.0.2", &at)).collect();
    // The flood's own next connection is refused; another address is answered.
    let flood_client = reqwest::blocking::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().ok())
        .build()
        .unwrap();
    let refused = flood_client
        .get(format!("{}/api/health", app.reach()))
        .send();
    assert!(
        refused.map_or(true, |r| r.status() == 503),
        "a 41st socket from the flooding address is not served"
    );
    let login = json!({"username": "admin", "password": "process-admin-password"});
    let (s, b) = app.post("/auth/login", None, login.to_string().into_bytes());
    assert_eq!(s, 200, "{b}");
    // The 32 the front allows one address stay open (until the header timeout); the rest were
    // closed at once.
    let closed = flood.iter().filter(|s| closed_by_server(s)).count();
    assert_eq!(closed, 8, "of 40 idle sockets from one address");
    eprintln!("with 40 idle sockets from one address: {}", memory_of(&app));
}

#[test]
fn behind_the_front_each_client_keeps_its_own_address() {
    let cwd = tempfile::tempdir().unwrap();
    let env = [("AICFO_LOGIN_MAX_FAILURES", "2")];
    let app = spawn_server(cwd.path(), &cwd.path().join("data"), &env);
    let port = app.url.rsplit(':').next().unwrap().to_string();
    let login = |from: &str, password: &str| {
        let res = reqwest::blocking::Client::builder()
            .local_address(from.parse::<IpAddr>().ok())
            .build()
            .unwrap()
            .post(format!("http://127.0.0.1:{port}/api/auth/login"))
            .json(&json!({"username": "admin", "password": password}))
            .send()
            .unwrap();
        res.status().as_u16()
    };
    let answers: Vec<u16> = (0..4)
        .map(|_| login("127.0.0.2", "wrong password"))
        .collect();
    assert_eq!(answers.last(), Some(&429), "{answers:?}");
    assert_eq!(login("127.0.0.1", "process-admin-password"), 200);
}

#[test]
fn a_rocket_config_naming_a_missing_file_stops_start_up() {
    let cwd = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
        .current_dir(cwd.path())
        .env("AICFO_DATA_DIR", cwd.path().join("data"))
        .env("ROCKET_CONFIG", cwd.path().join("Rocket-typo.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ROCKET_CONFIG names") && err.contains("Rocket-typo.toml"),
        "{err}"
    );
}

/// Opens `per_address` connections from each of `addresses` and sends each a login head that
/// announces a body it never sends.
fn login_heads_without_bodies(
    addresses: std::ops::RangeInclusive<u32>,
    per_address: usize,
    at: &str,
) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    let head = b"POST /api/auth/login HTTP/1.1\r\nHost: appliance\r\n\
        Content-Type: application/json\r\nContent-Length: 16000\r\n\r\n";
    let mut sockets = Vec::new();
    for a in addresses {
        for _ in 0..per_address {
            let mut s = connect_from(&format!("127.0.1.{a}"), at);
            // The front may already have closed it to make room.
            let _ = s.write_all(head);
            sockets.push(s);
        }
    }
    sockets
}

#[cfg(target_os = "linux")]
#[test]
fn requests_that_never_send_their_bodies_do_not_shut_out_a_real_login() {
    use std::io::Write;
    allow_many_open_files();
    let cwd = tempfile::tempdir().unwrap();
    // 500 open files: the front holds (500 - 128) / 3 = 124 connections, 64 per address.
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "ulimit -n 500 && exec \"$0\""])
        .arg(env!("CARGO_BIN_EXE_aicfo-server"));
    let app = spawn_command(cmd, cwd.path(), &cwd.path().join("data"), &[]);
    let at = app.reach().trim_start_matches("http://").to_string();
    // Heads whose clients hang up at once, then heads whose clients sit on their sockets.
    for s in login_heads_without_bodies(1..=4, 64, &at) {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    let mut idle = login_heads_without_bodies(5..=8, 64, &at);
    // Then every idle client trickles a byte of its body, as if to stay under the idle timeout.
    for s in &mut idle {
        let _ = s.write_all(b" ");
    }
    // The bound only keeps a broken build from hanging the test.
    let honest = reqwest::blocking::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().ok())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let login = json!({"username": "admin", "password": "process-admin-password"});
    let res = honest
        .post(format!("{}/api/auth/login", app.reach()))
        .json(&login)
        .send()
        .unwrap();
    assert_eq!(res.status(), 200, "an honest login during the flood");
    let closed = idle.iter().filter(|s| closed_by_server(s)).count();
    assert!(
        closed >= 256 - 124,
        "{closed} of 256 idle requests were closed for room"
    );
    eprintln!(
        "with 256 requests sitting on their bodies: {}",
        memory_of(&app)
    );
}
