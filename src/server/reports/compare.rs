//! A month against the previous month or the same month a year before (`?compare=`). The trial
//! balance compares closing balances as Tally shows them (a revenue ledger's run from the
//! financial year's start); the profit and loss carries the other month's own figures, so a
//! month's sales are compared with that month's sales.

use std::collections::HashMap;
use std::str::FromStr;

use rusqlite::Connection;

use super::natures::sub;
use super::trial_balance;
use crate::protocol::{Amount, ComparedMonth, MonthKey, TrialBalanceGroup, TrialBalanceTree};
use crate::server::domain_error::{DomainError, DomainResult, Refusal};

/// What a month is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    Previous,
    Year,
}

impl FromStr for Against {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "previous" => Ok(Against::Previous),
            "year" => Ok(Against::Year),
            other => Err(format!(
                "`{other}` is not a comparison; use `previous` (the month before) or `year` (the same month a year before)"
            )),
        }
    }
}

impl Against {
    pub fn month(self, month: MonthKey) -> MonthKey {
        match self {
            Against::Previous => month.previous(),
            Against::Year => MonthKey::new(month.year() - 1, month.month()).unwrap_or(month),
        }
    }
}

/// `Ok(None)` when the report's month is not held: a comparison with a missing month says so.
pub fn held<T>(found: DomainResult<T>) -> DomainResult<Option<T>> {
    match found {
        Ok(t) => Ok(Some(t)),
        Err(DomainError::Refused {
            refusal: Refusal::NotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The month's group tree with, on every group and ledger, the compared month's balance and
/// the change.
pub fn trial_balance_tree(
    c: &Connection,
    company_id: &str,
    month: MonthKey,
    against: Against,
) -> DomainResult<TrialBalanceTree> {
    let mut tree = trial_balance::trial_balance_tree(c, company_id, month)?;
    let other = against.month(month);
    let before = held(trial_balance::trial_balance_tree(c, company_id, other))?;
    tree.compared_with = Some(ComparedMonth {
        month_key: other.to_string(),
        held: before.is_some(),
    });
    if let Some(before) = before {
        let mut balances = Balances::default();
        for g in &before.groups {
            balances.collect(g, "");
        }
        for g in &mut tree.groups {
            balances.apply(g, "")?;
        }
    }
    Ok(tree)
}

/// The compared month's balances: groups by their path, ledgers by GUID.
#[derive(Default)]
struct Balances {
    groups: HashMap<String, Amount>,
    ledgers: HashMap<String, Amount>,
}

impl Balances {
    fn collect(&mut self, g: &TrialBalanceGroup, parent: &str) {
        let path = format!("{parent}/{}", g.name.to_lowercase());
        for sub in &g.groups {
            self.collect(sub, &path);
        }
        for l in &g.ledgers {
            self.ledgers.insert(l.ledger_guid.clone(), l.balance);
        }
        self.groups.insert(path, g.balance);
    }

    fn apply(&self, g: &mut TrialBalanceGroup, parent: &str) -> DomainResult<()> {
        let path = format!("{parent}/{}", g.name.to_lowercase());
        for sub in &mut g.groups {
            self.apply(sub, &path)?;
        }
        for l in &mut g.ledgers {
            let before = self
                .ledgers
                .get(&l.ledger_guid)
                .copied()
                .unwrap_or(Amount::ZERO);
            l.compare_balance = Some(before);
            l.change = Some(sub(l.balance, before)?);
        }
        let before = self.groups.get(&path).copied().unwrap_or(Amount::ZERO);
        g.compare_balance = Some(before);
        g.change = Some(sub(g.balance, before)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_compared_with_the_one_before_or_a_year_before() {
        let m = |s: &str| s.parse::<MonthKey>().unwrap();
        assert_eq!(Against::Previous.month(m("2026-04")), m("2026-03"));
        assert_eq!(Against::Previous.month(m("2026-01")), m("2025-12"));
        assert_eq!(Against::Year.month(m("2026-03")), m("2025-03"));
        assert!("yesterday"
            .parse::<Against>()
            .unwrap_err()
            .contains("previous"));
    }
}
