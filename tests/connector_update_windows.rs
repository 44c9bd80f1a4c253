//! The Windows connector (AICFOConnector.exe) updating itself under Wine, with real processes:
//! version N is the program packaging/build.sh built (dist/windows), N+1 the same source built
//! once more with only its version raised and build.sh's release key, signed as build.sh signs
//! releases and served by the real appliance (`TestServer`, in this process). In a console, N
//! downloads, verifies, checks and swaps in N+1 by Windows' rules (a running .exe cannot be
//! overwritten: `self_replace` moves it aside), keeps `AICFOConnector.previous.exe` and restarts;
//! a tampered archive leaves N running. As a Windows service (Wine's service manager, which takes
//! no restart-on-failure actions), installed as `service install` installs it (the program in
//! Program Files, run as `NT SERVICE\AICFOConnector`, its data in ProgramData), N updates and the
//! service comes back as N+1 through the helper the service starts (see `connector::service`),
//! and the appliance sees N+1 heartbeats. The appliance tells the connectors not to spread their
//! downloads (`update_spread_secs` 0, the heartbeat's `spreadSeconds`): a service sees no
//! variable a test sets, as on Windows it sees none set after boot.
//!
//! What Wine cannot show: the restart by failure actions (Wine refuses them; the service here
//! comes back without them, which is the point). Whether Wine locks a running .exe exactly as
//! Windows does is not checked here; the swap goes the way `self_replace` goes on Windows.
//! Not covered here: the service helper's roll-back after three failed starts of a broken new
//! version (the console roll-back is covered on Linux in tests/connector_update.rs).
//! Needs packaging/build.sh and Wine; `.ci/run` runs this with `--ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::text;
use common::updates::{carrying, last_update, sha256, Enrolled};
use common::wine::{build_windows_connector, dist, Wine};
use serde_json::json;
use std::io::Write;
use zipsign_api::SigningKey;

const TARGET: &str = "x86_64-pc-windows-gnu";

/// A bound so a broken build fails instead of hanging (Wine is slow to start programs on a
/// loaded machine); not a measure of anything.
const PATIENCE: Duration = Duration::from_secs(300);

/// N: the version build.sh gave the connector (this package's).
fn n() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// N+1: N with its last number raised.
fn next() -> String {
    let (head, last) = n().rsplit_once('.').unwrap();
    format!("{head}.{}", last.parse::<u64>().unwrap() + 1)
}

/// The key build.sh signed the releases with: `AICFO_SIGNING_KEY`, or its development key.
fn release_key() -> SigningKey {
    let path = std::env::var_os("AICFO_SIGNING_KEY")
        .map(PathBuf::from)
        .unwrap_or_else(|| dist("keys/signing.key"));
    aicfo::signing::read_signing_key(&path).unwrap()
}

/// Version N (build.sh's) and N+1 (built here once, then reused).
fn programs() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let n = dist("windows/AICFOConnector.exe");
        let key = aicfo::signing::verifying_key_hex(&release_key());
        let started = Instant::now();
        let next = build_windows_connector(&next(), &key, &n);
        eprintln!(
            "the Windows connector {} was ready in {:.0} s",
            self::next(),
            started.elapsed().as_secs_f64()
        );
        (n, next)
    })
}

fn file_name(version: &str) -> String {
    format!("aicfo-connector-{version}-{TARGET}.zip")
}

/// The release archive of N+1 as build.sh makes it: the program alone, signed for its file name.
fn next_archive() -> Vec<u8> {
    let (_, next) = programs();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "AICFOConnector.exe",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(&std::fs::read(next).unwrap()).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    aicfo::signing::sign(&bytes, &file_name(&self::next()), &release_key()).unwrap()
}

/// The appliance carrying `archive` as the Windows connector N+1, with company `acme` and one
/// Windows connector enrolled at version N.
struct Appliance {
    base: Enrolled,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Appliance {
    type Target = Enrolled;
    fn deref(&self) -> &Enrolled {
        &self.base
    }
}

impl Appliance {
    async fn start(archive: &[u8]) -> Appliance {
        let dir = tempfile::tempdir().unwrap();
        let releases = dir.path().join("releases");
        std::fs::create_dir_all(&releases).unwrap();
        let file = file_name(&next());
        std::fs::write(releases.join(&file), archive).unwrap();
        let manifest = json!({"releases": [{"version": next(), "target": TARGET, "file": file,
            "size": archive.len(), "sha256": sha256(archive), "program": "AICFOConnector.exe",
            "programSha256": ""}]});
        std::fs::write(releases.join("manifest.json"), manifest.to_string()).unwrap();
        let data = dir.path().join("data");
        let settings = carrying(&releases);
        let base = Enrolled::start(&data, &settings, "windows x86_64", n(), PATIENCE).await;
        Appliance { base, _dir: dir }
    }

    /// A folder holding version N and a config.json for this appliance (heartbeat every 5 s).
    fn connector_folder(&self) -> (tempfile::TempDir, PathBuf) {
        let folder = tempfile::tempdir().unwrap();
        let exe = folder.path().join("AICFOConnector.exe");
        std::fs::copy(&programs().0, &exe).unwrap();
        let config = json!({
            "api_url": format!("{}/api", self.srv.url),
            "company_id": "acme",
            "connector_token": self.token,
            "tally_url": "http://127.0.0.1:9",
            "sync_interval_minutes": 1440,
            "heartbeat_interval_seconds": 5,
            "max_retry_attempts": 0,
            "retry_delay_seconds": 1,
            "log_level": "debug",
        });
        std::fs::write(folder.path().join("config.json"), config.to_string()).unwrap();
        (folder, exe)
    }
}

/// What the console programs of a test see: no retry soon.
const UPDATE_ENV: [(&str, &str); 1] = [("AICFO_UPDATE_RETRY_SECS", "3600")];

/// The version `program` says it is, run under `wine`.
async fn version_of(wine: &Wine, program: &Path) -> String {
    let out = wine.run_async(program, &["version"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string()
}

/// `AICFOConnector.exe run` in a console under `wine`, from its folder.
fn console(wine: &Wine, exe: &Path) -> std::process::Child {
    let folder = exe.parent().unwrap();
    let log = std::fs::File::create(folder.join("console.txt")).unwrap();
    wine.command(exe, &["run"])
        .current_dir(folder)
        .envs(UPDATE_ENV)
        .env_remove("AICFO_CONNECTOR_HOME")
        .env_remove("AICFO_UNDER_SERVICE")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn log_of(folder: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(folder.join(name)).unwrap_or_default();
    format!("{}\n{}", read("console.txt"), read("logs/connector.log"))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs packaging/build.sh and Wine: .ci/run builds it and runs this with --ignored"]
async fn the_windows_connector_updates_itself_in_a_console_under_wine() {
    let bytes = next_archive();
    let appliance = Appliance::start(&bytes).await;
    let wine = Wine::new();
    wine.processprng_for_every_program();
    let (folder, exe) = appliance.connector_folder();
    let mut child = console(&wine, &exe);

    let started = Instant::now();
    let log = || log_of(folder.path());
    let shown = appliance
        .status_where("the next version", log, |s| {
            s["appVersion"] == next().as_str()
        })
        .await;
    eprintln!(
        "under Wine the connector reported {} {:.1} s after it started; it downloaded {} bytes",
        next(),
        started.elapsed().as_secs_f64(),
        bytes.len()
    );
    let (version, outcome, message) = last_update(&shown).expect("the update is reported");
    assert_eq!(
        (version, outcome),
        (next().as_str(), "installed"),
        "{message}\n{}",
        log_of(folder.path())
    );
    assert_eq!(shown["behind"], false);
    assert_eq!(version_of(&wine, &exe).await, next());
    let previous = folder.path().join("AICFOConnector.previous.exe");
    assert_eq!(
        version_of(&wine, &previous).await,
        n(),
        "the previous program is kept"
    );
    let shown = appliance.more_heartbeats(2, log).await;
    assert_eq!(shown["appVersion"], next().as_str(), "N+1 keeps running");
    assert!(
        !folder.path().join("update-pending.json").exists(),
        "the marker is cleared after the first heartbeat"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs packaging/build.sh and Wine: .ci/run builds it and runs this with --ignored"]
async fn a_tampered_archive_leaves_the_windows_connector_running_under_wine() {
    let mut bytes = next_archive();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    let appliance = Appliance::start(&bytes).await;
    let wine = Wine::new();
    wine.processprng_for_every_program();
    let (folder, exe) = appliance.connector_folder();
    let mut child = console(&wine, &exe);

    let log = || log_of(folder.path());
    let shown = appliance
        .status_where("the refusal", log, |s| last_update(s).is_some())
        .await;
    let (version, outcome, message) = last_update(&shown).unwrap();
    assert_eq!((version, outcome), (next().as_str(), "failed"), "{message}");
    assert!(message.contains("not signed"), "{message}");
    let shown = appliance.more_heartbeats(2, log).await;
    assert_eq!(shown["appVersion"], n(), "N keeps running");
    assert_eq!(shown["behind"], true);
    assert_eq!(
        std::fs::read(&exe).unwrap(),
        std::fs::read(&programs().0).unwrap(),
        "the program is untouched"
    );
    assert!(!folder.path().join("AICFOConnector.previous.exe").exists());
    let _ = child.kill();
    let _ = child.wait();
}

/// `AICFOConnector.exe service ACTION` under `wine`: its output, asserted to succeed.
async fn service(wine: &Wine, exe: &Path, action: &str) -> String {
    let out = wine.run_async(exe, &["service", action]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "service {action}: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs packaging/build.sh and Wine: .ci/run builds it and runs this with --ignored"]
async fn the_windows_service_comes_back_as_the_new_version_without_failure_actions() {
    let appliance = Appliance::start(&next_archive()).await;
    // No variable for the service: how soon it updates is the appliance's word alone.
    let wine = Wine::new();
    wine.processprng_for_every_program();
    let (folder, exe) = appliance.connector_folder();

    let installed = service(&wine, &exe, "install").await;
    assert!(
        installed.contains("installed the service AICFOConnector"),
        "{installed}"
    );
    assert!(
        installed.contains("WARNING: this service manager cannot restart"),
        "Wine refuses failure actions, so what follows does without them: {installed}"
    );
    let said = service(&wine, &exe, "start").await;
    assert!(
        said.contains("is running") || said.contains("is already running"),
        "{said}"
    );

    // The install copied the program to Program Files and this PC's settings to ProgramData,
    // where the service runs and keeps its log.
    let home = wine.program_data().join("aicfo/connector");
    let program_dir = wine.prefix().join("drive_c/Program Files/aicfo/connector");
    let log = || log_of(&home);
    let shown = appliance
        .status_where("the next version from the service", log, |s| {
            s["appVersion"] == next().as_str()
        })
        .await;

    let (version, outcome, message) = last_update(&shown).expect("the update is reported");
    assert_eq!(
        (version, outcome),
        (next().as_str(), "installed"),
        "{message}\n{}",
        log_of(&home)
    );
    let shown = appliance.more_heartbeats(2, log).await;
    assert_eq!(shown["appVersion"], next().as_str(), "{shown:#}");
    let said = service(&wine, &exe, "status").await;
    assert!(said.contains("installed and running"), "{said}");
    let log = log_of(&home);
    assert!(
        log.contains(&format!(
            "aicfo-connector {} started as the Windows service",
            next()
        )),
        "the service runs the new program: {log}"
    );
    assert_eq!(
        version_of(&wine, &program_dir.join("AICFOConnector.previous.exe")).await,
        n()
    );
    assert!(
        !program_dir.join("update-pending.json").exists(),
        "the marker is cleared"
    );
    // It took its Tally turn (Tally here is port 9) in its own data folder, which standard users
    // cannot open, not in the folder every user shares.
    assert!(home.join("aicfo-tally-9.lock").is_file(), "{log}");
    assert!(!wine
        .program_data()
        .join("aicfo/aicfo-tally-9.lock")
        .exists());
    // The unzipped folder is no longer needed: the installed program manages the service.
    drop(folder);
    let installed = program_dir.join("AICFOConnector.exe");
    let said = service(&wine, &installed, "stop").await;
    assert!(said.contains("is stopped"), "{said}");
    let said = service(&wine, &installed, "uninstall").await;
    assert!(
        said.contains("removed the service AICFOConnector"),
        "{said}"
    );
}
