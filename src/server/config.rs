//! Appliance settings: Rocket.toml profiles, then `ROCKET_*`, then the variables CONTRACT.md names.

use std::path::PathBuf;

use rocket::figment::providers::{Env, Serialized};
use rocket::figment::Figment;
use serde::{Deserialize, Serialize};

use super::start_error::StartError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppConfig {
    /// SQLite database, generated secrets and the generated admin password live here.
    pub data_dir: PathBuf,
    /// The interval connectors are told to send heartbeats at.
    pub heartbeat_interval_secs: u32,
    /// Slack on top of two heartbeat intervals before a connector counts as offline.
    pub online_grace_secs: u32,
    /// A running sync with no word from its connector for this long becomes `abandoned`.
    pub sync_abandon_after_secs: u64,
    /// Per-connector request rate on connector endpoints: sustained per second, and burst.
    pub connector_rate_per_sec: u32,
    pub connector_rate_burst: u32,
    /// Failed logins allowed per username (and, times four, per address) in the window.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    /// Origin allowed to call the API from a browser (the guide's CORS_ORIGIN); none when unset.
    pub cors_origin: Option<String>,
    /// URL connectors use to reach the appliance.
    pub public_url: Option<String>,
    /// The connector ZIP served at `/download/connector` (built by packaging/build-windows.sh).
    pub connector_package: PathBuf,
    /// Connector release archives and their manifest, when not embedded (packaging/build.sh).
    pub connector_releases: PathBuf,
    /// Days an enrolment code in a downloaded ZIP stays valid.
    pub enrollment_code_valid_days: u32,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            data_dir: PathBuf::from("./data"),
            heartbeat_interval_secs: 30,
            online_grace_secs: 30,
            sync_abandon_after_secs: 30 * 60,
            connector_rate_per_sec: 20,
            connector_rate_burst: 200,
            login_max_failures: 5,
            login_window_secs: 15 * 60,
            cors_origin: None,
            public_url: None,
            connector_package: PathBuf::from("dist/AICFOConnector.zip"),
            connector_releases: PathBuf::from("dist/releases"),
            enrollment_code_valid_days: 7,
        }
    }
}

/// Rocket's own figment (Rocket.toml, `ROCKET_*`), with our defaults beneath and the contract's
/// environment variables on top. `AICFO_<KEY>` sets any key of [`AppConfig`].
pub fn figment() -> Figment {
    Figment::from(Serialized::defaults(AppConfig::default()))
        .merge(rocket::Config::figment())
        .merge(Env::prefixed("AICFO_").ignore(&["ADMIN_PASSWORD"]))
        .merge(
            Env::raw()
                .only(&["CORS_ORIGIN"])
                .map(|_| "cors_origin".into()),
        )
}

impl AppConfig {
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, StartError> {
        let cfg: AppConfig = figment
            .extract()
            .map_err(|e| StartError::because("the configuration is invalid", e))?;
        if cfg.heartbeat_interval_secs == 0 {
            return Err(StartError::new(
                "heartbeat_interval_secs must be at least 1",
            ));
        }
        if cfg.connector_rate_per_sec == 0 || cfg.connector_rate_burst == 0 {
            return Err(StartError::new(
                "connector_rate_per_sec and connector_rate_burst must be at least 1",
            ));
        }
        if cfg.login_max_failures == 0 {
            return Err(StartError::new("login_max_failures must be at least 1"));
        }
        Ok(cfg)
    }
}
