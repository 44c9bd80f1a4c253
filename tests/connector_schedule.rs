//! "Sync now" end to end: the company's schedule makes every hour quiet, so the real connector
//! process (against tally-sim) starts nothing by itself; an admin's request through the API
//! reaches it in a heartbeat answer, it runs, and the status API shows that run as triggered by
//! that request; a request whose run the appliance could not open is started again.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::{connector, tally_serving, text, TestServer};
use serde_json::{json, Value};

use aicfo::sim::{generate, GenSpec};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_aicfo-connector");

/// Stops the connector however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn status(srv: &TestServer, admin: &str) -> Value {
    srv.get("/connector/status?companyId=sharma", Some(admin))
        .await
        .1
}

#[tokio::test]
async fn an_admins_sync_now_runs_in_quiet_hours_and_shows_as_that_requests_run() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let sim = tally_serving(generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 3,
        ledgers: 30,
        vouchers: 200,
        years: 1,
        first_year: 2025,
    }))
    .await;
    let every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let quiet = json!({
        "intervalMinutes": 1,
        "quietHours": [{"days": every_day, "from": "00:00", "to": "24:00"}],
        "fullReadAt": "02:00"
    });
    let res = srv
        .http
        .put(srv.api("/companies/sharma/sync-schedule"))
        .bearer_auth(&admin)
        .json(&quiet)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);

    let out = connector(
        home.path(),
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
            &sim.url,
        ],
        Some(&format!("{}\n", srv.admin_password())),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = home.path().join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    c["heartbeat_interval_seconds"] = json!(5);
    std::fs::write(&config, serde_json::to_string_pretty(&c).unwrap()).unwrap();

    let _connector = Running(
        Command::new(CONNECTOR)
            .arg("--home")
            .arg(home.path())
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Heartbeats come, but quiet hours hold: no run starts by itself.
    let mut seen = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if status(&srv, &admin).await["connectors"][0]["lastHeartbeat"].is_string() {
            seen = true;
            break;
        }
    }
    assert!(seen, "the connector heartbeats");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = status(&srv, &admin).await;
    assert_eq!(s["lastSyncRun"], Value::Null, "quiet: {s:#}");

    let (code, asked) = srv
        .post("/companies/sharma/sync-requests", Some(&admin), &json!({}))
        .await;
    assert_eq!(code, 201, "{asked}");
    let id = asked["syncRequestId"].as_str().unwrap().to_string();

    // Within a heartbeat interval (5 s) it starts; the sync itself is short.
    let mut last = Value::Null;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = status(&srv, &admin).await;
        if last["lastSyncRun"]["status"] == "succeeded" {
            break;
        }
    }
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
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let sim = tally_serving(generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 5,
        ledgers: 30,
        vouchers: 200,
        years: 1,
        first_year: 2025,
    }))
    .await;
    let out = connector(
        home.path(),
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
            &sim.url,
        ],
        Some(&format!("{}\n", srv.admin_password())),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = home.path().join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    c["closed_months"] = json!(6);
    std::fs::write(&config, serde_json::to_string_pretty(&c).unwrap()).unwrap();

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

/// The appliance as the connector sees it through an office network that drops the first
/// `sync/start`: every request goes over its own connection (`Connection: close`), so each one
/// is looked at; the first `sync/start` is cut off unanswered, as when the appliance is away.
struct DropFirstSyncStart {
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

async fn relay(mut client: TcpStream, upstream: String, sync_starts: Arc<AtomicUsize>) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    let text = String::from_utf8_lossy(&head).to_string();
    let first_line = text.lines().next().unwrap_or_default().to_string();
    if first_line.contains("/connector/sync/start")
        && sync_starts.fetch_add(1, Ordering::SeqCst) == 0
    {
        return; // dropped: no answer
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
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

async fn drop_first_sync_start(upstream: &str) -> DropFirstSyncStart {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let sync_starts = Arc::new(AtomicUsize::new(0));
    let counted = sync_starts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, upstream.clone(), counted.clone()));
        }
    });
    DropFirstSyncStart { url, sync_starts }
}

/// What the connector printed (`run.log`, `err.log` in its home), for a failure's message.
fn logs(home: &std::path::Path) -> String {
    ["run.log", "err.log"]
        .map(|f| std::fs::read_to_string(home.join(f)).unwrap_or_default())
        .concat()
}

/// The appliance does not answer the `sync/start` of a "sync now": the request is not counted
/// as handled; the next heartbeat answer still carries it and the connector starts it again,
/// this time as that request's run.
#[tokio::test]
async fn a_sync_now_whose_run_could_not_open_is_started_again_at_the_next_heartbeat() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let sim = tally_serving(generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 5,
        ledgers: 20,
        vouchers: 100,
        years: 1,
        first_year: 2025,
    }))
    .await;
    let every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let quiet = json!({
        "intervalMinutes": 1,
        "quietHours": [{"days": every_day, "from": "00:00", "to": "24:00"}],
        "fullReadAt": "02:00"
    });
    let res = srv
        .http
        .put(srv.api("/companies/sharma/sync-schedule"))
        .bearer_auth(&admin)
        .json(&quiet)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let out = connector(
        home.path(),
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
            &sim.url,
        ],
        Some(&format!("{}\n", srv.admin_password())),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let network = drop_first_sync_start(&srv.url).await;
    let config = home.path().join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    c["heartbeat_interval_seconds"] = json!(5);
    c["max_retry_attempts"] = json!(0);
    c["api_url"] = json!(format!("{}/api", network.url));
    std::fs::write(&config, serde_json::to_string_pretty(&c).unwrap()).unwrap();

    // Asked before the connector starts: its first heartbeat answer carries the request.
    let (code, asked) = srv
        .post("/companies/sharma/sync-requests", Some(&admin), &json!({}))
        .await;
    assert_eq!(code, 201, "{asked}");
    let id = asked["syncRequestId"].as_str().unwrap().to_string();
    let mut connector_process = Running(
        Command::new(CONNECTOR)
            .arg("--home")
            .arg(home.path())
            .arg("run")
            .stdout(std::fs::File::create(home.path().join("run.log")).unwrap())
            .stderr(std::fs::File::create(home.path().join("err.log")).unwrap())
            .spawn()
            .unwrap(),
    );

    let mut last = Value::Null;
    for _ in 0..240 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = status(&srv, &admin).await;
        if last["lastSyncRun"]["status"] == "succeeded" {
            break;
        }
    }
    assert!(
        network.sync_starts.load(Ordering::SeqCst) >= 2,
        "the first sync/start was dropped, a second came: {:?} {}",
        connector_process.0.try_wait(),
        logs(home.path())
    );
    let run = &last["lastSyncRun"];
    assert_eq!(run["status"], "succeeded", "{last:#}");
    assert_eq!(run["syncRequestId"], id.as_str(), "{last:#}");
    assert_eq!(last["schedule"]["syncRequest"]["status"], "started");
}
