//! Release archives signed with zipsign: ed25519ph over the archive, the signature stored in
//! front of the ZIP (which stays a readable ZIP), the context being the archive's file name, so
//! an archive verifies only under the name it was signed as. This is the scheme `self_update`'s
//! `signatures` feature checks.

use std::io::Cursor;
use std::path::Path;

use rand::RngCore;
use zipsign_api::{SigningKey, VerifyingKey, KEYPAIR_LENGTH, PUBLIC_KEY_LENGTH};

/// A new key pair in zipsign's key file form (secret then public key, 64 bytes).
pub fn generate_keypair() -> [u8; KEYPAIR_LENGTH] {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    SigningKey::from_bytes(&secret).to_keypair_bytes()
}

pub fn read_signing_key(path: &Path) -> Result<SigningKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let pair: [u8; KEYPAIR_LENGTH] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "{}: a zipsign key file holds {KEYPAIR_LENGTH} bytes; this one has {}",
            path.display(),
            bytes.len()
        )
    })?;
    SigningKey::from_keypair_bytes(&pair).map_err(|e| format!("{}: {e}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The verifying key as 64 hex digits (how the connector's build receives it).
pub fn verifying_key_hex(key: &SigningKey) -> String {
    hex(key.verifying_key().as_bytes())
}

pub fn parse_verifying_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<_>>()
        .ok_or("the verifying key must be hex digits")?;
    let bytes: [u8; PUBLIC_KEY_LENGTH] = bytes
        .try_into()
        .map_err(|_| format!("the verifying key must be {PUBLIC_KEY_LENGTH} bytes"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("the verifying key: {e}"))
}

/// The archive's bytes signed for the file name `name`.
pub fn sign(archive: &[u8], name: &str, key: &SigningKey) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::with_capacity(archive.len() + 1024));
    zipsign_api::sign::copy_and_sign_zip(
        &mut Cursor::new(archive),
        &mut out,
        std::slice::from_ref(key),
        Some(name.as_bytes()),
    )
    .map_err(|e| format!("signing {name}: {e}"))?;
    Ok(out.into_inner())
}

/// Signs the archive at `path` in place, for its own file name.
pub fn sign_file(path: &Path, key: &SigningKey) -> Result<(), String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: no file name", path.display()))?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let signed = sign(&bytes, name, key)?;
    std::fs::write(path, signed).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether `archive`, served as `name`, carries a valid signature by `key`.
pub fn verify(archive: &[u8], name: &str, key: &VerifyingKey) -> Result<(), String> {
    zipsign_api::verify::verify_zip(
        &mut Cursor::new(archive),
        std::slice::from_ref(key),
        Some(name.as_bytes()),
    )
    .map(|_| ())
    .map_err(|e| format!("{name}: the signature does not verify: {e}"))
}
