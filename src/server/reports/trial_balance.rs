//! A month's trial balance as a group tree: Tally's primary groups in the order Tally prints
//! them, then the company's own, each with the debit and credit subtotals of its ledgers.

use rusqlite::Connection;

use crate::protocol::{Amount, MonthKey, TrialBalance, TrialBalanceGroup, TrialBalanceTree};
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::snapshots;

/// The order of Tally's own trial balance: liabilities, assets, then the revenue groups.
const PRIMARY_ORDER: [&str; 15] = [
    "Capital Account",
    "Loans (Liability)",
    "Current Liabilities",
    "Suspense A/c",
    "Branch / Divisions",
    "Fixed Assets",
    "Investments",
    "Current Assets",
    "Misc. Expenses (ASSET)",
    "Sales Accounts",
    "Purchase Accounts",
    "Direct Incomes",
    "Direct Expenses",
    "Indirect Incomes",
    "Indirect Expenses",
];

pub fn trial_balance_tree(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
) -> DomainResult<TrialBalanceTree> {
    let tb = snapshots::trial_balance(c, company_id, month)?;
    build(tb)
}

/// Builds the tree from the flat trial balance (every ledger with its group path).
pub fn build(tb: TrialBalance) -> DomainResult<TrialBalanceTree> {
    let mut root = node("");
    for line in tb.ledgers {
        let path = line.group_path.clone();
        let mut at = &mut root;
        for name in &path {
            let i = match at.groups.iter().position(|g| &g.name == name) {
                Some(i) => i,
                None => {
                    at.groups.push(node(name));
                    at.groups.len() - 1
                }
            };
            at = &mut at.groups[i];
        }
        at.ledgers.push(line);
    }
    total(&mut root)?;
    let mut groups = root.groups;
    groups.sort_by_key(|g| primary_rank(&g.name));
    // Ledgers sitting directly under Primary (rare) are shown as a group of their own.
    if !root.ledgers.is_empty() {
        let mut loose = node("(no group)");
        loose.ledgers = root.ledgers;
        total(&mut loose)?;
        groups.push(loose);
    }
    Ok(TrialBalanceTree {
        company_id: tb.company_id,
        summary: tb.summary,
        groups,
        compared_with: None,
    })
}

fn node(name: &str) -> TrialBalanceGroup {
    TrialBalanceGroup {
        name: name.to_string(),
        debit: Amount::ZERO,
        credit: Amount::ZERO,
        balance: Amount::ZERO,
        groups: Vec::new(),
        ledgers: Vec::new(),
        compare_balance: None,
        change: None,
    }
}

/// Where a primary group comes in Tally's order; the company's own groups after, by name.
pub fn primary_rank(name: &str) -> (usize, String) {
    let rank = PRIMARY_ORDER
        .iter()
        .position(|p| p.eq_ignore_ascii_case(name))
        .unwrap_or(PRIMARY_ORDER.len());
    (rank, name.to_lowercase())
}

fn overflow() -> DomainError {
    DomainError::internal(
        "adding up a trial balance",
        "group subtotals exceed what an amount can hold",
    )
}

fn add(a: Amount, b: Amount) -> DomainResult<Amount> {
    a.checked_add(b).ok_or_else(overflow)
}

/// Fills in the subtotals bottom-up and sorts subgroups and ledgers by name.
fn total(g: &mut TrialBalanceGroup) -> DomainResult<()> {
    let (mut debit, mut credit) = (Amount::ZERO, Amount::ZERO);
    for sub in &mut g.groups {
        total(sub)?;
        debit = add(debit, sub.debit)?;
        credit = add(credit, sub.credit)?;
    }
    for l in &g.ledgers {
        debit = add(debit, l.debit)?;
        credit = add(credit, l.credit)?;
    }
    g.debit = debit;
    g.credit = credit;
    g.balance = add(debit, credit.checked_neg().ok_or_else(overflow)?)?;
    g.groups.sort_by_key(|s| s.name.to_lowercase());
    g.ledgers.sort_by_key(|l| l.ledger_name.to_lowercase());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::groups::RESERVED_GROUPS;

    #[test]
    fn every_primary_group_has_a_place_in_the_order() {
        for g in RESERVED_GROUPS.iter().filter(|g| g.parent.is_none()) {
            assert!(PRIMARY_ORDER.contains(&g.name), "{}", g.name);
        }
    }
}
