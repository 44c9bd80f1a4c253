//! Appliance settings: built-in defaults, Rocket.toml profiles, then `ROCKET_*`, then the
//! variables CONTRACT.md names.

use std::net::IpAddr;
use std::path::PathBuf;

use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::{Figment, Profile};
use serde::{Deserialize, Serialize};
use time::UtcOffset;

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
    /// Sync bodies held in memory at once (decoded size, MiB): more wait, then get 503.
    pub sync_body_budget_mib: u64,
    /// Origin allowed to call the API from a browser (the guide's CORS_ORIGIN); none when unset.
    pub cors_origin: Option<String>,
    /// URL connectors use to reach the appliance.
    pub public_url: Option<String>,
    /// The connector ZIP served at `/download/connector` (built by packaging/build-windows.sh).
    pub connector_package: PathBuf,
    /// `AICFO_TRUSTED_PROXIES`: addresses, separated by commas or spaces, whose forwarded-address
    /// header (Rocket's `ip_header`) is believed. None by default.
    pub trusted_proxies: String,
    /// A client must send its whole request head within this many seconds (see `listener`).
    pub header_timeout_secs: u64,
    /// A connection on which nothing moves either way for this long is closed.
    pub idle_timeout_secs: u64,
    /// `trusted_proxies`, parsed.
    #[serde(skip)]
    pub trusted_proxy_list: Vec<IpAddr>,
    /// Connector release archives and their manifest, when not embedded (packaging/build.sh).
    pub connector_releases: PathBuf,
    /// Days an enrolment code in a downloaded ZIP stays valid.
    pub enrollment_code_valid_days: u32,
    /// Daily backups kept in the data folder's backups/ (`AICFO_BACKUP_KEEP`).
    pub backup_keep: usize,
    /// The server log is rotated when it reaches this size (`AICFO_LOG_ROTATE_BYTES`).
    pub log_rotate_bytes: u64,
    /// `AICFO_TLS`: `off` (plain HTTP, the default) or `auto` (a self-signed certificate made on
    /// first start in the data folder); see `tls.rs`.
    pub tls: Option<String>,
    /// `AICFO_TLS_CERT`, `AICFO_TLS_KEY`: the firm's own certificate (chain) and key, PEM.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `AICFO_UTC_OFFSET`: the offset (`+05:30`) the appliance reckons sync schedules' due times
    /// in, the offices' PCs' local time; see [`AppConfig::schedule_offset`].
    pub utc_offset: String,
    /// `AICFO_UPDATE_SPREAD_SECS`: connectors told to update spread their downloads over up to
    /// this many seconds (each waits a random part of it), so an office's PCs do not all
    /// download at once. At most [`MAX_UPDATE_SPREAD_SECS`].
    pub update_spread_secs: u64,
}

/// The widest spread of connector downloads: a day.
pub const MAX_UPDATE_SPREAD_SECS: u64 = 24 * 3600;

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
            sync_body_budget_mib: 256,
            cors_origin: None,
            public_url: None,
            connector_package: PathBuf::from("dist/AICFOConnector.zip"),
            trusted_proxies: String::new(),
            header_timeout_secs: 10,
            idle_timeout_secs: 120,
            trusted_proxy_list: Vec::new(),
            connector_releases: PathBuf::from("dist/releases"),
            enrollment_code_valid_days: 7,
            backup_keep: 14,
            log_rotate_bytes: 10 * 1024 * 1024,
            tls: None,
            tls_cert: None,
            tls_key: None,
            utc_offset: "+05:30".into(),
            update_spread_secs: 600,
        }
    }
}

/// The shipped Rocket.toml, compiled in: the appliance behaves the same whatever folder it is
/// started from (a service manager starts it where there is no Rocket.toml).
const BUILT_IN_SETTINGS: &str = include_str!("../../Rocket.toml");

/// The Rocket.toml to read over the built-in settings: the file `ROCKET_CONFIG` names, else
/// `Rocket.toml` in the current folder. Only that exact file: no search of parent folders.
fn settings_path() -> PathBuf {
    std::env::var_os("ROCKET_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("Rocket.toml"))
}

/// Which settings file [`figment`] reads, for the start-up message. An error when `ROCKET_CONFIG`
/// names a file that is not there (a typo should not silently fall back to the defaults).
pub fn settings_file() -> Result<Option<PathBuf>, StartError> {
    let path = settings_path();
    let absolute = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    if path.is_file() {
        Ok(Some(absolute))
    } else if std::env::var_os("ROCKET_CONFIG").is_some() {
        Err(StartError::new(format!(
            "ROCKET_CONFIG names {}, which is not a file",
            absolute.display()
        )))
    } else {
        Ok(None)
    }
}

/// Rocket's defaults, then the built-in settings, then Rocket.toml (see [`settings_file`]), then
/// `ROCKET_*`, then the contract's variables: `AICFO_<KEY>` sets any key of [`AppConfig`].
pub fn figment() -> Figment {
    let profile = Profile::from_env_or("ROCKET_PROFILE", rocket::Config::DEFAULT_PROFILE);
    let mut figment = Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(AppConfig::default()))
        .merge(Toml::string(BUILT_IN_SETTINGS).nested());
    let file = settings_path();
    if file.is_file() {
        figment = figment.merge(Toml::file_exact(file).nested());
    }
    figment
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(profile)
        .merge(Env::prefixed("AICFO_").ignore(&["ADMIN_PASSWORD"]))
        .merge(
            Env::raw()
                .only(&["CORS_ORIGIN"])
                .map(|_| "cors_origin".into()),
        )
}

impl AppConfig {
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, StartError> {
        let mut cfg: AppConfig = figment
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
        if cfg.sync_body_budget_mib == 0 {
            return Err(StartError::new("sync_body_budget_mib must be at least 1"));
        }
        if cfg.header_timeout_secs == 0 || cfg.idle_timeout_secs == 0 {
            return Err(StartError::new(
                "header_timeout_secs and idle_timeout_secs must be at least 1",
            ));
        }
        if cfg.backup_keep == 0 {
            return Err(StartError::new(
                "backup_keep must be at least 1 (AICFO_BACKUP_KEEP)",
            ));
        }
        if cfg.log_rotate_bytes < 1024 {
            return Err(StartError::new(
                "log_rotate_bytes must be at least 1024 (AICFO_LOG_ROTATE_BYTES)",
            ));
        }
        if cfg.update_spread_secs > MAX_UPDATE_SPREAD_SECS {
            return Err(StartError::new(format!(
                "update_spread_secs is {}; it must be 0 to {MAX_UPDATE_SPREAD_SECS} seconds (AICFO_UPDATE_SPREAD_SECS)",
                cfg.update_spread_secs
            )));
        }
        cfg.trusted_proxy_list = parse_addresses(&cfg.trusted_proxies)?;
        parse_utc_offset(&cfg.utc_offset)?;
        Ok(cfg)
    }

    /// The offset schedules are reckoned in (checked at start; India Standard Time otherwise).
    pub fn schedule_offset(&self) -> UtcOffset {
        parse_utc_offset(&self.utc_offset).unwrap_or(IST)
    }

    /// Rocket believes a forwarded-address header only when a trusted proxy is named; even then
    /// `ClientAddress` uses it only for requests that come from one.
    pub fn rocket_figment(&self, figment: Figment) -> Figment {
        if self.trusted_proxy_list.is_empty() {
            figment.merge(Serialized::global("ip_header", false))
        } else {
            figment
        }
    }
}

/// India Standard Time, the default: the offices the appliance serves keep it.
pub const IST: UtcOffset = match UtcOffset::from_hms(5, 30, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// `+HH:MM` or `-HH:MM`, within ±14:00 (the offsets clocks keep).
fn parse_utc_offset(text: &str) -> Result<UtcOffset, StartError> {
    let bad = || {
        StartError::new(format!(
            "utc_offset: `{text}` is not a UTC offset such as +05:30 or -03:00 (AICFO_UTC_OFFSET)"
        ))
    };
    let t = text.trim();
    let sign: i8 = match t.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return Err(bad()),
    };
    let (h, m) = t[1..].split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..60).contains(&m) || !(0..=14).contains(&h) || (h == 14 && m > 0) {
        return Err(bad());
    }
    UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())
}

fn parse_addresses(list: &str) -> Result<Vec<IpAddr>, StartError> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>().map_err(|_| {
                StartError::new(format!(
                    "trusted_proxies: `{s}` is not an IP address (AICFO_TRUSTED_PROXIES)"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_offset_is_checked_at_start() {
        let with = |v: &str| {
            let f = Figment::from(Serialized::defaults(AppConfig::default()))
                .merge(Serialized::default("utc_offset", v));
            AppConfig::from_figment(&f)
        };
        assert_eq!(with("+05:30").map(|c| c.schedule_offset()).ok(), Some(IST));
        let gulf = with("+04:00").map(|c| c.schedule_offset()).ok();
        assert_eq!(gulf, UtcOffset::from_hms(4, 0, 0).ok());
        let west = with("-03:30").map(|c| c.schedule_offset()).ok();
        assert_eq!(west, UtcOffset::from_hms(-3, -30, 0).ok());
        for bad in ["IST", "5:30", "+5:30", "+05:60", "+15:00", "+05:30x", ""] {
            let e = with(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("AICFO_UTC_OFFSET"), "{bad}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn the_update_spread_is_a_day_at_most_and_a_bad_one_stops_the_start() {
        fn with(v: impl Serialize) -> Result<u64, String> {
            let f = Figment::from(Serialized::defaults(AppConfig::default()))
                .merge(Serialized::default("update_spread_secs", v));
            AppConfig::from_figment(&f)
                .map(|c| c.update_spread_secs)
                .map_err(|e| {
                    // As the binary prints it: with its whole cause chain.
                    let cause = std::error::Error::source(&e).map(|s| s.to_string());
                    format!("{e}: {}", cause.unwrap_or_default())
                })
        }
        assert_eq!(AppConfig::default().update_spread_secs, 600);
        assert_eq!(with(0), Ok(0));
        assert_eq!(with(86400), Ok(86400));
        let too_long = with(86401).unwrap_err();
        assert!(too_long.contains("AICFO_UPDATE_SPREAD_SECS"), "{too_long}");
        for bad in [with("ten"), with(-1)] {
            let e = bad.unwrap_err();
            assert!(e.contains("update_spread_secs"), "{e}");
        }
    }
}
