//! Everything about a sync payload is checked before anything is written, and every problem is
//! reported with its JSON path, so a connector author can fix them all in one go.

use std::collections::HashMap;

use crate::protocol::calendar::{parse_date, MonthKey};
use crate::protocol::groups::{is_primary_parent, reserved_group};
use crate::protocol::{ErrorDetail, MonthBalances, SyncPayload};
use crate::server::error::ApiError;

/// Past this many problems the rest are only counted: the first ones are enough to act on.
const MAX_DETAILS: usize = 100;

/// One month ready to store: the items as (index into `chartOfAccounts.ledgers`, paise).
pub struct ValidMonth {
    pub key: MonthKey,
    pub as_of_date: String,
    pub closed: bool,
    pub items: Vec<(usize, i64)>,
}

pub struct Validated {
    pub months: Vec<ValidMonth>,
}

#[derive(Default)]
struct Problems {
    details: Vec<ErrorDetail>,
    total: usize,
}

impl Problems {
    fn add(&mut self, path: impl FnOnce() -> String, message: impl FnOnce() -> String) {
        self.total += 1;
        if self.details.len() < MAX_DETAILS {
            self.details.push(ErrorDetail {
                path: path(),
                message: message(),
            });
        }
    }
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

pub fn validate(p: &SyncPayload) -> Result<Validated, ApiError> {
    let coa = &p.chart_of_accounts;
    let mut problems = Problems::default();

    if let Some(facts) = &coa.company {
        for (field, value) in [
            ("booksFrom", &facts.books_from),
            ("financialYearFrom", &facts.financial_year_from),
        ] {
            if let Some(v) = value {
                if let Err(e) = parse_date(v) {
                    problems.add(
                        || format!("chartOfAccounts.company.{field}"),
                        || e.to_string(),
                    );
                }
            }
        }
    }

    // GUIDs are unique across groups and ledgers: Tally gives every master its own.
    let mut guids: HashMap<&str, String> =
        HashMap::with_capacity(coa.groups.len() + coa.ledgers.len());
    let mut group_names: HashMap<String, usize> = HashMap::with_capacity(coa.groups.len());
    fn check_guid<'p>(
        guids: &mut HashMap<&'p str, String>,
        guid: &'p str,
        path: String,
        problems: &mut Problems,
    ) {
        if blank(guid) {
            problems.add(|| path, || "guid is empty".into());
        } else if let Some(first) = guids.get(guid) {
            let first = first.clone();
            problems.add(
                || path,
                || format!("guid `{guid}` is used again (first at {first})"),
            );
        } else {
            guids.insert(guid, path);
        }
    }

    for (i, g) in coa.groups.iter().enumerate() {
        let path = |f: &str| format!("chartOfAccounts.groups[{i}].{f}");
        check_guid(&mut guids, &g.guid, path("guid"), &mut problems);
        if blank(&g.name) {
            problems.add(|| path("name"), || "name is empty".into());
        } else if let Some(first) = group_names.insert(g.name.trim().to_lowercase(), i) {
            problems.add(
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
    let group_known = |name: &str| {
        group_names.contains_key(&name.trim().to_lowercase()) || reserved_group(name).is_some()
    };

    for (i, g) in coa.groups.iter().enumerate() {
        let parent = g.parent.as_deref();
        if !is_primary_parent(parent) {
            let parent = parent.unwrap_or_default();
            if !group_known(parent) {
                problems.add(
                    || format!("chartOfAccounts.groups[{i}].parent"),
                    || format!("parent group `{parent}` is neither in `groups` nor one of Tally's predefined groups"),
                );
            }
        }
    }
    check_group_cycles(p, &group_names, &mut problems);

    let mut ledger_index: HashMap<&str, usize> = HashMap::with_capacity(coa.ledgers.len());
    for (i, l) in coa.ledgers.iter().enumerate() {
        let path = |f: &str| format!("chartOfAccounts.ledgers[{i}].{f}");
        check_guid(&mut guids, &l.guid, path("guid"), &mut problems);
        ledger_index.entry(l.guid.as_str()).or_insert(i);
        if blank(&l.name) {
            problems.add(|| path("name"), || "name is empty".into());
        }
        match l.group() {
            None => problems.add(|| path("parent"), || "the ledger's group (`parent`) is missing".into()),
            Some(group) if !is_primary_parent(Some(group)) && !group_known(group) => problems.add(
                || path("parent"),
                || format!("group `{group}` is neither in `groups` nor one of Tally's predefined groups"),
            ),
            Some(_) => {}
        }
    }

    let balances = &coa.balances;
    let current = check_month(
        &balances.current,
        "chartOfAccounts.balances.current",
        &ledger_index,
        &mut problems,
        false,
    );
    if let (Some(top), Some(cur)) = (&p.as_of_date, &current) {
        if *top != cur.as_of_date {
            problems.add(
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
    let mut months: Vec<ValidMonth> = Vec::with_capacity(balances.closed_months.len() + 1);
    let mut seen: HashMap<MonthKey, String> = HashMap::new();
    if let Some(cur) = &current {
        seen.insert(cur.key, "balances.current".into());
    }
    for (i, m) in balances.closed_months.iter().enumerate() {
        let path = format!("chartOfAccounts.balances.closedMonths[{i}]");
        let Some(valid) = check_month(m, &path, &ledger_index, &mut problems, true) else {
            continue;
        };
        if let Some(first) = seen.get(&valid.key) {
            let first = first.clone();
            problems.add(
                || format!("{path}.monthKey"),
                || format!("month {} appears again (first at {first})", valid.key),
            );
            continue;
        }
        if let Some(cur) = &current {
            if valid.key >= cur.key {
                problems.add(
                    || format!("{path}.monthKey"),
                    || {
                        format!(
                            "closed month {} is not before the current month {}",
                            valid.key, cur.key
                        )
                    },
                );
                continue;
            }
        }
        seen.insert(valid.key, format!("balances.closedMonths[{i}]"));
        months.push(valid);
    }
    if problems.total > 0 {
        let shown = problems.details.len();
        let message = if problems.total > shown {
            format!(
                "The payload has {} problems (the first {shown} are listed); nothing was stored.",
                problems.total
            )
        } else if problems.total == 1 {
            format!(
                "{}: {}; nothing was stored.",
                problems.details[0].path, problems.details[0].message
            )
        } else {
            format!(
                "The payload has {} problems; nothing was stored.",
                problems.total
            )
        };
        return Err(ApiError::invalid(message, problems.details));
    }
    months.extend(current);
    months.sort_by_key(|m| m.key);
    Ok(Validated { months })
}

fn check_month(
    m: &MonthBalances,
    path: &str,
    ledgers: &HashMap<&str, usize>,
    problems: &mut Problems,
    closed: bool,
) -> Option<ValidMonth> {
    let key = match m.month_key.parse::<MonthKey>() {
        Ok(k) => Some(k),
        Err(e) => {
            problems.add(|| format!("{path}.monthKey"), || e.to_string());
            None
        }
    };
    let date = match parse_date(&m.as_of_date) {
        Ok(d) => Some(d),
        Err(e) => {
            problems.add(|| format!("{path}.asOfDate"), || e.to_string());
            None
        }
    };
    if let (Some(k), Some(d)) = (key, date) {
        if !k.contains(d) {
            problems.add(
                || format!("{path}.asOfDate"),
                || format!("{} is not inside month {k}", m.as_of_date),
            );
        }
    }
    let mut items = Vec::with_capacity(m.items.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(m.items.len());
    for (j, item) in m.items.iter().enumerate() {
        let guid = item.ledger_guid.as_str();
        match ledgers.get(guid) {
            None => problems.add(
                || format!("{path}.items[{j}].ledgerGuid"),
                || format!("`{guid}` is not the guid of a ledger in chartOfAccounts.ledgers"),
            ),
            Some(&idx) => {
                if let Some(first) = seen.insert(guid, j) {
                    problems.add(
                        || format!("{path}.items[{j}].ledgerGuid"),
                        || format!("ledger `{guid}` already has a balance in this month (items[{first}])"),
                    );
                } else {
                    items.push((idx, item.balance.paise()));
                }
            }
        }
    }
    Some(ValidMonth {
        key: key?,
        as_of_date: m.as_of_date.clone(),
        closed,
        items,
    })
    .filter(|_| date.is_some())
}

/// A group tree must be a tree: following parents from any group ends at the root.
fn check_group_cycles(p: &SyncPayload, names: &HashMap<String, usize>, problems: &mut Problems) {
    let groups = &p.chart_of_accounts.groups;
    let parent_of = |i: usize| -> Option<usize> {
        let parent = groups[i].parent.as_deref();
        if is_primary_parent(parent) {
            return None;
        }
        names.get(&parent?.trim().to_lowercase()).copied()
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
                    problems.add(
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
