//! The appliance server. `aicfo-server --help` lists the commands; configuration is Rocket.toml
//! and the environment (see README.md).

fn main() -> std::process::ExitCode {
    aicfo::server::cli::main()
}
