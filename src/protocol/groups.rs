//! Tally's 28 predefined groups and group nature. Shared by the server (to resolve parents a
//! payload names without sending) and by the Tally layer and simulator.

use serde::{Deserialize, Serialize};

/// What a group's balances are, as Tally derives it from ISDEEMEDPOSITIVE and ISREVENUE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nature {
    Asset,
    Liability,
    Income,
    Expense,
}

impl Nature {
    /// Tally's rule: (deemed positive, revenue) -> (Yes,No) asset, (Yes,Yes) expense,
    /// (No,Yes) income, (No,No) liability.
    pub fn from_flags(is_deemed_positive: bool, is_revenue: bool) -> Nature {
        match (is_deemed_positive, is_revenue) {
            (true, false) => Nature::Asset,
            (true, true) => Nature::Expense,
            (false, true) => Nature::Income,
            (false, false) => Nature::Liability,
        }
    }

    pub fn is_revenue(self) -> bool {
        matches!(self, Nature::Income | Nature::Expense)
    }

    pub fn is_deemed_positive(self) -> bool {
        matches!(self, Nature::Asset | Nature::Expense)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Nature::Asset => "asset",
            Nature::Liability => "liability",
            Nature::Income => "income",
            Nature::Expense => "expense",
        }
    }
}

/// One of Tally's predefined groups. `parent` is `None` for the 15 primary groups.
#[derive(Clone, Copy, Debug)]
pub struct ReservedGroup {
    pub name: &'static str,
    pub parent: Option<&'static str>,
    pub nature: Nature,
    pub affects_gross_profit: bool,
}

/// The name Tally gives the root of the group tree. A group whose parent is `Primary` is top-level.
pub const PRIMARY: &str = "Primary";

const fn g(
    name: &'static str,
    parent: Option<&'static str>,
    nature: Nature,
    gp: bool,
) -> ReservedGroup {
    ReservedGroup {
        name,
        parent,
        nature,
        affects_gross_profit: gp,
    }
}

use Nature::*;

/// As a fresh TallyPrime company has them (checked against a real Export of the groups collection).
pub const RESERVED_GROUPS: [ReservedGroup; 28] = [
    g("Branch / Divisions", None, Liability, false),
    g("Capital Account", None, Liability, false),
    g("Current Assets", None, Asset, false),
    g("Current Liabilities", None, Liability, false),
    g("Direct Expenses", None, Expense, true),
    g("Direct Incomes", None, Income, true),
    g("Fixed Assets", None, Asset, false),
    g("Indirect Expenses", None, Expense, false),
    g("Indirect Incomes", None, Income, false),
    g("Investments", None, Asset, false),
    g("Loans (Liability)", None, Liability, false),
    g("Misc. Expenses (ASSET)", None, Asset, false),
    g("Purchase Accounts", None, Expense, true),
    g("Sales Accounts", None, Income, true),
    g("Suspense A/c", None, Liability, false),
    g("Bank Accounts", Some("Current Assets"), Asset, false),
    g("Bank OD A/c", Some("Loans (Liability)"), Liability, false),
    g("Cash-in-Hand", Some("Current Assets"), Asset, false),
    g("Deposits (Asset)", Some("Current Assets"), Asset, false),
    g(
        "Duties & Taxes",
        Some("Current Liabilities"),
        Liability,
        false,
    ),
    g(
        "Loans & Advances (Asset)",
        Some("Current Assets"),
        Asset,
        false,
    ),
    g("Provisions", Some("Current Liabilities"), Liability, false),
    g(
        "Reserves & Surplus",
        Some("Capital Account"),
        Liability,
        false,
    ),
    g("Secured Loans", Some("Loans (Liability)"), Liability, false),
    g("Stock-in-Hand", Some("Current Assets"), Asset, false),
    g(
        "Sundry Creditors",
        Some("Current Liabilities"),
        Liability,
        false,
    ),
    g("Sundry Debtors", Some("Current Assets"), Asset, false),
    g(
        "Unsecured Loans",
        Some("Loans (Liability)"),
        Liability,
        false,
    ),
];

/// Finds a predefined group by name, case-insensitively as Tally matches reserved names.
pub fn reserved_group(name: &str) -> Option<&'static ReservedGroup> {
    let name = name.trim();
    RESERVED_GROUPS
        .iter()
        .find(|g| g.name.eq_ignore_ascii_case(name))
}

/// True when `parent` names the root: absent, empty, or `Primary` (with Tally's `\u{4}` marker or not).
pub fn is_primary_parent(parent: Option<&str>) -> bool {
    match parent {
        None => true,
        Some(p) => {
            let p = p.trim_matches(|c: char| c.is_whitespace() || c.is_control());
            p.is_empty() || p.eq_ignore_ascii_case(PRIMARY)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_primary_and_thirteen_sub_groups() {
        assert_eq!(
            RESERVED_GROUPS
                .iter()
                .filter(|g| g.parent.is_none())
                .count(),
            15
        );
        for g in RESERVED_GROUPS.iter().filter_map(|g| g.parent) {
            assert!(reserved_group(g).is_some(), "{g}");
        }
        assert_eq!(
            reserved_group("sundry debtors").unwrap().nature,
            Nature::Asset
        );
        assert!(is_primary_parent(Some("\u{4} Primary")));
        assert!(!is_primary_parent(Some("Current Assets")));
    }

    #[test]
    fn nature_flags_round_trip() {
        for n in [Asset, Liability, Income, Expense] {
            assert_eq!(
                Nature::from_flags(n.is_deemed_positive(), n.is_revenue()),
                n
            );
        }
    }
}
