//! Upgrades: a database written by an older release is backed up, then migrated, with every row
//! intact. `tests/fixtures/db/aicfo-v4.sqlite3` was written by the appliance at schema version 4
//! (the generator is the ignored test at the end) and stays as it is: later migrations must
//! carry it forward.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use aicfo::server::db::{known_schema_version, recorded_schema_version, Db};
use aicfo::server::DATABASE_FILE;
use common::TestServer;
use serde_json::json;

mod embedded {
    refinery::embed_migrations!("migrations");
}

const FIXTURE: &str = "tests/fixtures/db/aicfo-v4.sqlite3";
/// The staff user in the fixture, and the password it was created with.
const STAFF: (&str, &str) = ("meera", "fixture-staff-password");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// Every row of every table of `file`, as text, keyed by table; only the columns `file` has,
/// so a table a later migration widens still compares.
fn rows_of(file: &Path, columns_from: &Path) -> Vec<(String, BTreeSet<String>)> {
    let shape = rusqlite::Connection::open(columns_from).unwrap();
    let conn = rusqlite::Connection::open(file).unwrap();
    let tables: Vec<String> = shape
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let columns: Vec<String> = shape
                .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let list = columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let mut stmt = conn
                .prepare(&format!("SELECT {list} FROM \"{t}\""))
                .unwrap();
            let rows = stmt
                .query_map([], |r| {
                    let mut line = String::new();
                    for i in 0..columns.len() {
                        let v: rusqlite::types::Value = r.get(i)?;
                        line.push_str(&format!("{v:?}|"));
                    }
                    Ok(line)
                })
                .unwrap()
                .collect::<Result<BTreeSet<_>, _>>()
                .unwrap();
            (t, rows)
        })
        .collect()
}

fn backups_named(data_dir: &Path, part: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("backups")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(part))
        .collect()
}

fn version_of(file: &Path) -> Option<i64> {
    recorded_schema_version(&rusqlite::Connection::open(file).unwrap()).unwrap()
}

#[tokio::test]
async fn a_database_from_the_v4_release_is_migrated_with_every_row_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join(DATABASE_FILE);
    std::fs::copy(fixture(), &db_file).unwrap();
    let before = rows_of(&fixture(), &fixture());
    for table in [
        "companies",
        "users",
        "connector_clients",
        "snapshots",
        "integration_sync_runs",
    ] {
        let held = before
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, r)| r.len());
        assert!(held.unwrap_or(0) > 0, "the fixture has rows in {table}");
    }

    drop(Db::open(&db_file).expect("this binary opens a v4 database"));
    assert_eq!(version_of(&db_file), Some(known_schema_version()));
    let after = rows_of(&db_file, &fixture());
    for ((table, old), (_, new)) in before.iter().zip(&after) {
        let lost: Vec<&String> = old.difference(new).collect();
        assert!(lost.is_empty(), "{table} lost or changed rows: {lost:?}");
    }
    let taken = backups_named(dir.path(), "-before-v4-");
    if known_schema_version() > 4 {
        assert_eq!(taken.len(), 1, "a backup before migrating: {taken:?}");
        assert_eq!(rows_of(&taken[0], &fixture()), before);
    } else {
        assert!(taken.is_empty(), "nothing to migrate, nothing to back up");
    }

    // And the appliance serves it: the fixture's staff user signs in and sees their books.
    let srv = TestServer::start(dir.path()).await;
    let staff = srv.login(STAFF.0, STAFF.1).await;
    let (s, months) = srv.get("/companies/sharma/snapshots", Some(&staff)).await;
    assert_eq!(s, 200, "{months}");
    assert_eq!(months.as_array().map(Vec::len), Some(3), "{months}");
    srv.stop().await;
}

#[test]
fn an_older_database_is_backed_up_before_it_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join(DATABASE_FILE);
    let mut conn = rusqlite::Connection::open(&db_file).unwrap();
    embedded::migrations::runner()
        .set_target(refinery::Target::Version(3))
        .run(&mut conn)
        .unwrap();
    conn.execute(
        "INSERT INTO companies (id, name, created_at) VALUES ('old', 'Old Books', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let before = rows_of(&db_file, &db_file);

    drop(Db::open(&db_file).unwrap());
    let known = known_schema_version();
    assert_eq!(version_of(&db_file), Some(known));
    let taken = backups_named(dir.path(), &format!("-before-v3-to-v{known}."));
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(version_of(&taken[0]), Some(3));
    assert_eq!(rows_of(&taken[0], &taken[0]), before);

    // Opened again: nothing pending, no second backup.
    drop(Db::open(&db_file).unwrap());
    assert_eq!(backups_named(dir.path(), "-before-").len(), 1);

    // A new database has nothing to keep.
    let fresh = tempfile::tempdir().unwrap();
    drop(Db::open(&fresh.path().join(DATABASE_FILE)).unwrap());
    assert!(!fresh.path().join("backups").exists());
}

/// Writes the fixture. Run once, at schema version 4, with `AICFO_WRITE_DB_FIXTURE=1 cargo test
/// --test server_upgrade -- --ignored`; never again (the point is an old file).
#[tokio::test]
#[ignore]
async fn write_the_schema_v4_fixture() {
    if std::env::var_os("AICFO_WRITE_DB_FIXTURE").is_none() {
        return;
    }
    assert_eq!(
        known_schema_version(),
        4,
        "the fixture is a schema-v4 database"
    );
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("AICFOConnector.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&package).unwrap());
    zip.start_file("config.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(br#"{"api_url": "", "company_id": ""}"#)
        .unwrap();
    zip.finish().unwrap();
    let data = dir.path().join("data");
    let srv = TestServer::start_with(
        &data,
        &[
            ("connector_package", json!(package)),
            ("connector_releases", json!(dir.path().join("none"))),
        ],
    )
    .await;
    fill(&srv).await;
    srv.stop().await;
    let out = fixture();
    let _ = std::fs::remove_file(&out);
    let conn = rusqlite::Connection::open(data.join(DATABASE_FILE)).unwrap();
    conn.execute("VACUUM INTO ?1", [out.to_str().unwrap()])
        .unwrap();
}

/// Two companies, a staff user, an enrolment code used and one not, a connector that
/// heartbeats, a finished sync run with three months.
async fn fill(srv: &TestServer) {
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    srv.create_company(&admin, "Gupta Traders", "gupta").await;
    srv.create_staff(&admin, STAFF.0, STAFF.1, &["sharma"])
        .await;
    for _ in 0..2 {
        let res = srv
            .http
            .get(format!("{}/download/connector?companyId=sharma", srv.url))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let (token, _, _) = srv.enrol(&admin, "sharma", "office-pc").await;
    let (s, run) = srv
        .post(
            "/connector/sync/start",
            Some(&token),
            &json!({"trigger": "manual"}),
        )
        .await;
    assert_eq!(s, 200, "{run}");
    let mut payload = common::balanced_payload();
    payload["syncRunId"] = run["syncRunId"].clone();
    let (s, b) = srv.post("/connector/sync", Some(&token), &payload).await;
    assert_eq!(s, 200, "{b}");
    let done = json!({"syncRunId": run["syncRunId"], "status": "succeeded"});
    let (s, b) = srv
        .post("/connector/sync/complete", Some(&token), &done)
        .await;
    assert_eq!(s, 200, "{b}");
    let beat = json!({"companyId": "sharma", "appVersion": "1.0.0", "tallyReachable": true});
    let (s, _) = srv.post("/connector/heartbeat", Some(&token), &beat).await;
    assert_eq!(s, 200);
}
