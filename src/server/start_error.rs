//! Why the appliance cannot start. Start-up runs before Rocket's logger exists, so the binary
//! prints these on stderr with their whole cause chain and exits non-zero.

use super::domain_error::BoxError;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl StartError {
    pub fn new(message: impl Into<String>) -> Self {
        StartError {
            message: message.into(),
            source: None,
        }
    }

    /// `message` says what start-up was doing; `source` why it failed.
    pub fn because(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StartError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}
