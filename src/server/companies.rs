//! Client companies (`companies`): creating them, listing them, and the facts a connector reports
//! about the Tally company behind one. Who may see a company is the accounts' business.

use rusqlite::{params, Connection};

use super::clock::now_ms;
use super::domain_error::{DomainError, DomainResult};
use super::problems::Problems;
use crate::protocol::{CompanyFacts, CompanySummary, NewCompany};

pub fn exists(c: &Connection, id: &str) -> DomainResult<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM companies WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )?)
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CompanySummary> {
    Ok(CompanySummary {
        id: r.get(0)?,
        name: r.get(1)?,
        tally_company_name: r.get(2)?,
        books_from: r.get(3)?,
        financial_year_from: r.get(4)?,
    })
}

/// Every company, by name.
pub fn list(c: &Connection) -> DomainResult<Vec<CompanySummary>> {
    let mut stmt = c.prepare(
        "SELECT id, name, tally_company_name, books_from, financial_year_from
         FROM companies ORDER BY name, id",
    )?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
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

pub fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

fn check(name: &str, id: Option<&str>) -> DomainResult<()> {
    let mut problems = Problems::new();
    if name.is_empty() || name.chars().count() > 200 {
        problems.add("name", "give the company a name of 1 to 200 characters");
    }
    if let Some(id) = id.filter(|id| !valid_id(id)) {
        problems.add(
            "id",
            format!("`{id}` is not a usable id: use 1 to 64 lowercase letters, digits, `-` or `_`"),
        );
    }
    problems.into_result("The company cannot be created as given.")
}

/// The id asked for, when free; else one made from the name that is not taken yet.
fn choose_id(c: &Connection, id: Option<&str>, name: &str) -> DomainResult<String> {
    if let Some(id) = id {
        if exists(c, id)? {
            return Err(DomainError::conflict(
                "company_exists",
                format!("A company with id `{id}` already exists."),
            ));
        }
        return Ok(id.to_string());
    }
    let base = slugify(name);
    let mut candidate = base.clone();
    let mut n = 2;
    while exists(c, &candidate)? {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    Ok(candidate)
}

pub fn create(c: &Connection, new: &NewCompany) -> DomainResult<CompanySummary> {
    let name = new.name.trim();
    check(name, new.id.as_deref())?;
    let id = choose_id(c, new.id.as_deref(), name)?;
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

/// Keeps what the connector reported about the Tally company; a fact not reported stays as it was.
pub fn record_facts(c: &Connection, company_id: &str, facts: &CompanyFacts) -> DomainResult<()> {
    c.execute(
        "UPDATE companies SET tally_company_name = COALESCE(?2, tally_company_name),
         books_from = COALESCE(?3, books_from), financial_year_from = COALESCE(?4, financial_year_from)
         WHERE id = ?1",
        params![
            company_id,
            facts.tally_company_name,
            facts.books_from,
            facts.financial_year_from
        ],
    )?;
    Ok(())
}
