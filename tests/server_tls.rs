//! HTTPS on the LAN: the appliance as a real process with `AICFO_TLS=auto` or the firm's own
//! certificate, and the real connector pinning the certificate it was given.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aicfo::connector::tls::{cert_sha256, pinned_config};
use aicfo::protocol::calendar::parse_date;
use aicfo::protocol::Amount;
use aicfo::sim::{expected_trial_balance, generate, Books, GenSpec, SimCompany};
use common::{connector, text};
use serde_json::{json, Value};

const PASSWORD: &str = "tls-test-password";

/// The appliance as its own process; killed when dropped.
struct Appliance {
    child: Child,
    /// `https://127.0.0.1:<port>`, the front's address.
    url: String,
    /// Everything it printed up to the address line.
    said: Vec<String>,
}

impl Drop for Appliance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(data_dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aicfo-server"));
    cmd.env("AICFO_DATA_DIR", data_dir)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_CLI_COLORS", "false")
        .env("AICFO_ADMIN_PASSWORD", PASSWORD)
        .env_remove("AICFO_TLS")
        .env_remove("AICFO_TLS_CERT")
        .env_remove("AICFO_TLS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn start(data_dir: &Path, env: &[(&str, &str)]) -> Appliance {
    let mut child = command(data_dir, env).spawn().expect("aicfo-server starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        // Read to the end, even once nobody listens: a closed pipe would fail the server's logging.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut said = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if let Some(url) = line.split("aicfo-server listening on ").nth(1) {
            let url = url.trim().to_string();
            return Appliance { child, url, said };
        }
        said.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the appliance did not say where it listens; it said: {said:?}");
}

/// A client that trusts exactly the certificate with this fingerprint.
fn pinned(sha256: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(pinned_config(sha256).unwrap())
        .build()
        .unwrap()
}

async fn tls_status(app: &Appliance, client: &reqwest::Client) -> Value {
    let res = client
        .get(format!("{}/api/health/tls", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The fingerprint the appliance printed at start, as 64 lowercase hex digits.
fn printed_fingerprint(app: &Appliance) -> String {
    let line = app
        .said
        .iter()
        .find(|l| l.contains("SHA-256 fingerprint is"))
        .unwrap_or_else(|| panic!("no fingerprint printed: {:?}", app.said));
    let colons = line.rsplit(' ').next().unwrap();
    colons.replace(':', "").to_ascii_lowercase()
}

#[tokio::test]
async fn auto_serves_https_with_a_certificate_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path(), &[("AICFO_TLS", "auto")]);
    assert!(app.url.starts_with("https://"), "{}", app.url);
    let fingerprint = printed_fingerprint(&app);
    let pem = std::fs::read(dir.path().join("tls-cert.pem")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(dir.path().join("tls-key.pem")).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    let status = tls_status(&app, &pinned(&fingerprint)).await;
    assert_eq!(status, json!({"enabled": true, "certSha256": fingerprint}));

    // Plain http:// on the same port is sent to https://.
    let mut plain = std::net::TcpStream::connect(app.url.trim_start_matches("https://")).unwrap();
    plain
        .write_all(b"GET /some/page HTTP/1.1\r\nHost: aicfo-box:8000\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 301"), "{answer}");
    assert!(
        answer.contains("Location: https://aicfo-box:8000/some/page\r\n"),
        "{answer}"
    );
    drop(app);

    let again = start(dir.path(), &[("AICFO_TLS", "auto")]);
    assert_eq!(printed_fingerprint(&again), fingerprint);
    assert_eq!(std::fs::read(dir.path().join("tls-cert.pem")).unwrap(), pem);
    let status = tls_status(&again, &pinned(&fingerprint)).await;
    assert_eq!(status["certSha256"], fingerprint.as_str());
    // A client pinning anything else gets no answer at all.
    let other = "00".repeat(32);
    let refused = pinned(&other)
        .get(format!("{}/api/health/tls", again.url))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn without_settings_it_stays_plain_http_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path(), &[]);
    assert!(app.url.starts_with("http://"), "{}", app.url);
    let status = tls_status(&app, &reqwest::Client::new()).await;
    assert_eq!(status, json!({"enabled": false}));
    assert!(!dir.path().join("tls-cert.pem").exists());
}

/// A certificate and key as a firm's IT person would bring them.
fn own_certificate(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["cfo.firm.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path, cert_sha256(cert.der()))
}

#[tokio::test]
async fn the_firms_own_certificate_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, fingerprint) = own_certificate(dir.path(), "firm");
    let app = start(
        &dir.path().join("data"),
        &[
            ("AICFO_TLS_CERT", cert.to_str().unwrap()),
            ("AICFO_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let status = tls_status(&app, &pinned(&fingerprint)).await;
    assert_eq!(status, json!({"enabled": true, "certSha256": fingerprint}));
    assert!(!dir.path().join("data/tls-cert.pem").exists());
}

/// Runs the appliance expecting it to refuse to start; its exit code and what it said.
fn refused_start(data_dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = command(data_dir, env).spawn().unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the appliance started with bad TLS settings");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_certificate_settings_stop_the_start_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _, _) = own_certificate(dir.path(), "one");
    let (_, other_key, _) = own_certificate(dir.path(), "two");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let data = dir.path().join("data");
    let (cert, other_key, garbage, missing) = (
        cert.to_str().unwrap(),
        other_key.to_str().unwrap(),
        garbage.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("AICFO_TLS_CERT", garbage), ("AICFO_TLS_KEY", other_key)],
            "holds no PEM certificate",
        ),
        (
            &[("AICFO_TLS_CERT", missing), ("AICFO_TLS_KEY", other_key)],
            "missing.pem cannot be read",
        ),
        (
            &[("AICFO_TLS_CERT", cert), ("AICFO_TLS_KEY", other_key)],
            "do not go together",
        ),
        (
            &[("AICFO_TLS_CERT", cert)],
            "set both AICFO_TLS_CERT and AICFO_TLS_KEY",
        ),
        (&[("AICFO_TLS", "yes")], "must be `off` or `auto`"),
    ];
    for (env, says) in cases {
        let (code, stderr) = refused_start(&data, env);
        assert_eq!(code, Some(1), "{env:?}: {stderr}");
        assert!(
            stderr.contains("cannot start") && stderr.contains(says),
            "{env:?}: {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

fn company() -> SimCompany {
    generate(&GenSpec {
        name: "Sharma & Sons".into(),
        seed: 11,
        ledgers: 60,
        vouchers: 800,
        years: 2,
        first_year: 2025,
    })
}

/// A stand-in for the Windows ZIP packaging/build-windows.sh makes.
fn package(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("AICFOConnector.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    let files: [(&str, &[u8]); 2] = [
        ("AICFOConnector.exe", b"MZ not really a program"),
        (
            "config.json",
            br#"{"api_url": "", "company_id": "", "sync_interval_minutes": 30}"#,
        ),
    ];
    for (name, bytes) in files {
        zip.start_file(name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// The company's ZIP from the appliance, as an admin downloads it; its config.json.
async fn downloaded_config(app: &Appliance, client: &reqwest::Client) -> Value {
    let login: Value = client
        .post(format!("{}/api/auth/login", app.url))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = login["token"].as_str().unwrap();
    let created = client
        .post(format!("{}/api/companies", app.url))
        .bearer_auth(admin)
        .json(&json!({"name": "Sharma & Sons", "id": "sharma"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let zip = client
        .get(format!("{}/download/connector?companyId=sharma", app.url))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(zip.status(), 200);
    common::config_in_zip(&zip.bytes().await.unwrap())
}

fn write_config(home: &Path, config: &Value) {
    std::fs::write(
        home.join("config.json"),
        serde_json::to_string_pretty(config).unwrap(),
    )
    .unwrap();
}

/// Every month the appliance holds equals tally-sim's trial balance on that month's date.
async fn assert_snapshots_are_tallys(app: &Appliance, client: &reqwest::Client) {
    let login: Value = client
        .post(format!("{}/api/auth/login", app.url))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = login["token"].as_str().unwrap();
    let get = |path: String| async move {
        let res = client
            .get(format!("{}/api{path}", app.url))
            .bearer_auth(admin)
            .send()
            .await;
        res.unwrap().json::<Value>().await.unwrap()
    };
    let months = get("/companies/sharma/snapshots".into()).await;
    let months = months.as_array().unwrap();
    assert!(!months.is_empty(), "the sync stored months");
    let books = Books::new(company()).unwrap();
    for m in months {
        let key = m["monthKey"].as_str().unwrap();
        let tb = get(format!("/companies/sharma/snapshots/{key}")).await;
        let got: std::collections::HashMap<String, Amount> = tb["ledgers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["ledgerGuid"].as_str().unwrap().to_string(),
                    l["balance"].to_string().parse().unwrap(),
                )
            })
            .collect();
        let at = parse_date(m["asOfDate"].as_str().unwrap()).unwrap();
        let expected = expected_trial_balance(&books, at);
        assert_eq!(got.len(), expected.len(), "{key}: every ledger");
        for e in expected {
            assert_eq!(
                got.get(&e.ledger_guid),
                Some(&e.balance),
                "{key}: {}",
                e.ledger_name
            );
        }
    }
}

#[tokio::test]
async fn the_connector_syncs_with_the_pinned_certificate_and_refuses_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path());
    let no_releases = dir.path().join("no-releases");
    let packaged = [
        ("AICFO_TLS", "auto"),
        ("AICFO_CONNECTOR_PACKAGE", pkg.to_str().unwrap()),
        ("AICFO_CONNECTOR_RELEASES", no_releases.to_str().unwrap()),
    ];
    let app = start(&dir.path().join("appliance"), &packaged);
    let impostor = start(&dir.path().join("impostor"), &[("AICFO_TLS", "auto")]);
    let fingerprint = printed_fingerprint(&app);
    let client = pinned(&fingerprint);

    let mut config = downloaded_config(&app, &client).await;
    assert_eq!(config["tls_cert_sha256"], fingerprint.as_str());
    assert_eq!(config["api_url"], format!("{}/api", app.url).as_str());
    let sim = common::tally_serving(company()).await;
    config["tally_url"] = json!(sim.url);
    let home = tempfile::tempdir().unwrap();

    // Another machine answering at the appliance's address, with its own certificate: refused
    // before anything is sent, so the one-time enrolment code is still good afterwards.
    let mut misdirected = config.clone();
    misdirected["api_url"] = json!(format!("{}/api", impostor.url));
    write_config(home.path(), &misdirected);
    let out = connector(home.path(), &["once"], None).await;
    let said = text(&out);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("not the one this connector trusts"), "{said}");
    assert!(said.contains("nothing was sent"), "{said}");
    assert!(said.contains(&printed_fingerprint(&impostor)), "{said}");

    write_config(home.path(), &config);
    let out = connector(home.path(), &["once"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_snapshots_are_tallys(&app, &client).await;
    sim.stop().await;
}

#[test]
fn a_client_that_never_finishes_its_handshake_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(
        dir.path(),
        &[("AICFO_TLS", "auto"), ("AICFO_HEADER_TIMEOUT_SECS", "1")],
    );
    let mut slow = std::net::TcpStream::connect(app.url.trim_start_matches("https://")).unwrap();
    // The first byte of a TLS handshake, and then nothing.
    slow.write_all(&[0x16]).unwrap();
    // Only a bound on a hang; the appliance closes after its 1 s head deadline.
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    assert!(
        read.is_ok(),
        "the appliance closed the connection: {read:?}"
    );
    assert!(rest.is_empty(), "nothing was answered: {rest:?}");
}
