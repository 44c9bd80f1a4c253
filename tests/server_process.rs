//! The appliance as a real process: first start, clean stop on SIGTERM, restart on the same data.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use aicfo::server::{ADMIN_PASSWORD_FILE, DATABASE_FILE, SECRETS_FILE};
use common::text;
use serde_json::{json, Value};

struct Appliance {
    child: Child,
    url: String,
    output: std::sync::mpsc::Receiver<String>,
}

fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Appliance {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aicfo-server"));
    cmd.env("AICFO_DATA_DIR", data_dir)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_LOG_LEVEL", "normal")
        .env("ROCKET_CLI_COLORS", "false")
        .env_remove("AICFO_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("aicfo-server starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut url = None;
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        if let Some(rest) = line.split("launched from ").nth(1) {
            url = Some(rest.trim().to_string());
            break;
        }
        seen.push(line);
    }
    let url = url.unwrap_or_else(|| panic!("server did not report its address; output: {seen:?}"));
    Appliance {
        child,
        url,
        output: rx,
    }
}

impl Appliance {
    fn api(&self, p: &str) -> String {
        format!("{}/api{p}", self.url)
    }

    fn post(&self, p: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = reqwest::blocking::Client::new()
            .post(self.api(p))
            .json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().unwrap();
        (res.status().as_u16(), res.json().unwrap())
    }

    fn get(&self, p: &str, token: &str) -> (u16, Value) {
        let res = reqwest::blocking::Client::new()
            .get(self.api(p))
            .bearer_auth(token)
            .send()
            .unwrap();
        (res.status().as_u16(), res.json().unwrap())
    }

    fn login(&self, password: &str) -> String {
        let (s, b) = self.post(
            "/auth/login",
            None,
            &json!({"username": "admin", "password": password}),
        );
        assert_eq!(s, 200, "{b}");
        b["token"].as_str().unwrap().to_string()
    }

    /// SIGTERM, as a service manager stops it; it must exit by itself, successfully.
    fn terminate(mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "server exited with {exit}");
        drop(self.output);
    }
}

#[test]
fn data_survives_a_stop_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(
        dir.path(),
        &[("AICFO_ADMIN_PASSWORD", "first-start-password")],
    );
    let admin = app.login("first-start-password");
    assert_eq!(
        app.post(
            "/companies",
            Some(&admin),
            &json!({"name": "Sharma", "id": "sharma"})
        )
        .0,
        201
    );
    let (s, enrol) = app.post(
        "/connector/auth",
        None,
        &json!({"companyId": "sharma", "deviceId": "pc-1", "userJwt": admin}),
    );
    assert_eq!(s, 200);
    let token = enrol["connectorToken"].as_str().unwrap().to_string();
    let (s, b) = app.post("/connector/sync", Some(&token), &common::balanced_payload());
    assert_eq!(s, 200, "{b}");
    let (_, before) = app.get("/companies/sharma/snapshots/2026-03", &admin);
    app.terminate();

    // Started again without the variable: the admin keeps the password set the first time.
    let app = start(dir.path(), &[]);
    assert!(!dir.path().join(ADMIN_PASSWORD_FILE).exists());
    let admin = app.login("first-start-password");
    let (s, after) = app.get("/companies/sharma/snapshots/2026-03", &admin);
    assert_eq!(s, 200);
    assert_eq!(after, before);
    // Tokens issued before the restart still verify: the secrets were kept in the data folder.
    let (s, _) = app.post(
        "/connector/heartbeat",
        Some(&token),
        &json!({"companyId": "sharma"}),
    );
    assert_eq!(s, 200);
    app.terminate();
}

#[test]
fn first_start_generates_an_admin_password_shown_once_and_kept_private() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let app = start(&dir, &[]);
    let file = dir.join(ADMIN_PASSWORD_FILE);
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(password.len() >= 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(dir.join(SECRETS_FILE))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o700,
            "a data folder the appliance creates is private"
        );
    }
    app.login(&password);
    app.terminate();
    // A second start does not show or change it.
    let app = start(&dir, &[]);
    app.login(&password);
    app.terminate();
}

#[test]
fn a_bad_setting_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
        .env("AICFO_DATA_DIR", dir.path())
        .env("AICFO_HEARTBEAT_INTERVAL_SECS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("heartbeat_interval_secs"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
        .env("AICFO_DATA_DIR", dir.path())
        .env("AICFO_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AICFO_ADMIN_PASSWORD"));
}

/// Starts the binary on `data_dir` expecting it to refuse; returns what it printed on stderr.
fn refused_start(data_dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
        .env("AICFO_DATA_DIR", data_dir)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env_remove("AICFO_ADMIN_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.starts_with("aicfo-server cannot start: "), "{err}");
    assert!(
        !err.contains("server log"),
        "the cause is on the console: {err}"
    );
    err
}

#[test]
fn a_data_folder_that_is_a_file_stops_start_up_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "not a folder").unwrap();
    let err = refused_start(&file);
    assert!(err.contains("is not a folder"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
}

#[test]
fn an_unreadable_database_stops_start_up_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = vec![0x5au8; 8192];
    std::fs::write(dir.path().join(DATABASE_FILE), &garbage).unwrap();
    let err = refused_start(dir.path());
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(err.contains("file is not a database"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join(DATABASE_FILE)).unwrap(),
        garbage
    );
    assert!(!dir.path().join(ADMIN_PASSWORD_FILE).exists());
}

#[test]
fn a_database_from_a_newer_appliance_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(
        dir.path(),
        &[("AICFO_ADMIN_PASSWORD", "first-start-password")],
    );
    app.terminate();
    // A later aicfo-server applied a migration this one does not know.
    let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    conn.execute(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
         VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z', '0')",
        [],
    )
    .unwrap();
    drop(conn);
    let db = dir.path().join(DATABASE_FILE);
    let before = std::fs::read(&db).unwrap();
    let err = refused_start(dir.path());
    assert!(err.contains("schema version 999"), "{err}");
    assert!(err.contains("newer aicfo-server"), "{err}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is untouched"
    );
    let backups = dir.path().join("backups");
    let before_migration = std::fs::read_dir(&backups)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().contains("before-v"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        before_migration, 0,
        "nothing was migrated, so nothing backed up"
    );
}

fn server_command(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aicfo-server"));
    cmd.args(args)
        .env("AICFO_DATA_DIR", data_dir)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env_remove("AICFO_ADMIN_PASSWORD");
    cmd
}

#[test]
fn help_and_version_answer_without_starting_anything() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let out = server_command(&dir, &["--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "backup", "restore"] {
        assert!(help.contains(command), "{help}");
    }
    let out = server_command(&dir, &["--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("aicfo-server {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        !dir.exists(),
        "no data folder, no admin: nothing was started"
    );
}

#[test]
fn an_unknown_argument_is_an_error_and_starts_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    for args in [&["--bogus"][..], &["serve", "extra"], &["frobnicate"]] {
        let out = server_command(&dir, args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error:"), "{err}");
    }
    assert!(!dir.exists());
}

#[test]
fn a_taken_port_stops_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = server_command(dir.path(), &[])
        .env("ROCKET_PORT", &port)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "aicfo-server cannot start: cannot listen on 127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(err.contains("in use"), "{err}");
    assert!(!dir.path().join(ADMIN_PASSWORD_FILE).exists());
}

#[test]
fn a_data_folder_it_cannot_write_stops_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    // Where its log goes is taken: a file, not a folder.
    std::fs::write(dir.path().join("logs"), "in the way").unwrap();
    let err = refused_start(dir.path());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot write the log"), "{err}");
    assert!(!dir.path().join(ADMIN_PASSWORD_FILE).exists());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
        // root writes anyway: then there is nothing to see here.
        if std::fs::write(dir.path().join("probe"), "x").is_err() {
            let err = refused_start(dir.path());
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains("writable"), "{err}");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}

#[test]
fn the_server_logs_into_the_data_folder_as_well_as_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(
        dir.path(),
        &[("AICFO_ADMIN_PASSWORD", "first-start-password")],
    );
    app.login("first-start-password");
    let (s, health) = app.get("/health", "");
    assert_eq!(s, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(health["schemaVersion"].as_i64().unwrap() >= 4, "{health}");
    assert!(health["uptimeSeconds"].as_u64().is_some(), "{health}");
    app.terminate();
    let log = std::fs::read_to_string(dir.path().join("logs/aicfo-server.log")).unwrap();
    assert!(log.contains("launched from"), "{log}");
    assert!(
        log.contains("/api/auth/login"),
        "requests are logged: {log}"
    );
}

#[test]
fn the_log_is_rotated_at_its_size_and_old_ones_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path(), &[("AICFO_LOG_ROTATE_BYTES", "2048")]);
    for _ in 0..60 {
        assert_eq!(app.get("/health", "").0, 200);
    }
    app.terminate();
    let logs = dir.path().join("logs");
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert!(names.contains(&"aicfo-server.log".to_string()), "{names:?}");
    let rotated = names
        .iter()
        .filter(|n| n.starts_with("aicfo-server_r"))
        .count();
    assert!((1..=10).contains(&rotated), "{names:?}");
}

#[test]
fn a_download_link_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path(), &[]);
    let password = std::fs::read_to_string(dir.path().join(ADMIN_PASSWORD_FILE)).unwrap();
    let admin = app.login(password.trim());
    let (s, b) = app.post(
        "/companies",
        Some(&admin),
        &json!({"name": "Alpha", "id": "alpha"}),
    );
    assert_eq!(s, 201, "{b}");
    let (s, link) = app.post(
        "/download-links",
        Some(&admin),
        &json!({"companyId": "alpha"}),
    );
    assert_eq!(s, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    let token = url.split("link=").nth(1).unwrap().to_string();
    // 503 when no connectors are built, 200 after packaging/build.sh left dist/ beside the tests:
    // the request line is logged either way.
    let res = reqwest::blocking::get(format!("{}{url}", app.url)).unwrap();
    assert!(
        [200, 503].contains(&res.status().as_u16()),
        "{}",
        res.status()
    );
    app.terminate();
    let log = std::fs::read_to_string(dir.path().join("logs/aicfo-server.log")).unwrap();
    assert!(log.contains("/download/connector?"), "{log}");
    assert!(log.contains("link=[redacted]"), "{log}");
    assert!(!log.contains(&token), "the link is in the log: {log}");
}
