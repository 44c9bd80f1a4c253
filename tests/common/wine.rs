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
        Wine::with_env(&[])
    }

    /// A booted prefix whose programs all see `env`, services included: Wine's service manager
    /// gives services the system environment of the registry (as Windows does), not its own.
    pub fn with_env(env: &[(&str, &str)]) -> Wine {
        let wine = Wine {
            prefix: tempfile::tempdir().unwrap(),
        };
        let quiet = |mut cmd: Command| {
            cmd.envs(env.iter().copied())
                .env("WINEPREFIX", wine.prefix())
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
        // A boot on a loaded machine has been seen to return without the prefix made (no
        // system32): boot again, a few times, before any test trips over it.
        let system32 = wine.prefix().join("drive_c/windows/system32");
        for _ in 0..3 {
            let mut boot = Command::new("/usr/lib/wine/wine64");
            boot.args(["cmd", "/c", "exit"]);
            quiet(boot);
            if system32.is_dir() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
        assert!(
            system32.is_dir(),
            "Wine booted no prefix in {}",
            wine.prefix().display()
        );
        for (name, value) in env {
            let key = r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment";
            let out = wine.builtin("reg", &["add", key, "/v", name, "/d", value, "/f"]);
            assert!(out.status.success(), "reg add {name}");
        }
        wine
    }

    /// The test-only `ProcessPrng` shim (see `tests/wine/run-under-wine.sh`) in the prefix's
    /// system folder, for programs that start from a folder without it beside them: a new
    /// version unpacked by the updater, the copy `self_replace` deletes the old program with.
    pub fn processprng_for_every_program(&self) {
        let dll = self
            .prefix()
            .join("drive_c/windows/system32/bcryptprimitives.dll");
        let shim = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wine/processprng-shim.c");
        let status = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-o"])
            .arg(&dll)
            .arg(&shim)
            .arg("-ladvapi32")
            .status()
            .unwrap();
        assert!(status.success(), "the ProcessPrng shim builds");
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

/// The Windows connector built as `version` with the release key `verifying_key` (hex) compiled
/// in, in build-windows.sh's target folder (its standard library and dependencies are built
/// there already, so only this crate compiles). Kept as `update-fixture/AICFOConnector-VERSION.exe`
/// in that folder and reused while it is newer than `than` (the build it stands beside) and
/// was made with the same key.
pub fn build_windows_connector(version: &str, verifying_key: &str, than: &Path) -> PathBuf {
    const TARGET: &str = "x86_64-pc-windows-gnu";
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let rustup = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == TARGET)
        });
    let target_dir = root.join(if rustup {
        "target-windows"
    } else {
        "target-windows-debian"
    });
    let dir = target_dir.join("update-fixture");
    let exe = dir.join(format!("AICFOConnector-{version}.exe"));
    let stamp = dir.join(format!("AICFOConnector-{version}.key"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = modified(&exe).is_some_and(|t| modified(than).is_some_and(|than| t > than))
        && std::fs::read_to_string(&stamp).is_ok_and(|k| k == verifying_key);
    if fresh {
        return exe;
    }
    let mut cargo = if rustup {
        Command::new("cargo")
    } else {
        let mut c = Command::new("/usr/bin/cargo");
        c.env("RUSTC", "/usr/bin/rustc").env("RUSTC_BOOTSTRAP", "1");
        c
    };
    cargo
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--no-default-features",
        ])
        .args([
            "--features",
            "connector",
            "--bin",
            "aicfo-connector",
            "--target-dir",
        ])
        .arg(&target_dir)
        .env(
            "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER",
            "x86_64-w64-mingw32-gcc",
        )
        .env("AICFO_CONNECTOR_VERSION", version)
        .env("AICFO_VERIFYING_KEY", verifying_key);
    if !rustup {
        cargo.arg("-Zbuild-std=std,panic_abort");
    }
    assert!(
        cargo.status().unwrap().success(),
        "the Windows connector {version} builds"
    );
    std::fs::create_dir_all(&dir).unwrap();
    let built = target_dir.join(TARGET).join("release/aicfo-connector.exe");
    let status = Command::new("x86_64-w64-mingw32-strip")
        .arg("-o")
        .arg(&exe)
        .arg(&built)
        .status()
        .unwrap();
    assert!(status.success(), "strip {}", built.display());
    std::fs::write(&stamp, verifying_key).unwrap();
    exe
}
