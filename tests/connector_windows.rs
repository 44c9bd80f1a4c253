//! The Windows build (AICFOConnector.exe, cross-compiled) under Wine, against the real appliance
//! and tally-sim on this machine: setup, a sync whose months balance and match the simulator,
//! and a bad config.json. Needs `packaging/build-windows.sh` and Wine; `.ci/run` provides both
//! and runs this with `--ignored`.

mod common;

use common::wine::{dist, Wine};
use common::{assert_ledgers_as_in_tally, text, TestServer};

use aicfo::protocol::calendar::parse_date;
use aicfo::sim::{expected_trial_balance, generate, Books, GenSpec};

#[tokio::test]
#[ignore = "needs the Windows build and Wine: .ci/run builds it and runs this with --ignored"]
async fn the_windows_connector_syncs_under_wine() {
    let company = generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 11,
        ledgers: 80,
        vouchers: 1500,
        years: 3,
        first_year: 2024,
    });
    let books = Books::new(company.clone()).unwrap();
    let sim = common::tally_serving(company).await;
    let data = tempfile::tempdir().unwrap();
    let package = dist("AICFOConnector.zip");
    let srv = TestServer::start_with(
        data.path(),
        &[("connector_package", serde_json::json!(package))],
    )
    .await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;

    // As a bookkeeper gets it: the ZIP downloaded from the appliance, unpacked into a folder.
    let folder = tempfile::tempdir().unwrap();
    let wine = Wine::new();
    let exe = folder.path().join("AICFOConnector.exe");
    let zip = srv
        .http
        .get(format!("{}/download/connector", srv.url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    archive.extract(folder.path()).unwrap();
    for name in [
        "AICFOConnector.exe",
        "config.json",
        "run-connector.bat",
        "README.txt",
    ] {
        assert!(folder.path().join(name).exists(), "{name} is in the ZIP");
    }
    let downloaded_config = std::fs::read_to_string(folder.path().join("config.json")).unwrap();

    let out = wine.run_async(&exe, &["version"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(windows x86_64)"),
        "{}",
        text(&out)
    );

    // A config.json with a mistake: the message names it, the exit code says so.
    std::fs::write(
        folder.path().join("config.json"),
        r#"{"api_url": "http://127.0.0.1:1/api", "company_id": "x", "log_level": "loud"}"#,
    )
    .unwrap();
    let out = wine.run_async(&exe, &["once"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("`log_level` is \"loud\", which is not a level"),
        "{}",
        text(&out)
    );

    // Back to the downloaded config.json: it already knows the appliance, so setup needs no --api-url.
    std::fs::write(folder.path().join("config.json"), &downloaded_config).unwrap();
    let password = format!("--password={}", srv.admin_password());
    let out = wine
        .run_async(
            &exe,
            &[
                "setup",
                "--username",
                "admin",
                &password,
                "--company-id",
                "sharma",
                "--tally-url",
                &sim.url,
                "--non-interactive",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = wine.run_async(&exe, &["once"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(folder.path().join("logs/connector.log").exists());

    let (_, months) = srv.get("/companies/sharma/snapshots", Some(&admin)).await;
    let months = months.as_array().unwrap();
    assert!(months.len() >= 13, "{months:?}");
    for m in months {
        let key = m["monthKey"].as_str().unwrap();
        let (_, tb) = srv
            .get(&format!("/companies/sharma/snapshots/{key}"), Some(&admin))
            .await;
        let at = parse_date(m["asOfDate"].as_str().unwrap()).unwrap();
        assert_ledgers_as_in_tally(&tb, &expected_trial_balance(&books, at), key);
    }
    let (_, status) = srv
        .get("/connector/status?companyId=sharma", Some(&admin))
        .await;
    assert_eq!(status["connectors"][0]["os"], "windows x86_64");
    sim.stop().await;
    srv.stop().await;
}
