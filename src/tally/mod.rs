//! Reading a firm's books out of Tally (TallyPrime / Tally.ERP 9) over its XML-over-HTTP port.
//!
//! - [`request`] builds Export/Collection requests; [`client`] sends them and classifies failures.
//! - [`encoding`] and [`xml`] stream an answer (UTF-8 or UTF-16LE, Tally's `&#4;` quirk and all)
//!   into objects; [`records`] types them; [`convert`] moves them to the wire convention.
//! - [`balances`] reads a month's balances and refuses any it cannot confirm; [`lock`] keeps
//!   to one request in flight per Tally on the PC; [`stock`] reads an inventory company's stock
//!   value with the same care.

pub mod amount;
pub mod balances;
pub mod client;
pub mod convert;
pub mod encoding;
pub mod lock;
pub mod records;
pub mod request;
pub mod stock;
pub mod xml;

pub use client::{TallyClient, TallyError};
pub use records::{LedgerBalance, TallyCompany, TallyGroup, TallyLedger, TallyVoucher};
