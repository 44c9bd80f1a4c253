//! Users, companies and who may see which company. Blocking functions over a connection.

use rusqlite::{params, Connection, OptionalExtension};

use super::auth::{Role, UserAuth};
use super::db::now_ms;
use super::error::{ApiError, ApiResult};
use crate::protocol::CompanySummary;

pub struct StoredUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
}

pub fn find_user(c: &Connection, username: &str) -> ApiResult<Option<StoredUser>> {
    Ok(c.query_row(
        "SELECT id, username, role, password_hash FROM users WHERE username = ?1",
        [username],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        },
    )
    .optional()?
    .and_then(|(id, username, role, password_hash)| {
        Some(StoredUser {
            id,
            username,
            role: Role::parse(&role)?,
            password_hash,
        })
    }))
}

/// The user behind a token, if the account still exists.
pub fn user_by_id(c: &Connection, id: i64) -> ApiResult<Option<UserAuth>> {
    let row: Option<(String, String)> = c
        .query_row(
            "SELECT username, role FROM users WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(username, role)| {
        let role = Role::parse(&role).ok_or_else(|| ApiError::internal("user role", &role))?;
        Ok(UserAuth { id, username, role })
    })
    .transpose()
}

pub fn company_exists(c: &Connection, id: &str) -> ApiResult<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM companies WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )?)
}

/// Admins see every company; staff the ones assigned to them. A company that does not exist is
/// `404`, one the user may not see `403`.
pub fn ensure_can_see(c: &Connection, user: &UserAuth, company_id: &str) -> ApiResult<()> {
    if !company_exists(c, company_id)? {
        return Err(ApiError::not_found(
            "company_not_found",
            format!("There is no company `{company_id}`."),
        ));
    }
    if user.role == Role::Admin {
        return Ok(());
    }
    let assigned: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM user_companies WHERE user_id = ?1 AND company_id = ?2)",
        params![user.id, company_id],
        |r| r.get(0),
    )?;
    if assigned {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "company_not_assigned",
            format!(
                "User `{}` is not assigned to company `{company_id}`.",
                user.username
            ),
        ))
    }
}

fn company_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CompanySummary> {
    Ok(CompanySummary {
        id: r.get(0)?,
        name: r.get(1)?,
        tally_company_name: r.get(2)?,
        books_from: r.get(3)?,
        financial_year_from: r.get(4)?,
    })
}

pub fn list_companies(c: &Connection, user: &UserAuth) -> ApiResult<Vec<CompanySummary>> {
    let cols = "c.id, c.name, c.tally_company_name, c.books_from, c.financial_year_from";
    let rows = if user.role == Role::Admin {
        let mut stmt = c.prepare(&format!(
            "SELECT {cols} FROM companies c ORDER BY c.name, c.id"
        ))?;
        let rows = stmt
            .query_map([], company_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    } else {
        let mut stmt = c.prepare(&format!(
            "SELECT {cols} FROM companies c JOIN user_companies uc ON uc.company_id = c.id
             WHERE uc.user_id = ?1 ORDER BY c.name, c.id"
        ))?;
        let rows = stmt
            .query_map([user.id], company_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    };
    Ok(rows)
}

/// A URL-safe id from a company name: `Sharma & Sons Pvt. Ltd.` -> `sharma-sons-pvt-ltd`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug: String = slug.trim_end_matches('-').chars().take(48).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        "company".into()
    } else {
        slug
    }
}

pub fn valid_company_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

pub fn create_company(c: &Connection, id: Option<&str>, name: &str) -> ApiResult<CompanySummary> {
    let id = match id {
        Some(id) => {
            if company_exists(c, id)? {
                return Err(ApiError::conflict(
                    "company_exists",
                    format!("A company with id `{id}` already exists."),
                ));
            }
            id.to_string()
        }
        None => {
            let base = slugify(name);
            let mut candidate = base.clone();
            let mut n = 2;
            while company_exists(c, &candidate)? {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            candidate
        }
    };
    c.execute(
        "INSERT INTO companies (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![id, name, now_ms()],
    )?;
    Ok(CompanySummary {
        id,
        name: name.to_string(),
        tally_company_name: None,
        books_from: None,
        financial_year_from: None,
    })
}

pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

pub fn create_user(
    c: &Connection,
    username: &str,
    hash: &str,
    role: Role,
    company_ids: &[String],
) -> ApiResult<i64> {
    if find_user(c, username)?.is_some() {
        return Err(ApiError::conflict(
            "user_exists",
            format!("User `{username}` already exists."),
        ));
    }
    c.execute(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![username, hash, role.as_str(), now_ms()],
    )?;
    let id = c.last_insert_rowid();
    let mut stmt =
        c.prepare("INSERT OR IGNORE INTO user_companies (user_id, company_id) VALUES (?1, ?2)")?;
    for company in company_ids {
        stmt.execute(params![id, company])?;
    }
    Ok(id)
}

pub struct UserListing {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub company_ids: Vec<String>,
}

pub fn list_users(c: &Connection) -> ApiResult<Vec<UserListing>> {
    let mut stmt = c.prepare(
        "SELECT u.id, u.username, u.role, group_concat(uc.company_id, char(31))
         FROM users u LEFT JOIN user_companies uc ON uc.user_id = u.id
         GROUP BY u.id ORDER BY u.username",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let ids: Option<String> = r.get(3)?;
            Ok(UserListing {
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
