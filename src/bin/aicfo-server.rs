//! The appliance server. Configuration: Rocket.toml and the environment (see README.md).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use aicfo::server::config::{self, AppConfig};
use aicfo::server::domain_error::cause_chain;
use aicfo::server::listener::{self, Front, Timeouts};
use aicfo::server::StartError;
use rocket::fairing::AdHoc;
use rocket::{Build, Rocket};

/// What the process sets up for itself before anything else: owner-only files, and as many open
/// connections as the system allows it.
fn prepare_process() {
    aicfo::server::fs_perms::create_owner_only();
    match aicfo::server::open_files::raise_to_hard_limit() {
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

/// Binds the public address with the slow-client front, and builds Rocket behind it.
async fn assemble() -> Result<Rocket<Build>, StartError> {
    say_which_settings()?;
    let figment = config::figment();
    let cfg = AppConfig::from_figment(&figment)?;
    let public: rocket::Config = figment
        .extract()
        .map_err(|e| StartError::because("the configuration is invalid", e))?;
    let timeouts = Timeouts {
        header: Duration::from_secs(cfg.header_timeout_secs),
        idle: Duration::from_secs(cfg.idle_timeout_secs),
    };
    let front = Front::bind(SocketAddr::new(public.address, public.port), timeouts).await?;
    let peers = front.peers();
    let front = Mutex::new(Some(front));
    let rocket = aicfo::server::build(listener::behind_front(figment))?
        .manage(peers)
        .attach(AdHoc::on_liftoff("listener front", move |r| {
            let backend = SocketAddr::new(r.config().address, r.config().port);
            if let Some(front) = front.lock().ok().and_then(|mut f| f.take()) {
                if let Some(at) = front.local_addr() {
                    println!("aicfo-server listening on http://{at}");
                }
                front.spawn(backend);
            }
            Box::pin(async {})
        }));
    Ok(rocket)
}

/// Serves until Ctrl+C, SIGTERM or, under the Windows service manager, `stop`; the exit code.
async fn serve(stop: Option<tokio::sync::oneshot::Receiver<()>>) -> i32 {
    prepare_process();
    let mut rocket = match assemble().await {
        Ok(r) => r,
        Err(e) => {
            // Rocket's logger does not exist yet: the console is the only place to say why.
            eprintln!("aicfo-server cannot start: {}", cause_chain(&e));
            return 1;
        }
    };
    if let Some(stop) = stop {
        rocket = rocket.attach(AdHoc::on_liftoff("service stop", |r| {
            let shutdown = r.shutdown();
            tokio::spawn(async move {
                let _ = stop.await;
                shutdown.notify();
            });
            Box::pin(async {})
        }));
    }
    if let Err(e) = rocket.launch().await {
        eprintln!("aicfo-server stopped: {e}");
        return 1;
    }
    0
}

/// `aicfo-server service install|uninstall|start|stop|status` (Windows); the service itself is
/// started as `service run DATA_DIR`.
fn service(action: &str, data: Option<String>) -> i32 {
    #[cfg(windows)]
    {
        let data = data.map(std::path::PathBuf::from);
        let until_stopped: aicfo::winservice::Serve =
            |stop| rocket::execute(serve(Some(stop))).unsigned_abs();
        match aicfo::server::winservice::main(action, data, until_stopped) {
            Ok(said) => {
                if !said.is_empty() {
                    println!("{said}");
                }
                0
            }
            Err(e) => {
                eprintln!("aicfo-server service {action}: {e}");
                1
            }
        }
    }
    #[cfg(not(windows))]
    {
        let _ = data;
        eprintln!("aicfo-server service {action}: Windows services exist only on Windows");
        2
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("service") {
        std::process::exit(service(&args.next().unwrap_or_default(), args.next()));
    }
    std::process::exit(rocket::execute(serve(None)));
}
