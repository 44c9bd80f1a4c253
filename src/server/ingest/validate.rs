//! Everything about a sync payload is checked before anything is written, and every problem is
//! reported with its JSON path, so a connector author can fix them all in one go.

use std::collections::HashMap;

use crate::protocol::calendar::{parse_date, MonthKey};
use crate::protocol::groups::{is_primary_parent, reserved_group};
use crate::protocol::{
    ChartOfAccounts, CompanyFacts, GroupRecord, LedgerRecord, MonthBalances, PartChart,
    StockValues, SyncPayload,
};
use crate::server::domain_error::DomainResult;
use crate::server::problems::Problems;

/// One month ready to store: the items as (index into `chartOfAccounts.ledgers`, paise).
pub struct ValidMonth {
    pub key: MonthKey,
    pub as_of_date: String,
    pub closed: bool,
    pub items: Vec<(usize, i64)>,
    pub stock: Option<StockValues>,
}

pub struct Validated {
    pub months: Vec<ValidMonth>,
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The chart of accounts as checked: a whole payload's, or that of a sync's first part.
#[derive(Clone, Copy)]
pub struct Chart<'p> {
    pub company: Option<&'p CompanyFacts>,
    pub groups: &'p [GroupRecord],
    pub ledgers: &'p [LedgerRecord],
}

impl<'p> From<&'p ChartOfAccounts> for Chart<'p> {
    fn from(c: &'p ChartOfAccounts) -> Self {
        Chart {
            company: c.company.as_ref(),
            groups: &c.groups,
            ledgers: &c.ledgers,
        }
    }
}

impl<'p> From<&'p PartChart> for Chart<'p> {
    fn from(c: &'p PartChart) -> Self {
        Chart {
            company: c.company.as_ref(),
            groups: &c.groups,
            ledgers: &c.ledgers,
        }
    }
}

pub fn validate(p: &SyncPayload) -> DomainResult<Validated> {
    // Texts out of bounds first, alone: the checks below quote names in their messages.
    let mut bounds = Problems::new();
    super::bounds::check(p, &mut bounds);
    bounds.into_counted_result("The payload", "nothing was stored")?;
    let mut problems = Problems::new();
    let ledgers = check_chart((&p.chart_of_accounts).into(), &mut problems);
    let months = check_months(p, &ledgers, &mut problems);
    problems.into_counted_result("The payload", "nothing was stored")?;
    Ok(Validated { months })
}

/// Checks the company's facts, groups and ledgers; returns the index of each ledger GUID in
/// `ledgers`.
pub fn check_chart<'p>(coa: Chart<'p>, problems: &mut Problems) -> HashMap<&'p str, usize> {
    check_company_facts(coa, problems);
    let mut guids = Guids::default();
    let groups = check_groups(coa, &mut guids, problems);
    check_group_parents(coa, &groups, problems);
    check_group_cycles(coa.groups, &groups, problems);
    check_ledgers(coa, &mut guids, &groups, problems)
}

fn check_company_facts(coa: Chart<'_>, problems: &mut Problems) {
    let Some(facts) = coa.company else {
        return;
    };
    for (field, value) in [
        ("booksFrom", &facts.books_from),
        ("financialYearFrom", &facts.financial_year_from),
    ] {
        if let Some(Err(e)) = value.as_deref().map(parse_date) {
            problems.add_with(
                || format!("chartOfAccounts.company.{field}"),
                || e.to_string(),
            );
        }
    }
}

/// GUIDs are unique across groups and ledgers: Tally gives every master its own.
#[derive(Default)]
struct Guids<'p>(HashMap<&'p str, String>);

impl<'p> Guids<'p> {
    fn check(&mut self, guid: &'p str, path: String, problems: &mut Problems) {
        if blank(guid) {
            problems.add_with(|| path, || "guid is empty".into());
        } else if let Some(first) = self.0.get(guid) {
            problems.add_with(
                || path,
                || format!("guid `{guid}` is used again (first at {first})"),
            );
        } else {
            self.0.insert(guid, path);
        }
    }
}

/// The payload's group names (lowercased) and their index.
struct GroupNames(HashMap<String, usize>);

impl GroupNames {
    /// A group is known when the payload has it or it is one of Tally's predefined groups.
    fn knows(&self, name: &str) -> bool {
        self.0.contains_key(&name.trim().to_lowercase()) || reserved_group(name).is_some()
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.0.get(&name.trim().to_lowercase()).copied()
    }
}

fn check_groups<'p>(coa: Chart<'p>, guids: &mut Guids<'p>, problems: &mut Problems) -> GroupNames {
    let mut names = HashMap::with_capacity(coa.groups.len());
    for (i, g) in coa.groups.iter().enumerate() {
        let path = |f: &str| format!("chartOfAccounts.groups[{i}].{f}");
        guids.check(&g.guid, path("guid"), problems);
        if blank(&g.name) {
            problems.add_with(|| path("name"), || "name is empty".into());
        } else if let Some(first) = names.insert(g.name.trim().to_lowercase(), i) {
            problems.add_with(
                || path("name"),
                || {
                    format!(
                        "group name `{}` is used again (first at groups[{first}])",
                        g.name
                    )
                },
            );
        }
    }
    GroupNames(names)
}

fn check_group_parents(coa: Chart<'_>, groups: &GroupNames, problems: &mut Problems) {
    for (i, g) in coa.groups.iter().enumerate() {
        let parent = g.parent.as_deref();
        if is_primary_parent(parent) {
            continue;
        }
        let parent = parent.unwrap_or_default();
        if !groups.knows(parent) {
            problems.add_with(
                || format!("chartOfAccounts.groups[{i}].parent"),
                || format!("parent group `{parent}` is neither in `groups` nor one of Tally's predefined groups"),
            );
        }
    }
}

/// Checks every ledger; returns the index of each ledger GUID in `chartOfAccounts.ledgers`.
fn check_ledgers<'p>(
    coa: Chart<'p>,
    guids: &mut Guids<'p>,
    groups: &GroupNames,
    problems: &mut Problems,
) -> HashMap<&'p str, usize> {
    let mut index = HashMap::with_capacity(coa.ledgers.len());
    for (i, l) in coa.ledgers.iter().enumerate() {
        let path = |f: &str| format!("chartOfAccounts.ledgers[{i}].{f}");
        guids.check(&l.guid, path("guid"), problems);
        index.entry(l.guid.as_str()).or_insert(i);
        if blank(&l.name) {
            problems.add_with(|| path("name"), || "name is empty".into());
        }
        match l.group() {
            None => problems.add_with(|| path("parent"), || "the ledger's group (`parent`) is missing".into()),
            Some(group) if !is_primary_parent(Some(group)) && !groups.knows(group) => problems.add_with(
                || path("parent"),
                || format!("group `{group}` is neither in `groups` nor one of Tally's predefined groups"),
            ),
            Some(_) => {}
        }
    }
    index
}

/// The current month and the closed months, oldest first. A closed month must come before the
/// current one and appear once.
fn check_months(
    p: &SyncPayload,
    ledgers: &HashMap<&str, usize>,
    problems: &mut Problems,
) -> Vec<ValidMonth> {
    let balances = &p.chart_of_accounts.balances;
    let current_path = "chartOfAccounts.balances.current";
    let current = check_month(&balances.current, current_path, ledgers, problems, false);
    if let (Some(top), Some(cur)) = (&p.as_of_date, &current) {
        if *top != cur.as_of_date {
            problems.add_with(
                || "asOfDate".into(),
                || {
                    format!(
                        "`{top}` differs from balances.current.asOfDate `{}`",
                        cur.as_of_date
                    )
                },
            );
        }
    }
    let mut months = Vec::with_capacity(balances.closed_months.len() + 1);
    let mut seen: HashMap<MonthKey, String> = HashMap::new();
    if let Some(cur) = &current {
        seen.insert(cur.key, "balances.current".into());
    }
    for (i, m) in balances.closed_months.iter().enumerate() {
        let path = format!("chartOfAccounts.balances.closedMonths[{i}]");
        let Some(valid) = check_month(m, &path, ledgers, problems, true) else {
            continue;
        };
        if closed_month_fits(&valid, current.as_ref(), &seen, &path, problems) {
            seen.insert(valid.key, format!("balances.closedMonths[{i}]"));
            months.push(valid);
        }
    }
    months.extend(current);
    months.sort_by_key(|m| m.key);
    months
}

fn closed_month_fits(
    month: &ValidMonth,
    current: Option<&ValidMonth>,
    seen: &HashMap<MonthKey, String>,
    path: &str,
    problems: &mut Problems,
) -> bool {
    if let Some(first) = seen.get(&month.key) {
        problems.add_with(
            || format!("{path}.monthKey"),
            || format!("month {} appears again (first at {first})", month.key),
        );
        return false;
    }
    match current {
        Some(cur) if month.key >= cur.key => {
            problems.add_with(
                || format!("{path}.monthKey"),
                || {
                    format!(
                        "closed month {} is not before the current month {}",
                        month.key, cur.key
                    )
                },
            );
            false
        }
        _ => true,
    }
}

pub fn check_month(
    m: &MonthBalances,
    path: &str,
    ledgers: &HashMap<&str, usize>,
    problems: &mut Problems,
    closed: bool,
) -> Option<ValidMonth> {
    let key = match m.month_key.parse::<MonthKey>() {
        Ok(k) => Some(k),
        Err(e) => {
            problems.add_with(|| format!("{path}.monthKey"), || e.to_string());
            None
        }
    };
    let date = match parse_date(&m.as_of_date) {
        Ok(d) => Some(d),
        Err(e) => {
            problems.add_with(|| format!("{path}.asOfDate"), || e.to_string());
            None
        }
    };
    if let (Some(k), Some(d)) = (key, date) {
        if !k.contains(d) {
            problems.add_with(
                || format!("{path}.asOfDate"),
                || format!("{} is not inside month {k}", m.as_of_date),
            );
        }
    }
    let items = check_items(m, path, ledgers, problems);
    Some(ValidMonth {
        key: key?,
        as_of_date: m.as_of_date.clone(),
        closed,
        items,
        stock: m.stock,
    })
    .filter(|_| date.is_some())
}

/// The largest balance one ledger may have, in paise (₹10^15, far beyond any company's books).
/// Kept well inside `i64` so that differences between two months, and the reports' sums, never
/// overflow: a hostile connector cannot break a company's reports or the overview with a balance
/// near the limit of the integer type.
pub const MAX_LEDGER_BALANCE_PAISE: i64 = 100_000_000_000_000_000;

/// The month's items as (ledger index, paise); each must name a known ledger, once.
fn check_items(
    m: &MonthBalances,
    path: &str,
    ledgers: &HashMap<&str, usize>,
    problems: &mut Problems,
) -> Vec<(usize, i64)> {
    let mut items = Vec::with_capacity(m.items.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(m.items.len());
    for (j, item) in m.items.iter().enumerate() {
        let guid = item.ledger_guid.as_str();
        let Some(&idx) = ledgers.get(guid) else {
            problems.add_with(
                || format!("{path}.items[{j}].ledgerGuid"),
                || format!("`{guid}` is not the guid of a ledger in chartOfAccounts.ledgers"),
            );
            continue;
        };
        if item.balance.paise().unsigned_abs() > MAX_LEDGER_BALANCE_PAISE.unsigned_abs() {
            problems.add_with(
                || format!("{path}.items[{j}].balance"),
                || format!("the balance of ledger `{guid}` is larger than any books hold (at most ₹10^15)"),
            );
            continue;
        }
        if let Some(first) = seen.insert(guid, j) {
            problems.add_with(
                || format!("{path}.items[{j}].ledgerGuid"),
                || format!("ledger `{guid}` already has a balance in this month (items[{first}])"),
            );
        } else {
            items.push((idx, item.balance.paise()));
        }
    }
    items
}

/// A group tree must be a tree: following parents from any group ends at the root.
fn check_group_cycles(groups: &[GroupRecord], names: &GroupNames, problems: &mut Problems) {
    let parent_of = |i: usize| -> Option<usize> {
        let parent = groups[i].parent.as_deref();
        if is_primary_parent(parent) {
            return None;
        }
        names.index_of(parent?)
    };
    // 0 = unvisited, 1 = on the current path, 2 = known to reach the root.
    let mut mark = vec![0u8; groups.len()];
    for start in 0..groups.len() {
        let mut path = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            match mark[i] {
                2 => break,
                1 => {
                    problems.add_with(
                        || format!("chartOfAccounts.groups[{i}].parent"),
                        || {
                            format!(
                                "group `{}` is its own ancestor (the parents form a cycle)",
                                groups[i].name
                            )
                        },
                    );
                    break;
                }
                _ => {
                    mark[i] = 1;
                    path.push(i);
                    at = parent_of(i);
                }
            }
        }
        for i in path {
            mark[i] = 2;
        }
    }
}
