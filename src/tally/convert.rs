//! From Tally's records to the appliance's wire convention: debit positive, `Primary` as no parent.

use std::collections::HashMap;

use super::records::{LedgerBalance, RecordError, TallyGroup, TallyLedger};
use crate::protocol::groups::{reserved_group, Nature};
use crate::protocol::{Amount, GroupRecord, LedgerRecord};

/// Tally writes a debit as negative; the wire and the appliance write it as positive.
pub fn to_wire_sign(tally: Amount) -> Amount {
    Amount::from_paise(-tally.paise())
}

/// The group on the wire; the wire identifies groups by GUID, so one without is an error.
pub fn wire_group(g: &TallyGroup) -> Result<GroupRecord, RecordError> {
    let guid = g.guid.clone().ok_or_else(|| RecordError::Missing {
        kind: "group",
        name: g.name.clone(),
        field: "GUID",
    })?;
    Ok(GroupRecord {
        name: g.name.clone(),
        parent: g.parent.clone(),
        guid,
        kind: Some("Group".into()),
        is_revenue: g.is_revenue,
        is_deemed_positive: g.is_deemed_positive,
        affects_gross_profit: g.affects_gross_profit,
        reserved_name: g.reserved_name.clone(),
    })
}

/// The ledger on the wire, taking the record apart rather than copying it. A ledger directly
/// under Tally's root (only the reserved `Profit & Loss A/c`) names `Primary` as its group, since
/// a ledger always has one.
pub fn wire_ledger(l: TallyLedger) -> LedgerRecord {
    let group = l
        .parent
        .unwrap_or_else(|| crate::protocol::groups::PRIMARY.to_string());
    LedgerRecord {
        guid: l.guid,
        name: l.name,
        parent: Some(group.clone()),
        group_name: Some(group),
        kind: Some("Ledger".into()),
    }
}

/// A closing balance on the wire, as (GUID, debit-positive amount); a zero balance is left out
/// (a ledger missing from a month has a zero balance).
/// Only a checked answer reaches here ([`super::balances::complete`]); a balance Tally left out
/// is never taken for zero.
pub fn wire_balance(b: &LedgerBalance) -> Option<(&str, Amount)> {
    b.closing
        .filter(|c| !c.is_zero())
        .map(|c| (b.guid.as_str(), to_wire_sign(c)))
}

/// A group's nature from its own flags, or else from the nearest ancestor that has them, or
/// else from the predefined group it descends from.
pub fn group_nature(name: &str, groups: &HashMap<String, &TallyGroup>) -> Option<Nature> {
    let mut at = Some(name.to_string());
    for _ in 0..64 {
        let current = at.take()?;
        if let Some(g) = groups.get(&current.to_lowercase()) {
            if let (Some(dp), Some(rev)) = (g.is_deemed_positive, g.is_revenue) {
                return Some(Nature::from_flags(dp, rev));
            }
            at = g.parent.clone();
        } else if let Some(r) = reserved_group(&current) {
            return Some(r.nature);
        } else {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, parent: Option<&str>, flags: Option<(bool, bool)>) -> TallyGroup {
        TallyGroup {
            name: name.into(),
            guid: Some(format!("g-{name}")),
            parent: parent.map(str::to_string),
            reserved_name: None,
            is_deemed_positive: flags.map(|f| f.0),
            is_revenue: flags.map(|f| f.1),
            affects_gross_profit: None,
            master_id: None,
            aliases: vec![],
        }
    }

    #[test]
    fn sign_and_nature() {
        assert_eq!(to_wire_sign(Amount::from_paise(-1200)).paise(), 1200);
        let a = group("Mumbai Debtors", Some("Sundry Debtors"), None);
        let b = group("Consultancy", Some("Indirect Incomes"), Some((false, true)));
        let map: HashMap<String, &TallyGroup> = [(&a, "mumbai debtors"), (&b, "consultancy")]
            .into_iter()
            .map(|(g, k)| (k.to_string(), g))
            .collect();
        assert_eq!(group_nature("Mumbai Debtors", &map), Some(Nature::Asset));
        assert_eq!(group_nature("Consultancy", &map), Some(Nature::Income));
        assert_eq!(group_nature("Unknown", &map), None);
    }
}
