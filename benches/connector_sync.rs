//! Connector benchmark: one full sync of a 20,000-ledger company (500,000 vouchers over three
//! financial years) from tally-sim to a real appliance, with the connector's release binary as
//! its own process. Prints the wall time less the simulator's time building its answers (Tally's
//! share), the connector's peak memory, and its resident memory once idle. Asserts nothing.
//! First it counts the requests to Tally per sync for the changes of a day (issue 9, item 5);
//! `CONNECTOR_SYNC_COUNTS_ONLY=1` stops after them (`cargo bench --profile dev` suffices).
//!
//! Targets (issue 4): the full sync under 5 s; an idle connector under 15 MB resident.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use aicfo::sim::{generate, Books, GenSpec, SimServer, SimState};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_aicfo-connector");

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the connector once in `home` (`--full` when asked) and returns the requests it made.
async fn requests_of_sync(home: &std::path::Path, state: &SimState, full: bool) -> u64 {
    let before = state.requests();
    let home = home.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let mut args = vec!["--home", home.to_str().unwrap(), "once"];
        if full {
            args.push("--full");
        }
        Command::new(CONNECTOR).args(&args).output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    state.requests() - before
}

/// Requests to Tally per sync (issue 9, item 5) for the changes a day brings, on a company read
/// back to the previous financial year (20 month-ends). "Before" is what the connector did
/// before reading changes by alteration id: one request when nothing changed, else a full read.
async fn request_counts() {
    let mut company = generate(&GenSpec {
        name: "Counted Traders".into(),
        seed: 7,
        ledgers: 200,
        vouchers: 5_000,
        years: 3,
        first_year: 2024,
    });
    let state = Arc::new(SimState::new(vec![Books::new(company.clone()).unwrap()]));
    let sim = SimServer::start(state.clone(), "127.0.0.1", 0, false)
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let srv = common::TestServer::start(data.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Counted", "counted").await;
    let home = tempfile::tempdir().unwrap();
    let setup = Command::new(CONNECTOR)
        .args([
            "--home",
            home.path().to_str().unwrap(),
            "setup",
            "--api-url",
            &format!("{}/api", srv.url),
            "--username",
            "admin",
            &format!("--password={}", srv.admin_password()),
            "--company-id",
            "counted",
            "--tally-url",
            &sim.url,
            "--non-interactive",
        ])
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let full = requests_of_sync(home.path(), &state, true).await;
    let today = time::OffsetDateTime::now_utc().date();
    let month = aicfo::protocol::MonthKey::of(today);
    let six_back = (0..6).fold(month, |m, _| m.previous());
    let mut rows = vec![(
        "nothing changed",
        1,
        requests_of_sync(home.path(), &state, false).await,
    )];
    let entry = |c: &aicfo::sim::SimCompany, i: usize, paise: i64| aicfo::sim::model::SimEntry {
        ledger: c.ledgers[i].name.clone(),
        amount: aicfo::protocol::Amount::from_paise(paise),
    };
    for (label, date) in [
        ("one voucher this month", format!("{month}-01")),
        (
            "one voucher back-dated six months",
            format!("{six_back}-15"),
        ),
    ] {
        let v = aicfo::sim::model::SimVoucher {
            date,
            voucher_type: "Journal".into(),
            number: String::new(),
            entries: vec![entry(&company, 0, 100), entry(&company, 1, -100)],
            stock: Vec::new(),
        };
        company.vouchers.push(v);
        state.set_companies(vec![Books::new(company.clone()).unwrap()]);
        rows.push((
            label,
            full,
            requests_of_sync(home.path(), &state, false).await,
        ));
    }
    let mut ledger = company.ledgers[0].clone();
    ledger.name = "A New Ledger".into();
    ledger.guid = "a-new-ledger".into();
    ledger.opening_balance = aicfo::protocol::Amount::ZERO;
    company.ledgers.push(ledger);
    state.set_companies(vec![Books::new(company.clone()).unwrap()]);
    rows.push((
        "one new ledger",
        full,
        requests_of_sync(home.path(), &state, false).await,
    ));
    println!("requests to Tally per sync (full read: {full}):");
    for (label, before, after) in rows {
        println!("  {label:<36} before {before:>3}   after {after:>3}");
    }
    sim.stop().await;
    srv.stop().await;
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        request_counts().await;
        if std::env::var_os("CONNECTOR_SYNC_COUNTS_ONLY").is_some() {
            return;
        }
        let started = Instant::now();
        let company = generate(&GenSpec { name: "Big Books Pvt. Ltd.".into(), seed: 2026, ledgers: 20_000, vouchers: 500_000, years: 3, first_year: 2024 });
        let books = Books::new(company).unwrap();
        println!("generated 20,000 ledgers and 500,000 vouchers in {:.1} s", started.elapsed().as_secs_f64());
        let state = Arc::new(SimState::new(vec![books]));
        let sim = SimServer::start(state.clone(), "127.0.0.1", 0, false).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let srv = common::TestServer::start(data.path()).await;
        let admin = srv.admin_token().await;
        srv.create_company(&admin, "Big Books", "big").await;
        let home = tempfile::tempdir().unwrap();
        let password = srv.admin_password();
        let setup = Command::new(CONNECTOR)
            .args(["--home", home.path().to_str().unwrap(), "setup", "--api-url", &format!("{}/api", srv.url), "--username", "admin", &format!("--password={password}"), "--company-id", "big", "--tally-url", &sim.url, "--non-interactive"])
            .output()
            .unwrap();
        assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));

        let mut best: Option<(Duration, Duration, u64)> = None;
        for round in 1..=3 {
            let busy_before = state.busy();
            let requests_before = state.requests();
            let t0 = Instant::now();
            let out = tokio::task::spawn_blocking({
                let home = home.path().to_path_buf();
                move || {
                    Command::new("/usr/bin/time")
                        .args(["-f", "maxrss_kib=%M"])
                        .arg(CONNECTOR)
                        .args(["--home", home.to_str().unwrap(), "once", "--full"])
                        .stdout(Stdio::null())
                        .output()
                        .unwrap()
                }
            })
            .await
            .unwrap();
            let wall = t0.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            let peak: u64 = stderr.lines().find_map(|l| l.strip_prefix("maxrss_kib=")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            let tally = state.busy() - busy_before;
            println!(
                "full sync {round}: wall {:.2} s, of which tally-sim answering {:.2} s -> connector + appliance {:.2} s; connector peak RSS {:.1} MB; {} requests to Tally",
                wall.as_secs_f64(),
                tally.as_secs_f64(),
                (wall - tally).as_secs_f64(),
                peak as f64 / 1024.0,
                state.requests() - requests_before
            );
            if best.is_none_or(|b| wall - tally < b.0 - b.1) {
                best = Some((wall, tally, peak));
            }
        }
        let (wall, tally, peak) = best.unwrap();
        let (_, months) = srv.get("/companies/big/snapshots", Some(&admin)).await;
        let months = months.as_array().unwrap();
        println!("appliance holds {} months, {} ledgers", months.len(), months[0]["ledgerCount"]);

        // Idle: `run` with its startup sync done and nothing more to do for 30 minutes. The
        // last sync is forgotten first, so that the startup sync is a full one.
        let state_file = home.path().join("connector-state.json");
        let mut saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
        saved.as_object_mut().unwrap().remove("lastSync");
        std::fs::write(&state_file, saved.to_string()).unwrap();
        let mut child = Command::new(CONNECTOR)
            .args(["--home", home.path().to_str().unwrap(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let settle = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (_, s) = srv.get("/connector/status?companyId=big", Some(&admin)).await;
            let done = s["lastSyncRun"]["trigger"] == json!("startup") && s["lastSyncRun"]["status"] != json!("running");
            if done || settle.elapsed() > Duration::from_secs(120) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = rss_kib(pid, "VmRSS:").unwrap_or(0);
        let idle_peak = rss_kib(pid, "VmHWM:").unwrap_or(0);
        let _ = child.kill();
        let _ = child.wait();

        // A connector whose startup sync found nothing changed: what a PC carries most of the day.
        let mut quiet = Command::new(CONNECTOR)
            .args(["--home", home.path().to_str().unwrap(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let quiet_rss = rss_kib(quiet.id(), "VmRSS:").unwrap_or(0);
        let _ = quiet.kill();
        let _ = quiet.wait();

        println!("---");
        println!(
            "full sync, best of 3: {:.2} s excluding tally-sim's {:.2} s of answering (target < 5 s); peak RSS {:.1} MB",
            (wall - tally).as_secs_f64(),
            tally.as_secs_f64(),
            peak as f64 / 1024.0
        );
        println!(
            "idle `run` after its startup full sync: RSS {:.1} MB (peak during the sync {:.1} MB)",
            idle as f64 / 1024.0,
            idle_peak as f64 / 1024.0
        );
        println!("idle `run` whose startup sync found nothing changed: RSS {:.1} MB (target < 15 MB)", quiet_rss as f64 / 1024.0);
        sim.stop().await;
        srv.stop().await;
    });
}
