//! What a restore must not bring back. The database goes back to the backup's day but the
//! signing secrets stay, so without this a user token superseded since (password reset, user
//! disabled), or an enrolment code used since, would work again. The restored copy is changed
//! before it is put in place, so the server never serves it unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::BackupError;
use crate::server::clock::now_ms;

/// What the guard changed in the restored copy, and what it could not.
#[derive(Debug, Default)]
pub struct Secured {
    pub codes_revoked: usize,
    pub revocations_undone: Vec<(String, String)>,
}

/// Ends every user's sessions and revokes every unused enrolment code in `restored`, in one
/// transaction; compares connector revocations with `live`, the database it will replace.
pub fn secure(restored: &Path, live: &Path) -> Result<Secured, BackupError> {
    let was_revoked = if live.is_file() {
        revoked_connectors(live)?
    } else {
        BTreeMap::new()
    };
    let fail = |e: rusqlite::Error| {
        BackupError::new(format!(
            "cannot prepare the restored copy of the database: {e}"
        ))
    };
    let mut conn = Connection::open(restored).map_err(fail)?;
    let tx = conn.transaction().map_err(fail)?;
    if has_column(&tx, "users", "token_generation").map_err(fail)? {
        tx.execute(
            "UPDATE users SET token_generation = token_generation + 1",
            [],
        )
        .map_err(fail)?;
    }
    let codes_revoked = if has_column(&tx, "enrollment_codes", "revoked_at").map_err(fail)? {
        tx.execute(
            "UPDATE enrollment_codes SET revoked_at = ?1
             WHERE used_at IS NULL AND revoked_at IS NULL",
            [now_ms()],
        )
        .map_err(fail)?
    } else {
        0
    };
    let mut revocations_undone = Vec::new();
    for (id, name) in was_revoked {
        let still: Option<bool> = tx
            .query_row(
                "SELECT revoked_at IS NOT NULL FROM connector_clients WHERE id = ?1",
                [&id],
                |r| r.get(0),
            )
            .optional()
            .map_err(fail)?;
        if still == Some(false) {
            revocations_undone.push((id, name));
        }
    }
    tx.commit().map_err(fail)?;
    conn.close().map_err(|(_, e)| fail(e))?;
    Ok(Secured {
        codes_revoked,
        revocations_undone,
    })
}

/// The connectors `db` has revoked: id and device name.
fn revoked_connectors(db: &Path) -> Result<BTreeMap<String, String>, BackupError> {
    let fail = |e: rusqlite::Error| {
        BackupError::new(format!(
            "cannot read the revoked connectors of {}: {e}",
            db.display()
        ))
    };
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(fail)?;
    let mut stmt = conn
        .prepare(
            "SELECT id, COALESCE(device_name, device_id) FROM connector_clients
             WHERE revoked_at IS NOT NULL",
        )
        .map_err(fail)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(fail)?;
    rows.collect::<Result<_, _>>().map_err(fail)
}

fn has_column(c: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}
