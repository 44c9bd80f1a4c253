//! The reports as CSV (`?format=csv`): what the page shows, in columns a spreadsheet reads.
//! Amounts are exact decimal rupees (two places, debit positive where a column is a balance).

use std::fmt::Write;

use crate::protocol::{
    Amount, BalanceSheet, ProfitAndLoss, ProfitFigures, ReportGroup, TrialBalanceGroup,
    TrialBalanceTree,
};

fn field(s: &str) -> String {
    // Leading =, +, -, @ would run as formulas when a bookkeeper opens the file in a spreadsheet.
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn opt(a: Option<Amount>) -> String {
    a.map(|a| a.to_string()).unwrap_or_default()
}

fn row(out: &mut String, cells: &[String]) {
    let _ = write!(out, "{}\r\n", cells.join(","));
}

/// One row per group and per ledger, in the tree's order; `level` is the depth (1 = primary).
pub fn trial_balance(tree: &TrialBalanceTree) -> String {
    let mut out = String::new();
    let compared = tree.compared_with.as_ref().filter(|c| c.held);
    let mut header = "kind,level,group_path,name,debit,credit,balance".to_string();
    if let Some(c) = compared {
        let _ = write!(header, ",balance_{},change", c.month_key);
    }
    row(&mut out, &[header]);
    for g in &tree.groups {
        group_rows(&mut out, g, &[], compared.is_some());
    }
    let s = &tree.summary;
    row(
        &mut out,
        &[
            "total".into(),
            String::new(),
            String::new(),
            "TOTAL".into(),
            s.debit_total.to_string(),
            s.credit_total.to_string(),
            s.debit_total
                .checked_add(s.credit_total.checked_neg().unwrap_or(Amount::ZERO))
                .unwrap_or(Amount::ZERO)
                .to_string(),
        ],
    );
    out
}

fn group_rows(out: &mut String, g: &TrialBalanceGroup, parents: &[&str], compare: bool) {
    let path = parents.join(" / ");
    let mut cells = vec![
        "group".into(),
        (parents.len() + 1).to_string(),
        field(&path),
        field(&g.name),
        g.debit.to_string(),
        g.credit.to_string(),
        g.balance.to_string(),
    ];
    if compare {
        cells.extend([opt(g.compare_balance), opt(g.change)]);
    }
    row(out, &cells);
    let mut inner: Vec<&str> = parents.to_vec();
    inner.push(&g.name);
    for sub in &g.groups {
        group_rows(out, sub, &inner, compare);
    }
    for l in &g.ledgers {
        let mut cells = vec![
            "ledger".into(),
            (inner.len() + 1).to_string(),
            field(&inner.join(" / ")),
            field(&l.ledger_name),
            l.debit.to_string(),
            l.credit.to_string(),
            l.balance.to_string(),
        ];
        if compare {
            cells.extend([opt(l.compare_balance), opt(l.change)]);
        }
        row(out, &cells);
    }
}

/// The month's and the year to date's figures side by side, per primary group, then stock,
/// gross and net profit.
pub fn profit_and_loss(pl: &ProfitAndLoss) -> String {
    let mut out = String::new();
    let month = pl.month.as_ref();
    let compared = pl.compared.as_ref().and_then(|c| c.month.as_ref());
    let mut header = format!("line,nature,month_{},year_to_date", pl.month_key);
    if let Some(c) = pl.compared.as_ref().filter(|_| compared.is_some()) {
        let _ = write!(header, ",month_{}", c.month_key);
    }
    row(&mut out, &[header]);
    let mut names: Vec<&ReportGroup> = pl.year_to_date.groups.iter().collect();
    for g in month.iter().flat_map(|m| &m.groups) {
        if !names.iter().any(|n| n.name == g.name) {
            names.push(g);
        }
    }
    let amount = |f: Option<&ProfitFigures>, name: &str| {
        opt(f.and_then(|f| f.groups.iter().find(|g| g.name == name).map(|g| g.amount)))
    };
    for g in names {
        let mut cells = vec![
            field(&g.name),
            format!("{:?}", g.nature).to_lowercase(),
            amount(month, &g.name),
            amount(Some(&pl.year_to_date), &g.name),
        ];
        if compared.is_some() {
            cells.push(amount(compared, &g.name));
        }
        row(&mut out, &cells);
    }
    type Figure = fn(&ProfitFigures) -> Option<Amount>;
    let lines: [(&str, Figure); 4] = [
        ("Opening Stock", |f| f.opening_stock),
        ("Closing Stock", |f| f.closing_stock),
        ("Gross Profit", |f| Some(f.gross_profit)),
        ("Net Profit", |f| Some(f.net_profit)),
    ];
    for (label, get) in lines {
        if pl.year_to_date.opening_stock.is_none() && label.ends_with("Stock") {
            continue;
        }
        let mut cells = vec![
            label.to_string(),
            String::new(),
            opt(month.and_then(get)),
            opt(get(&pl.year_to_date)),
        ];
        if compared.is_some() {
            cells.push(opt(compared.and_then(get)));
        }
        row(&mut out, &cells);
    }
    out
}

/// A balance sheet's lines in order: (side, line, amount).
fn balance_sheet_lines(bs: &BalanceSheet) -> Vec<(&'static str, String, Amount)> {
    let mut lines = Vec::new();
    for g in &bs.liabilities {
        lines.push(("liabilities", g.name.clone(), g.amount));
    }
    lines.push((
        "liabilities",
        "Profit & Loss A/c".to_string(),
        bs.profit_and_loss,
    ));
    lines.push(("liabilities", "TOTAL".to_string(), bs.total_liabilities));
    for g in &bs.assets {
        lines.push(("assets", g.name.clone(), g.amount));
    }
    if let Some(stock) = bs.closing_stock {
        lines.push(("assets", "of which Closing Stock".to_string(), stock));
    }
    lines.push(("assets", "TOTAL".to_string(), bs.total_assets));
    lines
}

/// Liabilities then assets, each group on its own side, with the totals; when compared, the
/// compared month's amount beside each line (blank for a line it did not have).
pub fn balance_sheet(bs: &BalanceSheet) -> String {
    let mut out = String::new();
    let compared = bs.compared.as_deref().map(|c| (c, balance_sheet_lines(c)));
    let mut header = "side,line,amount".to_string();
    if let Some((c, _)) = &compared {
        let _ = write!(header, ",amount_{}", c.month_key);
    }
    row(&mut out, &[header]);
    for (side, line, amount) in balance_sheet_lines(bs) {
        let mut cells = vec![side.to_string(), field(&line), amount.to_string()];
        if let Some((_, other)) = &compared {
            let before = other
                .iter()
                .find(|(s, l, _)| *s == side && *l == line)
                .map(|(_, _, a)| *a);
            cells.push(opt(before));
        }
        row(&mut out, &cells);
    }
    out
}
