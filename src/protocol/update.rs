//! Connector self-update on the wire: what the appliance carries (`GET /api/connector/releases`),
//! what admins decide (the update policies), what a heartbeat's answer tells a connector to run,
//! and what the connector reports back about its last attempt. Shared by both sides so the
//! updater and the appliance cannot drift apart.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};

/// One release archive the appliance carries, as `GET /api/connector/releases` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseView {
    /// `windows` or `linux`.
    pub target: String,
    pub version: String,
    /// The archive's file name; also the context its zipsign signature was made with, so the
    /// archive is served under exactly this name.
    pub file: String,
    pub size: u64,
    /// SHA-256 (lowercase hex) of the archive.
    pub sha256: String,
    /// Where a connector downloads the archive (connector token): `/api/connector/releases/{file}`.
    pub url: String,
}

/// `GET /api/connector/releases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseList {
    pub releases: Vec<ReleaseView>,
}

/// The firm-wide policy: `PUT /api/settings/connector-updates` `{"policy"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlobalUpdatePolicy {
    Auto,
    Paused,
}

/// One connector's policy: `PUT /api/connectors/{id}/update-policy` `{"policy","version"?}`.
/// `version` is required with `pinned` and refused otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorUpdatePolicy {
    Auto,
    Paused,
    Pinned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePolicyRequest {
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// In a heartbeat's answer: the version this connector should run and where to get it. Absent
/// when the appliance carries no release for the connector's target. `policy` is the one in
/// force for this connector (`auto`, `paused`, or `pinned`); when it is `paused` the connector
/// downloads nothing. `pinned` is the only case in which a version older than the running one
/// may be installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstruction {
    pub policy: String,
    /// The version this connector should run.
    pub version: String,
    /// The archive holding that version, as in `GET /api/connector/releases`.
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub url: String,
    /// The longest random wait, in seconds, before the connector downloads: the appliance knows
    /// how many connectors it has, so it decides how widely their downloads spread. Absent from
    /// an older appliance; the connector then waits up to its own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_seconds: Option<u64>,
}

/// How an update attempt ended, as the connector reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOutcome {
    /// The new program was swapped in and started.
    Installed,
    /// Something before the swap failed: the running version stays.
    Failed,
    /// The new program did not start; the previous one was put back.
    RolledBack,
}

/// In a heartbeat: the connector's last update attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAttempt {
    /// The version it tried to install.
    pub version: String,
    pub outcome: UpdateOutcome,
    /// A sentence for the admin: what happened (at most 500 characters).
    pub message: String,
    /// RFC 3339 time of the attempt.
    pub at: String,
}

/// Reads a heartbeat's `lastUpdate`, dropping (and logging) one that is not an attempt: a
/// connector whose report of its last update is garbled (an outcome from a newer release, a
/// field missing) must still count as online, which a refused heartbeat would not.
pub fn lenient_attempt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<UpdateAttempt>, D::Error> {
    let Some(value) = Option::<serde_json::Value>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match UpdateAttempt::deserialize(&value) {
        Ok(attempt) => Ok(Some(attempt)),
        Err(e) => {
            garbled_attempt_dropped(&e.to_string());
            Ok(None)
        }
    }
}

/// A garbled `lastUpdate` is said in the log at most this often. Here, reading the body, which
/// connector sent it is not known, so the limit holds across all of them: one sending a garbled
/// report with every heartbeat must not fill the disk.
const GARBLED_LOGGED_EVERY: Duration = Duration::from_secs(10 * 60);
/// How much of serde's account of a garbled `lastUpdate` is logged: it quotes the bad value.
pub const GARBLED_SHOWN_CHARS: usize = 200;

/// When a garbled `lastUpdate` was last logged, and how many were dropped unlogged since.
static GARBLED_LOGGED: Mutex<(Option<Instant>, u64)> = Mutex::new((None, 0));

fn garbled_attempt_dropped(why: &str) {
    let mut logged = GARBLED_LOGGED.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    if logged
        .0
        .is_some_and(|at| now.duration_since(at) < GARBLED_LOGGED_EVERY)
    {
        logged.1 += 1;
        return;
    }
    let unlogged = std::mem::take(&mut logged.1);
    logged.0 = Some(now);
    log::warn!(
        "a heartbeat's lastUpdate is not an update attempt ({why:.GARBLED_SHOWN_CHARS$}); it \
         is ignored (logged once in 10 minutes; {unlogged} more since the last time)"
    );
}

/// A connector version, `MAJOR.MINOR.PATCH` with an optional `-pre` part, compared as numbers so
/// `0.10.0` is newer than `0.9.3` and `1.0.0-rc1` older than `1.0.0`. Both sides use it: the
/// appliance to say whether a connector is behind, the connector to refuse a downgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    numbers: [u64; 3],
    pre: Option<String>,
}

impl Version {
    /// `None` when `text` is not `N.N.N` or `N.N.N-something` (at most 64 characters).
    pub fn parse(text: &str) -> Option<Version> {
        if text.len() > 64 {
            return None;
        }
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) if !pre.is_empty() => (core, Some(pre.to_string())),
            Some(_) => return None,
            None => (text, None),
        };
        let mut numbers = [0u64; 3];
        let mut parts = core.split('.');
        for slot in &mut numbers {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = part.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Version { numbers, pre })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = self.numbers;
        write!(f, "{a}.{b}.{c}")?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_compare_as_numbers_and_a_prerelease_comes_first() {
        assert!(v("0.10.0") > v("0.9.3"));
        assert!(v("1.0.0-rc1") < v("1.0.0"));
        assert!(v("1.0.0-rc1") < v("1.0.0-rc2"));
        assert_eq!(v("2.3.4").to_string(), "2.3.4");
        assert_eq!(v("2.3.4-beta").to_string(), "2.3.4-beta");
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in [
            "", "1", "1.2", "1.2.3.4", "1.x.3", "1.2.3-", "-1.2.3", " 1.2.3",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad:?}");
        }
    }
}
