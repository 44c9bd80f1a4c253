//! The appliance: Rocket on an embedded SQLite database.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod body;
pub mod config;
pub mod connectors;
pub mod cors;
pub mod db;
pub mod download;
pub mod error;
pub mod fs_perms;
pub mod ingest;
pub mod json_only;
pub mod listener;
pub mod open_files;
pub mod runs;
pub mod secrets;
pub mod snapshots;
pub mod state;
pub mod web;

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{catchers, Build, Rocket};

use config::AppConfig;
use db::Db;
use state::AppState;

pub const DATABASE_FILE: &str = "aicfo.sqlite3";

/// Prepares the data folder, database, secrets and first admin, and assembles the server.
/// Errors are sentences for the person starting the appliance.
pub fn build(figment: Figment) -> Result<Rocket<Build>, String> {
    let cfg = AppConfig::from_figment(&figment)?;
    if !cfg.data_dir.exists() {
        fs_perms::create_private_dir(&cfg.data_dir).map_err(|e| {
            format!(
                "cannot create the data folder {}: {e}",
                cfg.data_dir.display()
            )
        })?;
    }
    for change in fs_perms::secure_data_dir(&cfg.data_dir)? {
        println!("aicfo-server: {change}");
    }
    let secrets = secrets::Secrets::load_or_create(&cfg.data_dir)?;
    let db = Db::open(&cfg.data_dir.join(DATABASE_FILE))?;
    secrets::ensure_admin(&db, &cfg.data_dir)?;
    let state = AppState::new(db, cfg.clone(), &secrets)?;

    let mut rocket = rocket::custom(cfg.rocket_figment(figment))
        .manage(state)
        .manage(auth::passwords::PasswordGate::for_this_machine())
        .mount("/api", api::routes())
        .mount("/", web::routes())
        .mount("/", download::routes())
        .mount("/", json_only::routes())
        .attach(json_only::JsonOnly)
        .register("/", catchers![error::default_catcher])
        .attach(AdHoc::on_liftoff("sync run sweeper", |rocket| {
            Box::pin(async move {
                if let Some(state) = rocket.state::<AppState>() {
                    spawn_sweeper(state.db.clone(), state.cfg.sync_abandon_after_secs);
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
                Err(e) => log::error!("sync run sweeper: {}", e.message),
            }
        }
    });
}
