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
    /// The heartbeat's `update`, telling the connector to spread its download over up to
    /// `spread_seconds`.
    pub fn instruction(&self, spread_seconds: u64) -> Option<UpdateInstruction> {
        self.release.map(|r| UpdateInstruction {
            policy: self.policy.to_string(),
            version: r.version.to_string(),
            file: r.file.clone(),
            size: r.size,
            sha256: r.sha256.clone(),
            url: r.url(),
            spread_seconds: Some(spread_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Version;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn carried(target: Target, version: &str) -> Carried {
        Carried {
            target,
            version: v(version),
            file: format!("{version}-{}.zip", target.name()),
            size: 1,
            sha256: String::new(),
        }
    }

    fn shown(r: Resolved<'_>) -> (&'static str, Option<String>) {
        (r.policy, r.release.map(|c| c.version.to_string()))
    }

    #[test]
    fn the_policy_in_force_and_the_version_it_names() {
        let cat = Catalogue::of(vec![
            carried(Target::Windows, "0.9.0"),
            carried(Target::Windows, "0.10.0"),
        ]);
        let win = Some(Target::Windows);
        let (auto, paused) = (GlobalUpdatePolicy::Auto, GlobalUpdatePolicy::Paused);
        let pinned = ConnectorPolicy::Pinned(v("0.9.0"));
        let row = |g, own: &ConnectorPolicy, t| shown(resolve(g, own, t, &cat));
        let newest = Some("0.10.0".to_string());
        assert_eq!(
            row(auto, &ConnectorPolicy::Auto, win),
            ("auto", newest.clone())
        );
        assert_eq!(
            row(paused, &ConnectorPolicy::Auto, win),
            ("paused", newest.clone())
        );
        assert_eq!(
            row(auto, &ConnectorPolicy::Paused, win),
            ("paused", newest.clone())
        );
        let older = Some("0.9.0".to_string());
        assert_eq!(row(auto, &pinned, win), ("pinned", older.clone()));
        assert_eq!(row(paused, &pinned, win), ("paused", older));
        let gone = ConnectorPolicy::Pinned(v("0.8.0"));
        assert_eq!(row(auto, &gone, win), ("paused", newest));
        assert_eq!(
            row(auto, &ConnectorPolicy::Auto, Some(Target::Linux)),
            ("auto", None)
        );
        assert_eq!(row(auto, &ConnectorPolicy::Auto, None), ("auto", None));
    }

    #[test]
    fn the_target_comes_from_the_enrolled_os() {
        assert_eq!(Target::of_os("windows x86_64"), Some(Target::Windows));
        assert_eq!(Target::of_os("Windows 10"), Some(Target::Windows));
        assert_eq!(Target::of_os("linux x86_64"), Some(Target::Linux));
        assert_eq!(Target::of_os("linux aarch64"), None);
        assert_eq!(Target::of_os("macos x86_64"), None);
    }
}
