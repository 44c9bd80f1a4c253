//! Profit and loss for a month and for the financial year to date, and the balance sheet at the
//! month's end, from the group natures. Tally's closing balances of revenue ledgers run from the
//! start of the financial year, so a month alone is the difference from the previous month-end
//! of the same year (the year's first month is its own year to date).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::natures::{self, add, on_own_side, sub, Kind};
use crate::protocol::groups::Nature;
use crate::protocol::{
    Amount, BalanceSheet, MonthKey, ProfitAndLoss, ProfitFigures, ReportGroup, TrialBalance,
};
use crate::server::domain_error::{DomainError, DomainResult, Refusal};
use crate::server::snapshots;

/// The month the company's financial year starts in: from Tally's `financialYearFrom`, else April.
fn year_start_month(c: &Connection, company_id: &str) -> DomainResult<u8> {
    let from: Option<String> = c
        .query_row(
            "SELECT financial_year_from FROM companies WHERE id = ?1",
            [company_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(from
        .and_then(|d| d.get(5..7).and_then(|m| m.parse::<u8>().ok()))
        .filter(|m| (1..=12).contains(m))
        .unwrap_or(4))
}

/// The first month of the financial year that `month` is in.
pub fn year_from(month: MonthKey, start_month: u8) -> MonthKey {
    let year = if month.month() >= start_month {
        month.year()
    } else {
        month.year() - 1
    };
    MonthKey::new(year, start_month).unwrap_or(month)
}

fn figures(
    balances: &[(String, Amount)],
    kinds: &HashMap<String, Kind>,
) -> DomainResult<ProfitFigures> {
    let (mut gross, mut net) = (Amount::ZERO, Amount::ZERO);
    let mut groups = Vec::new();
    for (name, balance) in balances {
        let Some(kind) = natures::kind_of(kinds, name).filter(|k| k.nature.is_revenue()) else {
            continue;
        };
        let amount = on_own_side(kind.nature, *balance)?;
        // Profit is income minus expense: an income group's own-side amount adds, an expense's subtracts.
        let towards_profit = if kind.nature == Nature::Income {
            amount
        } else {
            amount.checked_neg().ok_or_else(natures::overflow)?
        };
        net = add(net, towards_profit)?;
        if kind.affects_gross_profit {
            gross = add(gross, towards_profit)?;
        }
        groups.push(ReportGroup {
            name: name.clone(),
            nature: kind.nature,
            affects_gross_profit: kind.affects_gross_profit,
            amount,
        });
    }
    Ok(ProfitFigures {
        groups,
        gross_profit: gross,
        net_profit: net,
    })
}

/// Per primary group, this month's balance less the previous month's.
fn difference(
    now: &[(String, Amount)],
    before: &[(String, Amount)],
) -> DomainResult<Vec<(String, Amount)>> {
    let mut out: Vec<(String, Amount)> = now.to_vec();
    for (name, old) in before {
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, amount)) => *amount = sub(*amount, *old)?,
            None => out.push((name.clone(), sub(Amount::ZERO, *old)?)),
        }
    }
    Ok(out)
}

fn previous_month(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<Option<TrialBalance>> {
    match snapshots::trial_balance(c, company_id, month) {
        Ok(tb) => Ok(Some(tb)),
        Err(DomainError::Refused {
            refusal: Refusal::NotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn profit_and_loss(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<ProfitAndLoss> {
    let tb = snapshots::trial_balance(c, company_id, month)?;
    let kinds = natures::group_kinds(c, company_id)?;
    let first = year_from(month, year_start_month(c, company_id)?);
    let now = natures::primary_balances(&tb)?;
    let year_to_date = figures(&now, &kinds)?;
    let (month_figures, reason) = if month == first {
        (Some(year_to_date.clone()), None)
    } else {
        let prev = month.previous();
        match previous_month(c, company_id, prev)? {
            Some(before) => {
                let before = natures::primary_balances(&before)?;
                (Some(figures(&difference(&now, &before)?, &kinds)?), None)
            }
            None => (
                None,
                Some(format!(
                    "{prev} is not held, so {month} alone cannot be told from the year to date."
                )),
            ),
        }
    };
    Ok(ProfitAndLoss {
        company_id: company_id.to_string(),
        month_key: month.to_string(),
        as_of_date: tb.summary.as_of_date,
        year_from: first.to_string(),
        month: month_figures,
        month_missing_reason: reason,
        year_to_date,
    })
}

pub fn balance_sheet(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<BalanceSheet> {
    let tb = snapshots::trial_balance(c, company_id, month)?;
    let kinds = natures::group_kinds(c, company_id)?;
    let balances = natures::primary_balances(&tb)?;
    let profit = figures(&balances, &kinds)?.net_profit;
    let (mut liabilities, mut assets) = (Vec::new(), Vec::new());
    for (name, balance) in &balances {
        // A ledger outside any group (Tally's Profit & Loss A/c) sits with the liabilities.
        let kind = natures::kind_of(&kinds, name).unwrap_or(Kind {
            nature: Nature::Liability,
            affects_gross_profit: false,
        });
        let side = match kind.nature {
            Nature::Asset => &mut assets,
            Nature::Liability => &mut liabilities,
            Nature::Income | Nature::Expense => continue,
        };
        side.push(ReportGroup {
            name: name.clone(),
            nature: kind.nature,
            affects_gross_profit: false,
            amount: on_own_side(kind.nature, *balance)?,
        });
    }
    let total = |groups: &[ReportGroup]| -> DomainResult<Amount> {
        groups
            .iter()
            .try_fold(Amount::ZERO, |sum, g| add(sum, g.amount))
    };
    Ok(BalanceSheet {
        company_id: company_id.to_string(),
        month_key: month.to_string(),
        as_of_date: tb.summary.as_of_date,
        total_liabilities: add(total(&liabilities)?, profit)?,
        total_assets: total(&assets)?,
        liabilities,
        profit_and_loss: profit,
        assets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_financial_year_starts_in_april_unless_told_otherwise() {
        let m = |s: &str| s.parse::<MonthKey>().unwrap();
        assert_eq!(year_from(m("2026-03"), 4), m("2025-04"));
        assert_eq!(year_from(m("2026-04"), 4), m("2026-04"));
        assert_eq!(year_from(m("2026-03"), 1), m("2026-01"));
    }
}
