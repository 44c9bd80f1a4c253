//! The appliance side of the connector self-update tests (tests/connector_update.rs on Linux,
//! tests/connector_update_windows.rs under Wine): the real appliance with company `acme` and one
//! connector enrolled, and the waits on its status that an administrator's screen would show.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::TestServer;

/// SHA-256 as the manifest and the update instruction write it (lowercase hex).
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The settings of an appliance carrying the release folder `releases`, which tells its
/// connectors not to spread their downloads (`spreadSeconds` 0): the tests' connectors set no
/// wait of their own, so an update within a test's patience took the appliance's word.
pub fn carrying(releases: &Path) -> Vec<(&'static str, Value)> {
    vec![
        ("connector_releases", json!(releases)),
        ("update_spread_secs", json!(0)),
    ]
}

/// The real appliance with company `acme` and the connector `pc-1` enrolled.
pub struct Enrolled {
    pub srv: TestServer,
    pub admin: String,
    pub token: String,
    pub connector_id: String,
    /// How long a wait on the status may take before the test fails (a bound so a broken build
    /// fails instead of hanging; not a measure of anything).
    pub patience: Duration,
}

impl Enrolled {
    /// Starts the appliance on `data` with `settings`, makes company `acme` and enrols `pc-1`
    /// as a connector on `os` at `version`.
    pub async fn start(
        data: &Path,
        settings: &[(&str, Value)],
        os: &str,
        version: &str,
        patience: Duration,
    ) -> Enrolled {
        let srv = TestServer::start_with(data, settings).await;
        let admin = srv.admin_token().await;
        srv.create_company(&admin, "Acme Traders", "acme").await;
        let (s, b) = srv
            .post(
                "/connector/auth",
                None,
                &json!({"companyId": "acme", "deviceId": "pc-1", "deviceName": "PC 1",
                    "os": os, "appVersion": version, "userJwt": admin}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        Enrolled {
            token: b["connectorToken"].as_str().unwrap().to_string(),
            connector_id: b["connectorId"].as_str().unwrap().to_string(),
            srv,
            admin,
            patience,
        }
    }

    /// This connector as the appliance's status shows it.
    pub async fn status(&self) -> Value {
        let (s, b) = self
            .srv
            .get("/connector/status?companyId=acme", Some(&self.admin))
            .await;
        assert_eq!(s, 200, "{b}");
        b["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["connectorId"] == self.connector_id.as_str())
            .cloned()
            .unwrap()
    }

    /// Waits for a status that `wanted` accepts. A failure names `what` was awaited and shows
    /// the last status and `context()` (the connector's log, say).
    pub async fn status_where(
        &self,
        what: &str,
        context: impl Fn() -> String,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let status = self.status().await;
            if wanted(&status) {
                return status;
            }
            assert!(
                started.elapsed() < self.patience,
                "the status never showed {what}; last: {status:#}\n{}",
                context()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits for `count` more heartbeats than the status shows now; the last status.
    pub async fn more_heartbeats(&self, count: usize, context: impl Fn() -> String) -> Value {
        let mut last = self.status().await;
        for _ in 0..count {
            let seen = last["lastHeartbeat"].clone();
            last = self
                .status_where("another heartbeat", &context, |s| {
                    s["lastHeartbeat"] != seen
                })
                .await;
        }
        last
    }
}

/// The last update attempt a status shows: (version, outcome, message).
pub fn last_update(status: &Value) -> Option<(&str, &str, &str)> {
    let u = status.get("lastUpdate")?;
    Some((
        u["version"].as_str()?,
        u["outcome"].as_str()?,
        u["message"].as_str()?,
    ))
}

/// No more to show than the status itself.
pub fn nothing() -> String {
    String::new()
}
