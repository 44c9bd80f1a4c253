//! A company larger than the appliance's body limit, synced in parts by the real connector from
//! tally-sim: the months arrive equal to Tally's trial balances, and an appliance killed between
//! two parts and started again gets the rest from the outbox, never a month half replaced.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use common::{connector, text, TestServer};
use serde_json::{json, Value};

use aicfo::protocol::calendar::parse_date;
use aicfo::protocol::Amount;
use aicfo::sim::{
    expected_trial_balance, generate, Books, GenSpec, SimCompany, SimServer, SimState,
};

/// Small enough that the test company needs several parts, large enough for its chart.
const LIMIT: &str = "96 KiB";

fn company(seed: u64) -> SimCompany {
    generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed,
        ledgers: 300,
        vouchers: 3000,
        years: 3,
        first_year: 2024,
    })
}

async fn sim(seed: u64) -> SimServer {
    let state = Arc::new(SimState::new(vec![Books::new(company(seed)).unwrap()]));
    SimServer::start(state, "127.0.0.1", 0, false)
        .await
        .unwrap()
}

async fn setup(home: &Path, api: &str, password: &str, tally: &str) {
    let out = connector(
        home,
        &[
            "setup",
            "--api-url",
            api,
            "--username",
            "admin",
            "--password-stdin",
            "--company-id",
            "sharma",
            "--tally-url",
            tally,
        ],
        Some(&format!("{password}\n")),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    edit_config(home, |c| {
        c["retry_delay_seconds"] = json!(1);
        c["max_retry_attempts"] = json!(1);
    });
}

fn edit_config(home: &Path, f: impl FnOnce(&mut Value)) {
    let path = home.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut c);
    std::fs::write(path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
}

/// Every month held, from the database file: (month, as of, ledger, balance in paise).
fn held(db: &Path) -> Vec<(String, String, String, i64)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c
        .prepare(
            "SELECT s.month_key, s.as_of_date, l.guid, b.balance FROM snapshots s
             JOIN snapshot_balances b ON b.snapshot_id = s.id JOIN ledgers l ON l.id = b.ledger_id
             ORDER BY 1, 3",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The months held equal Tally's trial balance at each month's date, ledger by ledger (a
/// ledger not held has a zero balance); returns how many months.
fn assert_held_equal_tally(db: &Path, books: &Books) -> usize {
    let rows = held(db);
    let mut months: Vec<(String, String)> =
        rows.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    months.dedup();
    for (key, at) in &months {
        let got: std::collections::HashMap<&str, i64> = rows
            .iter()
            .filter(|r| &r.0 == key)
            .map(|r| (r.2.as_str(), r.3))
            .collect();
        let expected = expected_trial_balance(books, parse_date(at).unwrap());
        for e in &expected {
            let have = got.get(e.ledger_guid.as_str()).copied().unwrap_or(0);
            assert_eq!(
                Amount::from_paise(have),
                e.balance,
                "{key}: {}",
                e.ledger_name
            );
        }
        let nonzero = expected.iter().filter(|e| !e.balance.is_zero()).count();
        assert_eq!(got.len(), nonzero, "{key}: no other ledger has a balance");
    }
    months.len()
}

#[tokio::test]
async fn a_company_over_the_limit_arrives_in_parts_equal_to_tally() {
    let data = tempfile::tempdir().unwrap();
    let limits = json!({"json": "1 MiB", "login": "16 KiB", "sync": LIMIT});
    let srv = TestServer::start_with(data.path(), &[("limits", limits)]).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let sim = sim(7).await;
    let home = tempfile::tempdir().unwrap();
    setup(home.path(), &srv.api(""), &srv.admin_password(), &sim.url).await;

    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let parts = srv.count("SELECT count(*) FROM integration_sync_events WHERE kind = 'part'");
    assert!(parts >= 4, "{parts} parts");
    assert_eq!(
        srv.count("SELECT count(*) FROM ingestion_logs WHERE outcome = 'stored'"),
        1
    );
    let db = data.path().join(aicfo::server::DATABASE_FILE);
    let books = Books::new(company(7)).unwrap();
    assert!(assert_held_equal_tally(&db, &books) >= 13);
    assert_eq!(srv.count("SELECT count(*) FROM sync_part_balances"), 0);
}

struct Appliance {
    child: Child,
    url: String,
}

/// The appliance as its own process, on a free port, with the small limit.
fn start_appliance(data_dir: &Path) -> Appliance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
        .env("AICFO_DATA_DIR", data_dir)
        .env("AICFO_ADMIN_PASSWORD", "parts-test-password")
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_LOG_LEVEL", "normal")
        .env("ROCKET_CLI_COLORS", "false")
        .env(
            "ROCKET_LIMITS",
            format!("{{json=\"1 MiB\",login=\"16 KiB\",sync=\"{LIMIT}\"}}"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("aicfo-server starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("launched from ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the appliance says where it listens");
    Appliance { child, url }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}

async fn prepare(app: &Appliance) {
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/api/auth/login", app.url))
        .json(&json!({"username": "admin", "password": "parts-test-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let s = http
        .post(format!("{}/api/companies", app.url))
        .bearer_auth(token)
        .json(&json!({"name": "Sharma & Sons", "id": "sharma"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s.as_u16(), 201);
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn an_appliance_killed_between_parts_gets_the_rest_from_the_outbox() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join(aicfo::server::DATABASE_FILE);
    let mut app = start_appliance(data.path());
    prepare(&app).await;
    let sim = sim(7).await;
    let home = tempfile::tempdir().unwrap();
    setup(
        home.path(),
        &format!("{}/api", app.url),
        "parts-test-password",
        &sim.url,
    )
    .await;
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = held(&db);
    assert!(!first.is_empty());

    // Other books in Tally; the next sync is stopped after its first parts, and the appliance
    // killed while it waits.
    sim.state
        .set_companies(vec![Books::new(company(8)).unwrap()]);
    let mut sync = Command::new(env!("CARGO_BIN_EXE_aicfo-connector"))
        .arg("--home")
        .arg(home.path())
        .args(["once", "--full"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while count(&db, "SELECT count(*) FROM sync_part_received") == 0 {
        assert!(
            sync.try_wait().unwrap().is_none(),
            "the sync ended before a part arrived"
        );
        // The simulator answers on this runtime: wait without blocking it.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    signal(sync.id(), "-STOP");
    signal(app.child.id(), "-KILL");
    let _ = app.child.wait();
    signal(sync.id(), "-CONT");
    let exit = tokio::task::spawn_blocking(move || sync.wait().unwrap())
        .await
        .unwrap();
    let received = count(&db, "SELECT count(*) FROM sync_part_received");
    let total = count(&db, "SELECT max(part_count) FROM sync_part_runs");
    assert!(
        received < total,
        "the sync finished ({received} of {total} parts) before the appliance was killed"
    );
    assert_eq!(
        exit.code(),
        Some(4),
        "the appliance is away: the parts wait in the outbox"
    );
    assert_eq!(held(&db), first, "no month is half replaced");

    app = start_appliance(data.path());
    edit_config(home.path(), |c| {
        c["api_url"] = json!(format!("{}/api", app.url))
    });
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(assert_held_equal_tally(&db, &Books::new(company(8)).unwrap()) >= 13);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM ingestion_logs WHERE outcome = 'incomplete'"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM sync_part_balances"), 0);
    signal(app.child.id(), "-TERM");
    let _ = app.child.wait();
}
