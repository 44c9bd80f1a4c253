//! The update policies administrators set: firm-wide `auto` | `paused` (`appliance_settings`,
//! key `connector_updates`) and per connector `auto` | `paused` | `pinned` to a version
//! (`connector_update_policies`). Checking a request, storing and reading.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::book::Known;
use crate::protocol::{GlobalUpdatePolicy, UpdatePolicyRequest, Version};
use crate::server::clock::now_ms;
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::problems::Problems;
use crate::server::releases::{Catalogue, Target};

const GLOBAL_KEY: &str = "connector_updates";

/// One connector's own policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConnectorPolicy {
    #[default]
    Auto,
    Paused,
    Pinned(Version),
}

impl ConnectorPolicy {
    pub fn name(&self) -> &'static str {
        match self {
            ConnectorPolicy::Auto => "auto",
            ConnectorPolicy::Paused => "paused",
            ConnectorPolicy::Pinned(_) => "pinned",
        }
    }

    pub fn view(&self) -> UpdatePolicyRequest {
        UpdatePolicyRequest {
            policy: self.name().to_string(),
            version: match self {
                ConnectorPolicy::Pinned(v) => Some(v.to_string()),
                _ => None,
            },
        }
    }

    /// As stored; a row this appliance cannot read counts as `auto` rather than stopping
    /// every heartbeat of that connector.
    fn from_row(policy: &str, version: Option<&str>) -> ConnectorPolicy {
        match (policy, version.and_then(Version::parse)) {
            ("paused", _) => ConnectorPolicy::Paused,
            ("pinned", Some(v)) => ConnectorPolicy::Pinned(v),
            _ => ConnectorPolicy::Auto,
        }
    }
}

pub fn global_name(policy: GlobalUpdatePolicy) -> &'static str {
    match policy {
        GlobalUpdatePolicy::Auto => "auto",
        GlobalUpdatePolicy::Paused => "paused",
    }
}

/// `PUT /api/settings/connector-updates`: `{"policy": "auto"|"paused"}`, nothing else.
pub fn check_global(req: &UpdatePolicyRequest) -> DomainResult<GlobalUpdatePolicy> {
    let mut problems = Problems::new();
    let policy = match req.policy.as_str() {
        "auto" => Some(GlobalUpdatePolicy::Auto),
        "paused" => Some(GlobalUpdatePolicy::Paused),
        _ => {
            problems.add("policy", "must be `auto` or `paused`");
            None
        }
    };
    if req.version.is_some() {
        problems.add(
            "version",
            "only one connector can be pinned to a version (PUT /api/connectors/{id}/update-policy)",
        );
    }
    problems.into_result("The update policy is invalid; nothing was changed.")?;
    policy.ok_or_else(|| DomainError::invalid_field("policy", "must be `auto` or `paused`"))
}

/// `PUT /api/connectors/{id}/update-policy`. A pinned version must be one this appliance
/// carries for the connector's system (`target`), or the connector could never run it.
pub fn check_connector(
    req: &UpdatePolicyRequest,
    target: Option<Target>,
    catalogue: &Catalogue,
) -> DomainResult<ConnectorPolicy> {
    let mut problems = Problems::new();
    let policy = match (req.policy.as_str(), req.version.as_deref()) {
        ("auto", None) => Some(ConnectorPolicy::Auto),
        ("paused", None) => Some(ConnectorPolicy::Paused),
        ("auto" | "paused", Some(_)) => {
            problems.add("version", "is given only with the policy `pinned`");
            None
        }
        ("pinned", None) => {
            problems.add("version", "is required with the policy `pinned`");
            None
        }
        ("pinned", Some(text)) => pinned(text, target, catalogue, &mut problems),
        _ => {
            problems.add("policy", "must be `auto`, `paused` or `pinned`");
            None
        }
    };
    problems.into_result("The update policy is invalid; nothing was changed.")?;
    policy.ok_or_else(|| DomainError::invalid_field("policy", "is invalid"))
}

fn pinned(
    text: &str,
    target: Option<Target>,
    catalogue: &Catalogue,
    problems: &mut Problems,
) -> Option<ConnectorPolicy> {
    let Some(version) = Version::parse(text) else {
        problems.add("version", "must be a version such as `1.4.0`");
        return None;
    };
    let Some(target) = target else {
        problems.add(
            "version",
            "this connector's system is not one the appliance has connector releases for",
        );
        return None;
    };
    if catalogue.find(target, &version).is_none() {
        let carried: Vec<String> = catalogue
            .releases()
            .iter()
            .filter(|r| r.target == target)
            .map(|r| r.version.to_string())
            .collect();
        let offer = if carried.is_empty() {
            "none".to_string()
        } else {
            carried.join(", ")
        };
        problems.add(
            "version",
            format!(
                "this appliance carries no {version} for {}; it carries: {offer}",
                target.name()
            ),
        );
        return None;
    }
    Some(ConnectorPolicy::Pinned(version))
}

pub fn global(c: &Connection) -> DomainResult<GlobalUpdatePolicy> {
    let value: Option<String> = c
        .query_row(
            "SELECT value FROM appliance_settings WHERE key = ?1",
            [GLOBAL_KEY],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match value.as_deref() {
        Some("paused") => GlobalUpdatePolicy::Paused,
        _ => GlobalUpdatePolicy::Auto,
    })
}

pub fn set_global(c: &Connection, policy: GlobalUpdatePolicy, user_id: i64) -> DomainResult<()> {
    c.execute(
        "INSERT INTO appliance_settings (key, value, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3, updated_by = ?4",
        params![GLOBAL_KEY, global_name(policy), now_ms(), user_id],
    )?;
    Ok(())
}

/// The connector's system (from the `os` it enrolled with) and own policy; `None` when there
/// is no such connector.
pub fn known(c: &Connection, connector_id: &str) -> DomainResult<Option<Known>> {
    Ok(c.query_row(
        "SELECT k.os, p.policy, p.version FROM connector_clients k
         LEFT JOIN connector_update_policies p ON p.connector_id = k.id WHERE k.id = ?1",
        [connector_id],
        |r| {
            let os: Option<String> = r.get(0)?;
            let policy: Option<String> = r.get(1)?;
            let version: Option<String> = r.get(2)?;
            Ok(Known {
                target: os.as_deref().and_then(Target::of_os),
                policy: policy
                    .map(|p| ConnectorPolicy::from_row(&p, version.as_deref()))
                    .unwrap_or_default(),
            })
        },
    )
    .optional()?)
}

/// Like [`known`], for a request naming the connector: no such connector is a 404.
pub fn known_or_404(c: &Connection, connector_id: &str) -> DomainResult<Known> {
    known(c, connector_id)?.ok_or_else(|| {
        DomainError::not_found(
            "connector_not_found",
            format!("There is no connector `{connector_id}`."),
        )
    })
}

pub fn set_connector(
    c: &Connection,
    connector_id: &str,
    policy: &ConnectorPolicy,
    user_id: i64,
) -> DomainResult<()> {
    let version = match policy {
        ConnectorPolicy::Pinned(v) => Some(v.to_string()),
        _ => None,
    };
    c.execute(
        "INSERT INTO connector_update_policies (connector_id, policy, version, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (connector_id) DO UPDATE SET policy = ?2, version = ?3, updated_at = ?4,
         updated_by = ?5",
        params![connector_id, policy.name(), version, now_ms(), user_id],
    )?;
    Ok(())
}

/// The own policies of the connectors of each of the companies (a JSON array of their ids):
/// [`for_company`] for many companies in one query.
pub fn for_companies(
    c: &Connection,
    company_ids_json: &str,
) -> DomainResult<HashMap<String, ConnectorPolicy>> {
    let mut stmt = c.prepare_cached(
        "SELECT p.connector_id, p.policy, p.version FROM connector_update_policies p
         JOIN connector_clients k ON k.id = p.connector_id
         WHERE k.company_id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([company_ids_json], |r| {
        let (id, policy, version): (String, String, Option<String>) =
            (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok((id, ConnectorPolicy::from_row(&policy, version.as_deref())))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The own policies of a company's connectors that have one.
pub fn for_company(
    c: &Connection,
    company_id: &str,
) -> DomainResult<HashMap<String, ConnectorPolicy>> {
    let mut stmt = c.prepare_cached(
        "SELECT p.connector_id, p.policy, p.version FROM connector_update_policies p
         JOIN connector_clients k ON k.id = p.connector_id WHERE k.company_id = ?1",
    )?;
    let rows = stmt.query_map([company_id], |r| {
        let (id, policy, version): (String, String, Option<String>) =
            (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok((id, ConnectorPolicy::from_row(&policy, version.as_deref())))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
