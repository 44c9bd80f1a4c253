//! The appliance server. Configuration: Rocket.toml and the environment (see README.md).

use rocket::fairing::AdHoc;

fn say_which_settings() -> Result<(), String> {
    match aicfo::server::config::settings_file()? {
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

#[rocket::main]
async fn main() {
    prepare_process();
    let rocket =
        say_which_settings().and_then(|()| aicfo::server::build(aicfo::server::config::figment()));
    let rocket = match rocket {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aicfo-server cannot start: {e}");
            std::process::exit(1);
        }
    };
    let rocket = rocket.attach(AdHoc::on_liftoff("listening address", |r| {
        let at = std::net::SocketAddr::new(r.config().address, r.config().port);
        println!("aicfo-server listening on http://{at}");
        Box::pin(async {})
    }));
    if let Err(e) = rocket.launch().await {
        eprintln!("aicfo-server stopped: {e}");
        std::process::exit(1);
    }
}
