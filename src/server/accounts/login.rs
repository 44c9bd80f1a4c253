//! `POST /api/auth/login`: checking a username and password under the brakes on guessing.
//! Over-long input is refused before anything is looked up, counted or hashed; an attempt is
//! counted (per username and address) before its password is checked; checks wait their turn at
//! the password gate, so a burst of logins cannot exhaust the machine.

use super::{disabled_error, find_with_hash, User};
use crate::server::auth::passwords::{self, PasswordGate};
use crate::server::auth::throttle::{LoginThrottle, Refused};
use crate::server::db::Db;
use crate::server::domain_error::{DomainError, DomainResult};

/// What a login is checked against: the accounts, the throttle, the gate.
pub struct LoginChecks<'a> {
    pub db: &'a Db,
    pub throttle: &'a LoginThrottle,
    pub gate: &'a PasswordGate,
}

/// Nobody has a longer username or password, so nothing longer is looked up, hashed or counted.
fn check_lengths(username: &str, password: &str) -> DomainResult<()> {
    if username.len() > passwords::MAX_USERNAME_BYTES {
        return Err(DomainError::invalid_field(
            "username",
            format!(
                "a username has at most {} bytes",
                passwords::MAX_USERNAME_BYTES
            ),
        ));
    }
    if password.len() > passwords::MAX_PASSWORD_BYTES {
        return Err(DomainError::invalid_field(
            "password",
            format!(
                "a password has at most {} bytes",
                passwords::MAX_PASSWORD_BYTES
            ),
        ));
    }
    Ok(())
}

fn wrong_credentials() -> DomainError {
    DomainError::unauthorized("invalid_credentials", "The username or password is wrong.")
}

fn throttled(refused: Refused) -> DomainError {
    let wait = refused.wait_secs();
    let message = match refused {
        Refused::Pair { .. } => format!(
            "Too many failed logins for this user from this address; try again in {wait} s."
        ),
        Refused::Address { .. } => format!(
            "Too many failed logins from this address; try again in {wait} s. \
             Users who have signed in from here before can still sign in."
        ),
    };
    DomainError::too_many(message, wait)
}

/// The user with this username and password, if both are right; `address` is the caller's, for
/// the throttle. An unknown username is checked against a dummy hash, so a wrong username takes
/// as long as a wrong password.
pub async fn authenticate(
    checks: LoginChecks<'_>,
    username: &str,
    password: String,
    address: Option<&str>,
) -> DomainResult<User> {
    check_lengths(username, &password)?;
    // Counted before the password is checked, so concurrent guesses cannot outrun the count.
    let attempt = checks
        .throttle
        .begin(username, address)
        .map_err(throttled)?;
    let result = check_password(&checks, username, password).await;
    match &result {
        Ok(Some(_)) => checks.throttle.succeeded(attempt),
        Ok(None) => checks.throttle.failed(attempt),
        Err(_) => checks.throttle.not_checked(attempt),
    }
    let (user, disabled) = result?.ok_or_else(wrong_credentials)?;
    // Said only to someone who knows the password, so it tells a guesser nothing.
    if disabled {
        return Err(disabled_error());
    }
    Ok(user)
}

/// The user and whether the account is disabled, or `Ok(None)` for a wrong username or
/// password; an error when no check could be made (the gate stayed full, or the database or the
/// check itself failed).
async fn check_password(
    checks: &LoginChecks<'_>,
    username: &str,
    password: String,
) -> DomainResult<Option<(User, bool)>> {
    let lookup = username.to_string();
    let found = checks.db.read(move |c| find_with_hash(c, &lookup)).await?;
    let hash = found
        .as_ref()
        .map(|account| account.hash.clone())
        .unwrap_or_else(|| passwords::dummy_hash().to_string());
    let right = checks
        .gate
        .verify(password, hash)
        .await
        .map_err(|_busy| {
            DomainError::too_many(
                "The appliance is busy checking other logins; try again in a moment.",
                1,
            )
        })?
        .map_err(|e| DomainError::internal("password check", e))?;
    Ok(found
        .filter(|_| right)
        .map(|account| (account.user, account.disabled)))
}
