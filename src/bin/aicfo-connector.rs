//! aicfo-connector (AICFOConnector.exe): reads Tally on this PC and delivers the books to the
//! aicfo appliance. Started with no arguments (double-clicked) it runs; see `--help`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use aicfo::connector::agent::{Agent, RunEnd, SyncReport, APP_VERSION};
use aicfo::connector::config::Config;
use aicfo::connector::enroll::enrol_if_needed;
use aicfo::connector::extract::choose_company;
use aicfo::connector::setup::{os_name, setup, SetupArgs};
use aicfo::connector::state::StateStore;
use aicfo::connector::update::{self, marker, restart};
use aicfo::connector::{logging, outbox::Outbox};
use aicfo::tally::TallyClient;

#[derive(Parser)]
#[command(
    name = "aicfo-connector",
    version,
    about = "Reads Tally on this PC and delivers the books to the aicfo appliance"
)]
struct Cli {
    /// Folder holding config.json, the state file, logs and the outbox [default: the program's folder]
    #[arg(long, global = true, env = "AICFO_CONNECTOR_HOME")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Sync on schedule and send heartbeats until stopped (the default)
    Run,
    /// Enrol this PC with the appliance (asks for what is not given)
    Setup(SetupFlags),
    /// One sync now; the exit code tells how it went (0 ok, 3 Tally, 4 appliance away, 5 setup needed)
    Once {
        /// Read everything even if Tally reports no change
        #[arg(long)]
        full: bool,
    },
    /// List the companies open in Tally
    Companies,
    /// Test Tally, the appliance and the credentials, and say what is wrong
    Check,
    /// Print the version
    Version,
    /// The Windows service: install, uninstall, start, stop or status (as administrator)
    Service {
        /// install, uninstall, start, stop or status
        action: String,
    },
    /// Check that config.json can be read and is complete (the updater runs this on a new version)
    SelfTest,
}

#[derive(Args)]
struct SetupFlags {
    /// The appliance's API address, e.g. http://aicfo-server:8000/api
    #[arg(long)]
    api_url: Option<String>,
    #[arg(long)]
    username: Option<String>,
    /// The password (prefer --password-stdin: a password on the command line can be seen by others)
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long)]
    password_stdin: bool,
    /// The company's id on the appliance
    #[arg(long)]
    company_id: Option<String>,
    /// The company's name in Tally, when several are open
    #[arg(long)]
    tally_company: Option<String>,
    /// Tally's address [default: http://localhost:9000]
    #[arg(long)]
    tally_url: Option<String>,
    /// The SHA-256 fingerprint of the appliance's certificate (an https:// appliance with a
    /// self-signed certificate); then no other certificate is accepted
    #[arg(long)]
    tls_cert_sha256: Option<String>,
    /// Never ask; fail naming what is missing
    #[arg(long)]
    non_interactive: bool,
}

fn home_dir(cli: &Option<PathBuf>) -> Result<PathBuf, String> {
    match cli {
        Some(h) => Ok(h.clone()),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find the program's folder: {e}"))?
            .parent()
            .map(|p| p.to_path_buf())
            .ok_or_else(|| "cannot find the program's folder".into()),
    }
}

/// Ctrl+C, closing the console window, a service stop (SIGTERM).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_close, ctrl_shutdown};
        match (ctrl_close(), ctrl_shutdown()) {
            (Ok(mut close), Ok(mut shutdown)) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = close.recv() => {}
                    _ = shutdown.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// The agent, after enrolling with the downloaded ZIP's code on the first start.
async fn agent(
    home: &std::path::Path,
) -> Result<(Arc<Agent>, flexi_logger::LoggerHandle), (u8, String)> {
    let cfg = Config::load(home, true).map_err(|e| (2, e.to_string()))?;
    let logger = logging::init(home, &cfg.log_level, true).map_err(|e| (1, e))?;
    if enrol_if_needed(home, &cfg)
        .await
        .map_err(|e| (e.exit_code, e.message))?
    {
        println!("This PC is now enrolled with the appliance.");
    }
    let agent = Agent::new(cfg, home.to_path_buf()).map_err(|e| (1, e))?;
    Ok((Arc::new(agent), logger))
}

async fn dispatch(cli: Cli) -> Result<u8, (u8, String)> {
    let home = home_dir(&cli.home).map_err(|e| (1, e))?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Version => {
            println!("aicfo-connector {APP_VERSION} ({})", os_name());
            println!(
                "release key: {}",
                aicfo::connector::RELEASE_VERIFYING_KEY.unwrap_or("none (a development build)")
            );
            Ok(0)
        }
        Command::Run => run(&home).await,
        Command::SelfTest => self_test(&home),
        Command::Once { full } => {
            let (agent, _logger) = agent(&home).await?;
            let stopped = stop_signal();
            tokio::select! {
                result = agent.sync_once("manual", full) => match result {
                    Ok(SyncReport::Queued { .. }) => Ok(4),
                    Ok(_) => Ok(0),
                    Err(e) => Ok(e.exit_code()),
                },
                _ = stopped => Err((1, "stopped before the sync finished".into())),
            }
        }
        Command::Setup(f) => {
            let password = if f.password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| (1, format!("cannot read the password: {e}")))?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                f.password
            };
            let args = SetupArgs {
                api_url: f.api_url,
                username: f.username,
                password,
                company_id: f.company_id,
                tally_company: f.tally_company,
                tally_url: f.tally_url,
                tls_cert_sha256: f.tls_cert_sha256,
                non_interactive: f.non_interactive || f.password_stdin,
            };
            setup(&home, args).await.map_err(|e| (1, e))?;
            Ok(0)
        }
        Command::Companies => {
            let cfg = match Config::load(&home, false) {
                Ok(c) => c,
                Err(e) if e.key.is_none() && e.problem.contains("does not exist") => {
                    Config::default()
                }
                Err(e) => return Err((2, e.to_string())),
            };
            let tally = TallyClient::new(&cfg.tally_url, Duration::from_secs(30))
                .map_err(|e| (3, e.to_string()))?;
            let open = tally.companies().await.map_err(|e| (3, e.to_string()))?;
            if open.is_empty() {
                println!("No company is open in Tally at {}.", cfg.tally_url);
            }
            for c in open {
                let date =
                    |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_else(|| "?".into());
                println!(
                    "{}    (books from {}, financial year from {})",
                    c.name,
                    date(c.books_from),
                    date(c.financial_year_from)
                );
            }
            Ok(0)
        }
        Command::Check => check(&home).await,
        Command::Service { .. } => Err((1, "`service` runs outside the agent".into())),
    }
}

/// `run`: the agent until stopped; after a self-update, the restart into the new program.
async fn run(home: &std::path::Path) -> Result<u8, (u8, String)> {
    let program =
        std::env::current_exe().map_err(|e| (1, format!("cannot find this program: {e}")))?;
    let store = update::record::RecordStore::new(home);
    let first_retry = update::first_retry_secs();
    if marker::on_start(&program, APP_VERSION, &store, first_retry) == marker::Start::RolledBack {
        eprintln!("Version {APP_VERSION} did not start properly; the previous version is back.");
        return restart_into(&program);
    }
    let (agent, _logger) = agent(home).await?;
    log::info!(
        "aicfo-connector {APP_VERSION} started in {}; syncing every {} min, heartbeat every {} s",
        home.display(),
        agent.cfg.sync_interval_minutes,
        agent.cfg.heartbeat_interval_seconds
    );
    match agent.run(stop_signal()).await {
        RunEnd::Stopped => {
            log::info!("stopped");
            Ok(0)
        }
        RunEnd::Updated(swapped) => {
            println!("Updated to version {}; restarting.", swapped.version);
            if restart::under_service() {
                return Ok(restart::SERVICE_RESTART_EXIT);
            }
            let watch =
                move || restart::supervise(&swapped.program, &swapped.version, &store, first_retry);
            tokio::task::spawn_blocking(watch)
                .await
                .map_err(|e| (1, format!("the restart stopped unexpectedly: {e}")))
        }
    }
}

/// The program at `program` (just put back) instead of this process.
fn restart_into(program: &std::path::Path) -> Result<u8, (u8, String)> {
    if restart::under_service() {
        return Ok(restart::SERVICE_RESTART_EXIT);
    }
    restart::relaunch(program).map(|_| 0).map_err(|e| {
        (
            1,
            format!("the previous version was put back but does not start: {e}"),
        )
    })
}

/// `self-test`: config.json is readable and complete. Exit 0 or 1, with one sentence.
fn self_test(home: &std::path::Path) -> Result<u8, (u8, String)> {
    match Config::load(home, true) {
        Ok(_) => {
            println!(
                "aicfo-connector {APP_VERSION}: self-test passed; {} is readable and complete.",
                Config::path(home).display()
            );
            Ok(0)
        }
        Err(e) => {
            println!("aicfo-connector {APP_VERSION}: self-test failed: {e}");
            Ok(1)
        }
    }
}

/// Each check on its own line, then what to do about the first problem.
async fn check(home: &std::path::Path) -> Result<u8, (u8, String)> {
    let mut problems = 0;
    let mut line = |ok: bool, what: &str, detail: String| {
        if !ok {
            problems += 1;
        }
        println!("{} {what}: {detail}", if ok { "[ ok ]" } else { "[FAIL]" });
    };
    let cfg = match Config::load(home, true) {
        Ok(c) => {
            line(
                true,
                "config.json",
                format!("{}", Config::path(home).display()),
            );
            c
        }
        Err(e) => {
            line(false, "config.json", e.to_string());
            return Ok(2);
        }
    };
    let tally = TallyClient::new(&cfg.tally_url, Duration::from_secs(20))
        .map_err(|e| (1, e.to_string()))?;
    match tally.product().await {
        Ok(p) => {
            line(true, "Tally", format!("{p} answers at {}", cfg.tally_url));
            match tally
                .companies()
                .await
                .map_err(|e| e.to_string())
                .and_then(|open| {
                    choose_company(&open, &cfg.tally_company).map_err(|e| e.to_string())
                }) {
                Ok(c) => line(true, "Tally company", format!("`{}` is open", c.name)),
                Err(e) => line(false, "Tally company", e),
            }
        }
        Err(e) => line(false, "Tally", e.to_string()),
    }
    let agent = Agent::new(cfg.clone(), home.to_path_buf()).map_err(|e| (1, e))?;
    match agent.appliance.health().await {
        Ok(()) => {
            line(true, "appliance", format!("answers at {}", cfg.api_url));
            match agent.heartbeat_once().await {
                Ok(_) => line(
                    true,
                    "credentials",
                    "the appliance accepts this connector".into(),
                ),
                Err(e) => line(false, "credentials", e.to_string()),
            }
        }
        Err(e) => line(false, "appliance", e.to_string()),
    }
    let waiting = Outbox::new(home).pending().map(|p| p.len()).unwrap_or(0);
    line(
        waiting == 0,
        "outbox",
        format!("{waiting} payload(s) waiting to be delivered"),
    );
    let state = StateStore::new(home).load();
    if let Some(last) = state.last_sync {
        println!(
            "       last sync: {} at {}{}",
            last.outcome,
            last.at,
            last.error.map(|e| format!(" ({e})")).unwrap_or_default()
        );
    }
    Ok(if problems == 0 { 0 } else { 1 })
}

/// The `--home` the service was installed with, for [`serve_as_service`].
#[cfg(windows)]
static SERVICE_HOME: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// `service ACTION`: before any runtime, as the service dispatcher takes over this thread.
fn service(action: &str, home: Option<&std::path::Path>) -> ExitCode {
    #[cfg(windows)]
    {
        let _ = SERVICE_HOME.set(home.map(std::path::Path::to_path_buf));
        match aicfo::connector::service::main(action, home, serve_as_service) {
            Ok(said) => {
                if !said.is_empty() {
                    println!("{said}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("aicfo-connector service {action}: {e}");
                ExitCode::FAILURE
            }
        }
    }
    #[cfg(not(windows))]
    {
        let _ = home;
        eprintln!("aicfo-connector service {action}: Windows services exist only on Windows; elsewhere run `aicfo-connector run` under the system's service manager with AICFO_UNDER_SERVICE=1");
        ExitCode::from(2)
    }
}

/// The agent's `run` under the Windows service manager, until it says stop; the exit code.
#[cfg(windows)]
fn serve_as_service(stop: aicfo::winservice::StopSignal) -> u32 {
    use aicfo::connector::service;
    let home = SERVICE_HOME.get().cloned().flatten();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return 1;
    };
    runtime.block_on(async {
        let home = match home_dir(&home) {
            Ok(h) => h,
            Err(_) => return 1,
        };
        let Ok(program) = std::env::current_exe() else {
            return 1;
        };
        let store = update::record::RecordStore::new(&home);
        if marker::on_start(&program, APP_VERSION, &store, update::first_retry_secs())
            == marker::Start::RolledBack
        {
            return service::restart_after_update(&program, &home);
        }
        match agent(&home).await {
            Ok((agent, _logger)) => {
                log::info!(
                    "aicfo-connector {APP_VERSION} started as the Windows service in {}",
                    home.display()
                );
                let end = agent
                    .run(async move {
                        let _ = stop.await;
                    })
                    .await;
                match end {
                    RunEnd::Stopped => {
                        log::info!("stopped by the service manager");
                        0
                    }
                    RunEnd::Updated(s) => service::restart_after_update(&s.program, &home),
                }
            }
            Err((code, message)) => {
                log::error!("{message}");
                u32::from(code)
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Service { action }) = &cli.command {
        return service(action, cli.home.as_deref());
    }
    let double_clicked = cli.command.is_none() && std::io::stdin().is_terminal();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aicfo-connector cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err((code, message)) => {
            log::error!("{message}");
            eprintln!("aicfo-connector: {message}");
            if double_clicked {
                // A window opened by a double-click would close before this could be read.
                eprintln!("Press Enter to close this window.");
                let _ = std::io::stdin().read_line(&mut String::new());
            }
            code
        }
    };
    ExitCode::from(code)
}
