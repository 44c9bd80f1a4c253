//! The connector tells the truth about where the data is: a payload the appliance refused, or
//! one still waiting in the outbox, is never reported as delivered; a run whose data arrives
//! late is completed; a file this PC cannot read is its own problem, not the appliance's
//! refusal; a setup that cannot save its result leaves no connector registered; a long sync
//! never holds up the heartbeat. Real processes throughout: the appliance, tally-sim and the
//! connector binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{
    connector, connector_setup, edit_connector_config, fast_connector_retries, text, TestServer,
};
use serde_json::{json, Value};

use aicfo::sim::{generate, Books, Fault, GenSpec, SimServer, SimState};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_aicfo-connector");

/// The appliance, which a test may stop and start again on the same port and data.
struct World {
    srv: Option<TestServer>,
    port: u16,
    sim: SimServer,
    admin: String,
    password: String,
    home: tempfile::TempDir,
    data: tempfile::TempDir,
}

fn company(ledgers: usize, vouchers: usize) -> SimCompany {
    generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 7,
        ledgers,
        vouchers,
        years: 3,
        first_year: 2024,
    })
}

use aicfo::sim::SimCompany;

/// A body limit of a few KiB on `/connector/sync`: the company's payload is refused with 413.
fn tiny_sync_limit() -> (&'static str, Value) {
    ("limits", json!({"json": "1 MiB", "sync": "4 KiB"}))
}

async fn world_with(extra: &[(&str, Value)], books: SimCompany) -> World {
    let data = tempfile::tempdir().unwrap();
    let srv = TestServer::start_with(data.path(), extra).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    let state = Arc::new(SimState::new(vec![Books::new(books).unwrap()]));
    let sim = SimServer::start(state, "127.0.0.1", 0, false)
        .await
        .unwrap();
    World {
        port: srv.url.rsplit(':').next().unwrap().parse().unwrap(),
        password: srv.admin_password(),
        srv: Some(srv),
        sim,
        admin,
        home: tempfile::tempdir().unwrap(),
        data,
    }
}

async fn world() -> World {
    world_with(&[], company(120, 3000)).await
}

/// Payloads waiting in an outbox (a file or anything else under a payload's name).
fn waiting(home: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(home.join("outbox")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect()
}

impl World {
    fn srv(&self) -> &TestServer {
        self.srv.as_ref().expect("the appliance is running")
    }

    async fn stop_appliance(&mut self) {
        self.srv.take().expect("running").stop().await;
    }

    async fn start_appliance(&mut self, extra: &[(&str, Value)]) {
        let mut settings = vec![("port", json!(self.port))];
        settings.extend(extra.iter().cloned());
        self.srv = Some(TestServer::start_with(self.data.path(), &settings).await);
    }

    async fn setup(&self) {
        let out = self.setup_in(self.home.path()).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        fast_connector_retries(self.home.path());
    }

    async fn setup_in(&self, home: &Path) -> Output {
        // By port, not through `srv`: a test may have stopped the appliance and started it again.
        let api = format!("http://127.0.0.1:{}/api", self.port);
        connector_setup(home, &api, &self.password, "sharma", &self.sim.url).await
    }

    fn enrolled(&self) -> i64 {
        self.srv().count("SELECT count(*) FROM connector_clients")
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
        self.srv()
            .get("/connector/status?companyId=sharma", Some(&self.admin))
            .await
            .1
    }

    fn deliveries(&self) -> i64 {
        self.srv().count("SELECT count(*) FROM ingestion_logs")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("logs/connector.log")).unwrap_or_default()
    }

    fn spawn_run(&self) -> Child {
        Command::new(CONNECTOR)
            .arg("--home")
            .arg(self.home.path())
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

/// Polls the status (bounded, so that a broken connector fails the test rather than hanging
/// it) until `done` holds; returns the status that satisfied it.
async fn status_when(w: &World, done: impl Fn(&Value) -> bool) -> Option<Value> {
    for _ in 0..240 {
        let s = w.status().await;
        if done(&s) {
            return Some(s);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// Polls the connector's log (bounded) until it says `what`.
async fn log_says(w: &World, what: &str) -> bool {
    for _ in 0..240 {
        if w.log().contains(what) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

async fn stop(mut child: Child) {
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
}

#[tokio::test]
async fn a_refused_payload_is_read_again_in_full_and_never_shown_as_delivered() {
    let mut w = world_with(&[tiny_sync_limit()], company(120, 3000)).await;
    w.setup().await;

    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("payload_too_large"), "{}", text(&out));
    assert_eq!(w.deliveries(), 0);
    let rejected = w.home.path().join("outbox/rejected");
    assert_eq!(
        std::fs::read_dir(&rejected).unwrap().count(),
        2,
        "payload and reason"
    );

    // Tally has not changed, but the appliance holds none of it: the next sync reads again.
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("nothing changed"), "{}", text(&out));
    let status = w.status().await;
    assert_eq!(status["lastSyncRun"]["status"], "failed", "{status:#}");
    assert_eq!(status["lastSuccessfulSync"], Value::Null, "{status:#}");

    // With room for the company, the next plain `once` delivers it.
    w.stop_appliance().await;
    w.start_appliance(&[]).await;
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("nothing changed"), "{}", text(&out));
    assert_eq!(w.deliveries(), 1);
    let status = w.status().await;
    assert_eq!(status["lastSyncRun"]["status"], "succeeded", "{status:#}");
    assert_eq!(
        status["lastSuccessfulSync"]["syncRunId"], status["lastSyncRun"]["syncRunId"],
        "{status:#}"
    );
    assert!(
        status["months"].as_array().unwrap().len() >= 13,
        "{status:#}"
    );
    // Now the appliance holds what Tally has: nothing to read.
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing changed"), "{}", text(&out));
}

#[tokio::test]
async fn once_says_appliance_away_while_data_waits_undelivered() {
    let mut w = world().await;
    w.setup().await;
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    w.stop_appliance().await;
    let out = w.once(&["--full"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(waiting(w.home.path()).len(), 1);
    // Tally has not changed since the delivered sync, but a payload waits: not "all is well".
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(waiting(w.home.path()).len(), 1);

    w.start_appliance(&[]).await;
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.deliveries(), 2, "the waiting payload, delivered once");
    assert!(waiting(w.home.path()).is_empty());
}

#[tokio::test]
async fn never_delivered_data_is_read_again_while_the_appliance_stays_away() {
    let mut w = world().await;
    w.setup().await;
    w.stop_appliance().await;
    for _ in 0..2 {
        let out = w.once(&[]).await;
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
        assert!(!text(&out).contains("nothing changed"), "{}", text(&out));
        assert_eq!(waiting(w.home.path()).len(), 1, "superseded, not piled up");
    }
    w.start_appliance(&[]).await;
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.deliveries(), 1);
}

#[tokio::test]
async fn a_run_whose_payload_is_delivered_later_is_completed() {
    let mut w = world().await;
    w.setup().await;
    w.edit_config(|c| c["heartbeat_interval_seconds"] = json!(5));
    // Slow enough to stop the appliance while the sync reads Tally.
    w.sim.set_fault(Fault::Slow(Duration::from_millis(700)));
    let child = w.spawn_run();
    let running = status_when(&w, |s| s["lastSyncRun"]["status"] == "running")
        .await
        .expect("the sync run starts");
    let run_id = running["lastSyncRun"]["syncRunId"]
        .as_str()
        .unwrap()
        .to_string();
    w.stop_appliance().await;
    assert!(log_says(&w, "wait in the outbox").await, "{}", w.log());
    w.sim.set_fault(Fault::None);

    // Back: the next heartbeat finds the appliance and delivers what waits.
    w.start_appliance(&[]).await;
    let completed = status_when(&w, |s| s["lastSyncRun"]["status"] == "succeeded").await;
    stop(child).await;
    let status = completed.unwrap_or_else(|| panic!("the run is never completed\n{}", w.log()));
    assert_eq!(status["lastSyncRun"]["syncRunId"], run_id.as_str());
    assert_eq!(status["lastSuccessfulSync"]["syncRunId"], run_id.as_str());
    assert_eq!(w.deliveries(), 1);
    assert!(waiting(w.home.path()).is_empty());
}

#[tokio::test]
async fn an_unreadable_outbox_file_waits_for_the_next_try_instead_of_being_refused() {
    let mut w = world().await;
    w.setup().await;
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    w.stop_appliance().await;
    let out = w.once(&["--full"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    w.start_appliance(&[]).await;

    // As root nothing is unreadable by permissions: a folder under the payload's name is.
    let [payload] = &waiting(w.home.path())[..] else {
        panic!("one payload waits")
    };
    let aside = w.home.path().join("payload-aside");
    std::fs::rename(payload, &aside).unwrap();
    std::fs::create_dir(payload).unwrap();
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("could not read") && !t.contains("refused"),
        "{t}"
    );
    assert!(!w.home.path().join("outbox/rejected").exists(), "{t}");
    let status = w.status().await;
    assert_eq!(status["lastSyncRun"]["status"], "failed", "{status:#}");
    assert!(
        status["lastSyncRun"]["error"]
            .as_str()
            .unwrap()
            .contains("could not read"),
        "{status:#}"
    );
    assert_eq!(w.deliveries(), 1);

    // Readable again: delivered.
    std::fs::remove_dir(payload).unwrap();
    std::fs::rename(&aside, payload).unwrap();
    let out = w.once(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.deliveries(), 2);
    assert!(waiting(w.home.path()).is_empty());
}

#[tokio::test]
async fn setup_creates_a_home_folder_that_does_not_exist() {
    let w = world().await;
    let home = w.home.path().join("AICFO Connector/new folder");
    let out = w.setup_in(&home).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(home.join("config.json").is_file());
    assert!(home.join("connector-state.json").is_file());
    assert!(!home.join("config.json.setup").exists());
    let out = connector(&home, &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.deliveries(), 1);
}

#[tokio::test]
async fn a_setup_that_cannot_save_its_result_enrols_nothing() {
    let w = world().await;
    let root = w.home.path();
    // A folder that cannot be created: its parent is a file.
    std::fs::write(root.join("a-file"), "").unwrap();
    let out = w.setup_in(&root.join("a-file/connector")).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("cannot create the folder"),
        "{}",
        text(&out)
    );
    assert_eq!(w.enrolled(), 0);

    // Files that cannot be written: something else has their names.
    for (done, name) in ["config.json", "connector-state.json"]
        .into_iter()
        .enumerate()
    {
        let home = root.join(format!("blocked-{name}"));
        std::fs::create_dir_all(home.join(name)).unwrap();
        let out = w.setup_in(&home).await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains(&format!("cannot write {}", home.join(name).display())),
            "{}",
            text(&out)
        );
        assert_eq!(w.enrolled(), done as i64, "{name}");
        // Once the obstacle is gone, the same setup works.
        std::fs::remove_dir(home.join(name)).unwrap();
        let out = w.setup_in(&home).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    // One device per home folder.
    assert_eq!(w.enrolled(), 2);
}

fn instant(rfc3339: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap()
}

/// A long sync of a large company must not hold up the heartbeat: the payload is compressed
/// and written on its own thread, Tally's answers parsed on theirs.
#[tokio::test]
async fn heartbeats_keep_their_interval_through_a_long_sync_of_a_large_company() {
    let w = world_with(&[], company(4_000, 40_000)).await;
    w.setup().await;
    let interval = 5;
    w.edit_config(|c| c["heartbeat_interval_seconds"] = json!(interval));
    // Tally answers slowly too: the sync lasts many heartbeat intervals.
    w.sim.set_fault(Fault::Slow(Duration::from_millis(1500)));
    let child = w.spawn_run();
    let mut beats: Vec<String> = Vec::new();
    let mut finished = None;
    for _ in 0..1200 {
        let s = w.status().await;
        if let Some(hb) = s["connectors"][0]["lastHeartbeat"].as_str() {
            if beats.last().map(String::as_str) != Some(hb) {
                beats.push(hb.to_string());
            }
        }
        if s["lastSyncRun"]["status"] == "succeeded" {
            finished = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(child).await;
    let s = finished.unwrap_or_else(|| panic!("the sync never finished\n{}", w.log()));
    let run = &s["lastSyncRun"];
    let (from, to) = (
        instant(run["startedAt"].as_str().unwrap()),
        instant(run["finishedAt"].as_str().unwrap()),
    );
    let intervals = ((to - from).whole_seconds() / interval) as usize;
    let during = beats
        .iter()
        .filter(|b| (from..=to).contains(&instant(b)))
        .count();
    assert!(
        intervals >= 4,
        "the sync lasted {intervals} intervals: too short to tell"
    );
    assert!(
        during + 1 >= intervals,
        "{during} heartbeats during a sync of {intervals} intervals: {beats:?}"
    );
    assert_eq!(w.deliveries(), 1);
}
