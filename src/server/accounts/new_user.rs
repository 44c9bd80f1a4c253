//! `POST /api/users`: checking a new account, hashing its password, storing it.

use rusqlite::Connection;

use super::{assign_companies, hash_password, insert_user, username_taken, Role};
use crate::protocol::{NewUser, UserView};
use crate::server::auth::passwords;
use crate::server::companies;
use crate::server::db::Db;
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::problems::Problems;

pub fn valid_username(name: &str) -> bool {
    (1..=passwords::MAX_USERNAME_BYTES).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// Checks the fields that need no database; the role when it is one.
fn check_fields(new: &NewUser, problems: &mut Problems) -> Option<Role> {
    if !valid_username(&new.username) {
        problems.add(
            "username",
            "use 1 to 64 letters, digits, `.`, `_`, `-` or `@`",
        );
    }
    if let Err(e) = passwords::check_strength(&new.password) {
        problems.add("password", e);
    }
    let role = Role::parse(&new.role);
    if role.is_none() {
        problems.add(
            "role",
            format!("`{}` is not a role; use `admin` or `staff`", new.role),
        );
    }
    role
}

pub(super) fn check_companies(
    c: &Connection,
    ids: &[String],
    problems: &mut Problems,
) -> DomainResult<()> {
    for (i, id) in ids.iter().enumerate() {
        if !companies::exists(c, id)? {
            problems.add(
                format!("companyIds[{i}]"),
                format!("there is no company `{id}`"),
            );
        }
    }
    Ok(())
}

/// Creates the account after checking every field (all problems reported together). The
/// companies are checked again inside the writing transaction: one may have gone meanwhile.
pub async fn create_user(db: &Db, new: NewUser) -> DomainResult<UserView> {
    let mut problems = Problems::new();
    let role = check_fields(&new, &mut problems);
    let ids = new.company_ids.clone();
    let problems = db
        .read(move |c| {
            check_companies(c, &ids, &mut problems)?;
            Ok(problems)
        })
        .await?;
    problems.into_result("The user cannot be created as given.")?;
    let role = role.ok_or_else(|| DomainError::invalid_field("role", "missing"))?;
    let hash = hash_password(new.password).await?;
    let (username, company_ids) = (new.username, new.company_ids);
    db.write(move |tx| {
        let mut problems = Problems::new();
        check_companies(tx, &company_ids, &mut problems)?;
        problems.into_result("The user cannot be created as given.")?;
        if username_taken(tx, &username)? {
            return Err(DomainError::conflict(
                "user_exists",
                format!("User `{username}` already exists."),
            ));
        }
        let id = insert_user(tx, &username, &hash, role)?;
        assign_companies(tx, id, &company_ids)?;
        Ok(UserView {
            id,
            username,
            role: role.as_str().to_string(),
            company_ids,
            disabled: false,
        })
    })
    .await
}
