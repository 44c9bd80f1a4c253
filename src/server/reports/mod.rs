//! The books as a CFO reads them, built from a month's snapshot. Reads only.

pub mod trial_balance;
