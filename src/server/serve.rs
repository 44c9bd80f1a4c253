//! `aicfo-server serve`: logs, the listening front, and Rocket behind it, until Ctrl+C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use flexi_logger::LoggerHandle;
use rocket::fairing::AdHoc;
use rocket::{Build, Rocket};

use super::config::{self, AppConfig};
use super::domain_error::cause_chain;
use super::listener::{self, Front, Limits, Timeouts};
use super::tls::{ServerTls, TlsStatus};
use super::{logging, StartError};

/// Serves until stopped. Start-up problems are one line on stderr and exit status 1.
pub fn run() -> ExitCode {
    run_until(None)
}

/// Serves until Ctrl+C, SIGTERM or, under the Windows service manager, its stop signal.
pub fn run_until(stop: Option<tokio::sync::oneshot::Receiver<()>>) -> ExitCode {
    raise_open_file_limit();
    rocket::execute(async {
        let (rocket, _logs) = match assemble().await {
            Ok(r) => r,
            Err(e) => {
                // The log may not exist yet: the console is the one place sure to be seen.
                eprintln!("aicfo-server cannot start: {}", cause_chain(&e));
                return ExitCode::FAILURE;
            }
        };
        let rocket = match rocket.ignite().await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("aicfo-server cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        stop_when_asked(rocket.shutdown(), stop);
        match rocket.launch().await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("aicfo-server stopped: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Shuts down cleanly on Ctrl+C, SIGTERM or the service manager's stop. Rocket listens for the
/// signals itself only once it serves, after it has printed that it launched; a stop that came in
/// between (a service manager, a test) would kill the process outright. Listening from before
/// the launch closes that gap.
fn stop_when_asked(shutdown: rocket::Shutdown, stop: Option<tokio::sync::oneshot::Receiver<()>>) {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::spawn(async move {
        let service_stop = async {
            match stop {
                Some(stop) => {
                    let _ = stop.await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        let sigterm = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let sigterm = std::future::pending::<()>();
        // A process without a console may not get a Ctrl+C handler: then it waits on the rest.
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = sigterm => {}
            _ = service_stop => {}
        }
        shutdown.notify();
    });
}

/// As many open connections as the system allows this process.
fn raise_open_file_limit() {
    match super::open_files::raise_to_hard_limit() {
        Ok(Some((from, to))) => {
            println!("aicfo-server: open-file limit raised from {from} to {to}")
        }
        Ok(None) => {}
        Err(e) => println!("aicfo-server: {e}"),
    }
}

fn say_which_settings() -> Result<(), StartError> {
    match config::settings_file()? {
        Some(file) => println!(
            "aicfo-server: settings from {} over the built-in defaults",
            file.display()
        ),
        None => println!(
            "aicfo-server: no Rocket.toml in {}; using the built-in defaults",
            std::env::current_dir().unwrap_or_default().display()
        ),
    }
    Ok(())
}

/// Starts the logs, binds the public address with the slow-client front, and builds Rocket
/// behind it. The logger handle must live as long as the server.
async fn assemble() -> Result<(Rocket<Build>, LoggerHandle), StartError> {
    say_which_settings()?;
    let figment = config::figment();
    let cfg = AppConfig::from_figment(&figment)?;
    let public: rocket::Config = figment
        .extract()
        .map_err(|e| StartError::because("the configuration is invalid", e))?;
    super::prepare_data_dir(&cfg.data_dir)?;
    let logs = logging::init(&cfg.data_dir, public.log_level, cfg.log_rotate_bytes)?;
    let timeouts = Timeouts {
        header: Duration::from_secs(cfg.header_timeout_secs),
        idle: Duration::from_secs(cfg.idle_timeout_secs),
    };
    let limits = Limits::for_open_files(super::open_files::current_limit());
    let at = SocketAddr::new(public.address, public.port);
    let front = Front::bind(at, timeouts, limits).await?;
    let peers = front.peers();
    let rocket = super::build(listener::behind_front(figment))?;
    // After `build`, which prepares the data folder an `auto` certificate is kept in.
    let tls = ServerTls::load(&cfg, public.address)?;
    let front = Mutex::new(Some(front.serving(tls.as_ref())));
    let rocket = rocket
        .manage(peers)
        .manage(TlsStatus::of(tls.as_ref()))
        .attach(AdHoc::on_liftoff("listener front", move |r| {
            let backend = SocketAddr::new(r.config().address, r.config().port);
            if let Some(front) = front.lock().ok().and_then(|mut f| f.take()) {
                if let Some(at) = front.local_addr() {
                    println!("aicfo-server listening on {}://{at}", front.scheme());
                }
                front.spawn(backend);
            }
            Box::pin(async {})
        }));
    Ok((rocket, logs))
}
