//! The appliance server. Configuration: Rocket.toml and the environment (see README.md).

use aicfo::server::domain_error::cause_chain;

#[rocket::main]
async fn main() {
    let rocket = match aicfo::server::build(aicfo::server::config::figment()) {
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
