//! The update attempts connectors report in their heartbeats (`connector_updates`). A
//! connector repeats its last attempt until a heartbeat carrying it is answered, so each
//! attempt, known by (connector, version, at), is stored once.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::protocol::text::{first_chars, length_fault, LABEL_MAX_CHARS};
use crate::protocol::{UpdateAttempt, UpdateOutcome, Version};
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::problems::Problems;

/// How much of an attempt's message is kept.
pub const MESSAGE_MAX_CHARS: usize = 500;

/// An attempt as received: from which connector, and when (UTC ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub connector_id: String,
    pub attempt: UpdateAttempt,
    pub received_ms: i64,
}

impl Received {
    /// The same attempt, resent.
    pub fn same_as(&self, other: &Received) -> bool {
        self.connector_id == other.connector_id
            && self.attempt.version == other.attempt.version
            && self.attempt.at == other.attempt.at
    }
}

/// `lastUpdate` in a heartbeat: a version and an RFC 3339 time, which together name the
/// attempt. Its message is not refused for length but cut (see [`bounded`]).
pub fn check(problems: &mut Problems, attempt: Option<&UpdateAttempt>) {
    let Some(a) = attempt else { return };
    if Version::parse(&a.version).is_none() {
        problems.add(
            "lastUpdate.version",
            "must be a version such as `1.4.0` (at most 64 characters)",
        );
    }
    if let Some(fault) = length_fault(&a.at, LABEL_MAX_CHARS) {
        problems.add("lastUpdate.at", fault);
    } else if time::OffsetDateTime::parse(&a.at, &time::format_description::well_known::Rfc3339)
        .is_err()
    {
        problems.add("lastUpdate.at", "must be an RFC 3339 time");
    }
}

/// The attempt with its message cut to [`MESSAGE_MAX_CHARS`] characters.
pub fn bounded(attempt: &UpdateAttempt) -> UpdateAttempt {
    let mut a = attempt.clone();
    let kept = first_chars(&a.message, MESSAGE_MAX_CHARS).len();
    a.message.truncate(kept);
    a
}

fn outcome_name(outcome: UpdateOutcome) -> &'static str {
    match outcome {
        UpdateOutcome::Installed => "installed",
        UpdateOutcome::Failed => "failed",
        UpdateOutcome::RolledBack => "rolled_back",
    }
}

fn outcome_of(name: &str) -> rusqlite::Result<UpdateOutcome> {
    match name {
        "installed" => Ok(UpdateOutcome::Installed),
        "failed" => Ok(UpdateOutcome::Failed),
        "rolled_back" => Ok(UpdateOutcome::RolledBack),
        other => Err(rusqlite::Error::InvalidColumnType(
            1,
            format!("outcome `{other}`"),
            rusqlite::types::Type::Text,
        )),
    }
}

/// Stores each attempt not stored before (call within one transaction). An attempt of a
/// connector that is not enrolled here is skipped, so one such never blocks the batch.
pub fn store(c: &Connection, batch: &[Received]) -> DomainResult<()> {
    let mut stmt = c.prepare_cached(
        "INSERT OR IGNORE INTO connector_updates
             (connector_id, version, outcome, message, at, received_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM connector_clients WHERE id = ?1)",
    )?;
    for r in batch {
        let a = &r.attempt;
        stmt.execute(params![
            r.connector_id,
            a.version,
            outcome_name(a.outcome),
            a.message,
            a.at,
            r.received_ms
        ])?;
    }
    prune(c, batch)
}

/// How many attempts of one connector are kept: the newest. A connector inventing a new
/// attempt in every heartbeat otherwise grows the table without end.
pub const KEPT_PER_CONNECTOR: i64 = 50;

/// Keeps each connector of the batch to its [`KEPT_PER_CONNECTOR`] newest attempts.
fn prune(c: &Connection, batch: &[Received]) -> DomainResult<()> {
    let mut connectors: Vec<&str> = batch.iter().map(|r| r.connector_id.as_str()).collect();
    connectors.sort_unstable();
    connectors.dedup();
    let mut stmt = c.prepare_cached(
        "DELETE FROM connector_updates WHERE connector_id = ?1 AND id NOT IN
             (SELECT id FROM connector_updates WHERE connector_id = ?1
              ORDER BY received_at DESC, id DESC LIMIT ?2)",
    )?;
    for connector in connectors {
        stmt.execute(params![connector, KEPT_PER_CONNECTOR])?;
    }
    Ok(())
}

/// Each connector's last reported attempt (by the time it was received), for a company.
pub fn latest_for_company(
    c: &Connection,
    company_id: &str,
) -> DomainResult<HashMap<String, (i64, UpdateAttempt)>> {
    let one = serde_json::json!([company_id]).to_string();
    latest_for_companies(c, &one)
}

/// One row of the latest-attempt queries: the connector, when the attempt was received, the
/// attempt.
fn latest_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, (i64, UpdateAttempt))> {
    let outcome: String = r.get(2)?;
    Ok((
        r.get(0)?,
        (
            r.get(5)?,
            UpdateAttempt {
                version: r.get(1)?,
                outcome: outcome_of(&outcome)?,
                message: r.get(3)?,
                at: r.get(4)?,
            },
        ),
    ))
}

/// Each connector's last reported attempt, for the connectors of each of the companies (a
/// JSON array of their ids), in one query.
pub fn latest_for_companies(
    c: &Connection,
    company_ids_json: &str,
) -> DomainResult<HashMap<String, (i64, UpdateAttempt)>> {
    let mut stmt = c.prepare_cached(
        "SELECT u.connector_id, u.version, u.outcome, u.message, u.at, u.received_at
         FROM connector_clients k JOIN connector_updates u ON u.id = (
             SELECT id FROM connector_updates WHERE connector_id = k.id
             ORDER BY received_at DESC, id DESC LIMIT 1)
         WHERE k.company_id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([company_ids_json], latest_row)?;
    rows.collect::<Result<_, _>>()
        .map_err(|e| DomainError::internal("reading connector update attempts", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_at_a_character_not_a_byte() {
        let a = UpdateAttempt {
            version: "1.0.0".into(),
            outcome: UpdateOutcome::Failed,
            message: "₹".repeat(600),
            at: "2026-11-26T10:00:00Z".into(),
        };
        assert_eq!(bounded(&a).message.chars().count(), MESSAGE_MAX_CHARS);
    }

    #[test]
    fn an_attempt_needs_a_version_and_an_rfc3339_time() {
        let mut p = Problems::new();
        let a = UpdateAttempt {
            version: "new".into(),
            outcome: UpdateOutcome::Installed,
            message: String::new(),
            at: "yesterday".into(),
        };
        check(&mut p, Some(&a));
        assert!(p.into_result("bad").is_err());
    }
}
