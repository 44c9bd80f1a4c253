//! `setup`: enrol this PC with the appliance once. Asks for what it is not given (or, with
//! `--non-interactive`, says which flags are missing), logs in, picks the appliance company and
//! the Tally company, enrols, and writes config.json and the state file. The user's password is
//! used for the login only and never stored.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::agent::APP_VERSION;
use super::appliance::{Appliance, RetryPolicy};
use super::config::{normalise_api_url, Config};
use super::extract::choose_company;
use super::state::{write_atomically, State, StateStore};
use crate::protocol::{CompanySummary, ConnectorAuthRequest, ConnectorTokens};
use crate::tally::TallyClient;

#[derive(Debug, Clone, Default)]
pub struct SetupArgs {
    pub api_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub company_id: Option<String>,
    pub tally_company: Option<String>,
    pub tally_url: Option<String>,
    /// The appliance's certificate fingerprint, pinned in config.json (see `tls.rs`).
    pub tls_cert_sha256: Option<String>,
    pub non_interactive: bool,
}

/// config.json as setup will leave it, written before enrolling and renamed into place after.
const STAGED_CONFIG: &str = "config.json.setup";

fn ask(question: &str, default: Option<&str>) -> Result<String, String> {
    match default.filter(|d| !d.is_empty()) {
        Some(d) => print!("{question} [{d}]: "),
        None => print!("{question}: "),
    }
    std::io::stdout().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    let line = line.trim().to_string();
    Ok(if line.is_empty() {
        default.unwrap_or("").to_string()
    } else {
        line
    })
}

pub fn device_name() -> String {
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this PC".into())
}

pub fn os_name() -> String {
    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The connector's folder, created if need be and shown writable before anything is asked or
/// sent to the appliance.
fn prepare_home(home: &Path) -> Result<(), String> {
    std::fs::create_dir_all(home)
        .map_err(|e| format!("cannot create the folder {}: {e}", home.display()))?;
    for file in [
        Config::path(home),
        StateStore::new(home).path().to_path_buf(),
    ] {
        if file.exists() && !file.is_file() {
            return Err(format!("cannot write {}: it is not a file", file.display()));
        }
    }
    let probe = home.join(".setup-probe");
    std::fs::write(&probe, b"setup")
        .map_err(|e| format!("cannot write in the folder {}: {e}", home.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Enrols, then saves. Both files are written once before enrolling (config.json to a staging
/// file), so a folder that cannot hold the result fails with nothing registered at the
/// appliance; should saving still fail after enrolling, the enrolment is revoked again.
async fn enrol_and_save(
    home: &Path,
    appliance: &Appliance,
    store: &StateStore,
    state: &Mutex<State>,
    cfg: &Config,
    user_jwt: &str,
) -> Result<ConnectorTokens, String> {
    let staged = home.join(STAGED_CONFIG);
    let text = serde_json::to_string_pretty(cfg).map_err(|e| e.to_string())?;
    let snapshot = || state.lock().unwrap_or_else(|p| p.into_inner()).clone();
    write_atomically(&staged, text.as_bytes(), false)
        .map_err(|e| format!("cannot write {}: {e}", staged.display()))?;
    store
        .save(&snapshot())
        .map_err(|e| format!("cannot write {}: {e}", store.path().display()))?;
    let device_id = snapshot().device_id;
    let tokens = appliance
        .enrol(&ConnectorAuthRequest {
            company_id: cfg.company_id.clone(),
            device_id,
            device_name: Some(device_name()),
            os: Some(os_name()),
            app_version: Some(APP_VERSION.into()),
            user_jwt: user_jwt.to_string(),
        })
        .await
        .map_err(|e| format!("enrolment failed: {e}"))?;
    let saved = store
        .save(&snapshot())
        .map_err(|e| format!("cannot write {}: {e}", store.path().display()))
        .and_then(|()| {
            std::fs::rename(&staged, Config::path(home))
                .map_err(|e| format!("cannot write {}: {e}", Config::path(home).display()))
        });
    let Err(problem) = saved else {
        return Ok(tokens);
    };
    let _ = std::fs::remove_file(&staged);
    let id = &tokens.connector_id;
    Err(match appliance.revoke(user_jwt, id).await {
        Ok(_) => format!("{problem}; the enrolment was undone at the appliance"),
        Err(e) => format!("{problem}; connector {id} is enrolled but could not be revoked ({e}): ask an administrator to revoke it"),
    })
}

/// Says which flags are missing when setup cannot ask for them.
fn check_flags(args: &SetupArgs, cfg: &Config, interactive: bool) -> Result<(), String> {
    let missing: Vec<&str> = [
        (
            "--api-url",
            args.api_url.is_none() && cfg.api_url.is_empty(),
        ),
        ("--username", args.username.is_none()),
        ("--password (or --password-stdin)", args.password.is_none()),
    ]
    .into_iter()
    .filter_map(|(flag, missing)| missing.then_some(flag))
    .collect();
    if !interactive && !missing.is_empty() {
        return Err(format!(
            "setup needs {} when it cannot ask (non-interactive)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The appliance's address and Tally's, checked the same way config.json is checked.
fn addresses(cfg: &mut Config, args: &mut SetupArgs, interactive: bool) -> Result<(), String> {
    let api_url = match args.api_url.take() {
        Some(u) => u,
        None if !interactive => cfg.api_url.clone(),
        None => ask(
            "Appliance address (e.g. http://aicfo-server:8000/api)",
            Some(&cfg.api_url),
        )?,
    };
    cfg.api_url = normalise_api_url(&api_url);
    if let Some(t) = args.tally_url.take() {
        cfg.tally_url = t;
    }
    cfg.tls_cert_sha256 = pinned_fingerprint(cfg, args, interactive)?;
    let text = serde_json::to_string(&cfg).map_err(|e| e.to_string())?;
    let checked = Config::parse(&text, "setup", false).map_err(|e| e.to_string())?;
    cfg.tls_cert_sha256 = checked.tls_cert_sha256;
    Ok(())
}

/// The certificate fingerprint to pin: the one given, else (asked for an https:// appliance)
/// the one typed, else the one config.json has. Checked with the rest of config.json.
fn pinned_fingerprint(
    cfg: &Config,
    args: &mut SetupArgs,
    interactive: bool,
) -> Result<Option<String>, String> {
    if let Some(given) = args.tls_cert_sha256.take() {
        return Ok(Some(given).filter(|g| !g.trim().is_empty()));
    }
    if !interactive || !cfg.api_url.starts_with("https://") {
        return Ok(cfg.tls_cert_sha256.clone());
    }
    let typed = ask(
        "The appliance's certificate fingerprint (SHA-256, shown at its start and on /api/health/tls; empty for a certificate from a public authority)",
        cfg.tls_cert_sha256.as_deref(),
    )?;
    Ok(Some(typed).filter(|t| !t.trim().is_empty()))
}

/// The appliance company this PC's Tally holds: the one given, the user's only one, or asked.
fn choose_appliance_company(
    companies: &[CompanySummary],
    given: Option<String>,
    username: &str,
    interactive: bool,
) -> Result<String, String> {
    let list = || {
        companies
            .iter()
            .map(|c| format!("{} ({})", c.id, c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match given {
        Some(id) if companies.iter().any(|c| c.id == id) => Ok(id),
        Some(id) => Err(format!("`{id}` is not a company you may use on the appliance; yours: {}", list())),
        None => match companies {
            [] => Err(format!("user `{username}` has no company on the appliance; ask an administrator to assign one")),
            [only] => Ok(only.id.clone()),
            _ if interactive => {
                for (i, c) in companies.iter().enumerate() {
                    println!("  {}. {} ({})", i + 1, c.name, c.id);
                }
                let pick = ask("Which company does this PC's Tally hold? Number or id", None)?;
                pick.parse::<usize>()
                    .ok()
                    .and_then(|n| companies.get(n.wrapping_sub(1)))
                    .or_else(|| companies.iter().find(|c| c.id == pick))
                    .map(|c| c.id.clone())
                    .ok_or_else(|| format!("`{pick}` is not one of the companies listed"))
            }
            _ => Err(format!("choose the company with --company-id; yours: {}", list())),
        },
    }
}

/// The Tally company to read (empty: the only one open): checked now if Tally is running,
/// otherwise left for the first sync.
async fn choose_tally_company(
    tally_url: &str,
    wanted: String,
    interactive: bool,
) -> Result<String, String> {
    let tally = TallyClient::new(tally_url, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let open = match tally.companies().await {
        Ok(open) => open,
        Err(e) => {
            println!("Note: {e}");
            println!("Setup goes on; the connector will read Tally once it is running.");
            return Ok(wanted);
        }
    };
    match choose_company(&open, &wanted) {
        Ok(c) if open.len() > 1 || !wanted.is_empty() => Ok(c.name),
        Ok(_) => Ok(String::new()),
        Err(_) if interactive && open.len() > 1 => {
            for (i, c) in open.iter().enumerate() {
                println!("  {}. {}", i + 1, c.name);
            }
            let pick = ask(
                "Several companies are open in Tally. Which one should be read? Number",
                None,
            )?;
            pick.parse::<usize>()
                .ok()
                .and_then(|n| open.get(n.wrapping_sub(1)))
                .map(|c| c.name.clone())
                .ok_or_else(|| "that is not one of the companies listed".to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

pub async fn setup(home: &Path, mut args: SetupArgs) -> Result<(), String> {
    let interactive = !args.non_interactive && std::io::stdin().is_terminal();
    let mut cfg = Config::load(home, false).ok().unwrap_or_default();
    check_flags(&args, &cfg, interactive)?;
    prepare_home(home)?;
    addresses(&mut cfg, &mut args, interactive)?;
    let username = match args.username.take() {
        Some(u) => u,
        None => ask("Your appliance username", None)?,
    };
    let password = match args.password.take() {
        Some(p) => p,
        None => rpassword::prompt_password("Your appliance password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?,
    };

    let store = Arc::new(StateStore::new(home));
    let state = Arc::new(Mutex::new(store.load()));
    let policy = RetryPolicy {
        retries: 1,
        first_delay: Duration::from_secs(2),
    };
    let appliance = Appliance::new(
        &cfg.api_url,
        cfg.tls_cert_sha256.as_deref(),
        policy,
        None,
        state.clone(),
        store.clone(),
    );
    println!("Connecting to the appliance at {} ...", cfg.api_url);
    let login = appliance
        .login(&username, &password)
        .await
        .map_err(|e| format!("login failed: {e}"))?;
    let companies = appliance
        .companies(&login.token)
        .await
        .map_err(|e| e.to_string())?;
    let given = args
        .company_id
        .take()
        .or_else(|| Some(cfg.company_id.clone()).filter(|c| !c.is_empty()));
    cfg.company_id = choose_appliance_company(&companies, given, &username, interactive)?;
    let wanted = args
        .tally_company
        .take()
        .unwrap_or_else(|| cfg.tally_company.clone());
    cfg.tally_company = choose_tally_company(&cfg.tally_url, wanted, interactive).await?;
    // The pasted token of the manual flow is superseded by the enrolment.
    cfg.connector_token = String::new();

    let tokens = enrol_and_save(home, &appliance, &store, &state, &cfg, &login.token).await?;
    println!(
        "Enrolled as connector {} for company `{}`.",
        tokens.connector_id, cfg.company_id
    );
    if !cfg.tally_company.is_empty() {
        println!("Tally company to read: {}", cfg.tally_company);
    }
    println!("Settings saved in {}. Start the connector with `AICFOConnector.exe` (or run-connector.bat).", Config::path(home).display());
    Ok(())
}
