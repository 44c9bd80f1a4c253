//! Windows programs under Wine, for the tests that run the cross-built `.exe`s: a throwaway
//! prefix per test, the programs run through `tests/wine/run-under-wine.sh` (which puts the
//! test-only `ProcessPrng` shim beside them), and everything the prefix started (services
//! included) ended when the test is done.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A file packaging/build.sh or build-windows.sh leaves under dist/; fails naming the script.
pub fn dist(path: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("dist")
        .join(path);
    assert!(
        p.exists(),
        "{} is missing: run packaging/build.sh (or packaging/build-windows.sh) first",
        p.display()
    );
    p
}

/// One Wine prefix (a Windows installation of its own) for the life of a test.
pub struct Wine {
    prefix: tempfile::TempDir,
}

impl Default for Wine {
    fn default() -> Self {
        Self::new()
    }
}

impl Wine {
    /// A booted prefix whose Wine server stays up until the end of the test. Wine's service
    /// manager (services.exe) and the services it starts inherit the output of the process that
    /// booted the prefix: booted here with no output, not from a test's captured pipe that closes
    /// (a service printing into a closed pipe fails; on Windows a service has no output at all).
    pub fn new() -> Wine {
        let wine = Wine {
            prefix: tempfile::tempdir().unwrap(),
        };
        let quiet = |mut cmd: Command| {
            cmd.env("WINEPREFIX", wine.prefix())
                .env("WINEDEBUG", "-all")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap()
        };
        let mut server = Command::new("/usr/lib/wine/wineserver");
        server.arg("-p");
        quiet(server);
        let mut boot = Command::new("/usr/lib/wine/wine64");
        boot.args(["cmd", "/c", "exit"]);
        quiet(boot);
        wine
    }

    pub fn prefix(&self) -> &Path {
        self.prefix.path()
    }

    /// `C:\ProgramData` of this prefix, as a folder of this machine.
    pub fn program_data(&self) -> PathBuf {
        self.prefix().join("drive_c/ProgramData")
    }

    /// `program` (a `.exe` of this machine) with `args`, ready to run under this prefix.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wine/run-under-wine.sh"),
        );
        cmd.arg(program).args(args).env("WINEPREFIX", self.prefix());
        cmd
    }

    /// Runs `program` to the end.
    pub fn run(&self, program: &Path, args: &[&str]) -> Output {
        self.command(program, args).output().unwrap()
    }

    /// Runs `program` to the end on a blocking thread, so servers in this process keep serving.
    pub async fn run_async(&self, program: &Path, args: &[&str]) -> Output {
        let mut cmd = self.command(program, args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    /// One of Wine's own programs (`sc`, `icacls`, ...) in this prefix.
    pub fn builtin(&self, program: &str, args: &[&str]) -> Output {
        Command::new("/usr/lib/wine/wine64")
            .arg(program)
            .args(args)
            .env("WINEPREFIX", self.prefix())
            .env("WINEDEBUG", "-all")
            .output()
            .unwrap()
    }
}

impl Drop for Wine {
    /// Ends every process of the prefix: a service left running would keep it alive.
    fn drop(&mut self) {
        let _ = Command::new("/usr/lib/wine/wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix())
            .status();
    }
}
