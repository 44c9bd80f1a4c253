//! What the benchmarks that measure the real server binary share: starting it, and reading its
//! memory.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The real aicfo-server on a free loopback port, saying on stdout where it listens (normal log
/// level, no colours); the caller adds its data folder and settings.
pub fn aicfo_server() -> Command {
    let mut server = Command::new(env!("CARGO_BIN_EXE_aicfo-server"));
    server
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_LOG_LEVEL", "normal")
        .env("ROCKET_CLI_COLORS", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    server
}

/// Starts `server` and waits for the address it says it listens on. Its further output is read
/// and dropped, so that a full pipe never holds the server up mid-measurement.
pub fn spawn_listening(server: &mut Command) -> (Child, String) {
    let mut child = server.spawn().expect("aicfo-server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("server output").expect("server output");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// (current, peak) resident memory of process `pid` in MB, from /proc (0 where unknown).
pub fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
