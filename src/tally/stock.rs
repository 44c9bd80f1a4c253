//! A month's stock value, read as carefully as its balances: Tally must answer both values
//! (a missing one is never zero) and say it took both dates of the period asked for.
//!
//! Why the stock matters: in a company whose accounts are integrated with inventory the stock
//! is valued from the stock items, not kept in a ledger, so the ledgers alone do not sum to
//! zero. Tally's own trial balance lists the opening stock beside the ledgers and leaves the
//! closing stock out (it belongs to the balance sheet and the profit and loss account;
//! help.tallysolutions.com, "Why does the closing stock not get reflected in the trial
//! balance?"); tally-database-loader likewise treats opening stock as a debit and closing stock
//! as a credit of the profit and loss account.

use time::Date;

use super::convert::to_wire_sign;
use super::records::StockRow;
use super::{TallyClient, TallyError};
use crate::protocol::StockValues;

/// The stock's value at the start of `from` and at the end of `at`, debit positive.
pub async fn read_stock(
    tally: &TallyClient,
    company: &str,
    from: Date,
    at: Date,
) -> Result<StockValues, TallyError> {
    let unconfirmed = |detail: String| TallyError::DateUnconfirmed {
        at: at.to_string(),
        detail: format!("stock report: {detail}"),
        url: tally.url().to_string(),
        product: tally
            .last_product()
            .unwrap_or_else(|| "(it did not say)".into()),
    };
    let rows = match tally.stock_report(company, from, at).await {
        Ok(rows) => rows,
        Err(e @ (TallyError::Refused { .. } | TallyError::Unreadable { .. })) => {
            return Err(unconfirmed(e.to_string()))
        }
        Err(e) => return Err(e),
    };
    checked(&rows, from, at).map_err(|why| match why {
        Why::Date(d) => unconfirmed(d),
        Why::Missing(m) => TallyError::Data {
            message: format!(
                "Tally's answer for the stock at {at} left out {m}. Nothing of this sync was sent. Try again; if it happens again, send the connector's logs to support."
            ),
        },
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Why {
    Date(String),
    Missing(&'static str),
}

/// The answer's values, if it is one line with both values at exactly the period asked for.
pub fn checked(rows: &[StockRow], from: Date, at: Date) -> Result<StockValues, Why> {
    let [row] = rows else {
        return Err(Why::Date(format!("{} lines instead of one", rows.len())));
    };
    for (asked, took, which) in [(from, row.from, "SVFROMDATE"), (at, row.to, "SVTODATE")] {
        match took {
            None => return Err(Why::Date(format!("it did not say which {which} it took"))),
            Some(d) if d != asked => {
                return Err(Why::Date(format!(
                    "it computed with {which} {d} instead of {asked}"
                )))
            }
            Some(_) => {}
        }
    }
    match (row.opening, row.closing) {
        (Some(opening), Some(closing)) => Ok(StockValues {
            opening: to_wire_sign(opening),
            closing: to_wire_sign(closing),
        }),
        (None, _) => Err(Why::Missing("the opening stock")),
        (_, None) => Err(Why::Missing("the closing stock")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Amount;

    fn d(s: &str) -> Date {
        crate::protocol::calendar::parse_date(s).unwrap()
    }

    fn row(opening: Option<i64>, closing: Option<i64>, from: &str, to: &str) -> StockRow {
        StockRow {
            opening: opening.map(Amount::from_paise),
            closing: closing.map(Amount::from_paise),
            from: Some(d(from)),
            to: Some(d(to)),
        }
    }

    #[test]
    fn stock_is_taken_only_complete_and_at_the_period_asked() {
        let (from, at) = (d("2026-04-01"), d("2026-06-30"));
        let ok = checked(
            &[row(Some(-500), Some(-800), "2026-04-01", "2026-06-30")],
            from,
            at,
        );
        assert_eq!(
            ok.unwrap(),
            StockValues {
                opening: Amount::from_paise(500),
                closing: Amount::from_paise(800)
            }
        );
        let missing = checked(
            &[row(Some(-500), None, "2026-04-01", "2026-06-30")],
            from,
            at,
        );
        assert_eq!(missing.unwrap_err(), Why::Missing("the closing stock"));
        let other_day = checked(
            &[row(Some(0), Some(0), "2026-04-01", "2026-11-26")],
            from,
            at,
        );
        assert!(matches!(other_day, Err(Why::Date(m)) if m.contains("SVTODATE 2026-11-26")));
        let silent = StockRow {
            from: None,
            ..row(Some(0), Some(0), "2026-04-01", "2026-06-30")
        };
        assert!(matches!(checked(&[silent], from, at), Err(Why::Date(_))));
        assert!(checked(&[], from, at).is_err());
    }
}
