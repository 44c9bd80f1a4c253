//! Collects every problem of a request before answering, so the caller can fix them all at once;
//! each problem is located by its JSON path.

use super::domain_error::{DomainError, DomainResult};
use crate::protocol::text::length_fault;
use crate::protocol::ErrorDetail;

/// Past this many problems the rest are only counted: the first ones are enough to act on.
const MAX_DETAILS: usize = 100;

#[derive(Debug, Default)]
pub struct Problems {
    details: Vec<ErrorDetail>,
    total: usize,
}

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem. The texts are built only while the list still has room, which keeps a
    /// payload with a million bad rows cheap to refuse.
    pub fn add_with(&mut self, path: impl FnOnce() -> String, message: impl FnOnce() -> String) {
        self.total += 1;
        if self.details.len() < MAX_DETAILS {
            self.details.push(ErrorDetail {
                path: path(),
                message: message(),
            });
        }
    }

    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.add_with(|| path.into(), || message.into());
    }

    /// A required text field: present, and at most `max_chars` long.
    pub fn require_text(&mut self, path: &str, value: &str, max_chars: usize) {
        if value.trim().is_empty() {
            self.add(path, "must not be empty");
        } else if value.chars().count() > max_chars {
            self.add(path, format!("must be at most {max_chars} characters"));
        }
    }

    /// Records `fault` (from `protocol::text`'s checks) at `path`, when there is one.
    pub fn check(&mut self, path: &str, fault: Option<String>) {
        if let Some(message) = fault {
            self.add(path, message);
        }
    }

    /// An optional text field: absent, or at most `max_chars` long.
    pub fn bound(&mut self, path: &str, value: Option<&str>, max_chars: usize) {
        self.check(path, value.and_then(|v| length_fault(v, max_chars)));
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `Ok` when nothing was found, else the `invalid_payload` refusal with `message`.
    pub fn into_result(self, message: impl Into<String>) -> DomainResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::invalid(message, self.details))
        }
    }

    /// Like [`Problems::into_result`], with a message that counts the problems of `what`
    /// (`the payload`) and, for a single one, names it.
    pub fn into_counted_result(self, what: &str, outcome: &str) -> DomainResult<()> {
        let shown = self.details.len();
        let message = match (self.total, self.details.first()) {
            (0, _) => return Ok(()),
            (1, Some(only)) => format!("{}: {}; {outcome}.", only.path, only.message),
            (total, _) if total > shown => {
                format!("{what} has {total} problems (the first {shown} are listed); {outcome}.")
            }
            (total, _) => format!("{what} has {total} problems; {outcome}."),
        };
        Err(DomainError::invalid(message, self.details))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(p: Problems) -> String {
        match p.into_counted_result("The payload", "nothing was stored") {
            Err(DomainError::Refused { message, .. }) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_problem_is_named_and_many_are_counted() {
        let mut p = Problems::new();
        p.add("a.b", "is wrong");
        assert_eq!(message(p), "a.b: is wrong; nothing was stored.");
        let mut p = Problems::new();
        for i in 0..150 {
            p.add(format!("x[{i}]"), "bad");
        }
        assert_eq!(
            message(p),
            "The payload has 150 problems (the first 100 are listed); nothing was stored."
        );
    }
}
