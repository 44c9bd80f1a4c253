//! The appliance: Rocket on an embedded SQLite database.
//!
//! Layers, each depending only on those below it:
//! - `api/`, `download`, `web`: HTTP handlers, thin; each states its access rule with a guard;
//! - `guards`, `body`, `error`, `cors`, `json_only`, `uri_limit`, `listener`, `compress`, `vary`: the HTTP edge (who is
//!   calling and from where, request bodies, errors, the slow-client front);
//! - domain modules, each owning its tables: `accounts` (users, user_companies), `companies`,
//!   `connectors` (connector_clients, connector_refresh_used; heartbeats kept in memory and
//!   written in batches), `runs` (integration_sync_runs/_events), `chart`
//!   (account_groups, ledgers), `snapshots` (snapshots, snapshot_balances), `restatements`,
//!   `ingest` (ingestion_logs, and the order a payload is stored in), `updates` (update policies
//!   and reported update attempts; `releases` the connector releases carried), `status`,
//!   `overview` and `reports/` (reads only);
//! - `auth/` (tokens, password hashes and their gate, throttles), `db`, `clock`, `random`,
//!   `problems`, `domain_error`, `fs_perms`, `open_files`: no domain knowledge;
//! - operations: `cli` (the command line), `serve`, `backup` (backups and restore), `data_lock`
//!   (one server per data folder), `logging`.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod backup;
pub mod body;
pub mod chart;
pub mod cli;
pub mod clock;
pub mod companies;
pub mod compress;
pub mod config;
pub mod connectors;
pub mod cors;
pub mod data_lock;
pub mod db;
pub mod domain_error;
pub mod download;
pub mod enrollment;
pub mod error;
pub mod first_admin;
pub mod fs_perms;
pub mod guards;
pub mod ingest;
pub mod json_only;
pub mod listener;
pub mod logging;
pub mod open_files;
pub mod overview;
pub mod problems;
pub mod random;
pub mod releases;
pub mod reports;
pub mod restatements;
pub mod runs;
pub mod schedules;
pub mod secrets;
pub mod serve;
pub mod snapshots;
pub mod start_error;
pub mod state;
pub mod status;
pub mod tls;
pub mod updates;
pub mod uri_limit;
pub mod vary;
pub mod web;
#[cfg(windows)]
pub mod winservice;

use std::path::Path;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{catchers, Build, Rocket};

use config::AppConfig;
use connectors::heartbeats;
use db::Db;
use domain_error::cause_chain;
use state::AppState;

pub use first_admin::ADMIN_PASSWORD_FILE;
pub use secrets::SECRETS_FILE;
pub use start_error::StartError;

/// The database's file name in the data folder.
pub const DATABASE_FILE: &str = "aicfo.sqlite3";

/// Prepares the data folder, database, secrets and first admin, and assembles the server.
/// Errors say what start-up was doing and why it failed, for the person starting the appliance.
pub fn build(figment: Figment) -> Result<Rocket<Build>, StartError> {
    let cfg = AppConfig::from_figment(&figment)?;
    prepare_data_dir(&cfg.data_dir)?;
    let lock =
        data_lock::DataLock::acquire(&cfg.data_dir).map_err(|e| StartError::new(e.to_string()))?;
    let secrets = secrets::Secrets::load_or_create(&cfg.data_dir)?;
    let db = Db::open(&cfg.data_dir.join(DATABASE_FILE))?;
    first_admin::ensure_admin(&db, &cfg.data_dir)?;
    let state = AppState::new(db, cfg.clone(), &secrets)?;

    let mut rocket = rocket::custom(cfg.rocket_figment(figment))
        .manage(state)
        .manage(lock)
        .manage(api::health::StartedAt::now())
        .manage(auth::passwords::PasswordGate::for_this_machine())
        .mount("/api", api::routes())
        .mount("/", web::routes())
        .mount("/", download::routes())
        .mount("/", json_only::routes())
        .attach(json_only::JsonOnly)
        .register("/", catchers![error::default_catcher])
        .attach(uri_limit::UriLimit)
        .attach(compress::Gzip)
        .attach(AdHoc::on_liftoff(
            "sync run sweeper, heartbeat flusher, daily backup",
            |rocket| {
                Box::pin(async move {
                    if let Some(state) = rocket.state::<AppState>() {
                        spawn_sweeper(state.db.clone(), state.cfg.sync_abandon_after_secs);
                        heartbeats::spawn_flusher(state.db.clone(), state.heartbeats.clone());
                        backup::spawn_daily(state.cfg.data_dir.clone(), state.cfg.backup_keep);
                    }
                })
            },
        ))
        .attach(AdHoc::on_shutdown("heartbeat flush", |rocket| {
            Box::pin(async move {
                if let Some(state) = rocket.state::<AppState>() {
                    heartbeats::flush(&state.db, &state.heartbeats).await;
                }
            })
        }));
    if let Some(origin) = cfg.cors_origin.filter(|o| !o.trim().is_empty()) {
        rocket = rocket.attach(cors::Cors {
            origin: origin.trim().to_string(),
        });
    }
    Ok(rocket)
}

/// The data folder exists, is a folder, and is private to the appliance's user, since the books
/// of every client firm live there: one it creates is 700, one that others can reach is tightened
/// (said on stdout), and one it cannot tighten stops start-up.
pub(crate) fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StartError::new(format!(
            "the data folder {} is not a folder; set AICFO_DATA_DIR to a folder",
            dir.display()
        )));
    }
    if !dir.exists() {
        fs_perms::create_private_dir(dir).map_err(|e| {
            StartError::because(
                format!("cannot create the data folder {}", dir.display()),
                e,
            )
        })?;
    }
    for change in fs_perms::secure_data_dir(dir).map_err(StartError::new)? {
        println!("aicfo-server: {change}");
    }
    Ok(())
}

/// Marks runs abandoned when their connector has gone quiet. Checks four times per timeout
/// (at most once a minute), so a run is abandoned at most a quarter-timeout late.
fn spawn_sweeper(db: Db, abandon_after_secs: u64) {
    let every = Duration::from_secs((abandon_after_secs / 4).clamp(1, 60));
    let older_than_ms = (abandon_after_secs * 1000) as i64;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match db
                .write(move |tx| runs::abandon_stale(tx, older_than_ms))
                .await
            {
                Ok(0) => {}
                Ok(n) => log::warn!("marked {n} silent sync run(s) as abandoned"),
                Err(e) => log::error!("sync run sweeper: {}", cause_chain(&e)),
            }
        }
    });
}
