//! What can go wrong below HTTP. Domain functions and database closures return [`DomainError`];
//! only the handler edge turns it into the HTTP `ApiError` (see `error.rs`), so no status code is
//! decided deep in domain code and no internal cause is dropped on the way up.

use std::error::Error;

use crate::protocol::ErrorDetail;

pub type BoxError = Box<dyn Error + Send + Sync + 'static>;
pub type DomainResult<T> = Result<T, DomainError>;

/// Why a request was refused; the handler edge picks the HTTP status from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    /// The request is readable but its content is wrong; `details` locate each problem.
    Invalid,
    /// Not now: the caller may try again after this many seconds.
    TooMany {
        retry_after_secs: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The rules say no; the message is for the caller.
    #[error("{message}")]
    Refused {
        refusal: Refusal,
        code: &'static str,
        message: String,
        details: Vec<ErrorDetail>,
    },
    #[error("database error")]
    Database(#[from] rusqlite::Error),
    /// Anything else that is the appliance's fault, with what it was doing.
    #[error("{context}")]
    Internal {
        context: &'static str,
        #[source]
        source: BoxError,
    },
}

impl DomainError {
    pub fn refused(refusal: Refusal, code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Refused {
            refusal,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(Refusal::Unauthorized, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(Refusal::Forbidden, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(Refusal::NotFound, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(Refusal::Conflict, code, message)
    }

    /// A brake: try again in `retry_after_secs`.
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::refused(
            Refusal::TooMany { retry_after_secs },
            "rate_limited",
            message,
        )
    }

    /// Invalid content; `details` names each problem by its JSON path.
    pub fn invalid(message: impl Into<String>, details: Vec<ErrorDetail>) -> Self {
        DomainError::Refused {
            refusal: Refusal::Invalid,
            code: "invalid_payload",
            message: message.into(),
            details,
        }
    }

    pub fn invalid_field(path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::invalid(
            format!("{path}: {message}"),
            vec![ErrorDetail {
                path: path.to_string(),
                message,
            }],
        )
    }

    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        DomainError::Internal {
            context,
            source: source.into(),
        }
    }
}

/// An error and every cause under it, `outer: inner: innermost`, for logs and the console.
pub fn cause_chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut last = text.clone();
    let mut cause = err.source();
    while let Some(c) = cause {
        let line = c.to_string();
        // Some errors repeat their source's text, or their source repeats theirs behind a
        // prefix (rusqlite: "file is not a database" over "Error code 26: file is not a
        // database"); say each thing once.
        if !last.ends_with(&line) && !line.ends_with(&last) {
            text.push_str(": ");
            text.push_str(&line);
        }
        last = line;
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_chain_names_every_cause_once() {
        let io = std::io::Error::other("disk on fire");
        let err = DomainError::internal("writing the outbox", io);
        assert_eq!(cause_chain(&err), "writing the outbox: disk on fire");
    }
}
