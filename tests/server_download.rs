//! `GET /download/connector`: the packaged ZIP, with config.json pointing at this appliance.

mod common;

use std::io::{Cursor, Read, Write};

use common::TestServer;
use serde_json::{json, Value};

fn package(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("AICFOConnector.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let files: [(&str, &[u8]); 4] = [
        ("AICFOConnector.exe", b"MZ\x90\x00 not really a program"),
        ("config.json", br#"{"api_url": "http://aicfo-server:8000/api", "company_id": "", "tally_url": "http://localhost:9000", "sync_interval_minutes": 30}"#),
        ("run-connector.bat", b"@echo off\r\nAICFOConnector.exe run\r\n"),
        ("README.txt", b"aicfo connector\r\n"),
    ];
    for (name, bytes) in files {
        zip.start_file(name, deflated).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
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

async fn download(srv: &TestServer) -> reqwest::Response {
    srv.http
        .get(format!("{}/download/connector", srv.url))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_zip_points_its_config_at_the_appliance_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path());
    let srv = TestServer::start_with(
        &dir.path().join("data"),
        &[
            ("connector_package", json!(pkg)),
            ("connector_releases", json!(dir.path().join("no-releases"))),
        ],
    )
    .await;
    let res = download(&srv).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("AICFOConnector.zip"));
    let got = entries(&res.bytes().await.unwrap());
    let original = entries(&std::fs::read(&pkg).unwrap());
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AICFOConnector.exe",
            "config.json",
            "run-connector.bat",
            "README.txt"
        ]
    );
    for ((name, data), (_, before)) in got.iter().zip(&original) {
        if name == "config.json" {
            let config: Value = serde_json::from_slice(data).unwrap();
            assert_eq!(
                config["api_url"],
                format!("{}/api", srv.url),
                "the address the download came from"
            );
            assert_eq!(
                config["sync_interval_minutes"], 30,
                "the rest of the template stays"
            );
        } else {
            assert_eq!(data, before, "{name} is copied as it is");
        }
    }
    srv.stop().await;

    // AICFO_PUBLIC_URL wins over the request's address.
    let srv = TestServer::start_with(
        &dir.path().join("data"),
        &[
            ("connector_package", json!(pkg)),
            ("connector_releases", json!(dir.path().join("no-releases"))),
            ("public_url", json!("http://aicfo.office.lan:8000")),
        ],
    )
    .await;
    let got = entries(&download(&srv).await.bytes().await.unwrap());
    let config: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(config["api_url"], "http://aicfo.office.lan:8000/api");
    srv.stop().await;
}

#[tokio::test]
async fn without_a_package_the_answer_says_how_to_build_one() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_with(
        dir.path(),
        &[
            ("connector_package", json!(dir.path().join("none.zip"))),
            ("connector_releases", json!(dir.path().join("no-releases"))),
        ],
    )
    .await;
    let res = download(&srv).await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "connectors_not_built");
    assert_eq!(
        body["message"],
        "This appliance was built without connectors; build it with packaging/build.sh"
    );
    srv.stop().await;
}

#[tokio::test]
async fn one_user_cannot_use_up_everyones_download_links() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path());
    let srv = TestServer::start_with(
        &dir.path().join("data"),
        &[
            ("connector_package", json!(pkg)),
            ("connector_releases", json!(dir.path().join("no-releases"))),
        ],
    )
    .await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Acme", "acme").await;
    let staff = srv
        .create_staff(&admin, "ravi", "ravi-password-1", &["acme"])
        .await;
    let ask = json!({"companyId": "acme", "target": "windows"});
    let mut links = Vec::new();
    let refused = loop {
        let (s, b) = srv.post("/download-links", Some(&staff), &ask).await;
        if s != 200 {
            break (s, b);
        }
        links.push(b["url"].as_str().unwrap().to_string());
        assert!(links.len() <= 1000, "links are never refused");
    };
    assert_eq!(refused.0, 429, "{}", refused.1);
    assert_eq!(refused.1["error"], "rate_limited");
    assert!(links.len() >= 10, "a firm's room of PCs: {}", links.len());

    // The links made still work, and the admin still gets links that work.
    let res = srv
        .http
        .get(format!("{}{}", srv.url, links[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (s, b) = srv.post("/download-links", Some(&admin), &ask).await;
    assert_eq!(s, 200, "{b}");
    let res = srv
        .http
        .get(format!("{}{}", srv.url, b["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    srv.stop().await;
}
