//! `tally-sim`: a stand-in for Tally that answers its XML interface from a company's books, for
//! tests and demonstrations. It names itself as a simulator wherever Tally names its product.

pub mod books;
pub mod generate;
pub mod model;
pub mod respond;
pub mod server;

use serde::Serialize;
use time::Date;

pub use books::Books;
pub use generate::{add_inventory, generate, GenSpec};
pub use model::{SimCompany, SimData};
pub use server::{Fault, SimServer, SimState, PRODUCT};

use crate::protocol::{Amount, StockValues};

/// One line of the trial balance the simulator expects the appliance to end up with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedBalance {
    pub ledger_guid: String,
    pub ledger_name: String,
    /// Positive = debit.
    pub balance: Amount,
}

/// Every ledger's balance at the end of `at`, in the appliance's sign.
pub fn expected_trial_balance(books: &Books, at: Date) -> Vec<ExpectedBalance> {
    books
        .closing_balances(at)
        .into_iter()
        .zip(&books.ledgers)
        .map(|(balance, l)| ExpectedBalance {
            ledger_guid: l.guid.clone(),
            ledger_name: l.name.clone(),
            balance,
        })
        .collect()
}

/// A month-end trial balance as Tally's own report shows it: the ledgers, the opening stock of
/// a company with inventory, and the "Difference in opening balances" line when the openings
/// do not tally. The closing stock is not in it (it is the balance sheet's), but is given too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedMonth {
    pub ledgers: Vec<ExpectedBalance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockValues>,
    /// The sum of the openings (positive = debit); Tally's line shows its contrary.
    pub opening_difference: Amount,
    /// What the trial balance leaves unexplained: ledgers + opening stock - opening difference.
    pub difference: Amount,
    pub balanced: bool,
}

/// The trial balance Tally shows at the end of `at`, from the start of that financial year.
pub fn expected_month(books: &Books, at: Date) -> ExpectedMonth {
    let ledgers = expected_trial_balance(books, at);
    let stock = books.has_stock.then(|| StockValues {
        opening: books.opening_stock(at),
        closing: books.closing_stock(at),
    });
    let ledger_sum: i64 = ledgers.iter().map(|l| l.balance.paise()).sum();
    let difference =
        ledger_sum + stock.map_or(0, |s| s.opening.paise()) - books.opening_difference.paise();
    ExpectedMonth {
        ledgers,
        stock,
        opening_difference: books.opening_difference,
        difference: Amount::from_paise(difference),
        balanced: difference == 0,
    }
}
