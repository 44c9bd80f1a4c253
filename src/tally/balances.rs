//! A month's closing balances, read so that a wrong answer never passes for a right one:
//!
//! - an answer that leaves out a ledger's `CLOSINGBALANCE` (or the ledger itself) fails;
//!   an empty element is zero, as Tally writes a zero balance;
//! - Tally must say which date it computed (the computed `##SVToDate` field); when the
//!   collection form does not say so, or names another day, the `TYPE Data` report form is
//!   asked instead (for this and every later month of the sync), once it has given the
//!   collection's own numbers for the day the collection did compute (the cross-check); when
//!   that does not confirm the date either the sync fails with [`TallyError::DateUnconfirmed`];
//! - an answer in which every ledger's balance is blank (zero) is not taken when the books
//!   have opening balances: a Tally that did not compute writes them so (a peer's field
//!   report), and such books cannot be all zero at any month-end. The sync fails: the report
//!   form could not be cross-checked against anything (see [`unverifiable`]);
//! - a request that times out on a big company is asked again split by primary group
//!   (`CHILDOF`), plus the ledgers directly under Primary, for this and every later month.

use std::collections::{HashMap, HashSet};

use time::Date;

use super::amount::format_tally_date;
use super::records::LedgerBalance;
use super::request::{BalanceForm, Scope};
use super::{TallyClient, TallyError};

/// Reads the month-end balances of one company, remembering across months which request
/// forms work with this Tally.
pub struct MonthReader<'a> {
    tally: &'a TallyClient,
    company: &'a str,
    /// GUID -> name of every ledger in the masters: the answer must cover them all.
    known: &'a HashMap<String, String>,
    primary_groups: Vec<String>,
    /// The collection form did not confirm a date: go straight to the report form.
    report_form: bool,
    /// A whole-company request timed out: ask by primary group.
    split: bool,
    /// The first day of the financial year a date falls in (the request's SVFROMDATE).
    period_start: &'a (dyn Fn(Date) -> Date + Sync),
    /// Some ledger has a non-zero opening balance: no month-end can be all zero.
    expect_some_balance: bool,
}

impl<'a> MonthReader<'a> {
    pub fn new(
        tally: &'a TallyClient,
        company: &'a str,
        known: &'a HashMap<String, String>,
        primary_groups: Vec<String>,
        period_start: &'a (dyn Fn(Date) -> Date + Sync),
    ) -> MonthReader<'a> {
        MonthReader {
            tally,
            company,
            known,
            primary_groups,
            report_form: false,
            split: false,
            period_start,
            expect_some_balance: false,
        }
    }

    /// The books have opening balances: an all-zero answer is Tally not computing, not books.
    pub fn expecting_balances(mut self, yes: bool) -> Self {
        self.expect_some_balance = yes;
        self
    }

    /// Why an answer cannot be taken as Tally's balances at `at`, if it cannot.
    fn unconfirmed(&self, answer: &[LedgerBalance], at: Date) -> Option<String> {
        unconfirmed(answer, at).or_else(|| {
            (self.expect_some_balance && all_zero(answer)).then(|| {
                format!(
                    "every one of its {} ledgers came with a blank (zero) closing balance, though the books have opening balances",
                    answer.len()
                )
            })
        })
    }

    /// Every known ledger's closing balance at `at`, confirmed and complete.
    pub async fn read(&mut self, at: Date) -> Result<Vec<LedgerBalance>, TallyError> {
        let mut why_not_collection = None;
        if !self.report_form {
            let answer = self.gather(BalanceForm::Collection, at).await?;
            match self.unconfirmed(&answer, at) {
                None => return complete(answer, at, self.known),
                Some(why) => {
                    if self.expect_some_balance && all_zero(&answer) {
                        return Err(self.unconfirmed_error(at, unverifiable(&why)));
                    }
                    log::warn!(
                        "Tally's ledger collection for {at} is not confirmed ({why}); asking its report form instead"
                    );
                    self.report_form = true;
                    if let Some(day) = single_date(&answer) {
                        self.cross_check(at, day, &answer).await?;
                    }
                    why_not_collection = Some(why);
                }
            }
        }
        let detail = |report: String| match &why_not_collection {
            Some(c) => format!("ledger collection: {c}; report: {report}"),
            None => format!("ledger collection: not confirmed before; report: {report}"),
        };
        let answer = self
            .gather(BalanceForm::Report, at)
            .await
            .map_err(|e| self.report_failed(e, at, detail))?;
        if let Some(why) = self.unconfirmed(&answer, at) {
            return Err(self.unconfirmed_error(at, detail(why)));
        }
        complete(answer, at, self.known)
    }

    /// A Tally that cannot run the report (an older release refusing the TDL) leaves the date
    /// unconfirmed; any other failure is the error it is.
    fn report_failed(
        &self,
        e: TallyError,
        at: Date,
        detail: impl Fn(String) -> String,
    ) -> TallyError {
        match e {
            TallyError::Refused { .. } | TallyError::Unreadable { .. } => {
                self.unconfirmed_error(at, detail(e.to_string()))
            }
            other => other,
        }
    }

    /// Before the report form is trusted: asked for the day the collection did compute
    /// (`day`), it must give the collection's own numbers, ledger for ledger.
    async fn cross_check(
        &mut self,
        at: Date,
        day: Date,
        collection: &[LedgerBalance],
    ) -> Result<(), TallyError> {
        let prefix =
            format!("ledger collection computed {day}; cross-check of the report form at {day}: ");
        let report = self
            .gather(BalanceForm::Report, day)
            .await
            .map_err(|e| self.report_failed(e, at, |d| format!("{prefix}{d}")))?;
        if let Some(why) = self.unconfirmed(&report, day) {
            return Err(self.unconfirmed_error(at, format!("{prefix}{why}")));
        }
        let by_guid: HashMap<&str, Option<crate::protocol::Amount>> = report
            .iter()
            .map(|b| (b.guid.as_str(), b.closing))
            .collect();
        let differ = collection
            .iter()
            .filter(|c| by_guid.get(c.guid.as_str()) != Some(&c.closing))
            .count();
        if differ > 0 {
            return Err(self.unconfirmed_error(
                at,
                format!(
                    "{prefix}the two forms disagree on {differ} of {} ledgers",
                    collection.len()
                ),
            ));
        }
        Ok(())
    }

    fn unconfirmed_error(&self, at: Date, detail: String) -> TallyError {
        TallyError::DateUnconfirmed {
            at: at.to_string(),
            detail,
            url: self.tally.url().to_string(),
            product: self
                .tally
                .last_product()
                .unwrap_or_else(|| "(it did not say)".into()),
        }
    }

    async fn ask(
        &self,
        form: BalanceForm,
        at: Date,
        scope: Scope,
    ) -> Result<Vec<LedgerBalance>, TallyError> {
        let from = (self.period_start)(at);
        self.tally
            .ledger_balances(self.company, form, from, at, scope)
            .await
    }

    /// One form's answer for the whole company or, once that timed out, group by group.
    async fn gather(
        &mut self,
        form: BalanceForm,
        at: Date,
    ) -> Result<Vec<LedgerBalance>, TallyError> {
        if !self.split {
            match self.ask(form, at, Scope::All).await {
                Err(TallyError::Timeout { secs, .. }) if !self.primary_groups.is_empty() => {
                    log::warn!(
                        "Tally took over {secs} s for every ledger's balance at {at}; asking again one primary group at a time"
                    );
                    self.split = true;
                }
                other => return other,
            }
        }
        let scopes: Vec<Scope> = self
            .primary_groups
            .iter()
            .map(|g| Scope::Under(g.clone()))
            .chain([Scope::DirectlyUnderPrimary])
            .collect();
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        for scope in scopes {
            let part = self.ask(form, at, scope).await?;
            all.extend(part.into_iter().filter(|b| seen.insert(b.guid.clone())));
        }
        Ok(all)
    }
}

/// An all-blank collection gives no number the report form could be checked against, and the
/// masters' opening balances cannot tell a report at the right day from one at another: any day
/// before the first voucher gives them too. A report naming the date asked but computing another
/// day would be stored unnoticed, so nothing is taken.
fn unverifiable(why: &str) -> String {
    format!(
        "ledger collection: {why}; report form: not asked, as with no number from the collection nothing could show that its numbers are those of the day it names"
    )
}

/// Every ledger of the answer came with a zero (blank) closing balance.
fn all_zero(answer: &[LedgerBalance]) -> bool {
    !answer.is_empty()
        && answer
            .iter()
            .all(|b| b.closing.is_some_and(|c| c.is_zero()))
}

/// The one date every ledger of the answer says it was computed at, if there is one.
fn single_date(answer: &[LedgerBalance]) -> Option<Date> {
    let first = answer.first()?.computed_at?;
    answer
        .iter()
        .all(|b| b.computed_at == Some(first))
        .then_some(first)
}

/// Why an answer does not confirm that Tally computed it at `at`, if it does not.
pub fn unconfirmed(answer: &[LedgerBalance], at: Date) -> Option<String> {
    if answer.is_empty() {
        return Some("the answer holds no ledger".into());
    }
    let silent = answer.iter().filter(|b| b.computed_at.is_none()).count();
    if silent > 0 {
        return Some(format!(
            "{silent} of {} ledgers came without the date Tally computed them at",
            answer.len()
        ));
    }
    answer
        .iter()
        .find_map(|b| b.computed_at.filter(|d| *d != at))
        .map(|d| {
            format!(
                "Tally computed them at {d} (SVTODATE {} was not taken)",
                format_tally_date(at)
            )
        })
}

/// The answer, if every known ledger is in it with a closing balance.
pub fn complete(
    answer: Vec<LedgerBalance>,
    at: Date,
    known: &HashMap<String, String>,
) -> Result<Vec<LedgerBalance>, TallyError> {
    let answered: HashMap<&str, &LedgerBalance> =
        answer.iter().map(|b| (b.guid.as_str(), b)).collect();
    let mut missing: Vec<&str> = known
        .iter()
        .filter(|(guid, _)| {
            answered
                .get(guid.as_str())
                .is_none_or(|b| b.closing.is_none())
        })
        .map(|(_, name)| name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(answer);
    }
    missing.sort_unstable();
    let shown = 10;
    let mut names = missing
        .iter()
        .take(shown)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > shown {
        names.push_str(&format!(" and {} more", missing.len() - shown));
    }
    Err(TallyError::Incomplete {
        at: at.to_string(),
        missing: missing.len(),
        total: known.len(),
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Amount;

    fn d(s: &str) -> Date {
        crate::protocol::calendar::parse_date(s).unwrap()
    }

    fn b(guid: &str, closing: Option<i64>, at: Option<&str>) -> LedgerBalance {
        LedgerBalance {
            guid: guid.into(),
            name: format!("L{guid}"),
            closing: closing.map(Amount::from_paise),
            computed_at: at.map(d),
        }
    }

    #[test]
    fn a_date_is_confirmed_only_when_every_ledger_says_it() {
        let at = d("2026-01-31");
        assert_eq!(
            unconfirmed(&[b("1", Some(0), Some("2026-01-31"))], at),
            None
        );
        assert!(unconfirmed(&[b("1", Some(0), None)], at)
            .unwrap()
            .contains("without the date"));
        assert!(unconfirmed(&[b("1", Some(0), Some("2026-11-26"))], at)
            .unwrap()
            .contains("2026-11-26"));
        assert!(unconfirmed(&[], at).is_some());
    }

    #[test]
    fn a_missing_balance_or_ledger_is_never_zero() {
        let at = d("2026-01-31");
        let known: HashMap<String, String> = [("1", "Cash"), ("2", "Bank"), ("3", "Sales")]
            .into_iter()
            .map(|(g, n)| (g.to_string(), n.to_string()))
            .collect();
        let ok = vec![
            b("1", Some(5), None),
            b("2", Some(0), None),
            b("3", Some(-5), None),
        ];
        assert!(complete(ok, at, &known).is_ok());
        let err =
            complete(vec![b("1", Some(5), None), b("2", None, None)], at, &known).unwrap_err();
        match &err {
            TallyError::Incomplete {
                missing,
                total,
                names,
                ..
            } => {
                assert_eq!((*missing, *total), (2, 3));
                assert_eq!(names, "`Bank`, `Sales`");
            }
            other => panic!("{other:?}"),
        }
    }
}
