//! Which version a connector should run, from the policies and the releases carried.

use super::policy::ConnectorPolicy;
use crate::protocol::{GlobalUpdatePolicy, UpdateInstruction};
use crate::server::releases::{Carried, Catalogue, Target};

/// The policy in force for one connector and the release it names.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// `auto`, `paused` or `pinned`, as the connector is told.
    pub policy: &'static str,
    /// The version the connector should run; while paused, the one it would otherwise run.
    /// `None` when the appliance carries nothing for the connector's system.
    pub release: Option<&'a Carried>,
}

/// Firm-wide `paused` wins over everything; a connector's own `paused` over `auto`; `pinned`
/// names its version. A pin to a version the appliance no longer carries holds the connector
/// where it is (`paused`) until an administrator pins another: moving it anywhere would go
/// against the pin.
pub fn resolve<'a>(
    global: GlobalUpdatePolicy,
    own: &ConnectorPolicy,
    target: Option<Target>,
    catalogue: &'a Catalogue,
) -> Resolved<'a> {
    let newest = target.and_then(|t| catalogue.newest(t));
    let (policy, release) = match own {
        ConnectorPolicy::Auto => ("auto", newest),
        ConnectorPolicy::Paused => ("paused", newest),
        ConnectorPolicy::Pinned(version) => match target.and_then(|t| catalogue.find(t, version)) {
            Some(r) => ("pinned", Some(r)),
            None => ("paused", newest),
        },
    };
    let policy = match global {
        GlobalUpdatePolicy::Paused => "paused",
        GlobalUpdatePolicy::Auto => policy,
    };
    Resolved { policy, release }
}

impl Resolved<'_> {
    pub fn instruction(&self) -> Option<UpdateInstruction> {
        self.release.map(|r| UpdateInstruction {
            policy: self.policy.to_string(),
            version: r.version.to_string(),
            file: r.file.clone(),
            size: r.size,
            sha256: r.sha256.clone(),
            url: r.url(),
        })
    }
}
