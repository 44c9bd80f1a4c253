//! Enrolled connectors (`connector_clients`): enrolment, refresh-token rotation, revocation,
//! heartbeats. Blocking functions over a connection or transaction.

use std::collections::HashSet;
use std::sync::RwLock;

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::accounts;
use super::clock::{now_ms, rfc3339};
use super::domain_error::{DomainError, DomainResult};
use super::problems::Problems;
use super::random::random_token;
use crate::protocol::{ConnectorAuthRequest, ConnectorView, HeartbeatRequest};

/// Refresh tokens are random; only this digest of one is stored.
pub fn refresh_token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fields an enrolment needs, checked before its user token is.
pub fn check_enrolment(req: &ConnectorAuthRequest) -> DomainResult<()> {
    let mut problems = Problems::new();
    problems.require_text("companyId", &req.company_id, 200);
    problems.require_text("deviceId", &req.device_id, 200);
    problems.into_result("The enrolment request is incomplete.")
}

/// An enrolled connector and its new refresh token (stored only as a digest).
pub struct Enrolled {
    pub connector_id: String,
    pub refresh_token: String,
}

/// Enrols the device for the company on behalf of the user `user_id`, who must still exist and
/// be allowed to see the company. A device enrolled again (even a revoked one) is active again.
pub fn enrol(c: &Connection, req: &ConnectorAuthRequest, user_id: i64) -> DomainResult<Enrolled> {
    let user = accounts::user_by_id(c, user_id)?.ok_or_else(|| {
        DomainError::unauthorized("user_gone", "The account in userJwt no longer exists.")
    })?;
    accounts::ensure_can_see(c, &user, &req.company_id)?;
    let refresh_token = random_token(32);
    let digest = refresh_token_digest(&refresh_token);
    let connector_id = match existing(c, &req.company_id, &req.device_id)? {
        Some(id) => reenrol(c, id, req, user_id, &digest)?,
        None => insert(c, req, user_id, &digest)?,
    };
    Ok(Enrolled {
        connector_id,
        refresh_token,
    })
}

fn existing(c: &Connection, company_id: &str, device_id: &str) -> DomainResult<Option<String>> {
    Ok(c.query_row(
        "SELECT id FROM connector_clients WHERE company_id = ?1 AND device_id = ?2",
        params![company_id, device_id],
        |r| r.get(0),
    )
    .optional()?)
}

fn reenrol(
    c: &Connection,
    id: String,
    req: &ConnectorAuthRequest,
    user_id: i64,
    digest: &str,
) -> DomainResult<String> {
    c.execute(
        "UPDATE connector_clients SET device_name = ?2, os = ?3, app_version = ?4, registered_by = ?5,
         last_seen = ?6, refresh_token_hash = ?7, revoked_at = NULL WHERE id = ?1",
        params![id, req.device_name, req.os, req.app_version, user_id, now_ms(), digest],
    )?;
    Ok(id)
}

fn insert(
    c: &Connection,
    req: &ConnectorAuthRequest,
    user_id: i64,
    digest: &str,
) -> DomainResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    c.execute(
        "INSERT INTO connector_clients (id, company_id, device_id, device_name, os, app_version,
         registered_by, first_seen, last_seen, refresh_token_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
        params![
            id,
            req.company_id,
            req.device_id,
            req.device_name,
            req.os,
            req.app_version,
            user_id,
            now_ms(),
            digest
        ],
    )?;
    Ok(id)
}

/// A connector after a refresh: who it is and its next refresh token.
pub struct Refreshed {
    pub connector_id: String,
    pub company_id: String,
    pub refresh_token: String,
}

/// Swaps a valid refresh token for a new one; the old one stops working at once.
pub fn rotate_refresh(c: &Connection, token: &str) -> DomainResult<Refreshed> {
    let digest = refresh_token_digest(token);
    let row: Option<(String, String, Option<i64>)> = c
        .query_row(
            "SELECT id, company_id, revoked_at FROM connector_clients WHERE refresh_token_hash = ?1",
            [&digest],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (connector_id, company_id, revoked) = row.ok_or_else(|| {
        DomainError::unauthorized(
            "invalid_refresh_token",
            "This refresh token is not valid (it was already used, or the connector was enrolled again); run setup again.",
        )
    })?;
    if revoked.is_some() {
        return Err(DomainError::unauthorized(
            "connector_revoked",
            "An administrator revoked this connector; run the connector's setup again.",
        ));
    }
    let refresh_token = random_token(32);
    c.execute(
        "UPDATE connector_clients SET refresh_token_hash = ?2, last_seen = ?3 WHERE id = ?1",
        params![connector_id, refresh_token_digest(&refresh_token), now_ms()],
    )?;
    Ok(Refreshed {
        connector_id,
        company_id,
        refresh_token,
    })
}

pub fn revoke(c: &Connection, id: &str) -> DomainResult<()> {
    let n = c.execute(
        "UPDATE connector_clients SET revoked_at = COALESCE(revoked_at, ?2), refresh_token_hash = NULL WHERE id = ?1",
        params![id, now_ms()],
    )?;
    if n == 0 {
        return Err(DomainError::not_found(
            "connector_not_found",
            format!("There is no connector `{id}`."),
        ));
    }
    Ok(())
}

/// The ids of every revoked connector, to fill [`RevokedConnectors`] at start.
pub fn revoked_ids(c: &Connection) -> DomainResult<Vec<String>> {
    let mut stmt = c.prepare("SELECT id FROM connector_clients WHERE revoked_at IS NOT NULL")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

pub fn heartbeat(
    c: &Connection,
    connector_id: &str,
    hb: &HeartbeatRequest,
    default_interval: u32,
) -> DomainResult<()> {
    let state =
        serde_json::to_string(hb).map_err(|e| DomainError::internal("heartbeat state", e))?;
    c.execute(
        "UPDATE connector_clients SET last_seen = ?2, last_heartbeat = ?2, heartbeat_interval = ?3,
         agent_state = ?4, app_version = COALESCE(?5, app_version) WHERE id = ?1",
        params![
            connector_id,
            now_ms(),
            hb.interval_seconds.unwrap_or(default_interval),
            state,
            hb.app_version
        ],
    )?;
    Ok(())
}

/// When a connector counts as online: its last heartbeat is within two intervals plus `grace_secs`.
#[derive(Debug, Clone, Copy)]
pub struct OnlineRule {
    pub default_interval_secs: u32,
    pub grace_secs: u32,
}

fn view(r: &rusqlite::Row<'_>, rule: OnlineRule, now: i64) -> rusqlite::Result<ConnectorView> {
    let revoked_at: Option<i64> = r.get(5)?;
    let last_hb: Option<i64> = r.get(8)?;
    let interval: Option<u32> = r.get(9)?;
    let state: Option<String> = r.get(10)?;
    let window =
        2 * i64::from(interval.unwrap_or(rule.default_interval_secs)) + i64::from(rule.grace_secs);
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
}

pub fn list_for_company(
    c: &Connection,
    company_id: &str,
    rule: OnlineRule,
) -> DomainResult<Vec<ConnectorView>> {
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT id, device_id, device_name, os, app_version, revoked_at, first_seen, last_seen,
                last_heartbeat, heartbeat_interval, agent_state
         FROM connector_clients WHERE company_id = ?1 ORDER BY first_seen",
    )?;
    let rows = stmt
        .query_map([company_id], |r| view(r, rule, now))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Connectors an admin revoked, kept in memory so the hot connector endpoints need no
/// database read to refuse them.
#[derive(Default)]
pub struct RevokedConnectors(RwLock<HashSet<String>>);

impl RevokedConnectors {
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        RevokedConnectors(RwLock::new(ids.into_iter().collect()))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    pub fn insert(&self, id: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string());
    }

    pub fn remove(&self, id: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}
