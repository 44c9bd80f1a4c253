//! Profit and loss for a month and for the financial year to date, and the balance sheet at the
//! month's end, from the group natures. Tally's closing balances of revenue ledgers run from the
//! start of the financial year, so a month alone is the difference from the previous month-end
//! of the same year (the year's first month is its own year to date).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::compare::{held, Against};
use super::natures::{self, add, on_own_side, sub, Kind};
use crate::protocol::groups::Nature;
use crate::protocol::{
    Amount, BalanceSheet, ComparedMonth, MonthKey, ProfitAndLoss, ProfitFigures, ReportGroup,
    TrialBalance,
};
use crate::server::domain_error::DomainResult;
use crate::server::snapshots;

/// The month the company's financial year starts in: from Tally's `financialYearFrom`, else April.
pub fn year_start_month(c: &Connection, company_id: &str) -> DomainResult<u8> {
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

/// An inventory company's stock at a period's start and end, debit positive.
#[derive(Debug, Clone, Copy)]
struct Stock {
    opening: Amount,
    closing: Amount,
}

fn figures(
    balances: &[(String, Amount)],
    kinds: &HashMap<String, Kind>,
    stock: Option<Stock>,
) -> DomainResult<ProfitFigures> {
    // Tally's trading account: closing stock on the credit side, opening stock on the debit side.
    let stock_gain = match stock {
        Some(s) => sub(s.closing, s.opening)?,
        None => Amount::ZERO,
    };
    let (mut gross, mut net) = (stock_gain, stock_gain);
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
        opening_stock: stock.map(|s| s.opening),
        closing_stock: stock.map(|s| s.closing),
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

/// The year to date's stock: at the financial year's start and at the month's end.
fn year_stock(tb: &TrialBalance) -> Option<Stock> {
    tb.summary.stock.map(|s| Stock {
        opening: s.opening,
        closing: s.closing,
    })
}

/// The month's stock: the previous month's closing stock, and this month's.
fn month_stock(now: &TrialBalance, before: &TrialBalance) -> Option<Stock> {
    match (before.summary.stock, now.summary.stock) {
        (Some(b), Some(n)) => Some(Stock {
            opening: b.closing,
            closing: n.closing,
        }),
        _ => None,
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
    let year_to_date = figures(&now, &kinds, year_stock(&tb))?;
    let (month_figures, reason) = if month == first {
        (Some(year_to_date.clone()), None)
    } else {
        let prev = month.previous();
        match held(snapshots::trial_balance(c, company_id, prev))? {
            Some(before) => {
                let stock = month_stock(&tb, &before);
                let before = natures::primary_balances(&before)?;
                let change = difference(&now, &before)?;
                (Some(figures(&change, &kinds, stock)?), None)
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
        compared_with: None,
        compared: None,
    })
}

/// The month's profit and loss with the compared month's beside it, when that month is held.
pub fn profit_and_loss_compared(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
    against: Against,
) -> DomainResult<ProfitAndLoss> {
    let mut report = profit_and_loss(c, company_id, month)?;
    let other = against.month(month);
    let compared = held(profit_and_loss(c, company_id, other))?;
    report.compared_with = Some(ComparedMonth {
        month_key: other.to_string(),
        held: compared.is_some(),
    });
    report.compared = compared.map(Box::new);
    Ok(report)
}

pub fn balance_sheet(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<BalanceSheet> {
    let tb = snapshots::trial_balance(c, company_id, month)?;
    let kinds = natures::group_kinds(c, company_id)?;
    let balances = natures::primary_balances(&tb)?;
    let stock = year_stock(&tb);
    let profit = figures(&balances, &kinds, stock)?.net_profit;
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
    if let Some(stock) = stock {
        add_closing_stock(&mut assets, stock.closing)?;
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
        closing_stock: stock.map(|s| s.closing),
        compared_with: None,
        compared: None,
    })
}

/// The balance sheet with the compared month's beside it, when that month is held.
pub fn balance_sheet_compared(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
    against: Against,
) -> DomainResult<BalanceSheet> {
    let mut report = balance_sheet(c, company_id, month)?;
    let other = against.month(month);
    let compared = held(balance_sheet(c, company_id, other))?;
    report.compared_with = Some(ComparedMonth {
        month_key: other.to_string(),
        held: compared.is_some(),
    });
    report.compared = compared.map(Box::new);
    Ok(report)
}

/// Tally shows the closing stock within Current Assets.
fn add_closing_stock(assets: &mut Vec<ReportGroup>, closing: Amount) -> DomainResult<()> {
    match assets
        .iter_mut()
        .find(|g| g.name.eq_ignore_ascii_case("Current Assets"))
    {
        Some(g) => g.amount = add(g.amount, closing)?,
        None => assets.push(ReportGroup {
            name: "Current Assets".to_string(),
            nature: Nature::Asset,
            affects_gross_profit: false,
            amount: closing,
        }),
    }
    Ok(())
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
