//! The Windows appliance (`dist/windows/aicfo-server.exe`, cross-built by packaging/build.sh)
//! under Wine: in a console it answers `/api/health` and the Linux connector syncs Tally's books
//! into it; as a Windows service (Wine's service manager) it installs — its program copied to
//! `C:\Program Files\aicfo\appliance` and registered there, run as `NT SERVICE\AICFOAppliance` —
//! starts with its data in `C:\ProgramData\aicfo\appliance` and the first admin password there,
//! and the Windows connector, also a service (program in `C:\Program Files\aicfo\connector`,
//! settings and state taken to `C:\ProgramData\aicfo\connector`), syncs into it; both stop and
//! uninstall cleanly. A connector install with no settings to take is refused with a sentence
//! and changes nothing.
//!
//! What Wine 8 cannot show: a start at boot (a prefix does not boot with services), the
//! restart after a failure (Wine's service manager refuses failure actions with
//! ERROR_INVALID_LEVEL; the install then warns, and `status` says no restart is set);
//! who may open the folders (Wine's icacls is a stub that changes nothing and answers
//! success, so owners and lists are unit-tested as the arguments given to icacls:
//! `service_place`); the virtual account (Wine's service manager records it — `status` reads it
//! back — but runs every service as the prefix's one user); the refusal of a ProgramFiles other
//! than the registry's (Wine sets ProgramFiles from the registry in every process it starts, so
//! the two never differ: unit-tested in `service_place`); junctions (Wine 8's `mklink /J` and
//! `/D` fail, and a Unix symbolic link is no reparse point to it: the refusal of redirected
//! folders is unit-tested with symbolic links on Linux).
//! Needs packaging/build.sh and Wine; `.ci/run` runs this with `--ignored`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::text;
use common::wine::{dist, Wine};
use serde_json::{json, Value};

use aicfo::protocol::calendar::parse_date;
use aicfo::protocol::Amount;
use aicfo::sim::{expected_trial_balance, generate, Books, GenSpec, SimServer};

const PASSWORD: &str = "windows-appliance-test-1";

/// Long enough for Wine to start a prefix and a program on a loaded machine; a bound so a
/// broken build fails instead of hanging, not a measure of anything.
const PATIENCE: Duration = Duration::from_secs(300);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A company's books, and tally-sim serving them.
async fn tally(seed: u64) -> (Books, SimServer) {
    let company = generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed,
        ledgers: 40,
        vouchers: 600,
        years: 2,
        first_year: 2025,
    });
    let books = Books::new(company.clone()).unwrap();
    (books, common::tally_serving(company).await)
}

/// Waits until `url` answers `/api/health`; false if it never does within [`PATIENCE`].
async fn healthy(url: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if let Ok(r) = reqwest::get(format!("{url}/api/health")).await {
            if r.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

struct Api {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn login(url: &str, password: &str) -> Api {
        let http = reqwest::Client::new();
        let res = http
            .post(format!("{url}/api/auth/login"))
            .json(&json!({"username": "admin", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "admin signs in");
        let body: Value = res.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_string();
        Api {
            url: url.to_string(),
            token,
            http,
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/api{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn create_company(&self, id: &str) {
        let res = self
            .http
            .post(format!("{}/api/companies", self.url))
            .bearer_auth(&self.token)
            .json(&json!({"name": id, "id": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }

    /// Waits until the company holds `months` months (a connector syncs meanwhile).
    async fn wait_for_months(&self, company: &str, months: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let held = self.get(&format!("/companies/{company}/snapshots")).await;
            let held = held.as_array().cloned().unwrap_or_default();
            if held.len() >= months || started.elapsed() > PATIENCE {
                return held;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Every month held equals Tally's trial balance on its date, ledger by ledger.
    async fn assert_snapshots_equal_tally(&self, company: &str, books: &Books) {
        let months = self.wait_for_months(company, 13).await;
        assert!(months.len() >= 13, "{company}: {months:?}");
        for m in months {
            let key = m["monthKey"].as_str().unwrap();
            let tb = self
                .get(&format!("/companies/{company}/snapshots/{key}"))
                .await;
            let at = parse_date(m["asOfDate"].as_str().unwrap()).unwrap();
            let expected = expected_trial_balance(books, at);
            let ledgers = tb["ledgers"].as_array().unwrap();
            assert_eq!(ledgers.len(), expected.len(), "{company} {key}");
            for e in expected {
                let line = ledgers
                    .iter()
                    .find(|l| l["ledgerGuid"] == e.ledger_guid.as_str())
                    .unwrap();
                let balance: Amount = line["balance"].to_string().parse().unwrap();
                assert_eq!(balance, e.balance, "{company} {key} {}", e.ledger_name);
            }
        }
    }
}

/// A copy of a built Windows program in a folder of its own (its home, as when unzipped).
fn unpack(program: &str, folder: &Path) -> std::path::PathBuf {
    let to = folder.join(program);
    std::fs::copy(dist(&format!("windows/{program}")), &to).unwrap();
    to
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs packaging/build.sh and Wine: .ci/run builds it and runs this with --ignored"]
async fn the_windows_appliance_serves_in_a_console_and_the_linux_connector_syncs_into_it() {
    let (books, sim) = tally(31).await;
    let wine = Wine::new();
    let folder = tempfile::tempdir().unwrap();
    let server = unpack("aicfo-server.exe", folder.path());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut console = wine
        .command(&server, &[])
        .current_dir(folder.path())
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", port.to_string())
        .env("AICFO_ADMIN_PASSWORD", PASSWORD)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(healthy(&url).await, "aicfo-server.exe answers /api/health");
    assert!(
        folder.path().join("data/aicfo.sqlite3").exists(),
        "a console run keeps its data in .\\data"
    );

    let api = Api::login(&url, PASSWORD).await;
    api.create_company("sharma").await;
    let home = tempfile::tempdir().unwrap();
    let setup = [
        "setup",
        "--api-url",
        &format!("{url}/api"),
        "--username",
        "admin",
        "--password-stdin",
        "--company-id",
        "sharma",
        "--tally-url",
        &sim.url,
    ];
    let out = common::connector(home.path(), &setup, Some(&format!("{PASSWORD}\n"))).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = common::connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    api.assert_snapshots_equal_tally("sharma", &books).await;

    let _ = console.kill();
    let _ = console.wait();
    sim.stop().await;
}

/// `C:\Program Files` of the prefix, as a folder of this machine.
fn program_files(wine: &Wine) -> std::path::PathBuf {
    wine.prefix().join("drive_c/Program Files")
}

/// Wine 8 lacks the `ProcessPrng` DLL every Rust program needs (see tests/wine); the services
/// run from Program Files, where no shim lies beside them, so it goes where Windows keeps its
/// own DLLs, in this prefix only. `beside` is a folder a program already ran from.
fn shim_for_services(wine: &Wine, beside: &Path) {
    let system32 = wine
        .prefix()
        .join("drive_c/windows/system32/bcryptprimitives.dll");
    if !system32.exists() {
        std::fs::copy(beside.join("bcryptprimitives.dll"), system32).unwrap();
    }
}

/// `PROGRAM service ARGS...` under `wine`: its output, asserted to succeed.
async fn service(wine: &Wine, program: &Path, action: &str) -> String {
    let out = wine.run_async(program, &["service", action]).await;
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
async fn appliance_and_connector_run_as_windows_services_under_wine() {
    let (books, sim) = tally(32).await;
    let wine = Wine::new();

    // The appliance: its Rocket.toml beside it is read (the service runs in its folder).
    let folder = tempfile::tempdir().unwrap();
    let server = unpack("aicfo-server.exe", folder.path());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    std::fs::write(
        folder.path().join("Rocket.toml"),
        format!("[default]\naddress = \"127.0.0.1\"\nport = {port}\n"),
    )
    .unwrap();
    let installed = service(&wine, &server, "install").await;
    assert!(
        installed.contains("installed the service AICFOAppliance"),
        "{installed}"
    );
    // The service runs the copy in Program Files (with its Rocket.toml), not the unzipped one.
    let program = program_files(&wine).join("aicfo/appliance");
    assert!(program.join("aicfo-server.exe").is_file(), "{installed}");
    assert!(program.join("Rocket.toml").is_file(), "{installed}");
    shim_for_services(&wine, folder.path());
    let said = service(&wine, &server, "status").await;
    assert!(
        said.contains(r"C:\Program Files\aicfo\appliance\aicfo-server.exe"),
        "{said}"
    );
    assert!(
        said.contains(r"account: NT SERVICE\AICFOAppliance"),
        "{said}"
    );
    let said = service(&wine, &server, "start").await;
    // Wine's service manager may have started an auto-start service already.
    assert!(
        said.contains("is running") || said.contains("is already running"),
        "{said}"
    );
    assert!(healthy(&url).await, "the service answers /api/health");
    let data = wine.program_data().join("aicfo/appliance");
    let password = std::fs::read_to_string(data.join("admin-password.txt"))
        .expect("the first admin password is in C:\\ProgramData\\aicfo\\appliance");
    assert!(data.join("aicfo.sqlite3").exists());
    let api = Api::login(&url, password.trim()).await;
    api.create_company("sharma").await;
    let said = service(&wine, &server, "status").await;
    assert!(said.contains("installed and running"), "{said}");
    // Wine's service manager refuses failure actions (ERROR_INVALID_LEVEL): the install warns,
    // and the status tells the same; on Windows both say it is restarted.
    let restarts = installed.contains("is restarted if it fails");
    assert_eq!(
        restarts,
        said.contains("Windows restarts it"),
        "{installed}\n{said}"
    );
    assert_eq!(
        !restarts,
        installed.contains("WARNING: this service manager cannot restart")
    );

    // The connector, set up from its folder, then run by the service manager.
    let pc = tempfile::tempdir().unwrap();
    let connector = unpack("AICFOConnector.exe", pc.path());
    let password_arg = format!("--password={}", password.trim());
    let out = wine
        .run_async(
            &connector,
            &[
                "setup",
                "--api-url",
                &format!("{url}/api"),
                "--username",
                "admin",
                &password_arg,
                "--company-id",
                "sharma",
                "--tally-url",
                &sim.url,
                "--non-interactive",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = service(&wine, &connector, "install").await;
    assert!(
        said.contains("installed the service AICFOConnector"),
        "{said}"
    );
    let home = wine.program_data().join("aicfo/connector");
    for taken in ["config.json", "connector-state.json"] {
        assert!(home.join(taken).is_file(), "{taken} is taken: {said}");
    }
    assert!(program_files(&wine)
        .join("aicfo/connector/AICFOConnector.exe")
        .is_file());
    let status = service(&wine, &connector, "status").await;
    assert!(
        status.contains(r"C:\Program Files\aicfo\connector\AICFOConnector.exe"),
        "{status}"
    );
    assert!(
        status.contains(r"account: NT SERVICE\AICFOConnector"),
        "{status}"
    );
    let said = service(&wine, &connector, "start").await;
    // Wine's service manager may have started an auto-start service already.
    assert!(
        said.contains("is running") || said.contains("is already running"),
        "{said}"
    );
    // The service syncs at its start, as `run` does.
    api.assert_snapshots_equal_tally("sharma", &books).await;
    let status = api.get("/connector/status?companyId=sharma").await;
    assert_eq!(status["connectors"][0]["os"], "windows x86_64", "{status}");

    let said = service(&wine, &connector, "stop").await;
    assert!(said.contains("is stopped"), "{said}");
    // The service's home is its data folder, not the folder it was installed from.
    let log = std::fs::read_to_string(home.join("logs/connector.log")).unwrap();
    assert!(log.contains("started as the Windows service"), "{log}");
    assert!(log.contains("stopped by the service manager"), "{log}");
    let said = service(&wine, &connector, "uninstall").await;
    assert!(
        said.contains("removed the service AICFOConnector"),
        "{said}"
    );

    let said = service(&wine, &server, "stop").await;
    assert!(said.contains("is stopped"), "{said}");
    assert!(
        reqwest::get(format!("{url}/api/health")).await.is_err(),
        "a stopped service answers nothing"
    );
    let said = service(&wine, &server, "uninstall").await;
    assert!(
        said.contains("removed the service AICFOAppliance"),
        "{said}"
    );
    let out = wine.run_async(&server, &["service", "status"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("is not installed"), "{}", text(&out));
    assert!(
        data.join("aicfo.sqlite3").exists(),
        "uninstalling leaves the books"
    );
    sim.stop().await;
}

/// `out` failed with exit code 1 and a sentence containing `says`.
fn refused(out: &std::process::Output, says: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert!(text(out).contains(says), "{}", text(out));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs packaging/build.sh and Wine: .ci/run builds it and runs this with --ignored"]
async fn a_connector_install_with_nothing_to_run_is_refused_and_changes_nothing_under_wine() {
    let wine = Wine::new();
    let pc = tempfile::tempdir().unwrap();
    let connector = unpack("AICFOConnector.exe", pc.path());
    let out = wine.run(&connector, &["service", "install"]);
    refused(&out, "there is no config.json");
    assert!(text(&out).contains("Not installed"), "{}", text(&out));
    assert!(!program_files(&wine).join("aicfo").exists());
    assert!(!wine.program_data().join("aicfo").exists());
    refused(
        &wine.run(&connector, &["service", "status"]),
        "is not installed",
    );
}
