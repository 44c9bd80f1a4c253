//! The simulator's data file: a company's books as JSON. Amounts use the appliance's sign
//! (debit positive); the simulator writes Tally's sign on the wire.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::protocol::calendar::parse_date;
use crate::protocol::groups::{is_primary_parent, reserved_group, RESERVED_GROUPS};
use crate::protocol::Amount;

/// Tally's reserved ledger that carries earlier years' profit or loss.
pub const PROFIT_AND_LOSS: &str = "Profit & Loss A/c";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SimData {
    pub companies: Vec<SimCompany>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimCompany {
    pub name: String,
    pub guid: String,
    /// `YYYY-MM-DD`: the books begin here; opening balances are as of this date.
    pub books_from: String,
    /// `YYYY-MM-DD`: the start of a financial year (its month and day repeat every year).
    pub financial_year_from: String,
    /// User groups; Tally's 28 predefined groups are always there.
    #[serde(default)]
    pub groups: Vec<SimGroup>,
    #[serde(default)]
    pub ledgers: Vec<SimLedger>,
    #[serde(default)]
    pub vouchers: Vec<SimVoucher>,
    /// Stock items, for a company whose accounts are integrated with inventory: the stock's
    /// value then comes from them, as in Tally, not from a ledger.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stock_items: Vec<SimStockItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimStockItem {
    pub name: String,
    pub guid: String,
    /// The item's value at `booksFrom` (Tally's opening stock).
    #[serde(default)]
    pub opening_value: Amount,
}

/// A voucher's inventory line: the stock value it moves at cost (positive = inward, as a
/// purchase; negative = outward, as a sale). Its ledger entries carry the money side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimStockEntry {
    pub item: String,
    pub value: Amount,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimGroup {
    pub name: String,
    pub guid: String,
    pub parent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_revenue: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deemed_positive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affects_gross_profit: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimLedger {
    pub name: String,
    pub guid: String,
    /// The group, by name; `Primary` only for the reserved `Profit & Loss A/c`.
    pub parent: String,
    /// At `booksFrom`; positive = debit.
    #[serde(default)]
    pub opening_balance: Amount,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimVoucher {
    /// `YYYY-MM-DD`
    pub date: String,
    pub voucher_type: String,
    #[serde(default)]
    pub number: String,
    /// Ledger name -> amount, positive = debit. The entries of a voucher sum to zero.
    pub entries: Vec<SimEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stock: Vec<SimStockEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimEntry {
    pub ledger: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{company}: {problem}")]
pub struct DataError {
    pub company: String,
    pub problem: String,
}

impl SimData {
    pub fn load(path: &std::path::Path) -> Result<SimData, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a simulator data file: {e}", path.display()))
    }
}

impl SimCompany {
    pub fn books_from_date(&self) -> Date {
        parse_date(&self.books_from).expect("validated")
    }

    pub fn fy_from_date(&self) -> Date {
        parse_date(&self.financial_year_from).expect("validated")
    }

    /// Adds what every Tally company has (the `Profit & Loss A/c` ledger) and checks the books are
    /// consistent: names resolve, vouchers balance. Returns the first problem. Openings that do
    /// not tally are allowed, as Tally allows them: it shows a "Difference in opening balances".
    pub fn complete_and_check(&mut self) -> Result<(), DataError> {
        let err = |problem: String| DataError {
            company: self.name.clone(),
            problem,
        };
        let books = parse_date(&self.books_from).map_err(|e| err(format!("booksFrom: {e}")))?;
        parse_date(&self.financial_year_from)
            .map_err(|e| err(format!("financialYearFrom: {e}")))?;
        if !self.ledgers.iter().any(|l| l.name == PROFIT_AND_LOSS) {
            self.ledgers.push(SimLedger {
                name: PROFIT_AND_LOSS.into(),
                guid: format!("{}-pl", self.guid),
                parent: "Primary".into(),
                opening_balance: Amount::ZERO,
            });
        }
        let mut groups: HashMap<String, &SimGroup> = HashMap::new();
        for g in &self.groups {
            if reserved_group(&g.name).is_some()
                || groups.insert(g.name.to_lowercase(), g).is_some()
            {
                return Err(err(format!("group `{}` is defined twice", g.name)));
            }
        }
        let group_known =
            |n: &str| groups.contains_key(&n.to_lowercase()) || reserved_group(n).is_some();
        for g in &self.groups {
            if !group_known(&g.parent) {
                return Err(err(format!(
                    "group `{}` has an unknown parent `{}`",
                    g.name, g.parent
                )));
            }
        }
        let mut ledgers = HashMap::new();
        for l in &self.ledgers {
            if ledgers.insert(l.name.as_str(), l).is_some() {
                return Err(err(format!("ledger `{}` is defined twice", l.name)));
            }
            let primary_ok = l.name == PROFIT_AND_LOSS && is_primary_parent(Some(&l.parent));
            if !primary_ok && !group_known(&l.parent) {
                return Err(err(format!(
                    "ledger `{}` has an unknown group `{}`",
                    l.name, l.parent
                )));
            }
        }
        let items: std::collections::HashSet<&str> =
            self.stock_items.iter().map(|i| i.name.as_str()).collect();
        if items.len() != self.stock_items.len() {
            return Err(err("a stock item is defined twice".into()));
        }
        for (i, v) in self.vouchers.iter().enumerate() {
            let d = parse_date(&v.date).map_err(|e| err(format!("voucher {i}: {e}")))?;
            if d < books {
                return Err(err(format!(
                    "voucher {i} is dated {d}, before the books begin"
                )));
            }
            let mut sum = Amount::ZERO;
            for e in &v.entries {
                if !ledgers.contains_key(e.ledger.as_str()) {
                    return Err(err(format!(
                        "voucher {i} names an unknown ledger `{}`",
                        e.ledger
                    )));
                }
                sum = sum
                    .checked_add(e.amount)
                    .ok_or_else(|| err(format!("voucher {i} overflows")))?;
            }
            if !sum.is_zero() {
                return Err(err(format!(
                    "voucher {i} does not balance: its entries sum to {sum}"
                )));
            }
            if let Some(s) = v.stock.iter().find(|s| !items.contains(s.item.as_str())) {
                return Err(err(format!(
                    "voucher {i} names an unknown stock item `{}`",
                    s.item
                )));
            }
        }
        Ok(())
    }
}

/// Every group the company has: the predefined ones (with generated GUIDs) and its own.
pub fn all_groups(c: &SimCompany) -> Vec<SimGroup> {
    let mut out: Vec<SimGroup> = RESERVED_GROUPS
        .iter()
        .enumerate()
        .map(|(i, r)| SimGroup {
            name: r.name.into(),
            guid: format!("{}-rg{:02}", c.guid, i),
            parent: r.parent.unwrap_or("Primary").into(),
            is_revenue: Some(r.nature.is_revenue()),
            is_deemed_positive: Some(r.nature.is_deemed_positive()),
            affects_gross_profit: Some(r.affects_gross_profit),
        })
        .collect();
    out.extend(c.groups.iter().cloned());
    out
}
