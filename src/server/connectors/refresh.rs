//! Refresh-token rotation. Each enrolment starts a chain of refresh tokens; each refresh swaps
//! the presented token for the next one. A token presented a second time means two parties hold
//! the chain (one of them stole it): the whole chain is revoked, its newest token included, and
//! the device must be set up again.

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::standing::Standing;
use crate::server::clock::now_ms;
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::random::random_token;

/// Refresh tokens are random; only this digest of one is stored.
pub fn refresh_token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A connector after a refresh: who it is and its next refresh token.
pub struct Refreshed {
    pub connector_id: String,
    pub company_id: String,
    pub generation: i64,
    pub refresh_token: String,
}

/// What a refresh came to. A stolen chain is an `Ok` outcome, not an error: its revocation
/// must be committed, and an error would roll it back.
pub enum Rotation {
    Rotated(Refreshed),
    ChainRevoked {
        connector_id: String,
        standing: Standing,
    },
}

/// Used refresh tokens are remembered this long; past it a reused token is only refused.
const REMEMBER_USED_MS: i64 = 90 * 24 * 3600 * 1000;

pub fn rotate(c: &Connection, token: &str) -> DomainResult<Rotation> {
    let digest = refresh_token_digest(token);
    let row: Option<(String, String, i64, bool)> = c
        .query_row(
            "SELECT id, company_id, token_generation, revoked_at IS NOT NULL
             FROM connector_clients WHERE refresh_token_hash = ?1",
            [&digest],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((connector_id, company_id, generation, revoked)) = row else {
        return reused(c, &digest);
    };
    if revoked {
        return Err(revoked_error());
    }
    let refresh_token = random_token(32);
    let now = now_ms();
    c.execute(
        "UPDATE connector_clients SET refresh_token_hash = ?2, last_seen = ?3 WHERE id = ?1",
        params![connector_id, refresh_token_digest(&refresh_token), now],
    )?;
    c.execute(
        "INSERT OR IGNORE INTO connector_refresh_used (digest, connector_id, generation, used_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![digest, connector_id, generation, now],
    )?;
    c.execute(
        "DELETE FROM connector_refresh_used WHERE connector_id = ?1 AND used_at < ?2",
        params![connector_id, now - REMEMBER_USED_MS],
    )?;
    Ok(Rotation::Rotated(Refreshed {
        connector_id,
        company_id,
        generation,
        refresh_token,
    }))
}

/// A token that is no connector's current one: if it was one of a live chain, that chain is
/// stolen and revoked; otherwise it is simply not valid.
fn reused(c: &Connection, digest: &str) -> DomainResult<Rotation> {
    let live: Option<(String, i64)> = c
        .query_row(
            "SELECT u.connector_id, u.generation FROM connector_refresh_used u
             JOIN connector_clients k ON k.id = u.connector_id
             WHERE u.digest = ?1 AND u.generation = k.token_generation AND k.revoked_at IS NULL",
            [digest],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((connector_id, generation)) = live else {
        return Err(DomainError::unauthorized(
            "invalid_refresh_token",
            "This refresh token is not valid (it was already used, or the connector was enrolled again); run setup again.",
        ));
    };
    let next = generation + 1;
    c.execute(
        "UPDATE connector_clients SET token_generation = ?2, refresh_token_hash = NULL WHERE id = ?1",
        params![connector_id, next],
    )?;
    log::warn!(
        "connector {connector_id}: a refresh token was used twice; its token chain is revoked \
         and the device must be set up again"
    );
    Ok(Rotation::ChainRevoked {
        connector_id,
        standing: Standing {
            generation: next,
            revoked: false,
        },
    })
}

/// The refusal for a reused refresh token, once its chain is revoked.
pub fn reused_error() -> DomainError {
    DomainError::unauthorized(
        "refresh_token_reused",
        "This refresh token was already used once, so it may have been copied: every token of \
         this connector is revoked; run the connector's setup again.",
    )
}

pub fn revoked_error() -> DomainError {
    DomainError::unauthorized(
        "connector_revoked",
        "An administrator revoked this connector; an administrator must restore it before it \
         works again.",
    )
}
