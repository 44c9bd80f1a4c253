//! A ledger or a group over every month held: its closing balance at each month's end and, for
//! revenue, the month's own movement (Tally's revenue balances run from the financial year's
//! start, so a month alone is the difference from the previous month-end of the same year).

use rusqlite::Connection;

use super::natures::{self, sub};
use super::profit_loss::{year_from, year_start_month};
use crate::protocol::{Amount, MonthKey, Series, SeriesPoint};
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::{chart, snapshots};

/// What a series follows.
pub enum Subject {
    Ledger(String),
    Group(String),
}

impl Subject {
    /// Whether a ledger with this name and group path is part of the series.
    fn includes(&self, ledger: &str, path: &[String]) -> bool {
        match self {
            Subject::Ledger(name) => ledger.eq_ignore_ascii_case(name),
            Subject::Group(name) => path.iter().any(|g| g.eq_ignore_ascii_case(name)),
        }
    }

    fn name(&self) -> &str {
        match self {
            Subject::Ledger(n) | Subject::Group(n) => n,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Subject::Ledger(_) => "ledger",
            Subject::Group(_) => "group",
        }
    }
}

/// The row ids of the ledgers in the series (gone ones too: their old balances count), and the
/// primary group of the first, which says whether the series is revenue.
fn members(
    c: &Connection,
    company_id: &str,
    subject: &Subject,
) -> DomainResult<(Vec<i64>, Option<String>)> {
    let mut tree = chart::group_tree(c, company_id)?;
    let mut stmt =
        c.prepare("SELECT id, name, parent_name FROM ledgers WHERE company_id = ?1 ORDER BY id")?;
    let mut rows = stmt.query([company_id])?;
    let (mut ids, mut primary) = (Vec::new(), None);
    while let Some(r) = rows.next()? {
        let (name, parent): (String, String) = (r.get(1)?, r.get(2)?);
        let path = tree.path(&parent);
        if subject.includes(&name, &path) {
            ids.push(r.get::<_, i64>(0)?);
            primary.get_or_insert_with(|| path.first().cloned().unwrap_or(name));
        }
    }
    Ok((ids, primary))
}

/// Every month held, oldest first. Refuses a name the company's chart does not carry.
pub fn series(c: &Connection, company_id: &str, subject: &Subject) -> DomainResult<Series> {
    let (ids, primary) = members(c, company_id, subject)?;
    let Some(primary) = primary else {
        return Err(DomainError::not_found(
            "series_not_found",
            format!(
                "Company `{company_id}` has no {} named `{}`.",
                subject.kind(),
                subject.name()
            ),
        ));
    };
    let kinds = natures::group_kinds(c, company_id)?;
    let revenue = natures::kind_of(&kinds, &primary).is_some_and(|k| k.nature.is_revenue());
    let start = year_start_month(c, company_id)?;
    let (mut points, mut before) = (Vec::new(), None::<(MonthKey, Amount)>);
    for (key, as_of_date, sum) in snapshots::sums_by_month(c, company_id, &ids)? {
        let Ok(month) = key.parse::<MonthKey>() else {
            continue;
        };
        let closing = Amount::from_paise(sum);
        let movement = match before {
            _ if month == year_from(month, start) => Some(closing),
            Some((m, b)) if m == month.previous() => Some(sub(closing, b)?),
            _ => None,
        };
        before = Some((month, closing));
        points.push(SeriesPoint {
            month_key: key,
            as_of_date,
            closing,
            movement: movement.filter(|_| revenue),
        });
    }
    Ok(Series {
        company_id: company_id.to_string(),
        kind: subject.kind().to_string(),
        name: subject.name().to_string(),
        revenue,
        points,
    })
}
