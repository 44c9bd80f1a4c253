//! Password hashing (argon2id, PHC strings). Slow on purpose: call from a blocking context.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::server::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_LEN: usize = 8;

pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if password.len() > 1024 {
        return Err("a password may have at most 1024 bytes".into());
    }
    Ok(())
}

pub fn hash(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal("password hashing", e))
}

pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a password nobody has, verified when the username is unknown so that a wrong
/// username takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("no user has this password").unwrap_or_default())
}
