//! Bounds on a sync payload's free text: names end up in trial balances, CSV files and the web
//! page, so they may not be huge nor hide characters (control characters, bidi overrides).
//! Checked with the rest of the payload, before anything is written.

use crate::protocol::groups::is_primary_parent;
use crate::protocol::text::{
    length_fault, name_fault, ID_MAX_CHARS, LABEL_MAX_CHARS, NAME_MAX_CHARS,
};
use crate::protocol::{MonthBalances, SyncPart, SyncPayload};
use crate::server::ingest::validate::Chart;
use crate::server::problems::Problems;

pub fn check(p: &SyncPayload, problems: &mut Problems) {
    problems.bound("syncRunId", p.sync_run_id.as_deref(), ID_MAX_CHARS);
    problems.bound("asOfDate", p.as_of_date.as_deref(), LABEL_MAX_CHARS);
    let coa = &p.chart_of_accounts;
    check_chart_texts(
        coa.into(),
        coa.source.as_deref(),
        coa.generated_at.as_deref(),
        problems,
    );
    let balances = &coa.balances;
    check_month_texts(
        &balances.current,
        "chartOfAccounts.balances.current",
        problems,
    );
    for (i, m) in balances.closed_months.iter().enumerate() {
        let path = format!("chartOfAccounts.balances.closedMonths[{i}]");
        check_month_texts(m, &path, problems);
    }
}

/// A part's texts: its chart (part 0) and its months, at the paths a part has them.
pub fn check_part(p: &SyncPart, problems: &mut Problems) {
    problems.bound("syncRunId", Some(&p.sync_run_id), ID_MAX_CHARS);
    problems.bound("asOfDate", p.as_of_date.as_deref(), LABEL_MAX_CHARS);
    if let Some(coa) = &p.chart_of_accounts {
        check_chart_texts(
            coa.into(),
            coa.source.as_deref(),
            coa.generated_at.as_deref(),
            problems,
        );
    }
    for (i, m) in p.months.iter().enumerate() {
        let path = format!("months[{i}]");
        problems.check(&format!("{path}.monthKey"), label(Some(&m.month_key)));
        problems.check(&format!("{path}.asOfDate"), label(Some(&m.as_of_date)));
        check_item_ids(
            m.items.iter().map(|i| i.ledger_guid.as_str()),
            &path,
            problems,
        );
    }
}

fn check_chart_texts(
    coa: Chart<'_>,
    source: Option<&str>,
    generated_at: Option<&str>,
    problems: &mut Problems,
) {
    problems.check("chartOfAccounts.source", label(source));
    problems.check("chartOfAccounts.generatedAt", label(generated_at));
    check_chart_facts(coa, problems);
    check_group_texts(coa, problems);
    check_ledger_texts(coa, problems);
}

fn name(value: &str) -> Option<String> {
    name_fault(value, NAME_MAX_CHARS)
}

/// A parent may carry Tally's U+0004 marker before `Primary`: that one names the root.
fn parent(value: Option<&str>) -> Option<String> {
    value.filter(|v| !is_primary_parent(Some(v))).and_then(name)
}

fn id(value: &str) -> Option<String> {
    length_fault(value, ID_MAX_CHARS)
}

fn label(value: Option<&str>) -> Option<String> {
    value.and_then(|v| length_fault(v, LABEL_MAX_CHARS))
}

fn check_chart_facts(coa: Chart<'_>, problems: &mut Problems) {
    if let Some(facts) = coa.company {
        let company = facts.tally_company_name.as_deref().and_then(name);
        problems.check("chartOfAccounts.company.tallyCompanyName", company);
        for (field, value) in [
            ("booksFrom", &facts.books_from),
            ("financialYearFrom", &facts.financial_year_from),
        ] {
            let path = format!("chartOfAccounts.company.{field}");
            problems.check(&path, label(value.as_deref()));
        }
    }
}

fn check_group_texts(coa: Chart<'_>, problems: &mut Problems) {
    for (i, g) in coa.groups.iter().enumerate() {
        let at = |f: &str| format!("chartOfAccounts.groups[{i}].{f}");
        let faults = [
            ("guid", id(&g.guid)),
            ("name", name(&g.name)),
            ("parent", parent(g.parent.as_deref())),
            ("kind", label(g.kind.as_deref())),
            ("reservedName", g.reserved_name.as_deref().and_then(name)),
        ];
        for (field, fault) in faults {
            problems.check(&at(field), fault);
        }
    }
}

fn check_ledger_texts(coa: Chart<'_>, problems: &mut Problems) {
    for (i, l) in coa.ledgers.iter().enumerate() {
        let at = |f: &str| format!("chartOfAccounts.ledgers[{i}].{f}");
        let faults = [
            ("guid", id(&l.guid)),
            ("name", name(&l.name)),
            ("parent", parent(l.parent.as_deref())),
            ("groupName", parent(l.group_name.as_deref())),
            ("kind", label(l.kind.as_deref())),
        ];
        for (field, fault) in faults {
            problems.check(&at(field), fault);
        }
    }
}

fn check_month_texts(m: &MonthBalances, path: &str, problems: &mut Problems) {
    problems.check(&format!("{path}.monthKey"), label(Some(&m.month_key)));
    problems.check(&format!("{path}.asOfDate"), label(Some(&m.as_of_date)));
    check_item_ids(
        m.items.iter().map(|i| i.ledger_guid.as_str()),
        path,
        problems,
    );
}

fn check_item_ids<'a>(guids: impl Iterator<Item = &'a str>, path: &str, problems: &mut Problems) {
    for (j, guid) in guids.enumerate() {
        if let Some(fault) = id(guid) {
            problems.add(format!("{path}.items[{j}].ledgerGuid"), fault);
        }
    }
}
