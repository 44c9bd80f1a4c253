//! Connector self-update, the appliance's side, over real HTTP against a real server: the
//! releases it carries (listed, served byte for byte as signed, nothing else served), the update
//! policies (admin only, checked), the heartbeat's answer under each policy, and the attempts
//! connectors report (stored once, shown in the status).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::TestServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use aicfo::signing;

const WIN: &str = "x86_64-pc-windows-gnu";
const LINUX: &str = "x86_64-unknown-linux-gnu";

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A release folder as packaging/build.sh writes it: signed archives and their manifest. Windows
/// carries 0.1.0 (kept for pinning) and 0.2.0, Linux 0.2.0; a stray ZIP beside them is not in
/// the manifest. Returns the folder and the verifying key.
fn releases(dir: &Path) -> (PathBuf, String) {
    let out = dir.join("releases");
    std::fs::create_dir_all(&out).unwrap();
    let key_file = dir.join("signing.key");
    std::fs::write(&key_file, signing::generate_keypair()).unwrap();
    let key = signing::read_signing_key(&key_file).unwrap();
    let mut list = Vec::new();
    for (version, triple, program) in [
        ("0.1.0", WIN, "AICFOConnector.exe"),
        ("0.2.0", LINUX, "aicfo-connector"),
        ("0.2.0", WIN, "AICFOConnector.exe"),
    ] {
        let file = format!("aicfo-connector-{version}-{triple}.zip");
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file(program, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(format!("program {version} for {triple}").as_bytes())
            .unwrap();
        let plain = zip.finish().unwrap().into_inner();
        let signed = signing::sign(&plain, &file, &key).unwrap();
        std::fs::write(out.join(&file), &signed).unwrap();
        list.push(json!({"version": version, "target": triple, "file": file,
            "size": signed.len(), "sha256": sha256(&signed), "program": program,
            "programSha256": ""}));
    }
    std::fs::write(out.join("stray.zip"), b"PK not carried").unwrap();
    std::fs::write(
        out.join("manifest.json"),
        json!({ "releases": list }).to_string(),
    )
    .unwrap();
    (out, signing::verifying_key_hex(&key))
}

struct World {
    srv: TestServer,
    admin: String,
    releases: PathBuf,
    verifying_key: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    world_with(&[]).await
}

/// The world with more appliance settings.
async fn world_with(settings: &[(&str, Value)]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let (releases, verifying_key) = releases(dir.path());
    let mut all = vec![("connector_releases", json!(releases))];
    all.extend(settings.iter().cloned());
    let srv = TestServer::start_with(&dir.path().join("data"), &all).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Sharma & Sons", "sharma").await;
    World {
        srv,
        admin,
        releases,
        verifying_key,
        _dir: dir,
    }
}

/// Enrols a device running `os` at `version`; returns (connectorToken, connectorId).
async fn enrol(w: &World, device: &str, os: &str, version: &str) -> (String, String) {
    let (s, b) = w
        .srv
        .post(
            "/connector/auth",
            None,
            &json!({"companyId": "sharma", "deviceId": device, "deviceName": device,
                "os": os, "appVersion": version, "userJwt": w.admin}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (
        b["connectorToken"].as_str().unwrap().to_string(),
        b["connectorId"].as_str().unwrap().to_string(),
    )
}

async fn put(srv: &TestServer, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = srv.http.put(srv.api(path)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn heartbeat(srv: &TestServer, token: &str, body: Value) -> Value {
    let (s, b) = srv.post("/connector/heartbeat", Some(token), &body).await;
    assert_eq!(s, 200, "{b}");
    b
}

#[tokio::test]
async fn releases_are_listed_and_served_exactly_as_signed() {
    let w = world().await;
    let staff = w
        .srv
        .create_staff(&w.admin, "meera", "staff-password-1", &["sharma"])
        .await;
    let (conn, _) = enrol(&w, "pc-1", "windows x86_64", "0.1.0").await;

    let (s, by_staff) = w.srv.get("/connector/releases", Some(&staff)).await;
    assert_eq!(s, 200, "{by_staff}");
    let (s, by_connector) = w.srv.get("/connector/releases", Some(&conn)).await;
    assert_eq!(s, 200, "{by_connector}");
    assert_eq!(by_staff, by_connector);
    let (s, _) = w.srv.get("/connector/releases", None).await;
    assert_eq!(s, 401);

    let list = by_connector["releases"].as_array().unwrap();
    let shown: Vec<(&str, &str)> = list
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap(),
                r["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("linux", "0.2.0"),
            ("windows", "0.2.0"),
            ("windows", "0.1.0")
        ],
        "every version carried, newest first per target"
    );
    let verifying = signing::parse_verifying_key(&w.verifying_key).unwrap();
    for r in list {
        let file = r["file"].as_str().unwrap();
        assert_eq!(r["url"], format!("/api/connector/releases/{file}"));
        let res = w
            .srv
            .http
            .get(format!("{}{}", w.srv.url, r["url"].as_str().unwrap()))
            .bearer_auth(&conn)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        assert_eq!(res.headers()["content-type"], "application/zip");
        assert_eq!(
            res.headers()["content-length"].to_str().unwrap(),
            r["size"].to_string()
        );
        let bytes = res.bytes().await.unwrap();
        assert_eq!(bytes, std::fs::read(w.releases.join(file)).unwrap());
        assert_eq!(sha256(&bytes), r["sha256"].as_str().unwrap());
        assert_eq!(bytes.len() as u64, r["size"].as_u64().unwrap());
        signing::verify(&bytes, file, &verifying).unwrap();
    }

    // A user token is no connector token for the archive itself.
    let first = list[0]["url"].as_str().unwrap();
    let res = w
        .srv
        .http
        .get(format!("{}{first}", w.srv.url))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    w.srv.stop().await;
}

#[tokio::test]
async fn only_the_archives_the_manifest_names_are_served() {
    let w = world().await;
    let (conn, _) = enrol(&w, "pc-1", "windows x86_64", "0.1.0").await;
    for name in [
        "nope.zip",
        "stray.zip",
        "manifest.json",
        "..%2Fmanifest.json",
        "..%2F..%2Fdata%2Faicfo.sqlite3",
        "%2E%2E",
        "aicfo-connector-0.2.0-x86_64-pc-windows-gnu.zip%00",
    ] {
        let res = w
            .srv
            .http
            .get(format!("{}/api/connector/releases/{name}", w.srv.url))
            .bearer_auth(&conn)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{name}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{name}: {body}"
        );
    }
    w.srv.stop().await;
}

#[tokio::test]
async fn policies_are_for_admins_and_checked_before_anything_changes() {
    let w = world().await;
    let srv = &w.srv;
    let staff = srv
        .create_staff(&w.admin, "meera", "staff-password-1", &["sharma"])
        .await;
    let (_, win) = enrol(&w, "pc-win", "windows x86_64", "0.1.0").await;
    let (_, lin) = enrol(&w, "pc-lin", "linux x86_64", "0.1.0").await;
    let own = format!("/connectors/{win}/update-policy");
    let global = "/settings/connector-updates";

    for path in [global, own.as_str()] {
        let (s, _) = put(srv, path, None, &json!({"policy": "paused"})).await;
        assert_eq!(s, 401, "{path}");
        let (s, b) = put(srv, path, Some(&staff), &json!({"policy": "paused"})).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (403, Some("admin_only")),
            "{path}"
        );
        let (s, _) = srv.get(path, None).await;
        assert_eq!(s, 401, "{path}");
        let (s, _) = srv.get(path, Some(&staff)).await;
        assert_eq!(s, 403, "{path}");
    }

    let before = srv.fingerprint();
    let lin_pin = format!("/connectors/{lin}/update-policy");
    let refused: [(&str, Value, &str); 8] = [
        (global, json!({"policy": "sometimes"}), "policy"),
        (
            global,
            json!({"policy": "paused", "version": "0.1.0"}),
            "version",
        ),
        (&own, json!({"policy": "pinned"}), "version"),
        (
            &own,
            json!({"policy": "auto", "version": "0.1.0"}),
            "version",
        ),
        (
            &own,
            json!({"policy": "pinned", "version": "banana"}),
            "version",
        ),
        (
            &own,
            json!({"policy": "pinned", "version": "0.9.9"}),
            "version",
        ),
        (&own, json!({"policy": "frozen"}), "policy"),
        // Linux carries only 0.2.0.
        (
            &lin_pin,
            json!({"policy": "pinned", "version": "0.1.0"}),
            "version",
        ),
    ];
    for (path, body, field) in refused {
        let (s, b) = put(srv, path, Some(&w.admin), &body).await;
        assert_eq!(s, 422, "{path} {body}: {b}");
        assert_eq!(b["error"], "invalid_payload");
        assert_eq!(b["details"][0]["path"], field, "{path} {body}: {b}");
    }
    let (_, b) = put(
        srv,
        &own,
        Some(&w.admin),
        &json!({"policy": "pinned", "version": "0.9.9"}),
    )
    .await;
    let said = b["details"][0]["message"].as_str().unwrap();
    assert!(
        said.contains("0.2.0, 0.1.0"),
        "names what is carried: {said}"
    );
    let (s, b) = put(
        srv,
        "/connectors/nobody/update-policy",
        Some(&w.admin),
        &json!({"policy": "paused"}),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (404, Some("connector_not_found")));
    assert_eq!(
        srv.fingerprint(),
        before,
        "a refused request changes nothing"
    );

    let (s, b) = srv.get(global, Some(&w.admin)).await;
    assert_eq!((s, b), (200, json!({"policy": "auto"})));
    let (s, b) = srv.get(&own, Some(&w.admin)).await;
    assert_eq!((s, b), (200, json!({"policy": "auto"})));

    let (s, b) = put(srv, global, Some(&w.admin), &json!({"policy": "paused"})).await;
    assert_eq!((s, b), (200, json!({"policy": "paused"})));
    let pin = json!({"policy": "pinned", "version": "0.1.0"});
    let (s, b) = put(srv, &own, Some(&w.admin), &pin).await;
    assert_eq!((s, &b), (200, &pin));
    assert_eq!(srv.get(global, Some(&w.admin)).await.1["policy"], "paused");
    assert_eq!(srv.get(&own, Some(&w.admin)).await.1, pin);
    w.srv.stop().await;
}

#[tokio::test]
async fn the_heartbeat_answer_follows_the_policies() {
    let w = world().await;
    let srv = &w.srv;
    let (win, win_id) = enrol(&w, "pc-win", "windows x86_64", "0.1.0").await;
    let (guide, _) = enrol(&w, "pc-guide", "Windows 10", "0.1.0").await;
    let (lin, _) = enrol(&w, "pc-lin", "linux x86_64", "0.1.0").await;
    let (mac, _) = enrol(&w, "pc-mac", "macos aarch64", "0.1.0").await;
    let own = format!("/connectors/{win_id}/update-policy");
    let global = "/settings/connector-updates";
    let beat = || json!({"companyId": "sharma", "appVersion": "0.1.0"});
    let carried = srv.get("/connector/releases", Some(&w.admin)).await.1;
    let release = |target: &str, version: &str| -> Value {
        carried["releases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == target && r["version"] == version)
            .unwrap()
            .clone()
    };
    let expect = |policy: &str, r: Value| {
        json!({"policy": policy, "version": r["version"], "file": r["file"], "size": r["size"],
            "sha256": r["sha256"], "url": r["url"], "spreadSeconds": 600})
    };

    let newest_win = expect("auto", release("windows", "0.2.0"));
    assert_eq!(heartbeat(srv, &win, beat()).await["update"], newest_win);
    assert_eq!(heartbeat(srv, &guide, beat()).await["update"], newest_win);
    assert_eq!(
        heartbeat(srv, &lin, beat()).await["update"],
        expect("auto", release("linux", "0.2.0"))
    );
    let none = heartbeat(srv, &mac, beat()).await;
    assert!(
        none.get("update").is_none(),
        "nothing carried for it: {none}"
    );

    // Firm-wide pause: every connector is told to stay.
    put(srv, global, Some(&w.admin), &json!({"policy": "paused"})).await;
    let paused_win = expect("paused", release("windows", "0.2.0"));
    assert_eq!(heartbeat(srv, &win, beat()).await["update"], paused_win);
    assert_eq!(
        heartbeat(srv, &lin, beat()).await["update"]["policy"],
        "paused"
    );

    // Back to auto, one connector paused on its own.
    put(srv, global, Some(&w.admin), &json!({"policy": "auto"})).await;
    put(srv, &own, Some(&w.admin), &json!({"policy": "paused"})).await;
    assert_eq!(heartbeat(srv, &win, beat()).await["update"], paused_win);
    assert_eq!(heartbeat(srv, &guide, beat()).await["update"], newest_win);

    // Pinned to the older version: the only way to be told to go back.
    let pin = json!({"policy": "pinned", "version": "0.1.0"});
    put(srv, &own, Some(&w.admin), &pin).await;
    assert_eq!(
        heartbeat(srv, &win, beat()).await["update"],
        expect("pinned", release("windows", "0.1.0"))
    );
    // A firm-wide pause holds a pinned connector too.
    put(srv, global, Some(&w.admin), &json!({"policy": "paused"})).await;
    assert_eq!(
        heartbeat(srv, &win, beat()).await["update"],
        expect("paused", release("windows", "0.1.0"))
    );
    put(srv, global, Some(&w.admin), &json!({"policy": "auto"})).await;
    put(srv, &own, Some(&w.admin), &json!({"policy": "auto"})).await;
    assert_eq!(heartbeat(srv, &win, beat()).await["update"], newest_win);
    w.srv.stop().await;
}

#[tokio::test]
async fn the_appliance_says_how_widely_connectors_spread_their_downloads() {
    let w = world_with(&[("update_spread_secs", json!(45))]).await;
    let (win, _) = enrol(&w, "pc-win", "windows x86_64", "0.1.0").await;
    let beat = json!({"companyId": "sharma", "appVersion": "0.1.0"});
    let update = &heartbeat(&w.srv, &win, beat).await["update"];
    assert_eq!(update["spreadSeconds"], 45, "{update}");
    assert_eq!(update["version"], "0.2.0", "{update}");
    w.srv.stop().await;

    // A spread beyond a day, or not a number, stops the start and names the setting.
    for bad in ["86401", "ten minutes"] {
        let data = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
            .env("AICFO_DATA_DIR", data.path())
            .env("AICFO_UPDATE_SPREAD_SECS", bad)
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.to_lowercase().contains("update_spread_secs"),
            "{bad}: {err}"
        );
    }
}

fn connector_in<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["connectorId"] == id)
        .unwrap()
}

#[tokio::test]
async fn attempts_are_stored_once_and_shown_in_the_status() {
    let w = world().await;
    let (conn, id) = enrol(&w, "pc-win", "windows x86_64", "0.1.0").await;
    let failed = json!({"version": "0.2.0", "outcome": "failed",
        "message": format!("the signature does not verify{}", " (details)".repeat(200)),
        "at": "2026-11-26T10:00:00Z"});
    let beat = |version: &str, last: &Value| json!({"companyId": "sharma", "appVersion": version, "lastUpdate": last});
    // Resent until answered: several times, the same attempt.
    for _ in 0..3 {
        heartbeat(&w.srv, &conn, beat("0.1.0", &failed)).await;
    }
    let status = w
        .srv
        .get("/connector/status?companyId=sharma", Some(&w.admin))
        .await
        .1;
    let shown = connector_in(&status, &id);
    assert_eq!(shown["updatePolicy"], "auto");
    assert_eq!(shown["targetVersion"], "0.2.0");
    assert_eq!(shown["behind"], true);
    assert_eq!(shown["lastUpdate"]["outcome"], "failed");
    assert_eq!(
        shown["lastUpdate"]["message"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        500,
        "the message is cut to 500 characters"
    );
    assert!(
        shown["agentState"].get("lastUpdate").is_none(),
        "shown once, as lastUpdate"
    );

    // A garbled attempt is dropped, not the heartbeat: the connector stays online and what else
    // it said is kept.
    let garbled = [
        json!({"version": "0.2.0", "outcome": "installed", "message": "", "at": "soon"}),
        json!({"version": "two", "outcome": "installed", "message": "", "at": "2026-11-26T10:01:00Z"}),
        json!({"version": "0.2.0", "outcome": "exploded", "message": "", "at": "2026-11-26T10:01:00Z"}),
        json!({"version": "0.2.0"}),
        json!("installed"),
    ];
    for (i, bad) in garbled.iter().enumerate() {
        let mut body = beat("0.1.0", bad);
        body["state"] = json!(format!("beat {i}"));
        let (s, b) = w.srv.post("/connector/heartbeat", Some(&conn), &body).await;
        assert_eq!(s, 200, "{bad}: {b}");
        let status = w
            .srv
            .get("/connector/status?companyId=sharma", Some(&w.admin))
            .await
            .1;
        let shown = connector_in(&status, &id);
        assert_eq!(shown["agentState"]["state"], format!("beat {i}"), "{bad}");
        assert_eq!(shown["lastUpdate"]["outcome"], "failed", "{bad}");
    }

    let installed = json!({"version": "0.2.0", "outcome": "installed",
        "message": "updated from 0.1.0", "at": "2026-11-26T10:05:00Z"});
    heartbeat(&w.srv, &conn, beat("0.2.0", &installed)).await;
    heartbeat(&w.srv, &conn, beat("0.2.0", &installed)).await;
    let overview = w.srv.get("/overview", Some(&w.admin)).await.1;
    let shown = connector_in(&overview["companies"][0], &id);
    assert_eq!(shown["behind"], false);
    assert_eq!(shown["lastUpdate"], installed);
    assert_eq!(shown["targetVersion"], "0.2.0");

    // The shutdown writes the heartbeat book: each attempt once.
    let data = w.srv.data_dir.clone();
    w.srv.stop().await;
    let db = rusqlite::Connection::open(data.join(aicfo::server::DATABASE_FILE)).unwrap();
    let rows: Vec<(String, String, i64)> = db
        .prepare("SELECT outcome, connector_id, length(message) FROM connector_updates ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["failed", "installed"]
    );
    assert!(rows.iter().all(|r| r.1 == id));
    assert_eq!(rows[0].2, 500);

    // After a restart the status reads it from the database.
    let srv = TestServer::start_with(&data, &[("connector_releases", json!(w.releases))]).await;
    let admin = srv.admin_token().await;
    let status = srv
        .get("/connector/status?companyId=sharma", Some(&admin))
        .await
        .1;
    assert_eq!(connector_in(&status, &id)["lastUpdate"], installed);
    srv.stop().await;
}
