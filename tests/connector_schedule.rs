//! "Sync now" end to end: the company's schedule keeps the real connector process (against
//! tally-sim) from starting anything by itself; an admin's request through the API reaches it
//! in a heartbeat answer, it runs, and the status API shows that run as triggered by that
//! request; a request whose run the appliance could not open is started again; of two
//! connectors of one company told of the same request, one reads Tally for it.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::{connector, tally_serving, text, TestServer};
use serde_json::{json, Value};

use aicfo::sim::{generate, GenSpec, SimServer};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_aicfo-connector");

/// Stops the connector however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `run` in `home`, its console in `run.log` and `err.log` there.
fn run_connector(home: &Path) -> Running {
    Running(
        Command::new(CONNECTOR)
            .arg("--home")
            .arg(home)
            .arg("run")
            .stdout(std::fs::File::create(home.join("run.log")).unwrap())
            .stderr(std::fs::File::create(home.join("err.log")).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// What the connector printed and logged, for a failure's message.
fn logs(home: &Path) -> String {
    ["run.log", "err.log", "logs/connector.log"]
        .map(|f| std::fs::read_to_string(home.join(f)).unwrap_or_default())
        .concat()
}

async fn status(srv: &TestServer, admin: &str) -> Value {
    srv.get("/connector/status?companyId=sharma", Some(admin))
        .await
        .1
}

/// Asks the status every 250 ms, at most `tries` times, until `done` says so; the last one.
async fn status_until(
    srv: &TestServer,
    admin: &str,
    tries: u32,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..tries {
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = status(srv, admin).await;
        if done(&last) {
            break;
        }
    }
    last
}

/// An appliance whose company `sharma` syncs on request only, Tally's stand-in, and a
/// connector set up in `home` (not running).
struct Office {
    srv: TestServer,
    admin: String,
    sim: SimServer,
    home: tempfile::TempDir,
    _data: tempfile::TempDir,
}

async fn office(seed: u64) -> Office {
    let (data, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (srv, admin) = appliance(data.path()).await;
    let sim = books(seed, 20, 100).await;
    set_schedule(&srv, &admin, &never_on_its_own()).await;
    set_up(home.path(), &srv, &sim.url).await;
    Office {
        srv,
        admin,
        sim,
        home,
        _data: data,
    }
}

/// An appliance with the company `sharma`, and its admin's token.
async fn appliance(data: &Path) -> (TestServer, String) {
    let srv = TestServer::start(data).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    (srv, admin)
}

/// tally-sim serving a year of Sharma & Sons' books.
async fn books(seed: u64, ledgers: usize, vouchers: usize) -> SimServer {
    tally_serving(generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed,
        ledgers,
        vouchers,
        years: 1,
        first_year: 2025,
    }))
    .await
}

/// A schedule under which no sync starts on its own while a test runs: quiet all week but the
/// last minute of a day three days off (whatever the PC's time zone, two days away at least).
/// A week quiet throughout is refused.
fn never_on_its_own() -> Value {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let today = usize::from(
        time::OffsetDateTime::now_utc()
            .weekday()
            .number_days_from_monday(),
    );
    let open = (today + 3) % 7;
    let quiet: Vec<&str> = DAYS.into_iter().filter(|d| *d != DAYS[open]).collect();
    json!({
        "intervalMinutes": 1,
        "quietHours": [
            {"days": quiet, "from": "00:00", "to": "24:00"},
            {"days": [DAYS[open]], "from": "00:00", "to": "23:59"}
        ],
        "fullReadAt": "02:00"
    })
}

async fn set_schedule(srv: &TestServer, admin: &str, schedule: &Value) {
    let res = srv
        .http
        .put(srv.api("/companies/sharma/sync-schedule"))
        .bearer_auth(admin)
        .json(schedule)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// Sets the connector in `home` up for `sharma` as the admin, reading Tally at `tally`.
async fn set_up(home: &Path, srv: &TestServer, tally: &str) {
    let out = connector(
        home,
        &[
            "setup",
            "--api-url",
            &format!("{}/api", srv.url),
            "--username",
            "admin",
            "--password-stdin",
            "--company-id",
            "sharma",
            "--tally-url",
            tally,
        ],
        Some(&format!("{}\n", srv.admin_password())),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Changes the connector's config.json in `home`.
fn configure(home: &Path, change: impl FnOnce(&mut Value)) {
    let config = home.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    change(&mut c);
    std::fs::write(&config, serde_json::to_string_pretty(&c).unwrap()).unwrap();
}

/// An admin's "sync now"; its id.
async fn sync_now(srv: &TestServer, admin: &str) -> String {
    let (code, asked) = srv
        .post("/companies/sharma/sync-requests", Some(admin), &json!({}))
        .await;
    assert_eq!(code, 201, "{asked}");
    asked["syncRequestId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_admins_sync_now_runs_in_quiet_hours_and_shows_as_that_requests_run() {
    let office = office(3).await;
    let (srv, admin, home) = (&office.srv, office.admin.as_str(), office.home.path());
    configure(home, |c| c["heartbeat_interval_seconds"] = json!(5));

    let _connector = run_connector(home);
    // Heartbeats come, but quiet hours hold: no run starts by itself.
    let s = status_until(srv, admin, 60, |s| {
        s["connectors"][0]["lastHeartbeat"].is_string()
    })
    .await;
    assert!(
        s["connectors"][0]["lastHeartbeat"].is_string(),
        "the connector heartbeats"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = status(srv, admin).await;
    assert_eq!(s["lastSyncRun"], Value::Null, "quiet: {s:#}");

    let id = sync_now(srv, admin).await;
    // Within a heartbeat interval (5 s) it starts; the sync itself is short.
    let last = status_until(srv, admin, 120, |s| {
        s["lastSyncRun"]["status"] == "succeeded"
    })
    .await;
    let run = &last["lastSyncRun"];
    assert_eq!(run["status"], "succeeded", "{last:#}");
    assert_eq!(run["trigger"], "request");
    assert_eq!(run["syncRequestId"], id.as_str());
    let shown = &last["schedule"]["syncRequest"];
    assert_eq!(shown["status"], "started");
    assert_eq!(shown["syncRunId"], run["syncRunId"]);
    assert!(
        last["months"].as_array().is_some_and(|m| !m.is_empty()),
        "the data arrived: {last:#}"
    );
    let runs = srv.count("SELECT COUNT(*) FROM integration_sync_runs");
    assert_eq!(runs, 1, "one request, one run");
    // Its first sync read Tally in full though nobody asked for one, and said so (the status's
    // nextFullReadAt counts from such runs; see server_schedules).
    let full = srv.count("SELECT COUNT(*) FROM integration_sync_runs WHERE full_read = 1");
    assert_eq!(full, 1, "the run said it read in full");
}

/// Tally turns busy halfway through a sync (tally-sim's answers slow down from a given request
/// on): the connector spreads the remaining month reads out, says so in the run's events, and
/// still delivers everything.
#[tokio::test]
async fn a_busy_tally_spreads_the_month_reads_out_and_the_run_says_so() {
    let (data, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (srv, admin) = appliance(data.path()).await;
    let sim = books(5, 30, 200).await;
    set_up(home.path(), &srv, &sim.url).await;
    configure(home.path(), |c| c["closed_months"] = json!(6));

    // A quiet Tally: how many requests a full read takes.
    let before = sim.state.requests();
    let out = connector(home.path(), &["once", "--full"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let per_read = sim.state.requests() - before;

    // The same read again; from its middle on every answer takes 0.4 s.
    let from = sim.state.requests() + per_read / 2;
    sim.state.set_fault(aicfo::sim::Fault::SlowFrom {
        from,
        delay: Duration::from_millis(400),
    });
    let out = connector(home.path(), &["once", "--full"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let s = status(&srv, &admin).await;
    let run = &s["lastSyncRun"];
    assert_eq!(run["status"], "succeeded", "{s:#}");
    let (_, detail) = srv
        .get(
            &format!(
                "/companies/sharma/sync-runs/{}",
                run["syncRunId"].as_str().unwrap()
            ),
            Some(&admin),
        )
        .await;
    let busy: Vec<&Value> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["stage"]
                .as_str()
                .is_some_and(|s| s.starts_with("Tally is busy"))
        })
        .collect();
    assert_eq!(busy.len(), 1, "said once: {detail:#}");
    assert!(
        busy[0]["stage"]
            .as_str()
            .unwrap()
            .contains("spreading the remaining"),
        "{detail:#}"
    );
}

/// What the office network between connectors and the appliance does to `sync/start`.
#[derive(Clone, Copy)]
enum SyncStarts {
    /// The first is cut off unanswered, as when the appliance is away.
    DropFirst,
    /// The first two are held until both have come, then passed on together.
    MeetFirstTwo,
}

/// The appliance as connectors see it through an office network: every request goes over its
/// own connection (`Connection: close`), so each one is looked at, and `sync/start` fares as
/// `policy` says.
struct Network {
    url: String,
    sync_starts: Arc<AtomicUsize>,
}

async fn read_head(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(head)
}

struct Relay {
    upstream: String,
    policy: SyncStarts,
    sync_starts: Arc<AtomicUsize>,
    meeting: Arc<tokio::sync::Barrier>,
}

async fn relay(mut client: TcpStream, r: Arc<Relay>) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    let text = String::from_utf8_lossy(&head).to_string();
    let first_line = text.lines().next().unwrap_or_default().to_string();
    if first_line.contains("/connector/sync/start") {
        let nth = r.sync_starts.fetch_add(1, Ordering::SeqCst);
        match r.policy {
            SyncStarts::DropFirst if nth == 0 => return, // dropped: no answer
            SyncStarts::MeetFirstTwo if nth < 2 => {
                r.meeting.wait().await;
            }
            _ => {}
        }
    }
    let Ok(mut server) = TcpStream::connect(&r.upstream).await else {
        return;
    };
    let rest = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>();
    let head = format!("{first_line}\r\nconnection: close\r\n{rest}\r\n");
    if server.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

async fn network(upstream: &str, policy: SyncStarts) -> Network {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let r = Arc::new(Relay {
        upstream: upstream.trim_start_matches("http://").to_string(),
        policy,
        sync_starts: Arc::new(AtomicUsize::new(0)),
        meeting: Arc::new(tokio::sync::Barrier::new(2)),
    });
    let sync_starts = r.sync_starts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, r.clone()));
        }
    });
    Network { url, sync_starts }
}

/// The appliance does not answer the `sync/start` of a "sync now": the request is not counted
/// as handled; the next heartbeat answer still carries it and the connector starts it again,
/// this time as that request's run.
#[tokio::test]
async fn a_sync_now_whose_run_could_not_open_is_started_again_at_the_next_heartbeat() {
    let office = office(5).await;
    let (srv, admin, home) = (&office.srv, office.admin.as_str(), office.home.path());
    let network = network(&srv.url, SyncStarts::DropFirst).await;
    configure(home, |c| {
        c["heartbeat_interval_seconds"] = json!(5);
        c["max_retry_attempts"] = json!(0);
        c["api_url"] = json!(format!("{}/api", network.url));
    });

    // Asked before the connector starts: its first heartbeat answer carries the request.
    let id = sync_now(srv, admin).await;
    let mut connector_process = run_connector(home);

    let last = status_until(srv, admin, 240, |s| {
        s["lastSyncRun"]["status"] == "succeeded"
    })
    .await;
    assert!(
        network.sync_starts.load(Ordering::SeqCst) >= 2,
        "the first sync/start was dropped, a second came: {:?} {}",
        connector_process.0.try_wait(),
        logs(home)
    );
    let run = &last["lastSyncRun"];
    assert_eq!(run["status"], "succeeded", "{last:#}");
    assert_eq!(run["syncRequestId"], id.as_str(), "{last:#}");
    assert_eq!(last["schedule"]["syncRequest"]["status"], "started");
}

/// Two connectors of one company (two PCs with Tally) are both told of a "sync now" and both
/// come to start its run: the appliance opens it for the first only, and the second does not
/// read Tally for it, saying so in its log, not as an error.
#[tokio::test]
async fn of_two_connectors_told_of_one_sync_now_only_one_reads_tally_for_it() {
    let office = office(7).await;
    let (srv, admin) = (&office.srv, office.admin.as_str());
    let second = tempfile::tempdir().unwrap();
    set_up(second.path(), srv, &office.sim.url).await;
    let homes = [office.home.path(), second.path()];
    let network = network(&srv.url, SyncStarts::MeetFirstTwo).await;
    for home in homes {
        configure(home, |c| {
            c["heartbeat_interval_seconds"] = json!(5);
            c["api_url"] = json!(format!("{}/api", network.url));
        });
    }
    let id = sync_now(srv, admin).await;
    let _running = homes.map(run_connector);

    let skipped = "another connector of this company started it";
    let mut last = Value::Null;
    for _ in 0..240 {
        last = status_until(srv, admin, 1, |_| true).await;
        let said = homes.iter().any(|h| logs(h).contains(skipped));
        if last["lastSyncRun"]["status"] == "succeeded" && said {
            break;
        }
    }
    let all_logs = homes.map(logs).join("\n----\n");
    assert_eq!(
        network.sync_starts.load(Ordering::SeqCst),
        2,
        "both came: {all_logs}"
    );
    assert_eq!(
        last["lastSyncRun"]["status"], "succeeded",
        "{last:#} {all_logs}"
    );
    assert_eq!(last["lastSyncRun"]["syncRequestId"], id.as_str());
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM integration_sync_runs"),
        1,
        "{all_logs}"
    );
    let (loser, winner): (Vec<_>, Vec<_>) = homes.iter().partition(|h| logs(h).contains(skipped));
    assert_eq!((loser.len(), winner.len()), (1, 1), "{all_logs}");
    let loser_log = logs(loser[0]);
    assert!(!loser_log.contains("ERROR"), "quietly: {loser_log}");
    // It read nothing: no sync recorded, nothing queued.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(loser[0].join("connector-state.json")).unwrap(),
    )
    .unwrap();
    assert!(state["lastSync"].is_null(), "{state:#}");
    let queued = std::fs::read_dir(loser[0].join("outbox"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .count()
        })
        .unwrap_or(0);
    assert_eq!(queued, 0, "{loser_log}");
}
