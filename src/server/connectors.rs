//! Enrolled connectors (`connector_clients`): registration, refresh-token rotation, revocation,
//! heartbeats. Blocking functions over a connection or transaction.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::auth::tokens::refresh_token_digest;
use super::db::{now_ms, rfc3339};
use super::error::{ApiError, ApiResult};
use super::secrets::random_token;
use crate::protocol::{ConnectorAuthRequest, HeartbeatRequest};

/// Registers the device for the company, or re-registers it (a revoked device enrolled again is
/// active again). Returns the connector id and a fresh refresh token (stored only as a digest).
pub fn register(
    c: &Connection,
    req: &ConnectorAuthRequest,
    user_id: i64,
) -> ApiResult<(String, String)> {
    let now = now_ms();
    let refresh = random_token(32);
    let digest = refresh_token_digest(&refresh);
    let existing: Option<String> = c
        .query_row(
            "SELECT id FROM connector_clients WHERE company_id = ?1 AND device_id = ?2",
            params![req.company_id, req.device_id],
            |r| r.get(0),
        )
        .optional()?;
    let id = match existing {
        Some(id) => {
            c.execute(
                "UPDATE connector_clients SET device_name = ?2, os = ?3, app_version = ?4, registered_by = ?5,
                 last_seen = ?6, refresh_token_hash = ?7, revoked_at = NULL WHERE id = ?1",
                params![id, req.device_name, req.os, req.app_version, user_id, now, digest],
            )?;
            id
        }
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            c.execute(
                "INSERT INTO connector_clients (id, company_id, device_id, device_name, os, app_version,
                 registered_by, first_seen, last_seen, refresh_token_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
                params![id, req.company_id, req.device_id, req.device_name, req.os, req.app_version, user_id, now, digest],
            )?;
            id
        }
    };
    Ok((id, refresh))
}

/// Swaps a valid refresh token for a new one; the old one stops working at once.
/// Returns (connector id, company id, new refresh token).
pub fn rotate_refresh(c: &Connection, token: &str) -> ApiResult<(String, String, String)> {
    let digest = refresh_token_digest(token);
    let row: Option<(String, String, Option<i64>)> = c
        .query_row(
            "SELECT id, company_id, revoked_at FROM connector_clients WHERE refresh_token_hash = ?1",
            [&digest],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (id, company, revoked) = row.ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_refresh_token",
            "This refresh token is not valid (it was already used, or the connector was enrolled again); run setup again.",
        )
    })?;
    if revoked.is_some() {
        return Err(ApiError::unauthorized(
            "connector_revoked",
            "An administrator revoked this connector; run the connector's setup again.",
        ));
    }
    let fresh = random_token(32);
    c.execute(
        "UPDATE connector_clients SET refresh_token_hash = ?2, last_seen = ?3 WHERE id = ?1",
        params![id, refresh_token_digest(&fresh), now_ms()],
    )?;
    Ok((id, company, fresh))
}

pub fn revoke(c: &Connection, id: &str) -> ApiResult<()> {
    let n = c.execute(
        "UPDATE connector_clients SET revoked_at = COALESCE(revoked_at, ?2), refresh_token_hash = NULL WHERE id = ?1",
        params![id, now_ms()],
    )?;
    if n == 0 {
        return Err(ApiError::not_found(
            "connector_not_found",
            format!("There is no connector `{id}`."),
        ));
    }
    Ok(())
}

pub fn heartbeat(
    c: &Connection,
    connector_id: &str,
    hb: &HeartbeatRequest,
    default_interval: u32,
) -> ApiResult<()> {
    let state = serde_json::to_string(hb).map_err(|e| ApiError::internal("heartbeat state", e))?;
    let now = now_ms();
    c.execute(
        "UPDATE connector_clients SET last_seen = ?2, last_heartbeat = ?2, heartbeat_interval = ?3,
         agent_state = ?4, app_version = COALESCE(?5, app_version) WHERE id = ?1",
        params![
            connector_id,
            now,
            hb.interval_seconds.unwrap_or(default_interval),
            state,
            hb.app_version
        ],
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    pub connector_id: String,
    pub device_id: String,
    pub device_name: Option<String>,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub online: bool,
    pub revoked: bool,
    pub first_seen: String,
    pub last_seen: String,
    pub last_heartbeat: Option<String>,
    pub heartbeat_interval_seconds: Option<u32>,
    pub agent_state: Option<serde_json::Value>,
}

/// A connector is online when its last heartbeat is within two intervals plus `grace_secs`.
pub fn list_for_company(
    c: &Connection,
    company_id: &str,
    default_interval: u32,
    grace_secs: u32,
) -> ApiResult<Vec<ConnectorView>> {
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT id, device_id, device_name, os, app_version, revoked_at, first_seen, last_seen,
                last_heartbeat, heartbeat_interval, agent_state
         FROM connector_clients WHERE company_id = ?1 ORDER BY first_seen",
    )?;
    let rows = stmt
        .query_map([company_id], |r| {
            let revoked_at: Option<i64> = r.get(5)?;
            let last_hb: Option<i64> = r.get(8)?;
            let interval: Option<u32> = r.get(9)?;
            let state: Option<String> = r.get(10)?;
            let window =
                2 * i64::from(interval.unwrap_or(default_interval)) + i64::from(grace_secs);
            let online = revoked_at.is_none() && last_hb.is_some_and(|t| now - t <= window * 1000);
            Ok(ConnectorView {
                connector_id: r.get(0)?,
                device_id: r.get(1)?,
                device_name: r.get(2)?,
                os: r.get(3)?,
                app_version: r.get(4)?,
                online,
                revoked: revoked_at.is_some(),
                first_seen: rfc3339(r.get(6)?),
                last_seen: rfc3339(r.get(7)?),
                last_heartbeat: last_hb.map(rfc3339),
                heartbeat_interval_seconds: interval,
                agent_state: state.and_then(|s| serde_json::from_str(&s).ok()),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
