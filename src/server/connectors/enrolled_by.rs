//! The connectors a user enrolled (`registered_by`: the user who signed the device in, or who
//! made the enrolment code it used). A password reset lists them: a reset usually follows a
//! suspected compromise, and whoever knew the old password may have enrolled a device with it.
//! They are not revoked by the reset (that would stop the firm's PCs); the admin decides.

use rusqlite::{params, Connection};

use crate::protocol::EnrolledConnector;
use crate::server::clock::rfc3339;
use crate::server::domain_error::DomainResult;

/// The user's connectors that still work (not revoked), newest enrolment first: a device the
/// user enrolled again counts from that enrolment, not from when it was first seen.
pub fn working(c: &Connection, user_id: i64) -> DomainResult<Vec<EnrolledConnector>> {
    let mut stmt = c.prepare(
        "SELECT k.id, k.company_id, co.name, k.device_id, k.device_name,
                COALESCE(k.registered_at, k.first_seen), k.first_seen, k.last_seen
         FROM connector_clients k JOIN companies co ON co.id = k.company_id
         WHERE k.registered_by = ?1 AND k.revoked_at IS NULL
         ORDER BY COALESCE(k.registered_at, k.first_seen) DESC, k.id",
    )?;
    let rows = stmt.query_map(params![user_id], |r| {
        Ok(EnrolledConnector {
            connector_id: r.get(0)?,
            company_id: r.get(1)?,
            company_name: r.get(2)?,
            device_id: r.get(3)?,
            device_name: r.get(4)?,
            enrolled_at: rfc3339(r.get(5)?),
            first_seen: rfc3339(r.get(6)?),
            last_seen: rfc3339(r.get(7)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
