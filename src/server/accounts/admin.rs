//! What an administrator does to an existing account: disable or enable it, reset its password,
//! give a staff user their companies. Each answers the user as `GET /api/users` shows it.

use rusqlite::{params, Connection};

use super::new_user::check_companies;
use super::{assign_companies, find_account, hash_password, user_view, Account, Role};
use crate::protocol::{PasswordReset, UserView};
use crate::server::auth::passwords;
use crate::server::clock::now_ms;
use crate::server::db::Db;
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::problems::Problems;
use crate::server::{connectors, enrollment};

fn existing(c: &Connection, id: i64) -> DomainResult<Account> {
    find_account(c, "id", &id)?.ok_or_else(|| {
        DomainError::not_found("user_not_found", format!("There is no user with id {id}."))
    })
}

fn view(c: &Connection, id: i64) -> DomainResult<UserView> {
    user_view(c, id)?.ok_or_else(|| {
        DomainError::not_found("user_not_found", format!("There is no user with id {id}."))
    })
}

/// Ends every session of the user: tokens of the old generation stop working.
fn end_sessions(c: &Connection, id: i64) -> DomainResult<()> {
    c.execute(
        "UPDATE users SET token_generation = token_generation + 1 WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

fn other_enabled_admins(c: &Connection, id: i64) -> DomainResult<i64> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// Disables (`disabled`) or enables the user. Either way the user's tokens stop working at
/// once: enabling a user does not bring back a session from before. The last enabled
/// administrator cannot be disabled, or nobody could administer the appliance any more.
pub fn set_disabled(c: &Connection, id: i64, disabled: bool) -> DomainResult<UserView> {
    let account = existing(c, id)?;
    if account.disabled == disabled {
        return view(c, id);
    }
    if disabled && account.user.role == Role::Admin && other_enabled_admins(c, id)? == 0 {
        return Err(DomainError::conflict(
            "last_admin",
            format!(
                "`{}` is the last enabled administrator; enable or create another administrator first.",
                account.user.username
            ),
        ));
    }
    c.execute(
        "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
        params![id, disabled.then(now_ms)],
    )?;
    end_sessions(c, id)?;
    view(c, id)
}

/// Sets a new password chosen by an administrator; the user's tokens stop working, and so do the
/// enrolment codes they made and nobody used yet (the old password may be known to someone else,
/// who may have downloaded connector ZIPs with it).
/// The answer lists the connectors the user enrolled that still work: they are not revoked
/// here (that would stop the firm's PCs), the admin decides.
pub async fn reset_password(db: &Db, id: i64, password: String) -> DomainResult<PasswordReset> {
    if let Err(e) = passwords::check_strength(&password) {
        return Err(DomainError::invalid_field("password", e));
    }
    db.read(move |c| existing(c, id).map(|_| ())).await?;
    let hash = hash_password(password).await?;
    db.write(move |tx| {
        existing(tx, id)?;
        tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![id, hash],
        )?;
        end_sessions(tx, id)?;
        let revoked = enrollment::revoke_unused_made_by(tx, id)?;
        if revoked > 0 {
            log::info!("password reset for user {id}: {revoked} unused enrolment code(s) revoked");
        }
        let enrolled_connectors = connectors::enrolled_by::working(tx, id)?;
        if !enrolled_connectors.is_empty() {
            log::warn!(
                "password reset for user {id}: {} connector(s) they enrolled still work; revoke any not trusted",
                enrolled_connectors.len()
            );
        }
        Ok(PasswordReset {
            user: view(tx, id)?,
            enrolled_connectors,
        })
    })
    .await
}

/// Replaces the companies a staff user may see. Every id must name a company (each unknown one
/// is reported at its place in `companyIds`); administrators see every company and have none.
pub fn set_companies(c: &Connection, id: i64, company_ids: &[String]) -> DomainResult<UserView> {
    let account = existing(c, id)?;
    if account.user.role == Role::Admin {
        return Err(DomainError::conflict(
            "user_is_admin",
            format!(
                "`{}` is an administrator and sees every company; only staff are given companies.",
                account.user.username
            ),
        ));
    }
    let mut problems = Problems::new();
    check_companies(c, company_ids, &mut problems)?;
    problems.into_result("The user's companies cannot be set as given.")?;
    c.execute("DELETE FROM user_companies WHERE user_id = ?1", [id])?;
    assign_companies(c, id, company_ids)?;
    view(c, id)
}
