//! Enrolment codes (`enrollment_codes`): the one-time code a company's downloaded connector ZIP
//! carries, so the PC enrols without anyone typing a password there. A code is random (160
//! bits), kept only as its SHA-256, works once, expires, and an administrator can revoke it.

use rusqlite::{params, Connection, OptionalExtension};

use super::clock::{now_ms, rfc3339};
use super::connectors::{self, refresh_token_digest, Enrolled};
use super::domain_error::{DomainError, DomainResult};
use super::problems::Problems;
use super::random::random_token;
use crate::protocol::text::ID_MAX_CHARS;
use crate::protocol::{ConnectorAuthRequest, EnrollRequest, EnrollmentCodeView};

/// 20 random bytes: 160 bits, beyond guessing.
const CODE_BYTES: usize = 20;

/// A code just made: the only time the code itself exists outside the ZIP.
pub struct IssuedCode {
    pub id: i64,
    pub code: String,
}

/// Makes a code for `company_id` on behalf of `user_id`, valid for `valid_ms`.
pub fn issue(
    c: &Connection,
    company_id: &str,
    user_id: i64,
    valid_ms: i64,
) -> DomainResult<IssuedCode> {
    let code = random_token(CODE_BYTES);
    let now = now_ms();
    c.execute(
        "INSERT INTO enrollment_codes (company_id, code_hash, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            company_id,
            refresh_token_digest(&code),
            user_id,
            now,
            now.saturating_add(valid_ms)
        ],
    )?;
    Ok(IssuedCode {
        id: c.last_insert_rowid(),
        code,
    })
}

fn invalid() -> DomainError {
    DomainError::unauthorized(
        "enrollment_code_invalid",
        "This enrolment code is not valid: it was already used, has expired, was revoked, or belongs to another company. Download a fresh connector ZIP from the appliance's page.",
    )
}

struct CodeRow {
    id: i64,
    company_id: String,
    created_by: Option<i64>,
}

/// The unused, unexpired, unrevoked code `code`, if there is one.
fn usable(c: &Connection, code: &str) -> DomainResult<Option<CodeRow>> {
    Ok(c.query_row(
        "SELECT id, company_id, created_by FROM enrollment_codes
         WHERE code_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
        params![refresh_token_digest(code), now_ms()],
        |r| {
            Ok(CodeRow {
                id: r.get(0)?,
                company_id: r.get(1)?,
                created_by: r.get(2)?,
            })
        },
    )
    .optional()?)
}

/// The fields an enrolment with a code needs.
pub fn check_request(req: &EnrollRequest) -> DomainResult<()> {
    let mut problems = Problems::new();
    problems.require_text("enrollmentCode", &req.enrollment_code, ID_MAX_CHARS);
    connectors::check_device(
        &mut problems,
        &req.device_id,
        [req.device_name.as_deref(), req.os.as_deref()],
        req.app_version.as_deref(),
    );
    problems.bound("companyId", req.company_id.as_deref(), ID_MAX_CHARS);
    problems.into_result("The enrolment request is incomplete or invalid.")
}

/// Spends the code: enrols the device for the code's company as the person who made the code,
/// and marks the code used by that connector. Returns the enrolment and its company.
pub fn redeem(c: &Connection, req: &EnrollRequest) -> DomainResult<(Enrolled, String)> {
    let row = usable(c, req.enrollment_code.trim())?.ok_or_else(invalid)?;
    if req
        .company_id
        .as_deref()
        .is_some_and(|named| !named.is_empty() && named != row.company_id)
    {
        return Err(invalid());
    }
    let maker = row.created_by.ok_or_else(invalid)?;
    let auth = ConnectorAuthRequest {
        company_id: row.company_id.clone(),
        device_id: req.device_id.clone(),
        device_name: req.device_name.clone(),
        os: req.os.clone(),
        app_version: req.app_version.clone(),
        user_jwt: String::new(),
    };
    let enrolled = connectors::enrol(c, &auth, maker)?;
    c.execute(
        "UPDATE enrollment_codes SET used_at = ?2, used_by_connector = ?3 WHERE id = ?1",
        params![row.id, now_ms(), enrolled.connector_id],
    )?;
    Ok((enrolled, row.company_id))
}

pub fn revoke(c: &Connection, id: i64) -> DomainResult<()> {
    let n = c.execute(
        "UPDATE enrollment_codes SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        params![id, now_ms()],
    )?;
    if n == 0 {
        return Err(DomainError::not_found(
            "enrollment_code_not_found",
            format!("There is no enrolment code {id}."),
        ));
    }
    Ok(())
}

/// Revokes every code `user_id` made that could still be used: after a password reset, whoever
/// knew the old password may have made them. Returns how many.
pub fn revoke_unused_made_by(c: &Connection, user_id: i64) -> DomainResult<usize> {
    let now = now_ms();
    Ok(c.execute(
        "UPDATE enrollment_codes SET revoked_at = ?2
         WHERE created_by = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
        params![user_id, now],
    )?)
}

fn view(r: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<EnrollmentCodeView> {
    let expires_at: i64 = r.get(4)?;
    let used_at: Option<i64> = r.get(5)?;
    let revoked_at: Option<i64> = r.get(7)?;
    let state = if used_at.is_some() {
        "used"
    } else if revoked_at.is_some() {
        "revoked"
    } else if expires_at <= now {
        "expired"
    } else {
        "unused"
    };
    Ok(EnrollmentCodeView {
        id: r.get(0)?,
        company_id: r.get(1)?,
        created_by: r.get(2)?,
        created_at: rfc3339(r.get(3)?),
        expires_at: rfc3339(expires_at),
        state: state.into(),
        used_at: used_at.map(rfc3339),
        used_by_connector: r.get(6)?,
        revoked_at: revoked_at.map(rfc3339),
    })
}

/// Every code, newest first, with who made it and what became of it.
pub fn list(c: &Connection) -> DomainResult<Vec<EnrollmentCodeView>> {
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT e.id, e.company_id, u.username, e.created_at, e.expires_at, e.used_at,
                e.used_by_connector, e.revoked_at
         FROM enrollment_codes e LEFT JOIN users u ON u.id = e.created_by
         ORDER BY e.created_at DESC, e.id DESC",
    )?;
    let rows = stmt
        .query_map([], |r| view(r, now))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
