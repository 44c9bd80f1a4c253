//! Which primary group a ledger's balance belongs to, and that group's nature: from the flags the
//! connector sent for the company's groups, else from Tally's predefined groups.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::protocol::groups::{reserved_group, Nature};
use crate::protocol::{Amount, TrialBalance};
use crate::server::domain_error::{DomainError, DomainResult};

/// A primary group's nature and whether it counts towards gross profit.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub nature: Nature,
    pub affects_gross_profit: bool,
}

/// The stored flags of the company's groups, by lowercased name.
pub fn group_kinds(c: &Connection, company_id: &str) -> DomainResult<HashMap<String, Kind>> {
    let mut stmt = c.prepare(
        "SELECT name, is_deemed_positive, is_revenue, affects_gross_profit FROM account_groups
         WHERE company_id = ?1 AND gone_at IS NULL AND is_deemed_positive IS NOT NULL AND is_revenue IS NOT NULL",
    )?;
    let rows = stmt.query_map([company_id], |r| {
        let name: String = r.get(0)?;
        let kind = Kind {
            nature: Nature::from_flags(r.get(1)?, r.get(2)?),
            affects_gross_profit: r.get::<_, Option<bool>>(3)?.unwrap_or(false),
        };
        Ok((name.to_lowercase(), kind))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn kind_of(kinds: &HashMap<String, Kind>, group: &str) -> Option<Kind> {
    kinds.get(&group.to_lowercase()).copied().or_else(|| {
        reserved_group(group).map(|g| Kind {
            nature: g.nature,
            affects_gross_profit: g.affects_gross_profit,
        })
    })
}

/// Each primary group's summed balance (debit positive), in Tally's order. Ledgers outside
/// any group (Tally's `Profit & Loss A/c`) are summed under their own name.
pub fn primary_balances(tb: &TrialBalance) -> DomainResult<Vec<(String, Amount)>> {
    let mut out: Vec<(String, Amount)> = Vec::new();
    for l in &tb.ledgers {
        let name = l.group_path.first().unwrap_or(&l.ledger_name);
        let i = match out.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                out.push((name.clone(), Amount::ZERO));
                out.len() - 1
            }
        };
        out[i].1 = out[i].1.checked_add(l.balance).ok_or_else(overflow)?;
    }
    out.sort_by_key(|(name, _)| super::trial_balance::primary_rank(name));
    Ok(out)
}

pub fn overflow() -> DomainError {
    DomainError::internal(
        "adding up a report",
        "the amounts exceed what an amount can hold",
    )
}

pub fn add(a: Amount, b: Amount) -> DomainResult<Amount> {
    a.checked_add(b).ok_or_else(overflow)
}

pub fn sub(a: Amount, b: Amount) -> DomainResult<Amount> {
    add(a, b.checked_neg().ok_or_else(overflow)?)
}

/// An amount on a group's own side: credits of income and liabilities count positive.
pub fn on_own_side(nature: Nature, balance: Amount) -> DomainResult<Amount> {
    if nature.is_deemed_positive() {
        Ok(balance)
    } else {
        balance.checked_neg().ok_or_else(overflow)
    }
}
