//! Whether to act on the heartbeat's update instruction: the policy, the versions, the key
//! this program carries, and the backoff of a version that failed before.

use crate::protocol::{UpdateInstruction, Version};

use super::record::UpdateRecord;

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing to do (no instruction, paused, already running it).
    Nothing,
    /// Not done, for a reason the admin should read once.
    Refuse(String),
    /// This version failed before; not before this Unix time.
    Wait(i64),
    Install(UpdateInstruction),
}

pub struct Inputs<'a> {
    pub running: &'a str,
    pub instruction: Option<&'a UpdateInstruction>,
    /// config.json's `auto_update`.
    pub auto_update: bool,
    /// The compiled-in release key.
    pub key: Option<&'a str>,
    pub record: &'a UpdateRecord,
    pub now: i64,
}

/// A plain file name: it becomes a path in the staging folder.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.contains(['/', '\\', ':'])
        && !name.starts_with('.')
        && name.ends_with(".zip")
}

pub fn decide(i: &Inputs<'_>) -> Plan {
    let Some(ins) = i.instruction else {
        return Plan::Nothing;
    };
    if ins.policy == "paused" || !i.auto_update || ins.version == i.running {
        return Plan::Nothing;
    }
    let pinned = match ins.policy.as_str() {
        "auto" => false,
        "pinned" => true,
        other => {
            return Plan::Refuse(format!(
                "the appliance sent an unknown update policy `{other}`; nothing was installed."
            ))
        }
    };
    let (Some(target), Some(running)) = (Version::parse(&ins.version), Version::parse(i.running))
    else {
        return Plan::Refuse(format!(
            "`{}` is not a version this connector understands; nothing was installed.",
            ins.version
        ));
    };
    if target < running && !pinned {
        return Plan::Refuse(format!(
            "version {target} is older than the running {running}; only a version an administrator pinned may be older, so nothing was installed."
        ));
    }
    if !plain_file_name(&ins.file) {
        return Plan::Refuse(format!(
            "the appliance named the archive `{}`, which is not a plain .zip file name; nothing was installed.",
            ins.file
        ));
    }
    if i.key.is_none() {
        return Plan::Refuse("this connector was built without a release key, so it cannot check that an update is genuine and installs none; install a connector built by packaging/build.sh.".into());
    }
    match i.record.failures.get(&ins.version) {
        Some(f) if f.next_try_at > i.now => Plan::Wait(f.next_try_at),
        _ => Plan::Install(ins.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::Failures;
    use super::*;

    fn instruction(policy: &str, version: &str) -> UpdateInstruction {
        UpdateInstruction {
            policy: policy.into(),
            version: version.into(),
            file: format!("aicfo-connector-{version}-x86_64-unknown-linux-gnu.zip"),
            size: 10,
            sha256: "00".into(),
            url: "/api/connector/releases/x.zip".into(),
            spread_seconds: None,
        }
    }

    fn plan(ins: &UpdateInstruction, record: &UpdateRecord, key: Option<&str>) -> Plan {
        decide(&Inputs {
            running: "1.0.0",
            instruction: Some(ins),
            auto_update: true,
            key,
            record,
            now: 1000,
        })
    }

    #[test]
    fn newer_installs_older_only_when_pinned_and_paused_never() {
        let none = UpdateRecord::default();
        let key = Some("ab");
        assert!(matches!(
            plan(&instruction("auto", "1.1.0"), &none, key),
            Plan::Install(_)
        ));
        assert!(matches!(
            plan(&instruction("auto", "0.9.0"), &none, key),
            Plan::Refuse(_)
        ));
        assert!(matches!(
            plan(&instruction("pinned", "0.9.0"), &none, key),
            Plan::Install(_)
        ));
        assert_eq!(
            plan(&instruction("paused", "1.1.0"), &none, key),
            Plan::Nothing
        );
        assert_eq!(
            plan(&instruction("auto", "1.0.0"), &none, key),
            Plan::Nothing
        );
    }

    #[test]
    fn without_a_key_or_with_an_odd_file_name_nothing_is_fetched() {
        let none = UpdateRecord::default();
        assert!(
            matches!(plan(&instruction("auto", "1.1.0"), &none, None), Plan::Refuse(m) if m.contains("release key"))
        );
        let mut odd = instruction("auto", "1.1.0");
        odd.file = "../../evil.zip".into();
        assert!(matches!(plan(&odd, &none, Some("ab")), Plan::Refuse(_)));
    }

    #[test]
    fn a_version_that_failed_waits_for_its_time() {
        let mut record = UpdateRecord::default();
        record.failures.insert(
            "1.1.0".into(),
            Failures {
                count: 1,
                next_try_at: 2000,
            },
        );
        assert_eq!(
            plan(&instruction("auto", "1.1.0"), &record, Some("ab")),
            Plan::Wait(2000)
        );
        assert!(matches!(
            plan(&instruction("auto", "1.2.0"), &record, Some("ab")),
            Plan::Install(_)
        ));
    }
}
