//! People: users (`users`), their roles, and which companies each may see (`user_companies`).
//! Blocking functions over a connection, except those that check or hash passwords.

mod admin;
mod login;
mod new_user;

pub use admin::{reset_password, set_companies, set_disabled};
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
    /// Bumped whenever the user's sessions must end (disabled, enabled, password reset); a token
    /// of another generation is refused.
    pub generation: i64,
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

/// A stored account: the user, whether it is disabled, and its password hash.
struct Account {
    user: User,
    disabled: bool,
    hash: String,
}

const ACCOUNT_COLUMNS: &str =
    "SELECT id, username, role, token_generation, disabled_at IS NOT NULL, password_hash FROM users";

fn account(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, i64, bool, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn find_account(
    c: &Connection,
    by: &str,
    key: &dyn rusqlite::ToSql,
) -> DomainResult<Option<Account>> {
    let row = c
        .query_row(
            &format!("{ACCOUNT_COLUMNS} WHERE {by} = ?1"),
            [key],
            account,
        )
        .optional()?;
    row.map(|(id, username, role, generation, disabled, hash)| {
        let role = stored_role(&role)?;
        Ok(Account {
            user: User {
                id,
                username,
                role,
                generation,
            },
            disabled,
            hash,
        })
    })
    .transpose()
}

/// The account with this username (disabled or not) and its password hash, for checking a login.
fn find_with_hash(c: &Connection, username: &str) -> DomainResult<Option<Account>> {
    find_account(c, "username", &username)
}

fn disabled_error() -> DomainError {
    DomainError::unauthorized(
        "user_disabled",
        "This account is disabled; ask an administrator of the appliance to enable it.",
    )
}

/// The user behind a token, if the account still exists and is enabled.
pub fn user_by_id(c: &Connection, id: i64) -> DomainResult<Option<User>> {
    Ok(find_account(c, "id", &id)?
        .filter(|a| !a.disabled)
        .map(|a| a.user))
}

/// The user a token of `generation` was issued to, if the token still works: the account exists,
/// is enabled, and nothing has ended its sessions since the token was issued.
pub fn token_user(c: &Connection, id: i64, generation: i64) -> DomainResult<User> {
    let account = find_account(c, "id", &id)?.ok_or_else(|| {
        DomainError::unauthorized(
            "user_gone",
            "The account this token was issued to no longer exists.",
        )
    })?;
    if account.disabled {
        return Err(disabled_error());
    }
    if account.user.generation != generation {
        return Err(DomainError::unauthorized(
            "token_superseded",
            "This sign-in has ended: the account's password was reset or the account was disabled since. Sign in again.",
        ));
    }
    Ok(account.user)
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
    users(c, None)
}

/// One user as the admin's list shows it.
pub fn user_view(c: &Connection, id: i64) -> DomainResult<Option<UserView>> {
    Ok(users(c, Some(id))?.pop())
}

/// Every user, or only the one with `id`.
fn users(c: &Connection, id: Option<i64>) -> DomainResult<Vec<UserView>> {
    let mut stmt = c.prepare(
        "SELECT u.id, u.username, u.role, group_concat(uc.company_id, char(31)), u.disabled_at IS NOT NULL
         FROM users u LEFT JOIN user_companies uc ON uc.user_id = u.id
         WHERE ?1 IS NULL OR u.id = ?1 GROUP BY u.id ORDER BY u.username",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            let ids: Option<String> = r.get(3)?;
            let mut company_ids: Vec<String> = ids
                .map(|s| s.split('\u{1f}').map(str::to_string).collect())
                .unwrap_or_default();
            company_ids.sort();
            Ok(UserView {
                id: r.get(0)?,
                username: r.get(1)?,
                role: r.get(2)?,
                company_ids,
                disabled: r.get(4)?,
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
