//! A company's connector ZIP and its one-time enrolment code: assembled for the company, the code
//! works once, expires, can be revoked, belongs to one company; the real connector enrols with
//! it on its first start and syncs with nothing but the downloaded config.json.

mod common;

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::{Command, Output};

use common::{text, TestServer};
use serde_json::{json, Value};

use aicfo::sim::{generate, GenSpec};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_aicfo-connector");
const VERSION: &str = "0.1.0";

/// A release folder as packaging/build.sh writes it, with stand-in programs (the real
/// connector is exercised from its own binary below, and from the real ZIP in .ci/run).
fn releases(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("releases");
    std::fs::create_dir_all(&out).unwrap();
    let mut list = Vec::new();
    for (triple, program, bytes) in [
        (
            "x86_64-pc-windows-gnu",
            "AICFOConnector.exe",
            &b"MZ\x90\x00 a windows program"[..],
        ),
        (
            "x86_64-unknown-linux-gnu",
            "aicfo-connector",
            &b"\x7fELF a linux program"[..],
        ),
    ] {
        let file = format!("aicfo-connector-{VERSION}-{triple}.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(out.join(&file)).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755);
        zip.start_file(program, opts).unwrap();
        zip.write_all(bytes).unwrap();
        zip.finish().unwrap();
        list.push(
            json!({"version": VERSION, "target": triple, "file": file, "size": 0,
            "sha256": "", "program": program, "programSha256": ""}),
        );
    }
    std::fs::write(
        out.join("manifest.json"),
        json!({ "releases": list }).to_string(),
    )
    .unwrap();
    out
}

fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().to_string(), data)
        })
        .collect()
}

struct World {
    srv: TestServer,
    admin: String,
    dir: tempfile::TempDir,
}

async fn world(extra: &[(&str, Value)]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = vec![
        ("connector_releases", json!(releases(dir.path()))),
        ("connector_package", json!(dir.path().join("none.zip"))),
    ];
    settings.extend(extra.iter().cloned());
    let srv = TestServer::start_with(&dir.path().join("data"), &settings).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    srv.create_company(&admin, "Other", "other").await;
    World { srv, admin, dir }
}

impl World {
    async fn download(&self, query: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self
            .srv
            .http
            .get(format!("{}/download/connector?{query}", self.srv.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// The config.json of a ZIP the admin downloads for `company`.
    async fn config_for(&self, company: &str) -> Value {
        let res = self
            .download(
                &format!("companyId={company}&target=linux"),
                Some(&self.admin),
            )
            .await;
        assert_eq!(res.status(), 200);
        let files = entries(&res.bytes().await.unwrap());
        let (_, config) = files.iter().find(|(n, _)| n == "config.json").unwrap();
        serde_json::from_slice(config).unwrap()
    }

    async fn enroll(&self, code: &Value, company: Option<&str>) -> (u16, Value) {
        let mut body = json!({"enrollmentCode": code, "deviceId": "pc-1",
            "deviceName": "Front desk", "os": "Windows 10", "appVersion": "0.1.0"});
        if let Some(c) = company {
            body["companyId"] = json!(c);
        }
        self.srv.post("/connector/enroll", None, &body).await
    }
}

fn assert_invalid(status: u16, body: &Value) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "enrollment_code_invalid", "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Download a fresh connector ZIP"));
}

#[tokio::test]
async fn the_windows_zip_for_a_company_holds_the_program_the_guide_files_and_a_code() {
    let w = world(&[]).await;
    let res = w
        .download("companyId=sharma&target=windows", Some(&w.admin))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let files = entries(&res.bytes().await.unwrap());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AICFOConnector.exe",
            "run-connector.bat",
            "README.txt",
            "config.json"
        ]
    );
    assert_eq!(
        files[0].1, b"MZ\x90\x00 a windows program",
        "the release's program"
    );
    assert!(String::from_utf8_lossy(&files[1].1).contains("AICFOConnector.exe run"));
    let readme = String::from_utf8_lossy(&files[2].1).to_string();
    for words in [
        "double-click run-connector.bat",
        "F1 (Help) > Settings > Connectivity",
        "F12 (Configure) > Advanced Configuration",
        "logs\\connector.log",
        "Ctrl+C",
    ] {
        assert!(
            readme.to_lowercase().contains(&words.to_lowercase()),
            "{words}: {readme}"
        );
    }
    for jargon in ["JSON", "API", "token", "HTTP", "stdout"] {
        assert!(!readme.contains(jargon), "no developer words ({jargon})");
    }
    let config: Value = serde_json::from_slice(&files[3].1).unwrap();
    assert_eq!(config["api_url"], format!("{}/api", w.srv.url));
    assert_eq!(config["company_id"], "sharma");
    let code = config["enrollment_code"].as_str().unwrap();
    assert!(code.len() >= 22, "at least 128 bits: {code}");
    assert_eq!(config["tally_url"], "http://localhost:9000");

    // The code is stored only as its digest, and listed for admins.
    assert_eq!(
        w.srv.count(&format!(
            "SELECT COUNT(*) FROM enrollment_codes WHERE code_hash = '{code}'"
        )),
        0
    );
    let (s, list) = w.srv.get("/enrollment-codes", Some(&w.admin)).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["companyId"], "sharma");
    assert_eq!(list[0]["createdBy"], "admin");
    assert_eq!(list[0]["state"], "unused");

    // Each download makes its own code; the Linux ZIP has no .bat.
    let again = w.config_for("sharma").await;
    assert_ne!(again["enrollment_code"], config["enrollment_code"]);
    let res = w
        .download("companyId=sharma&target=linux", Some(&w.admin))
        .await;
    let names: Vec<String> = entries(&res.bytes().await.unwrap())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["aicfo-connector", "README.txt", "config.json"]);
    w.srv.stop().await;
}

#[tokio::test]
async fn only_who_may_see_the_company_gets_its_zip() {
    let w = world(&[]).await;
    for (user, company) in [("meera", "other"), ("ravi", "sharma")] {
        let (s, b) = w
            .srv
            .post(
                "/users",
                Some(&w.admin),
                &json!({"username": user, "password": "staff-password-1", "role": "staff", "companyIds": [company]}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let meera = w.srv.login("meera", "staff-password-1").await;
    let ravi = w.srv.login("ravi", "staff-password-1").await;
    let res = w.download("companyId=sharma&target=windows", None).await;
    assert_eq!(res.status(), 401);
    let res = w
        .download("companyId=sharma&target=windows", Some(&meera))
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "company_not_assigned");
    let res = w
        .download("companyId=sharma&target=windows", Some(&ravi))
        .await;
    assert_eq!(res.status(), 200);
    let res = w
        .download("companyId=sharma&target=macos", Some(&ravi))
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        w.srv.count("SELECT COUNT(*) FROM enrollment_codes"),
        1,
        "refused downloads make no code"
    );
    w.srv.stop().await;
}

#[tokio::test]
async fn a_code_works_once_for_its_own_company() {
    let w = world(&[]).await;
    let config = w.config_for("sharma").await;
    let code = &config["enrollment_code"];
    let (s, b) = w.enroll(code, Some("other")).await;
    assert_invalid(s, &b);
    let (s, tokens) = w.enroll(code, Some("sharma")).await;
    assert_eq!(s, 200, "{tokens}");
    let token = tokens["connectorToken"].as_str().unwrap();
    let (s, b) = w
        .srv
        .post(
            "/connector/heartbeat",
            Some(token),
            &json!({"companyId": "sharma"}),
        )
        .await;
    assert_eq!(s, 200, "the enrolled connector works: {b}");
    let (s, b) = w.enroll(code, None).await;
    assert_invalid(s, &b);
    let (_, list) = w.srv.get("/enrollment-codes", Some(&w.admin)).await;
    assert_eq!(list[0]["state"], "used");
    assert_eq!(list[0]["usedByConnector"], tokens["connectorId"]);
    let (s, b) = w.enroll(&json!("made-up-code"), None).await;
    assert_invalid(s, &b);
    w.srv.stop().await;
}

#[tokio::test]
async fn an_expired_or_revoked_code_is_refused() {
    let w = world(&[("enrollment_code_valid_days", json!(0))]).await;
    let config = w.config_for("sharma").await;
    let (s, b) = w.enroll(&config["enrollment_code"], None).await;
    assert_invalid(s, &b);
    let (_, list) = w.srv.get("/enrollment-codes", Some(&w.admin)).await;
    assert_eq!(list[0]["state"], "expired");
    w.srv.stop().await;

    let w = world(&[]).await;
    let config = w.config_for("sharma").await;
    let (_, list) = w.srv.get("/enrollment-codes", Some(&w.admin)).await;
    let id = list[0]["id"].to_string();
    let (s, b) = w
        .srv
        .post(
            &format!("/enrollment-codes/{id}/revoke"),
            Some(&w.admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = w.enroll(&config["enrollment_code"], None).await;
    assert_invalid(s, &b);
    let (_, list) = w.srv.get("/enrollment-codes", Some(&w.admin)).await;
    assert_eq!(list[0]["state"], "revoked");
    w.srv.stop().await;
}

fn run_connector(home: &Path, args: &[&str]) -> Output {
    Command::new(CONNECTOR)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

async fn once(home: &Path) -> Output {
    let home = home.to_path_buf();
    tokio::task::spawn_blocking(move || run_connector(&home, &["once"]))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_connector_enrols_with_the_downloaded_config_on_its_first_start() {
    let w = world(&[]).await;
    let sim = common::tally_serving(generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 3,
        ledgers: 40,
        vouchers: 400,
        years: 2,
        first_year: 2025,
    }))
    .await;
    let mut config = w.config_for("sharma").await;
    config["tally_url"] = json!(sim.url);
    let home = w.dir.path().join("pc");
    std::fs::create_dir_all(&home).unwrap();
    let text_of = serde_json::to_string_pretty(&config).unwrap();
    std::fs::write(home.join("config.json"), &text_of).unwrap();

    let out = once(&home).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("config.json")).unwrap()).unwrap();
    assert!(after.get("enrollment_code").is_none(), "the code is spent");
    assert_eq!(after["company_id"], "sharma");
    let state = std::fs::read_to_string(home.join("connector-state.json")).unwrap();
    assert!(state.contains("refreshToken"), "{state}");
    let (_, months) = w
        .srv
        .get("/companies/sharma/snapshots", Some(&w.admin))
        .await;
    assert!(!months.as_array().unwrap().is_empty(), "{months}");
    // A second run uses the refresh token.
    let out = once(&home).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Another PC with the same, spent, ZIP is told what to do.
    let second = w.dir.path().join("pc2");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::write(second.join("config.json"), &text_of).unwrap();
    let out = once(&second).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains("Download a fresh connector ZIP from the appliance's page"),
        "{}",
        text(&out)
    );
    w.srv.stop().await;
}
