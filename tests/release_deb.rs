//! The .deb packaging/build.sh makes (dist/aicfo_<version>_amd64.deb, or the file AICFO_DEB
//! names), unpacked into a scratch root with dpkg-deb: its files and modes, the maintainer
//! scripts, and the systemd unit as `systemd-analyze verify` sees it. Ignored: it runs in .ci/run
//! after build.sh.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const UNIT: &str = "usr/lib/systemd/system/aicfo.service";

fn deb() -> PathBuf {
    std::env::var_os("AICFO_DEB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("dist/aicfo_{VERSION}_amd64.deb"))
        })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The unit's `Key=value` lines.
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
#[ignore]
fn the_deb_installs_the_appliance_as_a_hardened_service() {
    let deb = deb();
    assert!(
        deb.is_file(),
        "{} (run packaging/build.sh first)",
        deb.display()
    );
    let scratch = tempfile::tempdir().unwrap();
    let (root, control) = (scratch.path().join("root"), scratch.path().join("DEBIAN"));
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));

    let fields = run(Command::new("dpkg-deb").arg("-f").arg(&deb).args([
        "Package",
        "Version",
        "Architecture",
    ]));
    assert_eq!(
        fields,
        format!("Package: aicfo\nVersion: {VERSION}\nArchitecture: amd64\n")
    );

    let binary = root.join("usr/bin/aicfo-server");
    assert_eq!(mode(&binary), 0o755);
    let version = run(Command::new(&binary).arg("--version"));
    assert_eq!(version.trim(), format!("aicfo-server {VERSION}"));
    assert_eq!(mode(&root.join(UNIT)), 0o644);
    assert_eq!(mode(&root.join("etc/aicfo/Rocket.toml")), 0o644);
    assert_eq!(
        mode(&root.join("etc/aicfo/aicfo.env")),
        0o600,
        "may hold secrets"
    );
    assert!(root.join("usr/share/doc/aicfo/README.md").is_file());
    assert!(
        !root.join("var/lib/aicfo").exists(),
        "the data folder is made on the machine, never shipped"
    );

    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(
        conffiles, "/etc/aicfo/Rocket.toml\n/etc/aicfo/aicfo.env\n",
        "settings survive upgrades"
    );
    for script in ["postinst", "prerm", "postrm"] {
        let path = control.join(script);
        assert_eq!(mode(&path), 0o755, "{script}");
        run(Command::new("sh").arg("-n").arg(&path));
    }
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("useradd --system"), "{postinst}");
    assert!(postinst.contains("deb-systemd-helper enable"), "{postinst}");
    assert!(
        postinst.contains("admin-password.txt"),
        "says where the first password is"
    );
    let postrm = std::fs::read_to_string(control.join("postrm")).unwrap();
    assert!(
        postrm.contains("\"$1\" = purge"),
        "data is deleted on purge only: {postrm}"
    );

    let unit = std::fs::read_to_string(root.join(UNIT)).unwrap();
    let have = settings(&unit);
    for (key, value) in [
        ("User", "aicfo"),
        ("ExecStart", "/usr/bin/aicfo-server serve"),
        ("Environment", "AICFO_DATA_DIR=/var/lib/aicfo"),
        ("Environment", "ROCKET_CONFIG=/etc/aicfo/Rocket.toml"),
        ("StateDirectory", "aicfo"),
        ("StateDirectoryMode", "0700"),
        ("ReadWritePaths", "/var/lib/aicfo"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("Restart", "on-failure"),
        ("UMask", "0077"),
        ("LimitNOFILE", "65536"),
        ("WantedBy", "multi-user.target"),
    ] {
        assert!(
            have.contains(&(key.to_string(), value.to_string())),
            "{key}={value} in the unit:\n{unit}"
        );
    }
    verify_unit(&root);
}

/// `systemd-analyze verify` against the scratch root, which gets the host's targets so the
/// unit's dependencies resolve. Warnings (an unknown key, say) fail too.
fn verify_unit(root: &Path) {
    let units = root.join("usr/lib/systemd/system");
    for dir in ["/usr/lib/systemd/system", "/lib/systemd/system"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".target") && !units.join(&name).exists() {
                std::fs::copy(e.path(), units.join(&name)).unwrap();
            }
        }
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("aicfo.service")
        .output()
        .expect("systemd-analyze (.ci/run installs systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}
