//! Where a Windows service of this package lives, which account runs it, and who may change
//! its files. A service runs with rights the person at the PC lacks: whoever can change its
//! program, a DLL beside it or its settings runs their own code with those rights. So
//! `service install`
//! - copies the program to `%ProgramFiles%\aicfo\PART` and registers that copy (not the
//!   folder the ZIP was unzipped into, often the user's Downloads);
//! - runs it as the service's virtual account `NT SERVICE\NAME` (no password, a standard
//!   user's rights, a SID of its own so a folder can be granted to this service alone);
//! - keeps its data in `%ProgramData%\aicfo\PART`, owned by Administrators, open to SYSTEM,
//!   Administrators and the service account only — whoever created the folder before;
//! - refuses a folder on the way that is a reparse point (junction, symbolic link): the
//!   service and `icacls` would follow it to wherever its maker points it.
//!
//! Windows' own tools (`icacls`, `reg`, `sc.exe`) are run by their full path in
//! `%SystemRoot%\System32` ([`system_program`]), never by name: Windows looks for a bare name in
//! the program's own folder and the PATH first, where a planted `icacls.exe` would run with the
//! administrator's rights.
//!
//! The decisions are plain functions, tested on every platform; running `icacls` and `reg` is
//! for Windows only.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Well-known SIDs, so the names' language does not matter to `icacls`.
pub const SYSTEM: &str = "*S-1-5-18";
pub const ADMINISTRATORS: &str = "*S-1-5-32-544";
pub const USERS: &str = "*S-1-5-32-545";
/// Every service process (NT AUTHORITY\SERVICE), virtual accounts included.
pub const SERVICES: &str = "*S-1-5-6";
/// Whoever creates a file (CREATOR OWNER): an inherited entry for it becomes one for that user.
pub const CREATOR_OWNER: &str = "*S-1-3-0";

/// `C:\`, `d:/`: a drive's root, the only start of a Windows folder that cannot be relative.
fn starts_at_a_drive_root(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

/// Windows' own program `name` in `%SystemRoot%\System32`, `system_root` being the value of
/// `SystemRoot` (`C:\Windows` when it is unset, empty or not a full path).
pub fn system_program(system_root: Option<&OsStr>, name: &str) -> PathBuf {
    let root = system_root
        .map(OsStr::to_string_lossy)
        .filter(|r| starts_at_a_drive_root(r))
        .map(|r| r.trim_end_matches(['\\', '/']).to_string())
        .unwrap_or_else(|| r"C:\Windows".to_string());
    PathBuf::from(format!(r"{root}\System32\{name}"))
}

/// [`system_program`] with this process's `SystemRoot`.
pub fn system_tool(name: &str) -> PathBuf {
    system_program(std::env::var_os("SystemRoot").as_deref(), name)
}

/// The folders and the account of one installed service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The program (and what it reads beside it); the service is registered here.
    pub program_dir: PathBuf,
    /// What the service writes: settings, state, logs, books.
    pub data_dir: PathBuf,
    /// The account the service runs as.
    pub account: String,
}

/// The place of the service `service`, whose folders are called `part` (connector, appliance).
pub fn place(service: &str, part: &str, program_files: &Path, program_data: &Path) -> Place {
    Place {
        program_dir: program_files.join("aicfo").join(part),
        data_dir: program_data.join("aicfo").join(part),
        account: service_account(service),
    }
}

/// The virtual account Windows makes for the service named `service`.
pub fn service_account(service: &str) -> String {
    format!(r"NT SERVICE\{service}")
}

/// `C:\Program Files\` and `c:/program files` are one folder to Windows.
pub fn same_folder(a: &Path, b: &Path) -> bool {
    let norm = |p: &Path| {
        p.to_string_lossy()
            .replace('/', "\\")
            .trim_end_matches('\\')
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// `%ProgramFiles%` as this process sees it must be the machine's Program Files folder (as
/// the registry names it), which only administrators may change: any other folder could leave
/// the service's program where standard users write.
pub fn check_program_files(from_env: &Path, machine: &Path) -> Result<(), String> {
    if same_folder(from_env, machine) {
        return Ok(());
    }
    Err(format!(
        "the service's program would go under {} (ProgramFiles in this window), which is not Windows' Program Files folder ({}): standard users may be able to change it there and so run their own program as the service. Not installed; open a new Command Prompt with \"Run as administrator\" and try again there.",
        from_env.display(),
        machine.display()
    ))
}

/// The data of `REG_SZ` value `name` in what `reg query KEY /v NAME` printed.
pub fn parse_reg_sz(output: &str, name: &str) -> Option<PathBuf> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(name)?;
        let rest = rest.trim_start();
        let data = rest
            .strip_prefix("REG_SZ")
            .or_else(|| rest.strip_prefix("REG_EXPAND_SZ"))?;
        let data = data.trim();
        (!data.is_empty()).then(|| PathBuf::from(data))
    })
}

/// The program of a service's command line as the service manager keeps it: quoted when it
/// holds a space (`"C:\Program Files\...\X.exe" service run ...`), else up to the first space.
pub fn program_in_command_line(line: &str) -> PathBuf {
    let line = line.trim_start();
    let program = match line.strip_prefix('"') {
        Some(rest) => rest.split('"').next().unwrap_or(rest),
        None => line.split(' ').next().unwrap_or(line),
    };
    PathBuf::from(program)
}

/// Whether `meta` (of the path itself, not followed) is a redirection: a reparse point
/// (junction, symbolic link, mount point) on Windows, a symbolic link elsewhere.
pub fn is_redirect(meta: &std::fs::Metadata) -> bool {
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
        meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0
    }
    #[cfg(not(windows))]
    {
        meta.file_type().is_symlink()
    }
}

fn refuse_redirect(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if is_redirect(&meta) => Err(format!(
            "{} is a junction or symbolic link (it leads to another folder), not a real folder: whoever made it could send the service's files elsewhere. Nothing was changed; remove it as administrator (rmdir \"{}\") and try again.",
            path.display(),
            path.display()
        )),
        _ => Ok(()),
    }
}

/// Refuses when `dir`, or a folder between `root` (not included) and it, is a redirection. A
/// folder that does not exist yet is fine: it is made later, as a real folder. A `dir` outside
/// `root` is checked alone.
pub fn refuse_redirects_on_the_way(root: &Path, dir: &Path) -> Result<(), String> {
    let Ok(rest) = dir.strip_prefix(root) else {
        return refuse_redirect(dir);
    };
    let mut at = root.to_path_buf();
    for part in rest.components() {
        at.push(part);
        refuse_redirect(&at)?;
    }
    Ok(())
}

/// Refuses a redirection anywhere inside `dir` (none is followed). A missing `dir` holds none.
pub fn refuse_redirects_inside(dir: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot look into {}: {e}", dir.display())),
    };
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot look into {}: {e}", dir.display()))?
            .path();
        refuse_redirect(&path)?;
        if path.is_dir() {
            refuse_redirects_inside(&path)?;
        }
    }
    Ok(())
}

/// The data folder a service is started with, and the folder holding it (`%ProgramData%\aicfo`),
/// must be real folders: checked at every start, as a folder may be swapped after the install.
pub fn refuse_redirected_data_dir(data: &Path) -> Result<(), String> {
    let root = data.parent().and_then(Path::parent).unwrap_or(data);
    refuse_redirects_on_the_way(root, data)
}

/// The program folder: everyone may run the program; only SYSTEM, Administrators and — when
/// `account_writes` — the service account may change it.
///
/// The connector's service account does write there: its self-updater swaps the program in
/// place (`self_replace` and the kept `.previous.exe` live beside the program, the restart
/// marker too). Staging the new program elsewhere would still need that last write into this
/// folder, so the account gets Modify here; standard users still cannot write it.
pub fn program_grants(account: &str, account_writes: bool) -> Vec<String> {
    let account_right = if account_writes { "M" } else { "RX" };
    vec![
        format!("{SYSTEM}:(OI)(CI)F"),
        format!("{ADMINISTRATORS}:(OI)(CI)F"),
        format!("{USERS}:(OI)(CI)RX"),
        format!("{account}:(OI)(CI){account_right}"),
    ]
}

/// The data folder: SYSTEM and Administrators, and the service account to write its data.
pub fn data_grants(account: &str) -> Vec<String> {
    vec![
        format!("{SYSTEM}:(OI)(CI)F"),
        format!("{ADMINISTRATORS}:(OI)(CI)F"),
        format!("{account}:(OI)(CI)M"),
    ]
}

/// `%ProgramData%\aicfo`: the connectors run at a console keep their Tally turn lock files
/// there (the service keeps its own in its data folder, out of standard users' reach: a user
/// who could open its lock file could hold it and stop the service reading Tally). Anyone may
/// add a file (WD) and use the files they made (CREATOR OWNER), not another's; no one but
/// administrators may add a folder (so `appliance` or `connector` cannot be pre-made by a
/// user), rename or remove anything.
pub fn shared_grants() -> Vec<String> {
    vec![
        format!("{SYSTEM}:(OI)(CI)F"),
        format!("{ADMINISTRATORS}:(OI)(CI)F"),
        format!("{USERS}:(RX,WD)"),
        format!("{SERVICES}:(RX,WD)"),
        format!("{CREATOR_OWNER}:(OI)(IO)M"),
    ]
}

/// One step of [`lock_down_steps`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run `icacls` with these arguments.
    Icacls(Vec<OsString>),
    /// Refuse if a redirection lies inside the folder ([`refuse_redirects_inside`]).
    RefuseRedirectsInside,
}

fn icacls(dir: &Path, args: &[&str]) -> Step {
    let mut all = vec![dir.as_os_str().to_os_string()];
    all.extend(args.iter().map(OsString::from));
    Step::Icacls(all)
}

/// Makes `dir` and everything in it owned by Administrators, with exactly `grants` on `dir`
/// (inherited by all inside), whoever made it before. The order matters: first the folder
/// itself changes owner (its maker loses the right to change its list) and list (no one else
/// may add to it); only then is what is inside checked for redirections and taken over, every
/// `icacls` acting on links themselves (`/L`), never following them; a last check catches a
/// redirection made meanwhile.
pub fn lock_down_steps(dir: &Path, grants: &[String]) -> Vec<Step> {
    let mut protect = vec!["/inheritance:r", "/grant:r"];
    protect.extend(grants.iter().map(String::as_str));
    vec![
        icacls(dir, &["/setowner", ADMINISTRATORS, "/L"]),
        icacls(dir, &protect),
        Step::RefuseRedirectsInside,
        icacls(dir, &["/setowner", ADMINISTRATORS, "/T", "/L"]),
        icacls(dir, &["/reset", "/T", "/L"]),
        icacls(dir, &protect),
        Step::RefuseRedirectsInside,
    ]
}

/// `%ProgramData%\aicfo` itself: owner and list only. What is inside is each service's own
/// folder (locked down on its own) and the lock files, which stay their users'.
pub fn shared_steps(dir: &Path) -> Vec<Step> {
    let grants = shared_grants();
    let mut protect = vec!["/inheritance:r", "/grant:r"];
    protect.extend(grants.iter().map(String::as_str));
    vec![
        icacls(dir, &["/setowner", ADMINISTRATORS, "/L"]),
        icacls(dir, &protect),
    ]
}

/// Copies the files `files` and the folders `dirs` (their files) from `from` into `to` where `to`
/// lacks them: a service installed again keeps its own, newer state. The names taken.
pub fn take_missing(
    from: &Path,
    to: &Path,
    files: &[&str],
    dirs: &[&str],
) -> Result<Vec<String>, String> {
    let mut taken = Vec::new();
    if same_folder(from, to) {
        return Ok(taken);
    }
    for name in files {
        if copy_if_missing(&from.join(name), &to.join(name))? {
            taken.push(name.to_string());
        }
    }
    for name in dirs {
        let (source, dest) = (from.join(name), to.join(name));
        if !source.is_dir() || dest.exists() {
            continue;
        }
        std::fs::create_dir_all(&dest)
            .map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
        let entries = std::fs::read_dir(&source)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        for entry in entries.flatten() {
            copy_if_missing(&entry.path(), &dest.join(entry.file_name()))?;
        }
        taken.push(name.to_string());
    }
    Ok(taken)
}

/// Copies a file `from` to `to` unless `to` exists or `from` is not a file; whether it did.
fn copy_if_missing(from: &Path, to: &Path) -> Result<bool, String> {
    if to.exists() || !from.is_file() {
        return Ok(false);
    }
    std::fs::copy(from, to)
        .map(|_| true)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

/// Runs `steps` for `dir`; stops at the first that fails, naming it.
#[cfg(windows)]
pub fn run_steps(dir: &Path, steps: Vec<Step>) -> Result<(), String> {
    for step in steps {
        match step {
            Step::RefuseRedirectsInside => refuse_redirects_inside(dir)?,
            Step::Icacls(args) => {
                let out = std::process::Command::new(system_tool("icacls.exe"))
                    .args(&args)
                    .output()
                    .map_err(|e| format!("cannot run icacls on {}: {e}", dir.display()))?;
                if !out.status.success() {
                    let shown: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
                    return Err(format!(
                        "cannot set who may use {}: `icacls {}` says {}",
                        dir.display(),
                        shown.join(" "),
                        String::from_utf8_lossy(&out.stdout).trim()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Windows' Program Files folder, as the registry names it (not the environment).
#[cfg(windows)]
pub fn machine_program_files() -> Result<PathBuf, String> {
    const KEY: &str = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion";
    let out = std::process::Command::new(system_tool("reg.exe"))
        .args(["query", KEY, "/v", "ProgramFilesDir"])
        .output()
        .map_err(|e| format!("cannot run reg to find the Program Files folder: {e}"))?;
    parse_reg_sz(&String::from_utf8_lossy(&out.stdout), "ProgramFilesDir")
        .ok_or_else(|| format!("cannot find the Program Files folder in the registry ({KEY})"))
}

/// The service's own SID from `sc.exe showsid NAME` (its line `SERVICE SID: S-1-5-80-…`).
pub fn parse_service_sid(showsid: &str) -> Option<String> {
    showsid
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("SERVICE SID"))
        .map(|(_, sid)| sid.trim().to_string())
        .filter(|sid| sid.starts_with("S-1-5-80-"))
}

/// The service's security descriptor (`sc.exe sdshow`) with one more entry: the service's own
/// SID may start, stop and query it. Windows lets only SYSTEM and Administrators start a
/// service; a virtual account's service that swapped in a new program must start itself again
/// through its helper. None when `sddl` has no access list to add to.
pub fn sddl_letting_itself_restart(sddl: &str, sid: &str) -> Option<String> {
    let sddl = sddl.trim();
    let ace = format!("(A;;RPWPLCLORC;;;{sid})");
    if sddl.contains(&ace) {
        return Some(sddl.to_string());
    }
    let dacl = sddl.find("D:")?;
    // The access list runs to the audit list (S:) or the end.
    let end = sddl[dacl..].find("S:").map_or(sddl.len(), |i| dacl + i);
    Some(format!("{}{ace}{}", &sddl[..end], &sddl[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_has_its_program_folder_data_folder_and_virtual_account() {
        let place = place(
            "AICFOConnector",
            "connector",
            Path::new(r"C:\Program Files"),
            Path::new(r"C:\ProgramData"),
        );
        assert_eq!(
            place.program_dir,
            Path::new(r"C:\Program Files")
                .join("aicfo")
                .join("connector")
        );
        assert_eq!(
            place.data_dir,
            Path::new(r"C:\ProgramData").join("aicfo").join("connector")
        );
        assert_eq!(place.account, r"NT SERVICE\AICFOConnector");
    }

    #[test]
    fn a_program_files_folder_other_than_the_machines_is_refused() {
        let machine = Path::new(r"C:\Program Files");
        assert!(check_program_files(Path::new(r"c:\program files\"), machine).is_ok());
        let err = check_program_files(Path::new(r"C:\Users\Public\pf"), machine).unwrap_err();
        assert!(err.contains("not Windows' Program Files folder"), "{err}");
        assert!(err.contains("Not installed"), "{err}");
    }

    #[test]
    fn the_program_files_folder_is_read_from_reg_output() {
        let out = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\r\n    ProgramFilesDir    REG_SZ    C:\\Program Files\r\n\r\n";
        assert_eq!(
            parse_reg_sz(out, "ProgramFilesDir"),
            Some(PathBuf::from(r"C:\Program Files"))
        );
        assert_eq!(parse_reg_sz("ERROR: not found", "ProgramFilesDir"), None);
    }

    #[test]
    fn the_program_is_found_in_a_services_command_line() {
        let quoted = r#""C:\Program Files\aicfo\connector\AICFOConnector.exe" service run --home C:\ProgramData\aicfo\connector"#;
        assert_eq!(
            program_in_command_line(quoted),
            PathBuf::from(r"C:\Program Files\aicfo\connector\AICFOConnector.exe")
        );
        assert_eq!(
            program_in_command_line(r"C:\aicfo\aicfo-server.exe service run"),
            PathBuf::from(r"C:\aicfo\aicfo-server.exe")
        );
    }

    #[test]
    fn only_the_connectors_account_may_change_its_program_folder() {
        let writes = program_grants(r"NT SERVICE\AICFOConnector", true);
        assert!(writes.contains(&r"NT SERVICE\AICFOConnector:(OI)(CI)M".to_string()));
        let reads = program_grants(r"NT SERVICE\AICFOAppliance", false);
        assert!(reads.contains(&r"NT SERVICE\AICFOAppliance:(OI)(CI)RX".to_string()));
        for grants in [writes, reads] {
            assert!(grants.contains(&"*S-1-5-32-545:(OI)(CI)RX".to_string()));
            // Users read and run, never more.
            let users: Vec<_> = grants.iter().filter(|g| g.starts_with(USERS)).collect();
            assert_eq!(users.len(), 1, "{grants:?}");
        }
    }

    #[test]
    fn standard_users_get_nothing_in_a_data_folder() {
        let grants = data_grants(r"NT SERVICE\AICFOConnector");
        assert_eq!(
            grants,
            [
                "*S-1-5-18:(OI)(CI)F",
                "*S-1-5-32-544:(OI)(CI)F",
                r"NT SERVICE\AICFOConnector:(OI)(CI)M"
            ]
        );
    }

    #[test]
    fn users_may_add_lock_files_but_no_folder_to_the_shared_folder_and_use_only_their_own() {
        let grants = shared_grants();
        let users: Vec<_> = grants.iter().filter(|g| g.starts_with(USERS)).collect();
        assert_eq!(users, ["*S-1-5-32-545:(RX,WD)"], "nothing on others' files");
        assert!(
            grants.contains(&"*S-1-3-0:(OI)(IO)M".to_string()),
            "{grants:?}"
        );
        assert!(!grants.iter().any(|g| g.contains("AD")), "{grants:?}");
    }

    #[test]
    fn windows_tools_run_from_system32_whatever_the_path_says() {
        let root = |r: &str| system_program(Some(OsStr::new(r)), "icacls.exe");
        let shown = |p: PathBuf| p.to_string_lossy().into_owned();
        assert_eq!(shown(root(r"D:\WINNT")), r"D:\WINNT\System32\icacls.exe");
        assert_eq!(
            shown(root(r"C:\Windows\")),
            r"C:\Windows\System32\icacls.exe"
        );
        let fallback = r"C:\Windows\System32\icacls.exe";
        for planted in ["", ".", r"tools", r"\\server\share", r"C:relative"] {
            assert_eq!(shown(root(planted)), fallback, "{planted:?}");
        }
        assert_eq!(
            shown(system_program(None, "sc.exe")),
            r"C:\Windows\System32\sc.exe"
        );
    }

    fn args(step: &Step) -> Vec<String> {
        match step {
            Step::Icacls(a) => a.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            Step::RefuseRedirectsInside => vec!["<check inside>".into()],
        }
    }

    #[test]
    fn a_folder_is_taken_over_before_what_is_inside_and_no_link_is_followed() {
        let dir = Path::new(r"C:\ProgramData\aicfo\connector");
        let steps = lock_down_steps(dir, &data_grants(r"NT SERVICE\AICFOConnector"));
        let shown: Vec<Vec<String>> = steps.iter().map(args).collect();
        let d = dir.display().to_string();
        assert_eq!(shown[0], [&d, "/setowner", "*S-1-5-32-544", "/L"]);
        assert_eq!(
            shown[1],
            [
                d.as_str(),
                "/inheritance:r",
                "/grant:r",
                "*S-1-5-18:(OI)(CI)F",
                "*S-1-5-32-544:(OI)(CI)F",
                r"NT SERVICE\AICFOConnector:(OI)(CI)M"
            ]
        );
        assert_eq!(shown[2], ["<check inside>"]);
        assert_eq!(shown[3], [&d, "/setowner", "*S-1-5-32-544", "/T", "/L"]);
        assert_eq!(shown[4], [&d, "/reset", "/T", "/L"]);
        assert_eq!(shown[5], shown[1]);
        assert_eq!(steps.last(), Some(&Step::RefuseRedirectsInside));
        for s in &shown {
            if s.len() > 1 {
                assert!(s.iter().any(|a| a == "/L") || s[1] == "/inheritance:r");
            }
        }
    }

    #[test]
    fn the_shared_folder_changes_owner_and_list_only() {
        let dir = Path::new(r"C:\ProgramData\aicfo");
        let shown: Vec<Vec<String>> = shared_steps(dir).iter().map(args).collect();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0][1..], ["/setowner", "*S-1-5-32-544", "/L"]);
        assert!(!shown.iter().flatten().any(|a| a == "/T"), "{shown:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_redirected_data_folder_or_parent_is_refused_and_a_real_one_is_not() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let aicfo = root.path().join("aicfo");
        std::fs::create_dir(&aicfo).unwrap();
        let data = aicfo.join("connector");
        // Not made yet: fine, it will be a real folder.
        refuse_redirects_on_the_way(root.path(), &data).unwrap();
        refuse_redirected_data_dir(&data).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &data).unwrap();
        let err = refuse_redirects_on_the_way(root.path(), &data).unwrap_err();
        assert!(err.contains("junction or symbolic link"), "{err}");
        assert!(refuse_redirected_data_dir(&data).is_err());
        std::fs::remove_file(&data).unwrap();
        std::fs::create_dir(&data).unwrap();
        refuse_redirected_data_dir(&data).unwrap();

        // The parent redirected: the data folder under it is refused too.
        let root2 = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root2.path().join("aicfo")).unwrap();
        let err = refuse_redirects_on_the_way(root2.path(), &root2.path().join("aicfo/appliance"))
            .unwrap_err();
        assert!(err.contains("aicfo is a junction"), "{err}");
    }

    #[test]
    fn settings_state_and_outbox_are_taken_unless_the_service_has_its_own() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::write(from.path().join("config.json"), "new").unwrap();
        std::fs::write(from.path().join("connector-state.json"), "enrolled").unwrap();
        std::fs::create_dir(from.path().join("outbox")).unwrap();
        std::fs::write(from.path().join("outbox/2025-04.json"), "books").unwrap();
        std::fs::write(to.path().join("config.json"), "the service's").unwrap();
        let files = ["config.json", "connector-state.json", "update-state.json"];
        let taken = take_missing(from.path(), to.path(), &files, &["outbox"]).unwrap();
        assert_eq!(taken, ["connector-state.json", "outbox"]);
        let read = |p: &str| std::fs::read_to_string(to.path().join(p)).unwrap();
        assert_eq!(read("config.json"), "the service's");
        assert_eq!(read("connector-state.json"), "enrolled");
        assert_eq!(read("outbox/2025-04.json"), "books");
        assert!(!to.path().join("update-state.json").exists());
        let again = take_missing(from.path(), to.path(), &files, &["outbox"]).unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_deep_inside_a_folder_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("outbox/rejected")).unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        refuse_redirects_inside(dir.path()).unwrap();
        let link = dir.path().join("outbox/rejected/old");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        let err = refuse_redirects_inside(dir.path()).unwrap_err();
        assert!(err.contains("rejected/old"), "{err}");
        refuse_redirects_inside(&dir.path().join("missing")).unwrap();
    }

    #[test]
    fn a_service_may_be_let_start_itself_again() {
        let shown =
            "\r\nNAME: AICFOConnector\r\nSERVICE SID: S-1-5-80-1-2-3-4-5\r\nSTATUS: Active\r\n";
        let sid = parse_service_sid(shown).unwrap();
        assert_eq!(sid, "S-1-5-80-1-2-3-4-5");
        assert_eq!(parse_service_sid("SERVICE SID: S-1-5-18"), None);
        let with_audit = "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCLCSWLOCRRC;;;IU)S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)";
        let changed = sddl_letting_itself_restart(with_audit, &sid).unwrap();
        assert_eq!(
            changed,
            "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCLCSWLOCRRC;;;IU)(A;;RPWPLCLORC;;;S-1-5-80-1-2-3-4-5)S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)"
        );
        assert_eq!(
            sddl_letting_itself_restart(&changed, &sid).unwrap(),
            changed
        );
        let plain = sddl_letting_itself_restart("D:(A;;CC;;;SY)\r\n", &sid).unwrap();
        assert_eq!(plain, "D:(A;;CC;;;SY)(A;;RPWPLCLORC;;;S-1-5-80-1-2-3-4-5)");
        assert_eq!(sddl_letting_itself_restart("", &sid), None);
    }
}
