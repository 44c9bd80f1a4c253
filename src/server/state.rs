//! What every request can reach: Rocket-managed application state.

use std::time::Duration;

use super::auth::throttle::{ConnectorLimiter, LoginThrottle};
use super::auth::tokens::TokenKeys;
use super::auth::RevokedConnectors;
use super::config::AppConfig;
use super::db::Db;
use super::secrets::Secrets;

pub struct AppState {
    pub db: Db,
    pub cfg: AppConfig,
    pub keys: TokenKeys,
    pub login: LoginThrottle,
    pub limiter: ConnectorLimiter,
    pub revoked: RevokedConnectors,
}

impl AppState {
    pub fn new(db: Db, cfg: AppConfig, secrets: &Secrets) -> Result<AppState, String> {
        let revoked = db
            .read_blocking(|c| {
                let mut stmt =
                    c.prepare("SELECT id FROM connector_clients WHERE revoked_at IS NOT NULL")?;
                let ids = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ids)
            })
            .map_err(|e| e.message)?;
        Ok(AppState {
            keys: TokenKeys::new(&secrets.jwt, &secrets.connector),
            login: LoginThrottle::new(
                cfg.login_max_failures,
                Duration::from_secs(cfg.login_window_secs),
            ),
            limiter: ConnectorLimiter::new(cfg.connector_rate_per_sec, cfg.connector_rate_burst),
            revoked: RevokedConnectors::new(revoked),
            db,
            cfg,
        })
    }
}
