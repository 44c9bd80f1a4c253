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
pub use generate::{generate, GenSpec};
pub use model::{SimCompany, SimData};
pub use server::{Fault, SimServer, SimState, PRODUCT};

use crate::protocol::Amount;

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
