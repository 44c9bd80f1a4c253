//! Deterministic generation of a large, consistent company from a seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, Month};

use super::model::{
    SimCompany, SimEntry, SimGroup, SimLedger, SimStockEntry, SimStockItem, SimVoucher,
};
use crate::protocol::calendar::format_date;
use crate::protocol::Amount;

#[derive(Debug, Clone)]
pub struct GenSpec {
    pub name: String,
    pub seed: u64,
    pub ledgers: usize,
    pub vouchers: usize,
    /// Financial years of vouchers, the first starting 1 April `first_year`.
    pub years: u32,
    pub first_year: i32,
}

/// Predefined groups that user groups and ledgers hang under, covering all four natures.
const PARENTS: [&str; 12] = [
    "Sundry Debtors",
    "Sundry Creditors",
    "Bank Accounts",
    "Indirect Expenses",
    "Direct Expenses",
    "Sales Accounts",
    "Purchase Accounts",
    "Indirect Incomes",
    "Fixed Assets",
    "Current Liabilities",
    "Loans (Liability)",
    "Duties & Taxes",
];

/// A few names carry what Tally users really type: `&`, Devanagari, punctuation.
fn ledger_name(i: usize, rng: &mut StdRng) -> String {
    const FIRST: [&str; 8] = [
        "Sharma", "Gupta", "Iyer", "Patel", "Reddy", "Khan", "Das", "Mehta",
    ];
    const KIND: [&str; 6] = [
        "Traders",
        "& Sons",
        "Enterprises",
        "Pvt. Ltd.",
        "(HUF)",
        "एंड कंपनी",
    ];
    format!(
        "{} {} {:05}",
        FIRST[rng.gen_range(0..FIRST.len())],
        KIND[rng.gen_range(0..KIND.len())],
        i
    )
}

pub fn generate(spec: &GenSpec) -> SimCompany {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let guid = format!("sim-{:016x}", spec.seed);
    let start = Date::from_calendar_date(spec.first_year, Month::April, 1).expect("1 April");
    let group_count = (spec.ledgers / 100).clamp(4, 400);
    let mut groups = Vec::with_capacity(group_count);
    for g in 0..group_count {
        // Every fifth group nests under an earlier user group.
        let parent = if g >= PARENTS.len() && g % 5 == 0 {
            groups
                .iter()
                .map(|x: &SimGroup| x.name.clone())
                .nth(rng.gen_range(0..g))
                .expect("earlier group")
        } else {
            PARENTS[g % PARENTS.len()].to_string()
        };
        groups.push(SimGroup {
            name: format!("{parent} - Region {g:03}"),
            guid: format!("{guid}-g{g:05}"),
            parent,
            is_revenue: None,
            is_deemed_positive: None,
            affects_gross_profit: None,
        });
    }
    let mut ledgers: Vec<SimLedger> = (0..spec.ledgers)
        .map(|i| {
            let parent = if i % 3 == 0 {
                PARENTS[i % PARENTS.len()].to_string()
            } else {
                groups[i % groups.len()].name.clone()
            };
            SimLedger {
                name: ledger_name(i, &mut rng),
                guid: format!("{guid}-l{i:07}"),
                parent,
                opening_balance: Amount::ZERO,
            }
        })
        .collect();
    // Opening balances on balance-sheet ledgers only, balanced by the proprietor's capital.
    let revenue_parent = |p: &str| {
        p.contains("Expenses")
            || p.contains("Sales")
            || p.contains("Purchase")
            || p.contains("Incomes")
    };
    let mut total = 0i64;
    for l in ledgers.iter_mut() {
        if !revenue_parent(&l.parent) && rng.gen_bool(0.6) {
            let paise = rng.gen_range(-50_000_000i64..50_000_000);
            l.opening_balance = Amount::from_paise(paise);
            total += paise;
        }
    }
    ledgers.push(SimLedger {
        name: "Proprietor's Capital".into(),
        guid: format!("{guid}-capital"),
        parent: "Capital Account".into(),
        opening_balance: Amount::from_paise(-total),
    });
    let days = i64::from(spec.years) * 365;
    let picks = ledgers.len();
    let mut vouchers: Vec<SimVoucher> = (0..spec.vouchers)
        .map(|n| {
            let date = start + Duration::days(rng.gen_range(0..days));
            let amount = rng.gen_range(100i64..50_000_000);
            let debit = rng.gen_range(0..picks);
            let mut credit = rng.gen_range(0..picks);
            if credit == debit {
                credit = (credit + 1) % picks;
            }
            let mut entries = vec![
                SimEntry {
                    ledger: ledgers[debit].name.clone(),
                    amount: Amount::from_paise(amount),
                },
                SimEntry {
                    ledger: ledgers[credit].name.clone(),
                    amount: Amount::from_paise(-amount),
                },
            ];
            if n % 5 == 0 {
                // A split: part of the credit goes to a third ledger (a tax ledger, say).
                let third = rng.gen_range(0..picks);
                let part = amount / 10;
                entries[1].amount = Amount::from_paise(-(amount - part));
                entries.push(SimEntry {
                    ledger: ledgers[third].name.clone(),
                    amount: Amount::from_paise(-part),
                });
            }
            SimVoucher {
                date: format_date(date),
                voucher_type: ["Sales", "Purchase", "Payment", "Receipt", "Journal"][n % 5].into(),
                number: String::new(),
                entries,
                stock: Vec::new(),
            }
        })
        .collect();
    vouchers.sort_by(|a, b| a.date.cmp(&b.date));
    for (i, v) in vouchers.iter_mut().enumerate() {
        v.number = (i + 1).to_string();
    }
    SimCompany {
        name: spec.name.clone(),
        guid,
        books_from: format_date(start),
        financial_year_from: format_date(start),
        groups,
        ledgers,
        vouchers,
        stock_items: Vec::new(),
    }
}

/// Makes `company` a trader integrated with inventory: `items` stock items with an opening
/// value, every purchase bringing stock in at its debit and every sale taking out stock at
/// 70% of its amount (its cost). The opening stock is added to the proprietor's capital, as a
/// bookkeeper would, so the openings still tally.
pub fn add_inventory(company: &mut SimCompany, seed: u64, items: usize) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x570c);
    company.stock_items = (0..items.max(1))
        .map(|i| SimStockItem {
            name: format!("Item {i:04}"),
            guid: format!("{}-item{i:05}", company.guid),
            opening_value: Amount::from_paise(rng.gen_range(0..20_000_000)),
        })
        .collect();
    let opening: i64 = company
        .stock_items
        .iter()
        .map(|i| i.opening_value.paise())
        .sum();
    if let Some(capital) = company
        .ledgers
        .iter_mut()
        .find(|l| l.parent == "Capital Account")
    {
        capital.opening_balance = Amount::from_paise(capital.opening_balance.paise() - opening);
    }
    let count = company.stock_items.len();
    for v in &mut company.vouchers {
        let amount = v.entries.first().map_or(0, |e| e.amount.paise().abs());
        let value = match v.voucher_type.as_str() {
            "Purchase" => amount,
            "Sales" => -(amount * 7 / 10),
            _ => continue,
        };
        v.stock.push(SimStockEntry {
            item: company.stock_items[rng.gen_range(0..count)].name.clone(),
            value: Amount::from_paise(value),
        });
    }
}
