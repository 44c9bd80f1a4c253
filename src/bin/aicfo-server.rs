//! The appliance server. Configuration: Rocket.toml and the environment (see README.md).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use aicfo::server::config::{self, AppConfig};
use aicfo::server::domain_error::cause_chain;
use aicfo::server::listener::{self, Front, Timeouts};
use aicfo::server::tls::{ServerTls, TlsStatus};
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
    let rocket = aicfo::server::build(listener::behind_front(figment))?;
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
    Ok(rocket)
}

#[rocket::main]
async fn main() {
    prepare_process();
    let rocket = match assemble().await {
        Ok(r) => r,
        Err(e) => {
            // Rocket's logger does not exist yet: the console is the only place to say why.
            eprintln!("aicfo-server cannot start: {}", cause_chain(&e));
            std::process::exit(1);
        }
    };
    if let Err(e) = rocket.launch().await {
        eprintln!("aicfo-server stopped: {e}");
        std::process::exit(1);
    }
}
