//! A sync in parts (issue 15): a company of `SYNC_PARTS_LEDGERS` ledgers (default 100,000) over
//! 24 months (23 closed and the current one: 2.4 million balances) from tally-sim, through the
//! real connector and the real appliance (both their own processes, the appliance with its
//! default 64 MiB `sync` limit). Prints the total time, the number of parts, and the peak memory
//! of the appliance and of the connector. Asserts nothing.
//!
//! `cargo bench --bench sync_parts` (release); `SYNC_PARTS_LEDGERS=20000` for a quicker figure,
//! `SYNC_PARTS_LIMIT="8 MiB"` for another `sync` limit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use aicfo::sim::{generate, Books, GenSpec, SimServer, SimState};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_aicfo-connector");
const SERVER: &str = env!("CARGO_BIN_EXE_aicfo-server");
const PASSWORD: &str = "bench-password-parts";

fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn start_appliance(data: &std::path::Path) -> (std::process::Child, String) {
    let mut cmd = Command::new(SERVER);
    if let Ok(limit) = std::env::var("SYNC_PARTS_LIMIT") {
        cmd.env(
            "ROCKET_LIMITS",
            format!("{{json=\"1 MiB\",login=\"16 KiB\",sync=\"{limit}\"}}"),
        );
    }
    let mut child = cmd
        .env("AICFO_DATA_DIR", data)
        .env("AICFO_ADMIN_PASSWORD", PASSWORD)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_LOG_LEVEL", "normal")
        .env("ROCKET_CLI_COLORS", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("launched from ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    (child, url)
}

async fn create_company(url: &str) {
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{url}/api/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status = http
        .post(format!("{url}/api/companies"))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(&json!({"name": "Huge Traders", "id": "huge"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 201);
}

fn main() {
    let ledgers: usize = std::env::var("SYNC_PARTS_LEDGERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = Instant::now();
        let company = generate(&GenSpec {
            name: "Huge Traders".into(),
            seed: 15,
            ledgers,
            vouchers: ledgers * 3,
            years: 3,
            first_year: 2024,
        });
        let state = Arc::new(SimState::new(vec![Books::new(company).unwrap()]));
        println!("generated {ledgers} ledgers in {:.1} s", t.elapsed().as_secs_f64());
        let sim = SimServer::start(state.clone(), "127.0.0.1", 0, false)
            .await
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let (mut appliance, url) = start_appliance(data.path());
        create_company(&url).await;
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let api = format!("{url}/api");
        let setup = Command::new(CONNECTOR)
            .args(["--home", h, "setup", "--api-url", &api, "--username", "admin"])
            .arg(format!("--password={PASSWORD}"))
            .args(["--company-id", "huge", "--tally-url", &sim.url, "--non-interactive"])
            .output()
            .unwrap();
        assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
        let config = home.path().join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
        c["closed_months"] = json!(23);
        std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();

        let busy = state.busy();
        let t = Instant::now();
        let home_path = home.path().to_path_buf();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("/usr/bin/time")
                .args(["-f", "maxrss_kib=%M"])
                .arg(CONNECTOR)
                .args(["--home", home_path.to_str().unwrap(), "once", "--full"])
                .stdout(Stdio::null())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let wall = t.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let connector_kib: u64 = stderr
            .lines()
            .find_map(|l| l.strip_prefix("maxrss_kib="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let appliance_kib = peak_kib(appliance.id());
        let db = rusqlite::Connection::open(data.path().join(aicfo::server::DATABASE_FILE)).unwrap();
        let q = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
        let parts = q("SELECT count(*) FROM integration_sync_events WHERE kind = 'part'");
        let balances = q("SELECT count(*) FROM snapshot_balances");
        let months = q("SELECT count(*) FROM snapshots");
        println!(
            "{ledgers} ledgers x {months} months ({balances} balances held): {parts} parts; total {:.1} s (tally-sim answering {:.1} s of it); peak RSS appliance {:.0} MB, connector {:.0} MB",
            wall.as_secs_f64(),
            (state.busy() - busy).as_secs_f64(),
            appliance_kib as f64 / 1024.0,
            connector_kib as f64 / 1024.0
        );
        let _ = Command::new("kill").arg(appliance.id().to_string()).status();
        let _ = appliance.wait();
        sim.stop().await;
    });
}
