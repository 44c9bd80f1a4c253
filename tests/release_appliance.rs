//! The appliance as packaging/build.sh leaves it: `dist/aicfo-server` (not the one under
//! target/) started on an empty data folder hands out company ZIPs; each, unpacked with only
//! `tally_url` added to its config.json, enrols and syncs Tally's books: the Linux connector
//! natively, the Windows one under Wine. Needs packaging/build.sh and Wine; `.ci/run` runs this
//! with `--ignored`.

mod common;

use std::io::{BufRead, BufReader, Cursor};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::wine::{dist, Wine};
use common::{assert_ledgers_as_in_tally, text};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use aicfo::protocol::calendar::parse_date;
use aicfo::sim::{expected_trial_balance, generate, Books, GenSpec};

const PASSWORD: &str = "release-test-password-1";

struct Appliance {
    child: Child,
    url: String,
}

impl Drop for Appliance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts dist/aicfo-server from an empty folder (no dist/ beside it: only what it embeds).
fn start(folder: &Path) -> Appliance {
    let started = Instant::now();
    let mut child = Command::new(dist("aicfo-server"))
        .current_dir(folder)
        .env("AICFO_DATA_DIR", folder.join("data"))
        .env("AICFO_ADMIN_PASSWORD", PASSWORD)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_CLI_COLORS", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = None;
    for line in stdout.lines().map_while(Result::ok) {
        if let Some(rest) = line.split("launched from ").nth(1) {
            url = Some(rest.trim().to_string());
            break;
        }
    }
    let url = url.expect("dist/aicfo-server reports its address");
    let health = format!("{url}/api/health");
    while reqwest::blocking::get(&health).map_or(true, |r| !r.status().is_success()) {
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "dist/aicfo-server answered its first request {} ms after it was started",
        started.elapsed().as_millis()
    );
    Appliance { child, url }
}

fn login(app: &Appliance) -> String {
    let res: Value = reqwest::blocking::Client::new()
        .post(format!("{}/api/auth/login", app.url))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    res["token"].as_str().unwrap().to_string()
}

fn get(app: &Appliance, path: &str, token: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .get(format!("{}{path}", app.url))
        .bearer_auth(token)
        .send()
        .unwrap()
}

/// The company's ZIP for `target`, unpacked into `folder`, with only `tally_url` changed.
fn unpack(app: &Appliance, admin: &str, company: &str, target: &str, folder: &Path, tally: &str) {
    let res = get(
        app,
        &format!("/download/connector?companyId={company}&target={target}"),
        admin,
    );
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().unwrap();
    zip::ZipArchive::new(Cursor::new(bytes.to_vec()))
        .unwrap()
        .extract(folder)
        .unwrap();
    let path = folder.join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(config["enrollment_code"].is_string());
    config["tally_url"] = json!(tally);
    std::fs::write(&path, config.to_string()).unwrap();
}

/// The program in the ZIP is the one the signed release archive holds.
fn assert_program_is_the_release(folder: &Path, program: &str, triple: &str) {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dist("releases/manifest.json")).unwrap()).unwrap();
    let release = manifest["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == triple)
        .unwrap();
    let bytes = std::fs::read(folder.join(program)).unwrap();
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(release["programSha256"], digest.as_str(), "{program}");
}

fn assert_snapshots_equal_tally(app: &Appliance, admin: &str, company: &str, books: &Books) {
    let months: Value = get(app, &format!("/api/companies/{company}/snapshots"), admin)
        .json()
        .unwrap();
    let months = months.as_array().unwrap();
    assert!(months.len() >= 13, "{months:?}");
    for m in months {
        let key = m["monthKey"].as_str().unwrap();
        let tb: Value = get(
            app,
            &format!("/api/companies/{company}/snapshots/{key}"),
            admin,
        )
        .json()
        .unwrap();
        let at = parse_date(m["asOfDate"].as_str().unwrap()).unwrap();
        let expected = expected_trial_balance(books, at);
        assert_eq!(tb["ledgers"].as_array().unwrap().len(), expected.len());
        assert_ledgers_as_in_tally(&tb, &expected, &format!("{company} {key}"));
    }
}

/// Runs `program` natively, or under `wine` when given.
fn run(program: &Path, args: &[&str], wine: Option<&Wine>) -> Output {
    match wine {
        None => Command::new(program).args(args).output().unwrap(),
        Some(wine) => wine.run(program, args),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs packaging/build.sh and Wine: .ci/run builds it and runs this with --ignored"]
async fn the_built_appliance_hands_out_connectors_that_enrol_and_sync() {
    let company = generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 21,
        ledgers: 60,
        vouchers: 1200,
        years: 3,
        first_year: 2024,
    });
    let books = Books::new(company.clone()).unwrap();
    let sim = common::tally_serving(company).await;
    let tally = sim.url.clone();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let app = start(&folder);
        let windows = Wine::new();
        let admin = login(&app);
        for (company, target, program, triple) in [
            (
                "linux-co",
                "linux",
                "aicfo-connector",
                "x86_64-unknown-linux-gnu",
            ),
            (
                "windows-co",
                "windows",
                "AICFOConnector.exe",
                "x86_64-pc-windows-gnu",
            ),
        ] {
            let res = reqwest::blocking::Client::new()
                .post(format!("{}/api/companies", app.url))
                .bearer_auth(&admin)
                .json(&json!({"name": company, "id": company}))
                .send()
                .unwrap();
            assert_eq!(res.status(), 201);
            let pc = folder.join(target);
            std::fs::create_dir_all(&pc).unwrap();
            unpack(&app, &admin, company, target, &pc, &tally);
            assert_program_is_the_release(&pc, program, triple);
            let wine = (target == "windows").then_some(&windows);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let p = pc.join(program);
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let out = run(&pc.join(program), &["once"], wine);
            assert_eq!(out.status.code(), Some(0), "{target}: {}", text(&out));
            let config = std::fs::read_to_string(pc.join("config.json")).unwrap();
            assert!(
                !config.contains("enrollment_code"),
                "{target}: the code is spent"
            );
            assert_snapshots_equal_tally(&app, &admin, company, &books);
            let out = run(&pc.join(program), &["version"], wine);
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("release key: "),
                "{}",
                text(&out)
            );
        }
        // The signed archives verify with the key compiled into the connector.
        let out = run(&folder.join("linux/aicfo-connector"), &["version"], None);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let key = stdout
            .lines()
            .find_map(|l| l.strip_prefix("release key: "))
            .unwrap()
            .trim()
            .to_string();
        let key = aicfo::signing::parse_verifying_key(&key).expect("a real key is compiled in");
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(dist("releases/manifest.json")).unwrap())
                .unwrap();
        for r in manifest["releases"].as_array().unwrap() {
            let file = r["file"].as_str().unwrap();
            let bytes = std::fs::read(dist(&format!("releases/{file}"))).unwrap();
            aicfo::signing::verify(&bytes, file, &key).unwrap();
        }
    })
    .await
    .unwrap();
    sim.stop().await;
}
