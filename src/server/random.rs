//! Unguessable text for secrets and refresh tokens.

use base64::Engine;
use rand::RngCore;

/// `bytes` random bytes from the OS, as URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
