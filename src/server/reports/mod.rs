//! The books as a CFO reads them, built from a month's snapshot. Reads only.

pub mod compare;
pub mod csv;
pub mod natures;
pub mod profit_loss;
pub mod series;
pub mod trial_balance;
