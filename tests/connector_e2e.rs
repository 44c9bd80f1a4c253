//! The connector as a real process between a real appliance and tally-sim: setup, a sync whose
//! snapshots equal the simulator's trial balances ledger by ledger, and every fault.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{
    assert_ledgers_as_in_tally, connector, edit_connector_config, fast_connector_retries, text,
    TestServer,
};
use serde_json::{json, Value};

use aicfo::protocol::calendar::parse_date;
use aicfo::sim::{
    expected_trial_balance, generate, Books, Fault, GenSpec, SimCompany, SimServer, SimState,
};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_aicfo-connector");

fn company() -> SimCompany {
    generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 7,
        ledgers: 120,
        vouchers: 3000,
        years: 3,
        first_year: 2024,
    })
}

async fn sim() -> SimServer {
    let state = Arc::new(SimState::new(vec![Books::new(company()).unwrap()]));
    SimServer::start(state, "127.0.0.1", 0, false)
        .await
        .unwrap()
}

struct World {
    srv: TestServer,
    sim: SimServer,
    admin: String,
    home: tempfile::TempDir,
    _data: tempfile::TempDir,
}

async fn world() -> World {
    let data = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    World {
        srv,
        sim: sim().await,
        admin,
        home: tempfile::tempdir().unwrap(),
        _data: data,
    }
}

impl World {
    async fn setup(&self) {
        let out = self
            .srv
            .setup_connector(self.home.path(), "sharma", &self.sim.url)
            .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        fast_connector_retries(self.home.path());
    }

    fn edit_config(&self, f: impl FnOnce(&mut Value)) {
        edit_connector_config(self.home.path(), f);
    }

    async fn once(&self, extra: &[&str]) -> Output {
        let mut args = vec!["once"];
        args.extend_from_slice(extra);
        connector(self.home.path(), &args, None).await
    }

    async fn status(&self) -> Value {
        self.srv
            .get("/connector/status?companyId=sharma", Some(&self.admin))
            .await
            .1
    }
}

/// Every month the appliance holds equals the simulator's trial balance at that month's date.
async fn assert_snapshots_match_tally(w: &World) -> usize {
    let books = Books::new(company()).unwrap();
    let (_, months) = w
        .srv
        .get("/companies/sharma/snapshots", Some(&w.admin))
        .await;
    let months = months.as_array().unwrap().clone();
    for m in &months {
        let key = m["monthKey"].as_str().unwrap();
        let at = parse_date(m["asOfDate"].as_str().unwrap()).unwrap();
        let (_, tb) = w
            .srv
            .get(
                &format!("/companies/sharma/snapshots/{key}"),
                Some(&w.admin),
            )
            .await;
        assert_eq!(tb["balanced"], true, "{key} must balance");
        let expected = expected_trial_balance(&books, at);
        let listed = tb["ledgers"].as_array().unwrap().len();
        assert_eq!(listed, expected.len(), "{key}: every ledger is listed");
        assert_ledgers_as_in_tally(&tb, &expected, key);
    }
    months.len()
}

#[tokio::test]
async fn setup_then_once_gives_the_appliance_tallys_trial_balances() {
    let w = world().await;
    w.setup().await;
    // What setup left behind: settings in config.json, credentials only in the state file.
    let config = std::fs::read_to_string(w.home.path().join("config.json")).unwrap();
    assert!(
        !config.contains(&w.srv.admin_password()),
        "the password is never stored"
    );
    let cfg: Value = serde_json::from_str(&config).unwrap();
    assert_eq!(cfg["company_id"], "sharma");
    assert_eq!(cfg["api_url"], format!("{}/api", w.srv.url));
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(w.home.path().join("connector-state.json")).unwrap(),
    )
    .unwrap();
    assert!(state["refreshToken"].as_str().is_some_and(|t| t.len() > 20));

    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let months = assert_snapshots_match_tally(&w).await;
    // Back to the start of the previous financial year, plus the current month.
    assert!(months >= 13, "{months} months");
    let status = w.status().await;
    assert_eq!(status["lastSyncRun"]["status"], "succeeded", "{status:#}");
    assert_eq!(status["lastSyncRun"]["percent"], 100);
    let companies = w.srv.get("/companies", Some(&w.admin)).await.1;
    assert_eq!(companies[0]["tallyCompanyName"], "Sharma & Sons");
    // Logs: a timestamped main log; the error log exists and is empty.
    let log = std::fs::read_to_string(w.home.path().join("logs/connector.log")).unwrap();
    assert!(
        log.lines().all(|l| l.len() > 24 && l.as_bytes()[4] == b'-'),
        "{log}"
    );
    assert!(log.contains("sync done"), "{log}");
    // Progress on the console as the sync goes.
    let console = String::from_utf8_lossy(&out.stdout);
    assert!(
        console.contains("reading balances for")
            && console.contains("(1/")
            && console.contains("%)"),
        "{console}"
    );
    assert!(!log.contains(&w.srv.admin_password()));
    assert_eq!(
        std::fs::read_to_string(w.home.path().join("logs/connector-error.log")).unwrap_or_default(),
        ""
    );

    // Nothing changed in Tally: the next sync only says so.
    let before = w.srv.count("SELECT count(*) FROM ingestion_logs");
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.srv.count("SELECT count(*) FROM ingestion_logs"), before);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing changed"),
        "{}",
        text(&out)
    );
    // --full reads anyway.
    let out = w.once(&["--full"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        w.srv.count("SELECT count(*) FROM ingestion_logs"),
        before + 1
    );
}

#[tokio::test]
async fn appliance_down_during_a_sync_then_back_data_arrives_once() {
    let w = world().await;
    w.setup().await;
    let port: u16 = w.srv.url.rsplit(':').next().unwrap().parse().unwrap();
    let data_dir = w.srv.data_dir.clone();
    let World {
        srv,
        sim,
        admin,
        home,
        _data,
    } = w;
    srv.stop().await;

    let waiting = |home: &Path| {
        std::fs::read_dir(home.join("outbox"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".json.gz")
            })
            .count()
    };
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(waiting(home.path()), 1);

    // A second sync while still away supersedes the first payload rather than piling up.
    let out = connector(home.path(), &["once", "--full"], None).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(waiting(home.path()), 1);

    let srv = TestServer::start_with(&data_dir, &[("port", json!(port))]).await;
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        srv.count("SELECT count(*) FROM ingestion_logs"),
        1,
        "delivered exactly once"
    );
    assert!(std::fs::read_dir(home.path().join("outbox"))
        .unwrap()
        .all(|e| !e.unwrap().path().is_file()));
    let w = World {
        srv,
        sim,
        admin,
        home,
        _data,
    };
    assert!(assert_snapshots_match_tally(&w).await >= 13);
}

#[tokio::test]
async fn tally_problems_fail_the_run_with_the_reason() {
    let w = world().await;
    w.setup().await;

    w.sim.set_fault(Fault::CompanyNotOpen);
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let status = w.status().await;
    assert_eq!(status["lastSyncRun"]["status"], "failed");
    assert!(
        status["lastSyncRun"]["error"]
            .as_str()
            .unwrap()
            .contains("No company is open"),
        "{status:#}"
    );

    w.sim.set_fault(Fault::Garbage);
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(w.status().await["lastSyncRun"]["error"]
        .as_str()
        .unwrap()
        .contains("could not be read"));

    let World {
        srv,
        sim,
        admin,
        home,
        _data,
    } = w;
    sim.stop().await;
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let (_, status) = srv
        .get("/connector/status?companyId=sharma", Some(&admin))
        .await;
    assert!(
        status["lastSyncRun"]["error"]
            .as_str()
            .unwrap()
            .contains("Tally is not answering"),
        "{status:#}"
    );
    let errors = std::fs::read_to_string(home.path().join("logs/connector-error.log")).unwrap();
    assert!(
        errors.contains("sync failed: Tally is not answering"),
        "{errors}"
    );
    assert_eq!(srv.count("SELECT count(*) FROM snapshots"), 0);
}

#[tokio::test]
async fn a_revoked_connector_stops_and_says_to_set_it_up_again() {
    let w = world().await;
    w.setup().await;
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(w.home.path().join("connector-state.json")).unwrap(),
    )
    .unwrap();
    let id = state["connectorId"].as_str().unwrap();
    assert_eq!(
        w.srv
            .post(
                &format!("/connectors/{id}/revoke"),
                Some(&w.admin),
                &json!({})
            )
            .await
            .0,
        200
    );
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains("must be set up again"),
        "{}",
        text(&out)
    );
    // Once an admin restores it (setting up alone is refused), set up again, and it works.
    let restore = format!("/connectors/{id}/restore");
    assert_eq!(
        w.srv.post(&restore, Some(&w.admin), &json!({})).await.0,
        200
    );
    w.setup().await;
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
async fn an_expired_connector_token_is_renewed_mid_run() {
    let w = world().await;
    w.setup().await;
    // The connector believes its token good for an hour; the appliance says it expired.
    let path = w.home.path().join("connector-state.json");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let connector_id = state["connectorId"].as_str().unwrap().to_string();
    let stale = w.srv.expired_connector_token(&connector_id, "sharma");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    state["connectorToken"] = json!(stale);
    state["connectorTokenExpiresAt"] = json!(now + 3600);
    std::fs::write(&path, state.to_string()).unwrap();
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_ne!(state["connectorToken"], json!(stale));
}

#[tokio::test]
async fn the_guides_manual_flow_with_a_pasted_token() {
    let w = world().await;
    let (token, _, _) = w.srv.enrol(&w.admin, "sharma", "pasted-device").await;
    std::fs::write(
        w.home.path().join("config.json"),
        json!({
            "api_url": format!("{}/api", w.srv.url), "company_id": "sharma", "connector_token": token,
            "tally_url": w.sim.url, "sync_interval_minutes": 30, "heartbeat_interval_seconds": 30,
            "max_retry_attempts": 1, "retry_delay_seconds": 1, "log_level": "info"
        })
        .to_string(),
    )
    .unwrap();
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(assert_snapshots_match_tally(&w).await >= 13);
}

#[tokio::test]
async fn a_corrupt_config_is_a_clear_message_and_a_non_zero_exit() {
    let home = tempfile::tempdir().unwrap();
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("config.json: the file does not exist"),
        "{}",
        text(&out)
    );

    std::fs::write(
        home.path().join("config.json"),
        "{ \"api_url\": \"http://x/api\", ",
    )
    .unwrap();
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("not valid JSON"), "{}", text(&out));

    std::fs::write(
        home.path().join("config.json"),
        json!({"api_url": "http://x/api", "company_id": "c", "sync_interval_minutes": "often"})
            .to_string(),
    )
    .unwrap();
    let out = connector(home.path(), &["run"], None).await;
    assert_eq!(out.status.code(), Some(2));
    // Started with no arguments (double-clicked) it runs, and says the same.
    let bare = connector(home.path(), &[], None).await;
    assert_eq!(bare.status.code(), Some(2));
    assert!(
        text(&bare).contains("`sync_interval_minutes` must be a whole number"),
        "{}",
        text(&bare)
    );
    let t = text(&out);
    assert!(
        t.contains("`sync_interval_minutes` must be a whole number") && t.contains("Fix:"),
        "{t}"
    );

    let out = connector(home.path(), &["version"], None).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("aicfo-connector "));
}

#[tokio::test]
async fn run_keeps_heartbeating_through_a_long_sync_and_stops_cleanly() {
    let w = world().await;
    w.setup().await;
    w.edit_config(|c| c["heartbeat_interval_seconds"] = json!(5));
    // Every Tally answer takes 4 s: the first sync takes well over 20 s.
    w.sim.set_fault(Fault::Slow(Duration::from_secs(4)));
    let mut child = Command::new(CONNECTOR)
        .arg("--home")
        .arg(w.home.path())
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut beats = Vec::new();
    for _ in 0..32 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let s = w.status().await;
        if let Some(hb) = s["connectors"][0]["lastHeartbeat"].as_str() {
            if beats.last().map(String::as_str) != Some(hb) {
                beats.push(hb.to_string());
            }
        }
    }
    let s = w.status().await;
    assert_eq!(
        s["lastSyncRun"]["status"], "running",
        "the sync is still going: {s:#}"
    );
    assert!(
        beats.len() >= 3,
        "heartbeats kept coming during the sync: {beats:?}"
    );
    let agent = &s["connectors"][0]["agentState"];
    assert_eq!(agent["state"], "syncing");
    assert_eq!(agent["tallyReachable"], true);
    assert!(
        agent["tallyProduct"]
            .as_str()
            .unwrap()
            .contains("tally-sim"),
        "{agent}"
    );
    assert_eq!(s["connectors"][0]["online"], true);

    // A service stop in the middle of the sync: it ends the run and exits cleanly.
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    let s = w.status().await;
    assert_eq!(s["lastSyncRun"]["status"], "failed");
    assert_eq!(
        s["lastSyncRun"]["error"],
        "the connector was stopped during the sync"
    );
    assert_eq!(s["connectors"][0]["agentState"]["state"], "stopped");
}

#[tokio::test]
async fn companies_and_check_say_what_is_there_and_what_is_wrong() {
    let w = world().await;
    w.setup().await;
    let out = connector(w.home.path(), &["companies"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Sharma & Sons    (books from 2024-04-01"),
        "{}",
        text(&out)
    );

    let out = connector(w.home.path(), &["check"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    for line in [
        "[ ok ] config.json",
        "[ ok ] Tally: tally-sim",
        "[ ok ] Tally company: `Sharma & Sons` is open",
        "[ ok ] appliance",
        "[ ok ] credentials",
        "[ ok ] outbox: 0",
    ] {
        assert!(report.contains(line), "missing `{line}` in\n{report}");
    }

    w.sim.set_fault(Fault::CompanyNotOpen);
    let out = connector(w.home.path(), &["check"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("[FAIL] Tally company: No company is open in Tally"),
        "{}",
        text(&out)
    );

    let World { srv, sim, home, .. } = w;
    sim.stop().await;
    srv.stop().await;
    let out = connector(home.path(), &["check"], None).await;
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        report.contains("[FAIL] Tally: Tally is not answering"),
        "{report}"
    );
    assert!(
        report.contains("[FAIL] appliance: The appliance at"),
        "{report}"
    );
}

#[tokio::test]
async fn with_several_companies_open_the_one_to_read_must_be_chosen() {
    let data = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Beta Exports", "beta").await;
    let alpha = generate(&GenSpec {
        name: "Alpha Traders".into(),
        seed: 1,
        ledgers: 30,
        vouchers: 300,
        years: 2,
        first_year: 2025,
    });
    let beta = generate(&GenSpec {
        name: "Beta Exports".into(),
        seed: 2,
        ledgers: 40,
        vouchers: 400,
        years: 2,
        first_year: 2025,
    });
    let books = vec![
        Books::new(alpha).unwrap(),
        Books::new(beta.clone()).unwrap(),
    ];
    let sim = SimServer::start(Arc::new(SimState::new(books)), "127.0.0.1", 0, false)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let base = [
        "setup",
        "--api-url",
        &format!("{}/api", srv.url),
        "--username",
        "admin",
        "--password-stdin",
        "--tally-url",
        &sim.url,
    ];
    let password = format!("{}\n", srv.admin_password());

    let out = connector(home.path(), &base, Some(&password)).await;
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("Several companies are open in Tally (`Alpha Traders`, `Beta Exports`)"),
        "{t}"
    );

    let mut args = base.to_vec();
    args.extend(["--tally-company", "Beta Exports"]);
    let out = connector(home.path(), &args, Some(&password)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, companies) = srv.get("/companies", Some(&admin)).await;
    assert_eq!(companies[0]["tallyCompanyName"], "Beta Exports");
    let ledgers = srv.count("SELECT count(*) FROM ledgers");
    assert_eq!(ledgers as usize, Books::new(beta).unwrap().ledgers.len());
}

#[tokio::test]
async fn setup_without_a_terminal_names_the_missing_flags() {
    let home = tempfile::tempdir().unwrap();
    let out = connector(home.path(), &["setup", "--username", "admin"], None).await;
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("setup needs --api-url, --password (or --password-stdin)"),
        "{t}"
    );
    assert!(!home.path().join("config.json").exists());
}

/// `setup` as a person runs it: in a terminal, answering its questions (a real pty via `script`).
#[tokio::test]
async fn interactive_setup_asks_for_what_it_needs() {
    let w = world().await;
    w.srv.create_company(&w.admin, "Other Co", "other").await;
    let command = format!(
        "{CONNECTOR} --home {} setup --tally-url {}",
        w.home.path().display(),
        w.sim.url
    );
    // Each answer is typed once its question is on the screen.
    let answers = vec![
        ("Appliance address", format!("{}/api", w.srv.url)),
        ("Your appliance username", "admin".to_string()),
        ("Your appliance password", w.srv.admin_password()),
        // The user sees two appliance companies and picks one by its id.
        (
            "Which company does this PC's Tally hold?",
            "sharma".to_string(),
        ),
    ];
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let screen = Arc::new(std::sync::Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let reader = {
            let screen = screen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    screen
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        let mut stdin = child.stdin.take().unwrap();
        for (question, answer) in answers {
            let asked = std::time::Instant::now();
            while !screen.lock().unwrap().contains(question) {
                assert!(
                    asked.elapsed() < Duration::from_secs(60),
                    "`{question}` never came:\n{}",
                    screen.lock().unwrap()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(200));
            stdin.write_all(format!("{answer}\r").as_bytes()).unwrap();
            stdin.flush().unwrap();
        }
        // Bounded: a question nobody answers must fail the test, not hang it.
        let waited = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if waited.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        drop(stdin);
        reader.join().unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let screen = screen.lock().unwrap().clone();
        (status, screen, stderr)
    })
    .await
    .unwrap();
    let (status, screen, stderr) = out;
    let screen = format!("{screen}\n{stderr}");
    assert_eq!(status.code(), Some(0), "{screen}");
    for question in [
        "Appliance address",
        "Your appliance username",
        "Your appliance password",
        "Which company does this PC's Tally hold?",
    ] {
        assert!(
            screen.contains(question),
            "`{question}` was not asked:\n{screen}"
        );
    }
    assert!(
        !screen.contains(&w.srv.admin_password()),
        "the password is not echoed"
    );
    assert!(screen.contains("Enrolled as connector"), "{screen}");
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(w.home.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["company_id"], "sharma");
}

#[tokio::test]
async fn logs_rotate_and_only_five_old_files_are_kept() {
    let w = world().await;
    w.setup().await;
    w.edit_config(|c| c["log_level"] = json!("debug"));
    let home = w.home.path().to_path_buf();
    // Each debug-level sync writes well over 2 KiB several times over: far more than five rotations.
    for _ in 0..8 {
        let out = tokio::task::spawn_blocking({
            let home = home.clone();
            move || {
                Command::new(CONNECTOR)
                    .arg("--home")
                    .arg(&home)
                    .args(["once", "--full"])
                    .env("AICFO_CONNECTOR_LOG_ROTATE_BYTES", "2048")
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let names: Vec<String> = std::fs::read_dir(home.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    let rotated = names
        .iter()
        .filter(|n| n.starts_with("connector_r") && n.ends_with(".log"))
        .count();
    assert!(names.contains(&"connector.log".to_string()), "{names:?}");
    assert_eq!(
        rotated, 5,
        "five rotated files are kept, older ones removed: {names:?}"
    );
    let current = std::fs::metadata(home.join("logs/connector.log"))
        .unwrap()
        .len();
    assert!(
        current < 64 * 1024,
        "the current log stays near its cap: {current} bytes"
    );
}
