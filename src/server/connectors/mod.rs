//! Enrolled connectors (`connector_clients`): enrolment, revocation and restoring, heartbeats,
//! and what the status shows of them. Blocking functions over a connection or transaction;
//! `refresh` rotates refresh tokens, `standing` keeps who may use a token in memory.
//!
//! A revocation holds: enrolling the device again does not lift it, only an admin's explicit
//! restore does, and no token issued before it works again (every change bumps the connector's
//! token generation, which its connector tokens carry).

pub mod beat_text;
pub mod enrolled_by;
pub mod heartbeats;
pub mod refresh;
pub mod standing;

use std::ops::RangeInclusive;

use rusqlite::{params, Connection, OptionalExtension};

use super::accounts;
use super::clock::{now_ms, rfc3339};
use super::domain_error::{DomainError, DomainResult};
use super::problems::Problems;
use super::random::random_token;
use crate::protocol::text::{
    device_id_fault, name_fault, ID_MAX_CHARS, LABEL_MAX_CHARS, MESSAGE_MAX_CHARS, NAME_MAX_CHARS,
};
use crate::protocol::{ConnectorAuthRequest, ConnectorView, HeartbeatRequest};
use heartbeats::{Beat, Heartbeats};
pub use refresh::refresh_token_digest;

/// The heartbeat intervals a connector may announce, in seconds.
pub const HEARTBEAT_INTERVAL_SECS: RangeInclusive<u32> = 5..=3600;
use standing::Standing;

/// The fields an enrolment needs, checked before its user token is.
pub fn check_enrolment(req: &ConnectorAuthRequest) -> DomainResult<()> {
    let mut problems = Problems::new();
    problems.require_text("companyId", &req.company_id, ID_MAX_CHARS);
    check_device(
        &mut problems,
        &req.device_id,
        [req.device_name.as_deref(), req.os.as_deref()],
        req.app_version.as_deref(),
    );
    problems.bound("userJwt", Some(&req.user_jwt), MESSAGE_MAX_CHARS);
    problems.into_result("The enrolment request is incomplete or invalid.")
}

/// The device's own fields, the same whichever way it enrols (user token or enrolment code):
/// `deviceId`, `[deviceName, os]`, `appVersion`.
pub fn check_device(
    problems: &mut Problems,
    device_id: &str,
    names: [Option<&str>; 2],
    app_version: Option<&str>,
) {
    problems.require_text("deviceId", device_id, ID_MAX_CHARS);
    if !device_id.trim().is_empty() {
        problems.check("deviceId", device_id_fault(device_id));
    }
    for (path, value) in ["deviceName", "os"].into_iter().zip(names) {
        problems.check(path, value.and_then(|v| name_fault(v, NAME_MAX_CHARS)));
    }
    let version = app_version.and_then(|v| name_fault(v, LABEL_MAX_CHARS));
    problems.check("appVersion", version);
}

/// The heartbeat's fields are bounded: an interval of days would keep a silent connector
/// "online" that long.
pub fn check_heartbeat(hb: &HeartbeatRequest) -> DomainResult<()> {
    let mut problems = Problems::new();
    if let Some(secs) = hb.interval_seconds {
        if !HEARTBEAT_INTERVAL_SECS.contains(&secs) {
            problems.add(
                "intervalSeconds",
                format!(
                    "must be from {} to {} seconds",
                    HEARTBEAT_INTERVAL_SECS.start(),
                    HEARTBEAT_INTERVAL_SECS.end()
                ),
            );
        }
    }
    problems.bound("companyId", hb.company_id.as_deref(), ID_MAX_CHARS);
    problems.bound("appVersion", hb.app_version.as_deref(), LABEL_MAX_CHARS);
    let company = hb.tally_company.as_deref();
    problems.check(
        "tallyCompany",
        company.and_then(|v| name_fault(v, NAME_MAX_CHARS)),
    );
    problems.bound("tallyProduct", hb.tally_product.as_deref(), LABEL_MAX_CHARS);
    problems.bound("state", hb.state.as_deref(), MESSAGE_MAX_CHARS);
    if let Some(last) = &hb.last_sync {
        problems.bound("lastSync.at", Some(&last.at), LABEL_MAX_CHARS);
        problems.bound("lastSync.outcome", Some(&last.outcome), LABEL_MAX_CHARS);
        problems.bound(
            "lastSync.syncRunId",
            last.sync_run_id.as_deref(),
            ID_MAX_CHARS,
        );
        problems.bound("lastSync.error", last.error.as_deref(), MESSAGE_MAX_CHARS);
    }
    problems.into_result("The heartbeat is invalid.")
}

/// An enrolled connector, its token generation and its new refresh token (stored only as a
/// digest).
pub struct Enrolled {
    pub connector_id: String,
    pub generation: i64,
    pub refresh_token: String,
}

/// Enrols the device for the company on behalf of the user `user_id`, who must still exist and
/// be allowed to see the company. A device enrolled again starts a new token chain (its older
/// tokens stop working), so only an admin or the user who enrolled it may do that: anyone else
/// who can see the company could otherwise take over its PC's connector. A revoked device is
/// refused until an admin restores it.
pub fn enrol(c: &Connection, req: &ConnectorAuthRequest, user_id: i64) -> DomainResult<Enrolled> {
    let user = accounts::user_by_id(c, user_id)?.ok_or_else(|| {
        DomainError::unauthorized("user_gone", "The account in userJwt no longer exists.")
    })?;
    accounts::ensure_can_see(c, &user, &req.company_id)?;
    let refresh_token = random_token(32);
    let digest = refresh_token_digest(&refresh_token);
    let (connector_id, generation) = match existing(c, &req.company_id, &req.device_id)? {
        Some(old) if old.revoked => return Err(revoked_device(&old.id)),
        Some(old) if !user.is_admin() && old.registered_by != Some(user_id) => {
            return Err(enrolled_by_another(&req.device_id))
        }
        Some(old) => {
            reenrol(c, &old.id, old.generation + 1, req, user_id, &digest)?;
            (old.id, old.generation + 1)
        }
        None => (insert(c, req, user_id, &digest)?, 0),
    };
    Ok(Enrolled {
        connector_id,
        generation,
        refresh_token,
    })
}

fn revoked_device(id: &str) -> DomainError {
    DomainError::forbidden(
        "connector_revoked",
        format!(
            "An administrator revoked this device's connector `{id}`; enrolling it again does \
             not lift that: an administrator must restore it first."
        ),
    )
}

fn enrolled_by_another(device_id: &str) -> DomainError {
    DomainError::conflict(
        "device_enrolled",
        format!(
            "The device `{device_id}` is already enrolled for this company by another user; only \
             an administrator or the user who enrolled it may enrol it again."
        ),
    )
}

/// The device's connector as enrolment sees it.
struct Existing {
    id: String,
    generation: i64,
    revoked: bool,
    /// The user who enrolled it last (none: only an admin may enrol it again).
    registered_by: Option<i64>,
}

fn existing(c: &Connection, company_id: &str, device_id: &str) -> DomainResult<Option<Existing>> {
    Ok(c.query_row(
        "SELECT id, token_generation, revoked_at IS NOT NULL, registered_by FROM connector_clients
         WHERE company_id = ?1 AND device_id = ?2",
        params![company_id, device_id],
        |r| {
            Ok(Existing {
                id: r.get(0)?,
                generation: r.get(1)?,
                revoked: r.get(2)?,
                registered_by: r.get(3)?,
            })
        },
    )
    .optional()?)
}

fn reenrol(
    c: &Connection,
    id: &str,
    generation: i64,
    req: &ConnectorAuthRequest,
    user_id: i64,
    digest: &str,
) -> DomainResult<()> {
    c.execute(
        "UPDATE connector_clients SET device_name = ?2, os = ?3, app_version = ?4, registered_by = ?5,
         registered_at = ?6, last_seen = ?6, refresh_token_hash = ?7, token_generation = ?8
         WHERE id = ?1",
        params![id, req.device_name, req.os, req.app_version, user_id, now_ms(), digest, generation],
    )?;
    // The used tokens of older chains can no longer revoke anything.
    c.execute(
        "DELETE FROM connector_refresh_used WHERE connector_id = ?1 AND generation < ?2",
        params![id, generation],
    )?;
    Ok(())
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
         registered_by, registered_at, first_seen, last_seen, refresh_token_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8, ?9)",
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

/// Revokes the connector: its refresh token is dropped and every token it holds stops working.
pub fn revoke(c: &Connection, id: &str) -> DomainResult<Standing> {
    let generation = generation_of(c, id)? + 1;
    c.execute(
        "UPDATE connector_clients SET revoked_at = COALESCE(revoked_at, ?2),
         refresh_token_hash = NULL, token_generation = ?3 WHERE id = ?1",
        params![id, now_ms(), generation],
    )?;
    Ok(Standing {
        generation,
        revoked: true,
    })
}

/// Lifts a revocation (an admin's explicit act). No token from before works again: the device
/// enrols afresh, which any user of the company may then do.
pub fn restore(c: &Connection, id: &str) -> DomainResult<Standing> {
    let generation = generation_of(c, id)? + 1;
    c.execute(
        "UPDATE connector_clients SET revoked_at = NULL, refresh_token_hash = NULL,
         token_generation = ?2 WHERE id = ?1",
        params![id, generation],
    )?;
    Ok(Standing {
        generation,
        revoked: false,
    })
}

fn generation_of(c: &Connection, id: &str) -> DomainResult<i64> {
    c.query_row(
        "SELECT token_generation FROM connector_clients WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| {
        DomainError::not_found(
            "connector_not_found",
            format!("There is no connector `{id}`."),
        )
    })
}

/// When a connector counts as online: its last heartbeat is within two intervals plus `grace_secs`.
#[derive(Debug, Clone, Copy)]
pub struct OnlineRule {
    pub default_interval_secs: u32,
    pub grace_secs: u32,
}

/// A connector as stored; its heartbeat fields may be older than the heartbeat book's.
struct Stored {
    id: String,
    device_id: String,
    device_name: Option<String>,
    os: Option<String>,
    app_version: Option<String>,
    revoked: bool,
    first_seen: i64,
    last_seen: i64,
    last_heartbeat: Option<i64>,
    interval: Option<u32>,
    state: Option<String>,
}

impl Stored {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
            id: r.get(0)?,
            device_id: r.get(1)?,
            device_name: r.get(2)?,
            os: r.get(3)?,
            app_version: r.get(4)?,
            revoked: r.get::<_, Option<i64>>(5)?.is_some(),
            first_seen: r.get(6)?,
            last_seen: r.get(7)?,
            last_heartbeat: r.get(8)?,
            interval: r.get(9)?,
            state: r.get(10)?,
        })
    }

    /// Takes a heartbeat from the book that is newer than the stored one.
    fn with_beat(mut self, beat: Option<&Beat>) -> Stored {
        if let Some(b) = beat.filter(|b| Some(b.at_ms) >= self.last_heartbeat) {
            self.last_heartbeat = Some(b.at_ms);
            self.last_seen = self.last_seen.max(b.at_ms);
            self.interval = Some(b.interval_secs);
            self.state = Some(b.state_json.clone());
            self.app_version = b.app_version.clone().or(self.app_version);
        }
        self
    }

    fn view(self, rule: OnlineRule, now: i64) -> ConnectorView {
        let interval = self.interval.unwrap_or(rule.default_interval_secs);
        let window = 2 * i64::from(interval) + i64::from(rule.grace_secs);
        let online = !self.revoked
            && self
                .last_heartbeat
                .is_some_and(|t| now - t <= window * 1000);
        ConnectorView {
            connector_id: self.id,
            device_id: self.device_id,
            device_name: self.device_name,
            os: self.os,
            app_version: self.app_version,
            online,
            revoked: self.revoked,
            first_seen: rfc3339(self.first_seen),
            last_seen: rfc3339(self.last_seen),
            last_heartbeat: self.last_heartbeat.map(rfc3339),
            heartbeat_interval_seconds: self.interval,
            agent_state: self.state.and_then(|s| serde_json::from_str(&s).ok()),
            // Filled in by `updates::annotate`.
            update_policy: None,
            target_version: None,
            behind: None,
            last_update: None,
        }
    }
}

/// The company's connectors, their heartbeats taken from `beats` where it is newer.
pub fn list_for_company(
    c: &Connection,
    company_id: &str,
    rule: OnlineRule,
    beats: &Heartbeats,
) -> DomainResult<Vec<ConnectorView>> {
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT id, device_id, device_name, os, app_version, revoked_at, first_seen, last_seen,
                last_heartbeat, heartbeat_interval, agent_state
         FROM connector_clients WHERE company_id = ?1 ORDER BY first_seen",
    )?;
    let stored = stmt
        .query_map([company_id], Stored::read)?
        .collect::<Result<Vec<_>, _>>()?;
    let fresh = beats.last_of(stored.iter().map(|s| s.id.as_str()));
    Ok(stored
        .into_iter()
        .map(|s| {
            let beat = fresh.get(&s.id);
            s.with_beat(beat).view(rule, now)
        })
        .collect())
}

/// The connectors of each of the companies (a JSON array of their ids), each company's in the
/// order [`list_for_company`] gives them: that function for many companies in one query.
/// Companies without connectors are not in the answer.
pub fn list_for_companies(
    c: &Connection,
    company_ids_json: &str,
    rule: OnlineRule,
    beats: &Heartbeats,
) -> DomainResult<std::collections::HashMap<String, Vec<ConnectorView>>> {
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT id, device_id, device_name, os, app_version, revoked_at, first_seen, last_seen,
                last_heartbeat, heartbeat_interval, agent_state, company_id
         FROM connector_clients WHERE company_id IN (SELECT value FROM json_each(?1))
         ORDER BY company_id, first_seen",
    )?;
    let stored = stmt
        .query_map([company_ids_json], |r| {
            Ok((r.get::<_, String>(11)?, Stored::read(r)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let fresh = beats.last_of(stored.iter().map(|(_, s)| s.id.as_str()));
    let mut by_company: std::collections::HashMap<String, Vec<ConnectorView>> =
        std::collections::HashMap::new();
    for (company_id, s) in stored {
        let beat = fresh.get(&s.id);
        let view = s.with_beat(beat).view(rule, now);
        by_company.entry(company_id).or_default().push(view);
    }
    Ok(by_company)
}
