//! aicfo-release: the signing step of packaging/build.sh.
//!
//!   aicfo-release keygen DIR          writes DIR/signing.key (secret) and DIR/verifying.key (hex)
//!   aicfo-release public-key KEYFILE  prints the verifying key in hex
//!   aicfo-release sign KEYFILE ZIP... signs each archive in place for its own file name
//!   aicfo-release verify HEXKEY ZIP   exits 0 when the archive verifies

use std::path::Path;
use std::process::ExitCode;

use aicfo::signing;

fn keygen(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pair = signing::generate_keypair();
    let secret = dir.join("signing.key");
    write_private(&secret, &pair)?;
    let key = signing::read_signing_key(&secret)?;
    let public = dir.join("verifying.key");
    std::fs::write(&public, signing::verifying_key_hex(&key))
        .map_err(|e| format!("{}: {e}", public.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, dir] if cmd == "keygen" => keygen(Path::new(dir)),
        [cmd, key] if cmd == "public-key" => {
            let key = signing::read_signing_key(Path::new(key))?;
            println!("{}", signing::verifying_key_hex(&key));
            Ok(())
        }
        [cmd, key, archives @ ..] if cmd == "sign" && !archives.is_empty() => {
            let key = signing::read_signing_key(Path::new(key))?;
            archives
                .iter()
                .try_for_each(|a| signing::sign_file(Path::new(a), &key))
        }
        [cmd, key, archive] if cmd == "verify" => {
            let key = signing::parse_verifying_key(key)?;
            let path = Path::new(archive);
            let bytes = std::fs::read(path).map_err(|e| format!("{archive}: {e}"))?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(archive);
            signing::verify(&bytes, name, &key)
        }
        _ => Err("usage: aicfo-release keygen DIR | public-key KEYFILE | sign KEYFILE ZIP... | verify HEXKEY ZIP".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aicfo-release: {e}");
            ExitCode::FAILURE
        }
    }
}
