//! People: users (`users`), their roles, and which companies each may see (`user_companies`).
//! Blocking functions over a connection, except those that check or hash passwords.

mod login;
mod new_user;

pub use login::{authenticate, LoginChecks};
pub use new_user::create_user;

use rusqlite::{params, Connection, OptionalExtension};

use super::auth::passwords;
use super::clock::now_ms;
use super::companies;
use super::domain_error::{DomainError, DomainResult};
use crate::protocol::{CompanySummary, UserView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }
}

/// A person with an account.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The name the appliance gives the first administrator.
pub const FIRST_ADMIN: &str = "admin";

fn stored_role(role: &str) -> DomainResult<Role> {
    Role::parse(role).ok_or_else(|| {
        DomainError::internal("reading a user", format!("unknown role `{role}` in users"))
    })
}

/// A user and the stored password hash, for checking a login.
fn find_with_hash(c: &Connection, username: &str) -> DomainResult<Option<(User, String)>> {
    let row: Option<(i64, String, String, String)> = c
        .query_row(
            "SELECT id, username, role, password_hash FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    row.map(|(id, username, role, hash)| {
        let role = stored_role(&role)?;
        Ok((User { id, username, role }, hash))
    })
    .transpose()
}

/// The user behind a token, if the account still exists.
pub fn user_by_id(c: &Connection, id: i64) -> DomainResult<Option<User>> {
    let row: Option<(String, String)> = c
        .query_row(
            "SELECT username, role FROM users WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(username, role)| {
        let role = stored_role(&role)?;
        Ok(User { id, username, role })
    })
    .transpose()
}

pub fn username_taken(c: &Connection, username: &str) -> DomainResult<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
        [username],
        |r| r.get(0),
    )?)
}

pub fn has_users(c: &Connection) -> DomainResult<bool> {
    Ok(c.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
}

/// Inserts a user with an already hashed password; returns the new id.
fn insert_user(c: &Connection, username: &str, hash: &str, role: Role) -> DomainResult<i64> {
    c.execute(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![username, hash, role.as_str(), now_ms()],
    )?;
    Ok(c.last_insert_rowid())
}

/// The administrator of a new appliance; `hash` is the hashed first password.
pub fn create_first_admin(c: &Connection, hash: &str) -> DomainResult<i64> {
    insert_user(c, FIRST_ADMIN, hash, Role::Admin)
}

fn assign_companies(c: &Connection, user_id: i64, company_ids: &[String]) -> DomainResult<()> {
    let mut stmt =
        c.prepare("INSERT OR IGNORE INTO user_companies (user_id, company_id) VALUES (?1, ?2)")?;
    for company in company_ids {
        stmt.execute(params![user_id, company])?;
    }
    Ok(())
}

fn assigned(c: &Connection, user_id: i64, company_id: &str) -> DomainResult<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM user_companies WHERE user_id = ?1 AND company_id = ?2)",
        params![user_id, company_id],
        |r| r.get(0),
    )?)
}

/// Admins see every company; staff the ones assigned to them. Staff get the same `forbidden`
/// for a company that does not exist as for one they may not see, so they cannot learn which
/// company ids exist; only an admin is told `not found`.
pub fn ensure_can_see(c: &Connection, user: &User, company_id: &str) -> DomainResult<()> {
    if !user.is_admin() {
        if assigned(c, user.id, company_id)? {
            return Ok(());
        }
        return Err(DomainError::forbidden(
            "company_not_assigned",
            format!(
                "User `{}` is not assigned to company `{company_id}`.",
                user.username
            ),
        ));
    }
    if !companies::exists(c, company_id)? {
        return Err(DomainError::not_found(
            "company_not_found",
            format!("There is no company `{company_id}`."),
        ));
    }
    Ok(())
}

/// The companies `user` may see, by name.
pub fn visible_companies(c: &Connection, user: &User) -> DomainResult<Vec<CompanySummary>> {
    let mut all = companies::list(c)?;
    if !user.is_admin() {
        let mine = assigned_ids(c, user.id)?;
        all.retain(|company| mine.contains(&company.id));
    }
    Ok(all)
}

fn assigned_ids(c: &Connection, user_id: i64) -> DomainResult<Vec<String>> {
    let mut stmt = c.prepare("SELECT company_id FROM user_companies WHERE user_id = ?1")?;
    let ids = stmt
        .query_map([user_id], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

pub fn list_users(c: &Connection) -> DomainResult<Vec<UserView>> {
    let mut stmt = c.prepare(
        "SELECT u.id, u.username, u.role, group_concat(uc.company_id, char(31))
         FROM users u LEFT JOIN user_companies uc ON uc.user_id = u.id
         GROUP BY u.id ORDER BY u.username",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let ids: Option<String> = r.get(3)?;
            Ok(UserView {
                id: r.get(0)?,
                username: r.get(1)?,
                role: r.get(2)?,
                company_ids: ids
                    .map(|s| s.split('\u{1f}').map(str::to_string).collect())
                    .unwrap_or_default(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Hashes on the blocking pool: argon2 is slow on purpose.
pub async fn hash_password(password: String) -> DomainResult<String> {
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| DomainError::internal("password hashing", e))?
        .map_err(|e| DomainError::internal("password hashing", e))
}
