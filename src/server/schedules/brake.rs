//! How often a company's Tally may be read on request. Tally freezes for the bookkeeper at the
//! client's PC while it answers, so "sync now" is spaced out per company: a new request waits
//! [`SPACING_MS`] after the company's last requested run started, and full reads (the heavy
//! ones) are at most [`FULL_READS_PER_DAY`] in any 24 hours unless an administrator asks.
//! Scheduled syncs are the administrators' own choice and do not count.

use rusqlite::{params, Connection};

use super::requests::HOLDS;
use crate::server::clock::now_ms;
use crate::server::domain_error::{DomainError, DomainResult};

/// The least time between the start of a requested run and the next "sync now" of the company.
pub const SPACING_MS: i64 = 10 * 60 * 1000;
/// Requested full reads per company in any 24 hours, unless an administrator asks.
pub const FULL_READS_PER_DAY: i64 = 3;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// "7 minutes", "5 h 12 min": how long until `ms` have passed, rounded up to the minute.
fn wait_words(ms: i64) -> String {
    minutes_words((ms.max(0) + 59_999) / 60_000)
}

fn minutes_words(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, 0) => "less than a minute".into(),
        (0, 1) => "1 minute".into(),
        (0, m) => format!("{m} minutes"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn seconds(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

/// Time since the last requested run started and time left until the next may be asked, or
/// `None` when it may be now. A start the clock now puts in the future (the appliance clock
/// went back) counts as just now, so the wait never exceeds [`SPACING_MS`].
fn spacing_wait(started: i64, now: i64) -> Option<(i64, i64)> {
    let started = started.min(now);
    let wait = started + SPACING_MS - now;
    (wait > 0).then_some((now - started, wait))
}

/// Time left until the oldest of the day's counted full reads leaves the 24 hours, clamped
/// like [`spacing_wait`] when the clock went back.
fn day_wait(oldest: i64, now: i64) -> i64 {
    oldest.min(now) + DAY_MS - now
}

/// A new request may be made now, or the refusal says when it may. A request whose run failed
/// or was abandoned does not count: Tally was not read (closed on that PC, say), and the person
/// retrying must not wait for it.
pub fn check_new(c: &Connection, company_id: &str) -> DomainResult<()> {
    let now = now_ms();
    let last: Option<i64> = c.query_row(
        &format!(
            "SELECT MAX(r.started_at) FROM sync_requests r
         JOIN integration_sync_runs s ON s.id = r.sync_run_id
         WHERE r.company_id = ?1 AND {HOLDS}"
        ),
        [company_id],
        |r| r.get(0),
    )?;
    let Some((since, wait)) = last.and_then(|started| spacing_wait(started, now)) else {
        return Ok(());
    };
    Err(DomainError::too_many(
        format!(
            "A \"sync now\" of company `{company_id}` started {} ago; to keep Tally free for the \
             people working in it, the next can be asked in {} (one every {} minutes).",
            minutes_words(since / 60_000),
            wait_words(wait),
            SPACING_MS / 60_000
        ),
        seconds(wait),
    ))
}

/// A full read may be asked for now (an administrator always may), or the refusal says when.
pub fn check_full(c: &Connection, company_id: &str, admin: bool) -> DomainResult<()> {
    if admin {
        return Ok(());
    }
    let now = now_ms();
    let mut stmt = c.prepare(
        "SELECT started_at FROM sync_requests
         WHERE company_id = ?1 AND full = 1 AND started_at > ?2 ORDER BY started_at DESC",
    )?;
    let starts = stmt
        .query_map(params![company_id, now - DAY_MS], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let Some(oldest) = starts
        .get(usize::try_from(FULL_READS_PER_DAY - 1).unwrap_or(0))
        .copied()
    else {
        return Ok(());
    };
    let wait = day_wait(oldest, now);
    Err(DomainError::too_many(
        format!(
            "Company `{company_id}` had {} full reads on request in the last 24 hours, the most \
             allowed unless an administrator asks; the next can be asked in {}. A \"sync now\" \
             of what changed can be asked meanwhile.",
            starts.len(),
            wait_words(wait)
        ),
        seconds(wait),
    ))
}

#[cfg(test)]
mod tests {
    use super::{day_wait, minutes_words, spacing_wait, wait_words, DAY_MS, SPACING_MS};

    #[test]
    fn waits_read_as_minutes_and_hours() {
        assert_eq!(wait_words(1), "1 minute");
        assert_eq!(minutes_words(0), "less than a minute");
        assert_eq!(wait_words(7 * 60_000), "7 minutes");
        assert_eq!(wait_words(60 * 60_000), "1 h");
        assert_eq!(wait_words(312 * 60_000 - 5), "5 h 12 min");
    }

    #[test]
    fn a_clock_gone_back_never_makes_the_wait_longer_than_the_spacing() {
        let now = 1_000_000_000;
        let minute = 60_000;
        assert_eq!(
            spacing_wait(now - 2 * minute, now),
            Some((2 * minute, 8 * minute))
        );
        assert_eq!(spacing_wait(now - SPACING_MS, now), None);
        // Started "in 30 minutes" by a clock that has since been set back: as if just now.
        assert_eq!(spacing_wait(now + 30 * minute, now), Some((0, SPACING_MS)));
        assert_eq!(day_wait(now + 5 * 60 * minute, now), DAY_MS);
        assert_eq!(day_wait(now - 60 * minute, now), DAY_MS - 60 * minute);
    }
}
