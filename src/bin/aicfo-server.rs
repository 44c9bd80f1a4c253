//! The appliance server. Configuration: Rocket.toml and the environment (see README.md).

#[rocket::main]
async fn main() {
    let rocket = match aicfo::server::build(aicfo::server::config::figment()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aicfo-server cannot start: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rocket.launch().await {
        eprintln!("aicfo-server stopped: {e}");
        std::process::exit(1);
    }
}
