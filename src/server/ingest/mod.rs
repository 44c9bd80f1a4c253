//! Ingestion of the chart of accounts and month balances (`POST /api/connector/sync`).

pub mod store;
pub mod validate;

pub use store::{store, Origin};
pub use validate::{validate, Validated};
