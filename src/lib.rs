//! aicfo: the on-premise AI CFO appliance and its Tally connector.
//!
//! - [`protocol`]: the JSON shared by the appliance and the connector.
//! - `server` (feature `server`): the Rocket appliance on SQLite.

pub mod protocol;

#[cfg(feature = "server")]
pub mod server;
