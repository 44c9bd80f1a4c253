//! `aicfo-connector`: the agent beside Tally on the bookkeeper's PC. It reads the books through
//! Tally's XML port and delivers them to the appliance, unattended, for months.
//!
//! - [`config`]: config.json; [`state`]: device id, tokens, last sync.
//! - [`appliance`]: the appliance's API with tokens and retries; [`outbox`]: undelivered payloads;
//!   [`parts`]: a sync too large for one body, in parts.
//! - [`extract`]: Tally to payload; [`agent`]: runs, schedule, heartbeats; [`setup`]: enrolment;
//!   [`enroll`]: first start with the enrolment code of a downloaded ZIP; [`service`]: the
//!   Windows service.
//! - [`update`]: self-update from the appliance, with roll-back.

pub mod agent;
pub mod appliance;
pub mod config;
pub mod enroll;
pub mod extract;
pub mod logging;
pub mod outbox;
pub mod pace;
pub mod parts;
pub mod schedule;
pub mod service;
pub mod setup;
pub mod state;
pub mod tls;
pub mod update;

/// The verifying key (hex) of the signed releases this connector accepts, compiled in by
/// packaging/build.sh (`AICFO_VERIFYING_KEY`); none in a plain build.
pub const RELEASE_VERIFYING_KEY: Option<&str> = option_env!("AICFO_VERIFYING_KEY");
