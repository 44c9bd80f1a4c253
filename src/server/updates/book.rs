//! The update policies in memory, so a heartbeat's answer needs no database read. Filled from
//! the database on first need; every change of policy or enrolment makes the book forget what
//! it changed, after the change is committed.
//!
//! A read that began before such a change could bring back the old value after the book forgot
//! it; the book's epoch, bumped by every forgetting, makes it drop what such a read brings.

use std::collections::HashMap;
use std::sync::RwLock;

use super::policy::ConnectorPolicy;
use crate::protocol::GlobalUpdatePolicy;
use crate::server::releases::Target;

/// What the book knows of one connector: its system and its own policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub target: Option<Target>,
    pub policy: ConnectorPolicy,
}

#[derive(Default)]
struct Inner {
    epoch: u64,
    global: Option<GlobalUpdatePolicy>,
    connectors: HashMap<String, Known>,
}

#[derive(Default)]
pub struct PolicyBook(RwLock<Inner>);

impl PolicyBook {
    /// The book's epoch and what it holds for the connector; read what is missing, then
    /// [`PolicyBook::fill`] with the same epoch.
    pub fn get(&self, connector_id: &str) -> (u64, Option<GlobalUpdatePolicy>, Option<Known>) {
        let inner = self.0.read().unwrap_or_else(|p| p.into_inner());
        (
            inner.epoch,
            inner.global,
            inner.connectors.get(connector_id).cloned(),
        )
    }

    /// Keeps what was read, unless something was forgotten since `epoch`.
    pub fn fill(&self, epoch: u64, global: GlobalUpdatePolicy, connector_id: &str, known: Known) {
        let mut inner = self.0.write().unwrap_or_else(|p| p.into_inner());
        if inner.epoch == epoch {
            inner.global = Some(global);
            inner.connectors.insert(connector_id.to_string(), known);
        }
    }

    /// The connector's policy or enrolment changed (call after the change is committed).
    pub fn forget(&self, connector_id: &str) {
        let mut inner = self.0.write().unwrap_or_else(|p| p.into_inner());
        inner.epoch += 1;
        inner.connectors.remove(connector_id);
    }

    /// The firm-wide policy changed (call after the change is committed).
    pub fn forget_global(&self) {
        let mut inner = self.0.write().unwrap_or_else(|p| p.into_inner());
        inner.epoch += 1;
        inner.global = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_from_before_a_change_is_not_kept() {
        let book = PolicyBook::default();
        let (epoch, _, _) = book.get("c");
        book.forget("c");
        book.fill(epoch, GlobalUpdatePolicy::Auto, "c", Known::default());
        assert_eq!(book.get("c").2, None);

        let (epoch, _, _) = book.get("c");
        book.fill(epoch, GlobalUpdatePolicy::Paused, "c", Known::default());
        assert_eq!(book.get("c").1, Some(GlobalUpdatePolicy::Paused));
        book.forget_global();
        assert_eq!(book.get("c").1, None);
        assert!(
            book.get("c").2.is_some(),
            "the connector's own policy stays"
        );
    }
}
