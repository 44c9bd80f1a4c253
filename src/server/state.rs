//! What every request can reach: Rocket-managed application state.

use std::sync::Arc;
use std::time::Duration;

use super::auth::throttle::{ConnectorLimiter, LoginThrottle};
use super::auth::tokens::TokenKeys;
use super::body::in_flight::{SyncBodies, BUDGET_WAIT};
use super::config::AppConfig;
use super::connectors::heartbeats::Heartbeats;
use super::connectors::standing::{self, Standings};
use super::connectors::OnlineRule;
use super::db::Db;
use super::download::{LinkQuota, UsedLinks};
use super::releases::{ReleaseStore, Releases};
use super::schedules::ScheduleBook;
use super::secrets::Secrets;
use super::start_error::StartError;
use super::updates::PolicyBook;

pub struct AppState {
    pub db: Db,
    pub cfg: AppConfig,
    pub keys: TokenKeys,
    pub login: LoginThrottle,
    pub limiter: ConnectorLimiter,
    /// Each connector's token generation and whether it is revoked.
    pub standings: Standings,
    /// The last heartbeats, written to the database in batches.
    pub heartbeats: Arc<Heartbeats>,
    /// The connector releases this appliance hands out.
    pub releases: Releases,
    /// The connector update policies, for the heartbeat's answer.
    pub update_policies: PolicyBook,
    /// Sync schedules and pending "sync now" requests, for the heartbeat's answer.
    pub schedules: ScheduleBook,
    /// Download links already used: each works once.
    pub used_links: UsedLinks,
    /// Download links each user may make: one user cannot fill `used_links`.
    pub link_quota: LinkQuota,
    /// Sync bodies being read, parsed or stored: bounded per connector and in bytes.
    pub sync_bodies: SyncBodies,
}

impl AppState {
    pub fn new(db: Db, cfg: AppConfig, secrets: &Secrets) -> Result<AppState, StartError> {
        let standings = db
            .read_blocking(standing::load)
            .map_err(|e| StartError::because("cannot read the enrolled connectors", e))?;
        Ok(AppState {
            keys: TokenKeys::new(&secrets.jwt, &secrets.connector),
            login: LoginThrottle::new(
                cfg.login_max_failures,
                Duration::from_secs(cfg.login_window_secs),
            ),
            limiter: ConnectorLimiter::new(cfg.connector_rate_per_sec, cfg.connector_rate_burst),
            standings: Standings::new(standings),
            heartbeats: Arc::default(),
            releases: Releases::new(ReleaseStore::new(cfg.connector_releases.clone())),
            update_policies: PolicyBook::default(),
            schedules: ScheduleBook::default(),
            used_links: UsedLinks::default(),
            link_quota: LinkQuota::default(),
            sync_bodies: SyncBodies::new(
                cfg.sync_body_budget_mib.saturating_mul(1024 * 1024),
                BUDGET_WAIT,
            ),
            db,
            cfg,
        })
    }

    /// When a connector counts as online, from the settings.
    pub fn online_rule(&self) -> OnlineRule {
        OnlineRule {
            default_interval_secs: self.cfg.heartbeat_interval_secs,
            grace_secs: self.cfg.online_grace_secs,
        }
    }
}
