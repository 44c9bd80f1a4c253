//! The books, indexed for answering "what was every ledger's balance on day D" the way Tally
//! computes it: balance-sheet ledgers carry over from the books' beginning; income and expense
//! ledgers start each financial year at zero, with earlier years' result in `Profit & Loss A/c`.

use std::collections::HashMap;

use time::{Date, Duration, Month};

use super::model::{all_groups, DataError, SimCompany, SimGroup, PROFIT_AND_LOSS};
use crate::protocol::calendar::parse_date;
use crate::protocol::groups::{is_primary_parent, reserved_group, Nature};
use crate::protocol::Amount;

pub struct LedgerBook {
    pub name: String,
    pub guid: String,
    pub parent: String,
    /// Positive = debit.
    pub opening: i64,
    pub nature: Option<Nature>,
    /// Indices into [`Books::groups`], from the ledger's own group up to the top.
    pub ancestry: Vec<usize>,
    /// Julian days of the ledger's postings, ascending, and the running total after each.
    days: Vec<i32>,
    running: Vec<i64>,
}

impl LedgerBook {
    fn is_revenue(&self) -> bool {
        self.nature.is_some_and(Nature::is_revenue)
    }

    /// Sum of postings dated on or before `day`.
    fn through(&self, day: i32) -> i64 {
        let n = self.days.partition_point(|d| *d <= day);
        if n == 0 {
            0
        } else {
            self.running[n - 1]
        }
    }
}

pub struct Books {
    pub name: String,
    pub guid: String,
    pub books_from: Date,
    pub financial_year_from: Date,
    pub groups: Vec<SimGroup>,
    pub ledgers: Vec<LedgerBook>,
    pub alt_mst_id: u64,
    pub alt_vch_id: u64,
    /// The company keeps stock items (accounts integrated with inventory).
    pub has_stock: bool,
    /// Sum of every ledger's opening balance and the opening stock (positive = debit): what
    /// Tally shows as "Difference in opening balances".
    pub opening_difference: Amount,
    /// Each voucher's date, by alteration id: the voucher at index `i` has ALTERID `i + 1` (the
    /// data file's order is the order they were entered or last altered in).
    pub voucher_dates: Vec<Date>,
    group_index: HashMap<String, usize>,
    pl: usize,
    stock: StockBook,
}

/// The stock's value over time: the items' opening value and the running total of the
/// vouchers' inventory lines, day by day.
#[derive(Default)]
struct StockBook {
    opening: i64,
    days: Vec<i32>,
    running: Vec<i64>,
}

impl StockBook {
    fn new(company: &SimCompany) -> StockBook {
        let mut moves: Vec<(i32, i64)> = company
            .vouchers
            .iter()
            .flat_map(|v| {
                let day = parse_date(&v.date).expect("checked").to_julian_day();
                v.stock.iter().map(move |s| (day, s.value.paise()))
            })
            .collect();
        moves.sort_by_key(|(d, _)| *d);
        let mut book = StockBook {
            opening: company
                .stock_items
                .iter()
                .map(|i| i.opening_value.paise())
                .sum(),
            ..StockBook::default()
        };
        let mut total = 0i64;
        for (d, v) in moves {
            total += v;
            if book.days.last() == Some(&d) {
                *book.running.last_mut().expect("same length") = total;
            } else {
                book.days.push(d);
                book.running.push(total);
            }
        }
        book
    }

    /// The value at the end of `day`.
    fn at(&self, day: i32) -> i64 {
        let n = self.days.partition_point(|d| *d <= day);
        self.opening + if n == 0 { 0 } else { self.running[n - 1] }
    }
}

fn nature_of(
    groups: &[SimGroup],
    index: &HashMap<String, usize>,
    start: &str,
) -> (Option<Nature>, Vec<usize>) {
    let mut ancestry = Vec::new();
    let mut nature = None;
    let mut at = start.to_string();
    while !is_primary_parent(Some(&at)) && ancestry.len() < 64 {
        let Some(&i) = index.get(&at.to_lowercase()) else {
            break;
        };
        ancestry.push(i);
        let g = &groups[i];
        if nature.is_none() {
            if let (Some(dp), Some(rev)) = (g.is_deemed_positive, g.is_revenue) {
                nature = Some(Nature::from_flags(dp, rev));
            } else if let Some(r) = reserved_group(&g.name) {
                nature = Some(r.nature);
            }
        }
        at = g.parent.clone();
    }
    (nature, ancestry)
}

impl Books {
    pub fn new(mut company: SimCompany) -> Result<Books, DataError> {
        company.complete_and_check()?;
        let groups = all_groups(&company);
        let group_index: HashMap<String, usize> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.to_lowercase(), i))
            .collect();
        let mut ledgers: Vec<LedgerBook> = company
            .ledgers
            .iter()
            .map(|l| {
                let (nature, ancestry) = nature_of(&groups, &group_index, &l.parent);
                LedgerBook {
                    name: l.name.clone(),
                    guid: l.guid.clone(),
                    parent: l.parent.clone(),
                    opening: l.opening_balance.paise(),
                    nature,
                    ancestry,
                    days: Vec::new(),
                    running: Vec::new(),
                }
            })
            .collect();
        let index: HashMap<&str, usize> = company
            .ledgers
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.as_str(), i))
            .collect();
        let mut postings: Vec<Vec<(i32, i64)>> = vec![Vec::new(); ledgers.len()];
        for v in &company.vouchers {
            let day = parse_date(&v.date).expect("checked").to_julian_day();
            for e in &v.entries {
                postings[index[e.ledger.as_str()]].push((day, e.amount.paise()));
            }
        }
        for (l, mut p) in ledgers.iter_mut().zip(postings) {
            p.sort_by_key(|(d, _)| *d);
            let mut total = 0i64;
            for (d, a) in p {
                // Several postings on one day collapse into one entry.
                total += a;
                if l.days.last() == Some(&d) {
                    *l.running.last_mut().expect("same length") = total;
                } else {
                    l.days.push(d);
                    l.running.push(total);
                }
            }
        }
        let pl = index[PROFIT_AND_LOSS];
        let stock = StockBook::new(&company);
        let opening_difference =
            Amount::from_paise(ledgers.iter().map(|l| l.opening).sum::<i64>() + stock.opening);
        let voucher_dates = company
            .vouchers
            .iter()
            .map(|v| parse_date(&v.date).expect("checked"))
            .collect();
        Ok(Books {
            voucher_dates,
            has_stock: !company.stock_items.is_empty(),
            opening_difference,
            stock,
            name: company.name.clone(),
            guid: company.guid.clone(),
            books_from: company.books_from_date(),
            financial_year_from: company.fy_from_date(),
            alt_mst_id: (groups.len() + ledgers.len()) as u64,
            alt_vch_id: company.vouchers.len() as u64,
            groups,
            ledgers,
            group_index,
            pl,
        })
    }

    /// The first day of the financial year that `day` falls in.
    pub fn fy_start(&self, day: Date) -> Date {
        let (m, d) = (
            self.financial_year_from.month(),
            self.financial_year_from.day(),
        );
        let this_year = safe_date(day.year(), m, d);
        if this_year <= day {
            this_year
        } else {
            safe_date(day.year() - 1, m, d)
        }
    }

    /// The stock's value at the end of `at` (Tally's closing stock that day).
    pub fn closing_stock(&self, at: Date) -> Amount {
        Amount::from_paise(self.stock.at(at.to_julian_day()))
    }

    /// The stock's value at the start of the financial year `at` falls in (the opening stock of
    /// a trial balance from that year's start; the items' opening value in the first year).
    pub fn opening_stock(&self, at: Date) -> Amount {
        Amount::from_paise(self.stock.at(self.before_fy(at)))
    }

    fn before_fy(&self, at: Date) -> i32 {
        (self.fy_start(at) - Duration::days(1)).to_julian_day()
    }

    /// Every ledger's closing balance at the end of `at` (positive = debit).
    pub fn closing_balances(&self, at: Date) -> Vec<Amount> {
        let first_fy = self.fy_start(self.books_from);
        let fy = self.fy_start(at);
        let day = at.to_julian_day();
        let before_fy = (fy - Duration::days(1)).to_julian_day();
        let later_year = fy > first_fy;
        // Earlier years' income and expense, closed into Profit & Loss A/c.
        let carried: i64 = self
            .ledgers
            .iter()
            .filter(|l| l.is_revenue())
            .map(|l| {
                if later_year {
                    l.opening + l.through(before_fy)
                } else {
                    0
                }
            })
            .sum::<i64>()
            // Earlier years' profit counted the stock they gained (closing less opening stock).
            - if later_year {
                self.stock.at(before_fy) - self.stock.opening
            } else {
                0
            };
        self.ledgers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let paise = if at < self.books_from {
                    if l.is_revenue() {
                        0
                    } else {
                        l.opening
                    }
                } else if l.is_revenue() {
                    let opening = if later_year { 0 } else { l.opening };
                    opening + l.through(day) - if later_year { l.through(before_fy) } else { 0 }
                } else if i == self.pl {
                    l.opening + l.through(day) + carried
                } else {
                    l.opening + l.through(day)
                };
                Amount::from_paise(paise)
            })
            .collect()
    }

    /// Indices of the ledgers under `group` (at any depth), or all when `None`.
    pub fn ledgers_under(&self, group: Option<&str>) -> Vec<usize> {
        match group.map(|g| self.group_index.get(&g.trim().to_lowercase()).copied()) {
            None => (0..self.ledgers.len()).collect(),
            Some(None) => Vec::new(),
            Some(Some(g)) => (0..self.ledgers.len())
                .filter(|&i| self.ledgers[i].ancestry.contains(&g))
                .collect(),
        }
    }
}

fn safe_date(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day.min(month.length(year)))
        .expect("clamped to the month")
}
