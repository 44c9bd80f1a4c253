//! When a connector syncs: the schedule administrators set at the appliance (interval, quiet
//! hours, the daily full read), as it crosses the wire, and the calendar arithmetic both sides
//! need. Times of day are the PC's local time; nothing here reads a clock.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, PrimitiveDateTime, Time};

/// The longest interval an administrator can set: one day.
pub const MAX_INTERVAL_MINUTES: u32 = 24 * 60;
/// Quiet-hour windows one schedule may hold.
pub const MAX_QUIET_WINDOWS: usize = 14;
/// The daily full read when nobody said otherwise: at night, when Tally is open but idle.
pub const DEFAULT_FULL_READ_AT: &str = "02:00";

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_MINUTES: u16 = 24 * 60;

/// A sync schedule: `PUT /api/settings/sync-schedule` (firm-wide),
/// `PUT /api/companies/{id}/sync-schedule`, and the heartbeat answer's `schedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSchedule {
    /// Minutes between syncs, 1 to 1440.
    pub interval_minutes: u32,
    /// Windows in which no sync starts (a "sync now" still does).
    #[serde(default)]
    pub quiet_hours: Vec<QuietHours>,
    /// `HH:MM`: the daily full read.
    #[serde(default = "default_full_read_at")]
    pub full_read_at: String,
}

fn default_full_read_at() -> String {
    DEFAULT_FULL_READ_AT.to_string()
}

/// `{"days": ["mon", ...], "from": "10:00", "to": "13:00"}`: `from` inclusive, `to` exclusive
/// (`to` may be `24:00`). A window whose `to` is before its `from` crosses midnight: `22:00` to
/// `06:00` on `fri` is quiet from Friday 22:00 to Saturday 06:00 (days name the evening).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

/// A "sync now" as the heartbeat answer carries it: the connector starts a run for it (with
/// `syncRequestId`), quiet hours notwithstanding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOrder {
    pub id: String,
    /// Read Tally in full rather than only what changed.
    #[serde(default)]
    pub full: bool,
}

/// A schedule checked and ready for arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub interval: Duration,
    quiet: Vec<Window>,
    /// Minutes after midnight.
    full_read_at: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    /// Indexed by days from Monday: the days the window starts on.
    days: [bool; 7],
    from: u16,
    /// Before `from`: the window ends on the next day.
    to: u16,
}

impl Window {
    /// The end of this window if `t` (on weekday `day`, at minute `m`) falls in it.
    fn end_if_within(&self, t: PrimitiveDateTime, day: usize, m: u16) -> Option<PrimitiveDateTime> {
        if self.from < self.to {
            return (self.days[day] && self.from <= m && m < self.to)
                .then(|| at_minutes(t.date(), self.to));
        }
        // Across midnight: the evening of a named day, or the morning after one.
        if self.days[day] && m >= self.from {
            Some(at_minutes(t.date(), self.to) + Duration::DAY)
        } else if self.days[(day + 6) % 7] && m < self.to {
            Some(at_minutes(t.date(), self.to))
        } else {
            None
        }
    }
}

/// `HH:MM` as minutes after midnight; `24:00` only when `end_of_day` may be named.
fn minutes_of(text: &str, end_of_day: bool) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    (m < 60 && (total < DAY_MINUTES || (end_of_day && total == DAY_MINUTES))).then_some(total)
}

fn window(q: &QuietHours, at: &str, problems: &mut Vec<(String, String)>) -> Option<Window> {
    let mut days = [false; 7];
    if q.days.is_empty() {
        problems.push((format!("{at}.days"), "name at least one day".into()));
    }
    for (i, d) in q.days.iter().enumerate() {
        match DAYS.iter().position(|n| n.eq_ignore_ascii_case(d)) {
            Some(n) => days[n] = true,
            None => problems.push((
                format!("{at}.days[{i}]"),
                "must be one of mon, tue, wed, thu, fri, sat, sun".into(),
            )),
        }
    }
    let from = minutes_of(&q.from, false);
    let to = minutes_of(&q.to, true);
    if from.is_none() {
        problems.push((
            format!("{at}.from"),
            "must be a time HH:MM such as 10:00".into(),
        ));
    }
    if to.is_none() {
        problems.push((
            format!("{at}.to"),
            "must be a time HH:MM such as 13:00 (24:00 for midnight)".into(),
        ));
    }
    let (from, to) = (from?, to?);
    if from == to {
        problems.push((
            format!("{at}.to"),
            "must differ from `from` (a whole day is 00:00 to 24:00)".into(),
        ));
        return None;
    }
    Some(Window { days, from, to })
}

impl SyncSchedule {
    /// The plan, or every problem as (JSON path, what is wrong).
    pub fn plan(&self) -> Result<Plan, Vec<(String, String)>> {
        let mut problems = Vec::new();
        if !(1..=MAX_INTERVAL_MINUTES).contains(&self.interval_minutes) {
            problems.push((
                "intervalMinutes".into(),
                format!("must be a whole number of minutes from 1 to {MAX_INTERVAL_MINUTES}"),
            ));
        }
        if self.quiet_hours.len() > MAX_QUIET_WINDOWS {
            problems.push((
                "quietHours".into(),
                format!("may hold at most {MAX_QUIET_WINDOWS} windows"),
            ));
        }
        let quiet: Vec<Window> = self
            .quiet_hours
            .iter()
            .enumerate()
            .filter_map(|(i, q)| window(q, &format!("quietHours[{i}]"), &mut problems))
            .collect();
        let full = minutes_of(&self.full_read_at, false);
        if full.is_none() {
            problems.push((
                "fullReadAt".into(),
                "must be a time HH:MM such as 02:00".into(),
            ));
        }
        match full {
            Some(full_read_at) if problems.is_empty() => Ok(Plan {
                interval: Duration::minutes(i64::from(self.interval_minutes)),
                quiet,
                full_read_at,
            }),
            _ => Err(problems),
        }
    }
}

impl SyncSchedule {
    /// What the appliance accepts from an administrator, beyond what [`SyncSchedule::plan`]
    /// can follow: each window names each day once, and quiet hours leave some time in the
    /// week for a sync to start. Schedules stored before these rules are still followed.
    pub fn check(&self) -> Result<Plan, Vec<(String, String)>> {
        let plan = self.plan();
        let mut problems = match &plan {
            Ok(plan) if plan.never_open() => vec![(
                "quietHours".to_string(),
                "cover the whole week, so no sync would ever start; leave some time open".into(),
            )],
            Ok(_) => Vec::new(),
            Err(found) => found.clone(),
        };
        for (i, q) in self.quiet_hours.iter().enumerate() {
            day_list_problems(&q.days, &format!("quietHours[{i}].days"), &mut problems);
        }
        match plan {
            Ok(plan) if problems.is_empty() => Ok(plan),
            _ => Err(problems),
        }
    }
}

/// A window's days: at most the week's seven, each named once.
fn day_list_problems(days: &[String], at: &str, problems: &mut Vec<(String, String)>) {
    if days.len() > DAYS.len() {
        problems.push((
            at.to_string(),
            format!(
                "names {} days; a week has {}: name each day once",
                days.len(),
                DAYS.len()
            ),
        ));
        return;
    }
    for (i, d) in days.iter().enumerate() {
        let known = DAYS.iter().any(|n| n.eq_ignore_ascii_case(d));
        if known && days[..i].iter().any(|e| e.eq_ignore_ascii_case(d)) {
            problems.push((
                format!("{at}[{i}]"),
                format!("repeats `{d}`: name each day once"),
            ));
        }
    }
}

fn at_minutes(date: Date, minutes: u16) -> PrimitiveDateTime {
    PrimitiveDateTime::new(date, Time::MIDNIGHT) + Duration::minutes(i64::from(minutes))
}

fn minute_of_day(t: PrimitiveDateTime) -> u16 {
    u16::from(t.hour()) * 60 + u16::from(t.minute())
}

impl Plan {
    /// What the connector does when the appliance says nothing: its own interval, no quiet
    /// hours, the full read at night.
    pub fn fallback(interval_minutes: u32) -> Plan {
        Plan {
            interval: Duration::minutes(i64::from(interval_minutes.max(1))),
            quiet: Vec::new(),
            full_read_at: 2 * 60,
        }
    }

    /// The end of the quiet window `t` falls in, if it falls in one.
    pub fn quiet_until(&self, t: PrimitiveDateTime) -> Option<PrimitiveDateTime> {
        let day = usize::from(t.weekday().number_days_from_monday());
        let m = minute_of_day(t);
        self.quiet
            .iter()
            .filter_map(|w| w.end_if_within(t, day, m))
            .max()
    }

    /// `t`, or the end of the quiet hours it falls in (and of any that follow on directly).
    pub fn open_from(&self, mut t: PrimitiveDateTime) -> PrimitiveDateTime {
        // Windows last less than two days: a week's worth of hops covers any chain of them.
        for _ in 0..(MAX_QUIET_WINDOWS * 8) {
            match self.quiet_until(t) {
                Some(end) => t = end,
                None => break,
            }
        }
        t
    }

    /// Whether quiet hours cover every minute of the week, so no sync would start by itself.
    pub fn never_open(&self) -> bool {
        // `open_from` hops from window end to window end; from any moment, still quiet after
        // all its hops means a quiet week without end.
        let monday = PrimitiveDateTime::new(time::macros::date!(2024 - 01 - 01), Time::MIDNIGHT);
        self.quiet_until(self.open_from(monday)).is_some()
    }

    /// The latest daily full-read time at or before `now`.
    pub fn last_full_read_time(&self, now: PrimitiveDateTime) -> PrimitiveDateTime {
        let today = at_minutes(now.date(), self.full_read_at);
        if today <= now {
            today
        } else {
            today - Duration::DAY
        }
    }

    /// Whether a full read is owed: none since the last daily full-read time.
    pub fn full_read_owed(
        &self,
        now: PrimitiveDateTime,
        last_full: Option<PrimitiveDateTime>,
    ) -> bool {
        last_full.is_none_or(|f| f < self.last_full_read_time(now))
    }

    /// When the next sync may start: an interval after the last start (now, if none), moved
    /// out of quiet hours.
    pub fn next_sync(
        &self,
        now: PrimitiveDateTime,
        last_start: Option<PrimitiveDateTime>,
    ) -> PrimitiveDateTime {
        let due = last_start.map_or(now, |s| (s + self.interval).max(now));
        self.open_from(due)
    }

    /// When the next full read starts: now if one is owed, else at tomorrow's full-read time;
    /// moved out of quiet hours.
    pub fn next_full_read(
        &self,
        now: PrimitiveDateTime,
        last_full: Option<PrimitiveDateTime>,
    ) -> PrimitiveDateTime {
        let due = if self.full_read_owed(now, last_full) {
            now
        } else {
            self.last_full_read_time(now) + Duration::DAY
        };
        self.open_from(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn office() -> SyncSchedule {
        SyncSchedule {
            interval_minutes: 30,
            quiet_hours: vec![QuietHours {
                days: ["mon", "tue", "wed", "thu", "fri"]
                    .map(String::from)
                    .to_vec(),
                from: "10:00".into(),
                to: "13:00".into(),
            }],
            full_read_at: "02:00".into(),
        }
    }

    #[test]
    fn quiet_hours_hold_on_their_days_only() {
        let plan = office().plan().unwrap();
        // 2026-11-26 is a Thursday, 2026-11-28 a Saturday.
        assert_eq!(
            plan.quiet_until(datetime!(2026-11-26 11:00)),
            Some(datetime!(2026-11-26 13:00))
        );
        assert_eq!(plan.quiet_until(datetime!(2026-11-26 13:00)), None);
        assert_eq!(plan.quiet_until(datetime!(2026-11-28 11:00)), None);
        assert_eq!(
            plan.next_sync(
                datetime!(2026-11-26 10:05),
                Some(datetime!(2026-11-26 09:50))
            ),
            datetime!(2026-11-26 13:00)
        );
    }

    #[test]
    fn a_window_across_midnight_holds_from_its_evening_to_the_next_morning() {
        let mut s = office();
        s.quiet_hours = vec![QuietHours {
            days: vec!["fri".into()],
            from: "22:00".into(),
            to: "06:00".into(),
        }];
        let plan = s.plan().unwrap();
        // 2026-11-27 is a Friday.
        let saturday_six = Some(datetime!(2026-11-28 06:00));
        assert_eq!(plan.quiet_until(datetime!(2026-11-27 21:59)), None);
        assert_eq!(plan.quiet_until(datetime!(2026-11-27 22:00)), saturday_six);
        assert_eq!(plan.quiet_until(datetime!(2026-11-28 05:59)), saturday_six);
        assert_eq!(plan.quiet_until(datetime!(2026-11-28 06:00)), None);
        // Thursday night and Saturday night are not named.
        assert_eq!(plan.quiet_until(datetime!(2026-11-26 23:00)), None);
        assert_eq!(plan.quiet_until(datetime!(2026-11-27 03:00)), None);
        assert_eq!(plan.quiet_until(datetime!(2026-11-28 23:00)), None);
        // The daily full read at 02:00 on Saturday waits for the morning.
        assert_eq!(
            plan.next_full_read(
                datetime!(2026-11-27 23:00),
                Some(datetime!(2026-11-27 02:00))
            ),
            datetime!(2026-11-28 06:00)
        );
    }

    #[test]
    fn bad_schedules_name_each_problem() {
        let mut s = office();
        s.interval_minutes = 0;
        s.full_read_at = "2am".into();
        s.quiet_hours[0].days.push("funday".into());
        s.quiet_hours[0].to = "10:00".into();
        let paths: Vec<String> = s.plan().unwrap_err().into_iter().map(|p| p.0).collect();
        assert_eq!(
            paths,
            [
                "intervalMinutes",
                "quietHours[0].days[5]",
                "quietHours[0].to",
                "fullReadAt"
            ]
        );
    }

    #[test]
    fn the_appliance_refuses_repeated_days_and_a_week_without_open_time() {
        let mut s = office();
        s.quiet_hours[0].days.push("Mon".into());
        let problems = s.check().unwrap_err();
        assert_eq!(problems[0].0, "quietHours[0].days[5]", "{problems:?}");
        s.quiet_hours[0].days = vec!["mon".into(); 8];
        assert_eq!(s.check().unwrap_err()[0].0, "quietHours[0].days");
        s.quiet_hours[0].days = DAYS.map(String::from).to_vec();
        (s.quiet_hours[0].from, s.quiet_hours[0].to) = ("00:00".into(), "24:00".into());
        assert!(s.plan().is_ok(), "still followed when stored");
        assert_eq!(s.check().unwrap_err()[0].0, "quietHours");
        // One minute a week open is enough: a sync may start then.
        s.quiet_hours.push(s.quiet_hours[0].clone());
        s.quiet_hours[0].days.pop();
        s.quiet_hours[1].days = vec!["sun".into()];
        s.quiet_hours[1].to = "23:59".into();
        assert!(s.check().is_ok());
        // Nights across midnight that meet the days leave nothing open either.
        s.quiet_hours = vec![QuietHours {
            days: DAYS.map(String::from).to_vec(),
            from: "12:00".into(),
            to: "12:00".into(),
        }];
        assert!(s.check().is_err(), "from = to is refused as before");
        s.quiet_hours[0].to = "12:01".into();
        s.quiet_hours.push(QuietHours {
            days: DAYS.map(String::from).to_vec(),
            from: "12:01".into(),
            to: "12:00".into(),
        });
        assert_eq!(s.check().unwrap_err()[0].0, "quietHours");
    }

    #[test]
    fn a_missed_full_read_is_owed_until_done() {
        let plan = office().plan().unwrap();
        let yesterday = Some(datetime!(2026-11-25 02:00));
        assert!(!plan.full_read_owed(datetime!(2026-11-26 01:59), yesterday));
        assert!(plan.full_read_owed(datetime!(2026-11-26 02:00), yesterday));
        assert!(plan.full_read_owed(datetime!(2026-11-26 09:00), yesterday));
        assert_eq!(
            plan.next_full_read(
                datetime!(2026-11-26 09:00),
                Some(datetime!(2026-11-26 02:01))
            ),
            datetime!(2026-11-27 02:00)
        );
    }
}
