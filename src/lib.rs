//! aicfo: the on-premise AI CFO appliance and its Tally connector.
//!
//! - [`protocol`]: the JSON shared by the appliance and the connector.
//! - `tally` (feature `tally`): reading Tally's XML interface.
//! - `server` (feature `server`): the Rocket appliance on SQLite.
//! - `connector` (feature `connector`): the agent beside Tally.
//! - `sim` (feature `sim`): `tally-sim`, a Tally stand-in for tests and demonstrations.

pub mod protocol;

#[cfg(feature = "tally")]
pub mod tally;

#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "signing")]
pub mod signing;

#[cfg(feature = "sim")]
pub mod sim;

#[cfg(feature = "connector")]
pub mod connector;

#[cfg(all(windows, any(feature = "server", feature = "connector")))]
pub mod winservice;

#[cfg(any(feature = "server", feature = "connector"))]
pub mod service_place;

#[cfg(any(feature = "server", feature = "connector"))]
pub mod log_files;
