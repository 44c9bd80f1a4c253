//! `GET /api/health` (no token): is the appliance up, which version, is its database answering,
//! and when was the last backup. For monitoring and for the connector's first contact.

use std::time::Instant;

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, State};
use serde::Serialize;

use crate::protocol::BackupInfo;
use crate::server::state::AppState;
use crate::server::{backup, db};

/// When the server was built, for `uptimeSeconds`.
pub struct StartedAt(Instant);

impl StartedAt {
    pub fn now() -> Self {
        StartedAt(Instant::now())
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, or `error` when the database does not answer (then with status 503).
    pub status: &'static str,
    pub version: &'static str,
    pub schema_version: Option<i64>,
    pub uptime_seconds: u64,
    /// `ok`, or `error` (the cause is in the log).
    pub database: String,
    pub last_backup: Option<BackupInfo>,
}

#[get("/health")]
pub async fn health(state: &State<AppState>, started: &State<StartedAt>) -> (Status, Json<Health>) {
    let data_dir = state.cfg.data_dir.clone();
    // One cheap real query, and the backups folder, on the blocking pool.
    let read = state
        .db
        .read(move |c| {
            let version = db::recorded_schema_version(c)?;
            Ok((version, backup::last_backup(&data_dir)))
        })
        .await;
    let (status, schema_version, database, last_backup) = match read {
        Ok((version, last)) => (Status::Ok, version, "ok".to_string(), last),
        Err(e) => {
            // The cause goes to the log, not to whoever asks without a token.
            log::error!("health check: the database does not answer: {e}");
            (Status::ServiceUnavailable, None, "error".to_string(), None)
        }
    };
    let body = Health {
        status: if status == Status::Ok { "ok" } else { "error" },
        version: env!("CARGO_PKG_VERSION"),
        schema_version,
        uptime_seconds: started.0.elapsed().as_secs(),
        database,
        last_backup,
    };
    (status, Json(body))
}
