//! Schedules and pending "sync now" requests in memory, so a heartbeat's answer needs no
//! database read. Filled from the database on first need; every change (a schedule set, a
//! request made or started) makes the book forget what it changed, after the change is
//! committed. The epoch, bumped by every forgetting, drops what a read from before a change
//! brings back (as in `updates::book`).

use std::collections::HashMap;
use std::sync::RwLock;

use crate::protocol::{SyncOrder, SyncSchedule};

/// What the book holds for one company.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyEntry {
    pub own: Option<SyncSchedule>,
    /// The pending request and when it expires (UTC ms): carried until then only.
    pub pending: Option<(SyncOrder, i64)>,
}

#[derive(Default)]
struct Inner {
    epoch: u64,
    firm: Option<Option<SyncSchedule>>,
    companies: HashMap<String, CompanyEntry>,
}

#[derive(Default)]
pub struct ScheduleBook(RwLock<Inner>);

/// What [`ScheduleBook::get`] found: the epoch, the firm-wide schedule (outer `None`: not
/// held) and the company's entry.
pub type Held = (u64, Option<Option<SyncSchedule>>, Option<CompanyEntry>);

impl ScheduleBook {
    pub fn get(&self, company_id: &str) -> Held {
        let inner = self.0.read().unwrap_or_else(|p| p.into_inner());
        (
            inner.epoch,
            inner.firm.clone(),
            inner.companies.get(company_id).cloned(),
        )
    }

    /// Keeps what was read, unless something was forgotten since `epoch`.
    pub fn fill(
        &self,
        epoch: u64,
        firm: Option<SyncSchedule>,
        company_id: &str,
        entry: CompanyEntry,
    ) {
        let mut inner = self.0.write().unwrap_or_else(|p| p.into_inner());
        if inner.epoch == epoch {
            inner.firm = Some(firm);
            inner.companies.insert(company_id.to_string(), entry);
        }
    }

    /// The company's schedule or requests changed (call after the change is committed).
    pub fn forget(&self, company_id: &str) {
        let mut inner = self.0.write().unwrap_or_else(|p| p.into_inner());
        inner.epoch += 1;
        inner.companies.remove(company_id);
    }

    /// The firm-wide schedule changed (call after the change is committed).
    pub fn forget_firm(&self) {
        let mut inner = self.0.write().unwrap_or_else(|p| p.into_inner());
        inner.epoch += 1;
        inner.firm = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_from_before_a_change_is_not_kept() {
        let book = ScheduleBook::default();
        let (epoch, _, _) = book.get("c");
        book.forget("c");
        book.fill(epoch, None, "c", CompanyEntry::default());
        assert_eq!(book.get("c").2, None);
        let (epoch, _, _) = book.get("c");
        book.fill(epoch, None, "c", CompanyEntry::default());
        assert_eq!(book.get("c").1, Some(None));
        book.forget_firm();
        assert_eq!(book.get("c").1, None);
        assert!(book.get("c").2.is_some(), "the company's entry stays");
    }
}
