//! Backups and restore: the real server (in-process, real HTTP), the real `aicfo-server backup`
//! and `restore` commands, real SQLite files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aicfo::server::DATABASE_FILE;
use common::{text, TestServer};
use serde_json::{json, Value};

fn aicfo_server(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
        .args(args)
        .env("AICFO_DATA_DIR", data_dir)
        .output()
        .unwrap()
}

fn open(file: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(file).unwrap()
}

fn integrity(file: &Path) -> String {
    open(file)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn column(file: &Path, sql: &str) -> Vec<String> {
    let conn = open(file);
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn companies(file: &Path) -> Vec<String> {
    column(file, "SELECT id FROM companies ORDER BY id")
}

/// Files in `dir` whose names contain `part`.
fn files_named(dir: &Path, part: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(part))
        .collect();
    found.sort();
    found
}

/// The `n`th month from January 2000, as `YYYY-MM`.
fn month(n: usize) -> String {
    format!("{}-{:02}", 2000 + n / 12, n % 12 + 1)
}

/// One month of a small company whose balances sum to zero.
fn month_payload(month: &str) -> Value {
    let as_of = format!("{month}-28");
    json!({
      "chartOfAccounts": {
        "source": "tally",
        "generatedAt": format!("{as_of}T10:00:00Z"),
        "groups": [],
        "ledgers": [
          { "guid": "l-cash", "name": "Cash", "parent": "Cash-in-Hand" },
          { "guid": "l-cap", "name": "Capital", "parent": "Capital Account" },
          { "guid": "l-sales", "name": "Sales", "parent": "Sales Accounts" }
        ],
        "balances": {
          "current": { "monthKey": month, "asOfDate": as_of, "items": [
            { "ledgerGuid": "l-cash", "balance": 3000.25 },
            { "ledgerGuid": "l-cap", "balance": -1000 },
            { "ledgerGuid": "l-sales", "balance": -2000.25 }
          ]},
          "closedMonths": []
        }
      },
      "asOfDate": as_of
    })
}

fn post(http: &reqwest::blocking::Client, url: &str, token: &str, body: &Value) -> Value {
    let res = http.post(url).bearer_auth(token).json(body).send().unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.json().unwrap_or(Value::Null)
}

/// A connector's sync run: start, the month's payload, complete. Returns once committed.
fn ingest_month(http: &reqwest::blocking::Client, api: &str, token: &str, month: &str) {
    let run = post(
        http,
        &format!("{api}/connector/sync/start"),
        token,
        &json!({}),
    );
    let run_id = run["syncRunId"].as_str().unwrap().to_string();
    let mut payload = month_payload(month);
    payload["syncRunId"] = json!(run_id);
    post(http, &format!("{api}/connector/sync"), token, &payload);
    post(
        http,
        &format!("{api}/connector/sync/complete"),
        token,
        &json!({"syncRunId": run_id, "status": "succeeded"}),
    );
}

struct Load {
    stop: Arc<AtomicBool>,
    beats: Arc<AtomicUsize>,
    committed: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Heartbeats as fast as a few threads can send them, and month after month ingested.
fn start_load(api: &str, ingester: String, beaters: Vec<String>) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let beats = Arc::new(AtomicUsize::new(0));
    let committed = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for token in beaters {
        let (stop, beats, url) = (
            stop.clone(),
            beats.clone(),
            format!("{api}/connector/heartbeat"),
        );
        threads.push(std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            while !stop.load(Ordering::Relaxed) {
                post(
                    &http,
                    &url,
                    &token,
                    &json!({"companyId": "sharma", "tallyReachable": true}),
                );
                beats.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let (stop2, committed2, api) = (stop.clone(), committed.clone(), api.to_string());
    threads.push(std::thread::spawn(move || {
        let http = reqwest::blocking::Client::new();
        let mut n = 0;
        while !stop2.load(Ordering::Relaxed) {
            ingest_month(&http, &api, &ingester, &month(n));
            committed2.lock().unwrap().push(month(n));
            n += 1;
        }
    }));
    Load {
        stop,
        beats,
        committed,
        threads,
    }
}

impl Load {
    fn wait_for(&self, months: usize, beats: usize) {
        while self.committed.lock().unwrap().len() < months
            || self.beats.load(Ordering::Relaxed) < beats
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let months = self.committed.lock().unwrap().clone();
        (self.beats.load(Ordering::Relaxed), months)
    }
}

async fn busy_server(dir: &Path) -> TestServer {
    TestServer::start_with(
        dir,
        &[
            ("connector_rate_per_sec", json!(1_000_000)),
            ("connector_rate_burst", json!(1_000_000)),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_is_whole_and_holds_every_committed_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let srv = busy_server(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma", "sharma").await;
    let mut tokens = Vec::new();
    for pc in ["pc-1", "pc-2", "pc-3", "pc-4"] {
        tokens.push(srv.enrol(&admin, "sharma", pc).await.0);
    }
    let (api, data, dest) = (
        srv.api(""),
        dir.path().to_path_buf(),
        dir.path().join("copy.sqlite3"),
    );
    let dest2 = dest.clone();
    let (before, out, beats, after) = tokio::task::spawn_blocking(move || {
        let began = std::time::Instant::now();
        let load = start_load(&api, tokens.remove(0), tokens);
        load.wait_for(3, 200);
        let before = load.committed.lock().unwrap().clone();
        let out = aicfo_server(&data, &["backup", "--to", dest2.to_str().unwrap()]);
        let during = load.committed.lock().unwrap().len();
        load.wait_for(during + 2, 0);
        let (beats, after) = load.finish();
        eprintln!(
            "under load: {:.0} heartbeats/s and {} months ingested in {:.1} s around the backup",
            beats as f64 / began.elapsed().as_secs_f64(),
            after.len(),
            began.elapsed().as_secs_f64()
        );
        (before, out, beats, after)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written to"));
    assert!(
        beats >= 200 && after.len() > before.len() + 1,
        "{beats} {after:?}"
    );

    assert_eq!(integrity(&dest), "ok");
    let held = column(
        &dest,
        "SELECT month_key FROM snapshots WHERE company_id = 'sharma'",
    );
    for m in &before {
        assert!(
            held.contains(m),
            "{m} was committed before the backup began: {held:?}"
        );
    }
    // Every snapshot in the copy is whole: all its balances, the run that wrote it finished or not.
    let partial = column(
        &dest,
        "SELECT s.month_key FROM snapshots s WHERE s.ledger_count != \
         (SELECT COUNT(*) FROM snapshot_balances b WHERE b.snapshot_id = s.id)",
    );
    assert!(partial.is_empty(), "{partial:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a backup holds the books: owner only");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_brings_back_the_backup_and_keeps_the_replaced_database() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Alpha", "alpha").await;
    let data = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || aicfo_server(&data, &["backup"]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let backups = dir.path().join("backups");
    let file = files_named(&backups, "-manual.sqlite3")
        .pop()
        .expect("a manual backup");
    srv.create_company(&admin, "Beta", "beta").await;
    srv.stop().await;

    let out = aicfo_server(dir.path(), &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let mut replaced = files_named(dir.path(), &format!("{DATABASE_FILE}.replaced-"));
    // Its WAL, if it had one (it may hold the last commits), moved aside with it.
    replaced.retain(|f| !f.to_string_lossy().ends_with("-wal"));
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&replaced[0].display().to_string()));
    assert_eq!(companies(&replaced[0]), ["alpha", "beta"]);
    assert_eq!(integrity(&dir.path().join(DATABASE_FILE)), "ok");

    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    let (s, list) = srv.get("/companies", Some(&admin)).await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha"]);
    srv.stop().await;
}

/// Tries an enrolment code the way a downloaded connector does.
async fn redeem(srv: &TestServer, code: &str, device: &str) -> (u16, Value) {
    let body = json!({"enrollmentCode": code, "deviceId": device, "companyId": "alpha"});
    srv.post("/connector/enroll", None, &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_brings_back_no_old_token_code_or_silent_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Alpha", "alpha").await;
    let bob = srv
        .create_staff(&admin, "bob", "bob-password-1", &["alpha"])
        .await;
    let (_, _, connector) = srv.enrol(&admin, "alpha", "pc-1").await;
    let bob_id: i64 = srv.count("SELECT id FROM users WHERE username = 'bob'");
    let unused = aicfo::server::enrollment::issue(&srv.db(), "alpha", 1, 86_400_000).unwrap();
    let used_later = aicfo::server::enrollment::issue(&srv.db(), "alpha", 1, 86_400_000).unwrap();
    let data = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || aicfo_server(&data, &["backup"]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let file = files_named(&dir.path().join("backups"), "-manual.sqlite3")
        .pop()
        .unwrap();
    // After the backup: bob is disabled, the connector revoked, one code used.
    let (s, _) = srv
        .post(
            &format!("/users/{bob_id}/disable"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = srv
        .post(
            &format!("/connectors/{connector}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(redeem(&srv, &used_later.code, "pc-2").await.0, 200);
    srv.stop().await;

    let out = aicfo_server(dir.path(), &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "connector {connector} (Test Connector) was revoked"
        )),
        "{said}"
    );
    assert!(said.contains("2 unused enrolment code(s)"), "{said}");

    let srv = TestServer::start(dir.path()).await;
    let (s, b) = srv.get("/companies", Some(&bob)).await;
    assert_eq!(
        s, 401,
        "bob's token from before his disabling works again: {b}"
    );
    let (s, b) = srv.get("/companies", Some(&admin)).await;
    assert_eq!(s, 401, "every session from before the restore ends: {b}");
    for code in [&used_later.code, &unused.code] {
        let (s, b) = redeem(&srv, code, "pc-3").await;
        assert!(s == 401 || s == 403 || s == 409 || s == 400, "{s} {b}");
        assert_eq!(
            srv.count("SELECT COUNT(*) FROM connector_clients WHERE device_id = 'pc-3'"),
            0
        );
    }
    // Signing in again works.
    let admin = srv.admin_token().await;
    assert_eq!(srv.get("/companies", Some(&admin)).await.0, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_is_refused_while_a_server_runs_on_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Alpha", "alpha").await;
    let file = dir.path().join("copy.sqlite3");
    let (data, f) = (dir.path().to_path_buf(), file.clone());
    let out = tokio::task::spawn_blocking(move || {
        let made = aicfo_server(&data, &["backup", "--to", f.to_str().unwrap()]);
        assert!(made.status.success(), "{}", text(&made));
        aicfo_server(&data, &["restore", f.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("an aicfo-server is running on the data folder"),
        "{err}"
    );
    assert!(files_named(dir.path(), ".replaced-").is_empty());
    assert!(files_named(dir.path(), ".restoring").is_empty());
    srv.create_company(&admin, "Beta", "beta").await;
    assert_eq!(srv.count("SELECT COUNT(*) FROM companies"), 2);
    srv.stop().await;
}

/// Everything in the data folder but its lock, by name and content.
fn folder_state(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_foreign_or_newer_file_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let srv = TestServer::start(&data).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Alpha", "alpha").await;
    srv.stop().await;
    let good = dir.path().join("good.sqlite3");
    let out = aicfo_server(&data, &["backup", "--to", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    let garbage = dir.path().join("garbage.sqlite3");
    std::fs::write(&garbage, vec![0x5a; 16384]).unwrap();
    let damaged = dir.path().join("damaged.sqlite3");
    let mut bytes = std::fs::read(&good).unwrap();
    let pages = bytes.len() / 4096;
    for page in 1..pages {
        bytes[page * 4096..page * 4096 + 64].fill(0xff);
    }
    std::fs::write(&damaged, bytes).unwrap();
    let foreign = dir.path().join("foreign.sqlite3");
    open(&foreign)
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let newer = dir.path().join("newer.sqlite3");
    std::fs::copy(&good, &newer).unwrap();
    open(&newer)
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z', '0')",
            [],
        )
        .unwrap();

    let before = folder_state(&data);
    for (file, why) in [
        (&garbage, "not a readable SQLite database"),
        (&damaged, "fails SQLite's integrity check"),
        (&foreign, "not an aicfo database"),
        (
            &newer,
            "schema version 999, written by a newer aicfo-server",
        ),
        (&dir.path().join("missing.sqlite3"), "is not a file"),
    ] {
        let out = aicfo_server(&data, &["restore", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("aicfo-server restore refused: "), "{err}");
        assert!(err.contains(why), "{why}: {err}");
        assert!(
            err.contains(&file.display().to_string()),
            "names the file: {err}"
        );
        assert_eq!(
            folder_state(&data),
            before,
            "{why}: the data folder is as it was"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_backup_keeps_the_newest_n_and_shows_on_health_and_overview() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let mut old = Vec::new();
    for day in 1..=5u64 {
        let file = backups.join(format!("aicfo-2020090{day}T000000000Z-daily.sqlite3"));
        std::fs::write(&file, b"an old backup").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(long_ago + Duration::from_secs(day * 86_400))
            .unwrap();
        old.push(file);
    }
    let manual = backups.join("aicfo-20200101T000000000Z-manual.sqlite3");
    std::fs::write(&manual, b"taken by hand").unwrap();

    let srv = TestServer::start_with(dir.path(), &[("backup_keep", json!(3))]).await;
    // The daily backup is due at start (the newest is years old); wait for it and the pruning.
    let daily = loop {
        let daily = files_named(&backups, "-daily.sqlite3");
        if daily.len() == 3 && daily.iter().any(|f| !old.contains(f)) {
            break daily;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(daily[..2], old[3..], "the two newest old ones are kept");
    assert_eq!(integrity(&daily[2]), "ok");
    assert!(manual.exists(), "backups taken by hand are not pruned");

    let (s, health) = srv.get("/health", None).await;
    assert_eq!(s, 200);
    let size = std::fs::metadata(&daily[2]).unwrap().len();
    assert_eq!(health["lastBackup"]["size"], json!(size), "{health}");
    let admin = srv.admin_token().await;
    let (s, overview) = srv.get("/overview", Some(&admin)).await;
    assert_eq!(s, 200);
    assert_eq!(overview["lastBackup"], health["lastBackup"]);
    srv.stop().await;
}

#[test]
fn backup_says_so_when_there_is_no_database_and_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let out = aicfo_server(dir.path(), &["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no database"));
    assert!(!dir.path().join(DATABASE_FILE).exists());
    assert!(!dir.path().join("backups").exists());
}

/// The closing note's figure: how long a backup takes and how big it is for 50 companies x 24
/// months x 2,000 ledgers (2.4 million balances), filled straight into SQLite.
/// `cargo test --release --test server_backup backup_figures -- --ignored --nocapture`
#[test]
#[ignore]
fn backup_figures_for_50_companies_24_months_2000_ledgers() {
    let (companies, months, ledgers) = (50, 24, 2_000);
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join(DATABASE_FILE);
    drop(aicfo::server::db::Db::open(&db_file).unwrap());
    let started = std::time::Instant::now();
    let mut conn = open(&db_file);
    let tx = conn.transaction().unwrap();
    for c in 0..companies {
        let company = format!("company-{c:02}");
        tx.execute(
            "INSERT INTO companies (id, name, created_at) VALUES (?1, ?1, 0)",
            [&company],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO connector_clients (id, company_id, device_id, first_seen, last_seen) \
             VALUES (?1 || '-pc', ?1, 'pc', 0, 0)",
            [&company],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO ingestion_logs (company_id, connector_id, bytes, groups_count, \
             ledgers_count, months_count, balances_count, duration_ms, outcome, created_at) \
             VALUES (?1, ?1 || '-pc', 0, 0, 0, 0, 0, 0, 'stored', 0)",
            [&company],
        )
        .unwrap();
        let ingestion = tx.last_insert_rowid();
        let first_ledger = {
            let mut add = tx
                .prepare(
                    "INSERT INTO ledgers (company_id, guid, name, parent_name, first_seen, \
                     last_seen, last_ingestion) VALUES (?1, ?2, ?3, 'Sundry Debtors', 0, 0, ?4)",
                )
                .unwrap();
            for l in 0..ledgers {
                let guid = format!("{company}-ledger-{l:05}-0000-0000-000000000000");
                add.execute(rusqlite::params![
                    company,
                    guid,
                    format!("Party {l} Pvt Ltd"),
                    ingestion
                ])
                .unwrap();
            }
            tx.last_insert_rowid() - ledgers + 1
        };
        for m in 0..months {
            let key = month(300 + m as usize);
            tx.execute(
                "INSERT INTO snapshots (company_id, month_key, as_of_date, is_closed, ledger_count, \
                 debit_total, credit_total, difference, ingestion_id, ingested_at) \
                 VALUES (?1, ?2, ?2 || '-28', 1, ?3, 0, 0, 0, ?4, 0)",
                rusqlite::params![company, key, ledgers, ingestion],
            )
            .unwrap();
            let snapshot = tx.last_insert_rowid();
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO snapshot_balances (snapshot_id, ledger_id, balance) VALUES (?1, ?2, ?3)",
                )
                .unwrap();
            for l in 0..ledgers {
                let balance = (l * 7_919 + m * 104_729) % 100_000_000 - 50_000_000;
                add.execute(rusqlite::params![snapshot, first_ledger + l, balance])
                    .unwrap();
            }
        }
    }
    tx.commit().unwrap();
    drop(conn);
    let filled = started.elapsed();
    let live = std::fs::metadata(&db_file).unwrap().len();

    let started = std::time::Instant::now();
    let made =
        aicfo::server::backup::take(dir.path(), aicfo::server::backup::Kind::Manual).unwrap();
    let took = started.elapsed();
    assert_eq!(integrity(&made.path), "ok");
    println!(
        "backup of {companies} companies x {months} months x {ledgers} ledgers \
         ({} balances): {:.1} s, {:.1} MB (live database {:.1} MB, filled in {:.1} s)",
        companies * months * ledgers,
        took.as_secs_f64(),
        made.size as f64 / 1e6,
        live as f64 / 1e6,
        filled.as_secs_f64()
    );
}

#[test]
fn restore_creates_no_data_folder_and_both_commands_say_which_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("some.sqlite3");
    std::fs::write(&file, b"whatever").unwrap();
    let missing = dir.path().join("no-such-folder");
    let out = aicfo_server(&missing, &["restore", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("there is no data folder at"), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(!missing.exists(), "restore made a data folder");

    let out = aicfo_server(dir.path(), &["backup"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("data folder {}", dir.path().display())),
        "{said}"
    );
}
