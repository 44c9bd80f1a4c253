//! A ledger or a group over every month held: its closing balance at each month's end and, for
//! revenue, the month's own movement (Tally's revenue balances run from the financial year's
//! start, so a month alone is the difference from the previous month-end of the same year).

use rusqlite::Connection;

use super::natures::{self, add, sub};
use super::profit_loss::{year_from, year_start_month};
use crate::protocol::{Amount, MonthKey, Series, SeriesPoint, TrialBalanceLine};
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::snapshots;

/// What a series follows.
pub enum Subject {
    Ledger(String),
    Group(String),
}

impl Subject {
    fn includes(&self, line: &TrialBalanceLine) -> bool {
        match self {
            Subject::Ledger(name) => line.ledger_name.eq_ignore_ascii_case(name),
            Subject::Group(name) => line.group_path.iter().any(|g| g.eq_ignore_ascii_case(name)),
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

/// Every month held, oldest first. Refuses a name no month's ledgers carry.
pub fn series(c: &Connection, company_id: &str, subject: &Subject) -> DomainResult<Series> {
    let start = year_start_month(c, company_id)?;
    let kinds = natures::group_kinds(c, company_id)?;
    let (mut points, mut primary) = (Vec::new(), None::<String>);
    let mut before: Option<(MonthKey, Amount)> = None;
    for summary in snapshots::list(c, company_id)? {
        let Ok(month) = summary.month_key.parse::<MonthKey>() else {
            continue;
        };
        let tb = snapshots::trial_balance(c, company_id, month)?;
        let mut closing = Amount::ZERO;
        for line in tb.ledgers.iter().filter(|l| subject.includes(l)) {
            primary.get_or_insert_with(|| primary_of(line));
            closing = add(closing, line.balance)?;
        }
        let movement = if month == year_from(month, start) {
            Some(closing)
        } else {
            match before {
                Some((m, b)) if m == month.previous() => Some(sub(closing, b)?),
                _ => None,
            }
        };
        before = Some((month, closing));
        points.push((month, summary.as_of_date, closing, movement));
    }
    let Some(primary) = primary else {
        return Err(DomainError::not_found(
            "series_not_found",
            format!(
                "Company `{company_id}` has no {} named `{}` in any month held.",
                subject.kind(),
                subject.name()
            ),
        ));
    };
    let revenue = natures::kind_of(&kinds, &primary).is_some_and(|k| k.nature.is_revenue());
    Ok(Series {
        company_id: company_id.to_string(),
        kind: subject.kind().to_string(),
        name: subject.name().to_string(),
        revenue,
        points: points
            .into_iter()
            .map(|(month, as_of_date, closing, movement)| SeriesPoint {
                month_key: month.to_string(),
                as_of_date,
                closing,
                movement: movement.filter(|_| revenue),
            })
            .collect(),
    })
}

fn primary_of(line: &TrialBalanceLine) -> String {
    line.group_path.first().unwrap_or(&line.ledger_name).clone()
}
