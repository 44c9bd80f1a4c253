//! An archive is installed only if it is exactly what the appliance announced (size, SHA-256)
//! and signed by the release key compiled into this program, for its own file name (zipsign's
//! context), so an archive renamed to pass for another version fails too.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::protocol::UpdateInstruction;

fn sha256_hex(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Every check, in order of cost; the first that fails says what is wrong.
pub fn verify(archive: &Path, ins: &UpdateInstruction, key_hex: &str) -> Result<(), String> {
    let size = std::fs::metadata(archive)
        .map_err(|e| format!("cannot read the downloaded {}: {e}", ins.file))?
        .len();
    if size != ins.size {
        return Err(format!(
            "the downloaded {} is {size} bytes; the appliance announced {}.",
            ins.file, ins.size
        ));
    }
    let sha =
        sha256_hex(archive).map_err(|e| format!("cannot read the downloaded {}: {e}", ins.file))?;
    if !sha.eq_ignore_ascii_case(ins.sha256.trim()) {
        return Err(format!(
            "the downloaded {} has SHA-256 {sha}; the appliance announced {}.",
            ins.file, ins.sha256
        ));
    }
    let key = crate::signing::parse_verifying_key(key_hex)
        .map_err(|e| format!("this connector's release key is unusable ({e})."))?;
    let mut file = std::fs::File::open(archive)
        .map_err(|e| format!("cannot read the downloaded {}: {e}", ins.file))?;
    zipsign_api::verify::verify_zip(
        &mut file,
        std::slice::from_ref(&key),
        Some(ins.file.as_bytes()),
    )
    .map(|_| ())
    .map_err(|e| {
        format!(
            "{} is not signed by this connector's release key ({e}); it was not installed.",
            ins.file
        )
    })
}
