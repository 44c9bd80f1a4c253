//! The connector's scheduler: what to do next, as a pure function of the time, the plan, the
//! last runs and any "sync now" request. `Agent::run` asks it, does what it says and asks again;
//! tests drive it with any clock they like.

use time::PrimitiveDateTime;

use crate::protocol::schedule::Plan;
use crate::protocol::SyncOrder;

/// What the scheduler knows when asked. Times are the PC's local time.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub now: PrimitiveDateTime,
    pub plan: &'a Plan,
    /// When the last sync started (none since this process started: `None`).
    pub last_start: Option<PrimitiveDateTime>,
    /// When the last full read started.
    pub last_full: Option<PrimitiveDateTime>,
    /// The "sync now" the last heartbeat answer carried.
    pub request: Option<&'a SyncOrder>,
    /// The last request whose run the appliance opened (or that another connector of the
    /// company had started): it repeats a request until that run reaches it, and it is carried
    /// out once. A request whose run could not be opened (the
    /// appliance away) is not handled: the agent tries it again when a heartbeat answer brings
    /// it again.
    pub handled_request: Option<&'a str>,
}

/// A sync to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The run's trigger as the appliance records it.
    pub trigger: &'static str,
    pub full: bool,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Sync(Start),
    /// Nothing to start before then (a heartbeat answer may bring a request sooner).
    WaitUntil(PrimitiveDateTime),
}

/// The triggers a run carries.
pub const BY_REQUEST: &str = "request";
pub const AT_STARTUP: &str = "startup";
pub const ON_SCHEDULE: &str = "schedule";
pub const FULL_READ: &str = "full read";

pub fn next(s: &Situation<'_>) -> Next {
    // A PC clock set back leaves the last runs in the future: taken as just now, they would
    // hold off every sync until the clock caught up with them.
    let (last_start, last_full) = (
        s.last_start.map(|t| t.min(s.now)),
        s.last_full.map(|t| t.min(s.now)),
    );
    let s = &Situation {
        last_start,
        last_full,
        ..*s
    };
    let plan = s.plan;
    let owed_full = plan.full_read_owed(s.now, s.last_full);
    // A person asked: quiet hours do not hold.
    if let Some(order) = s
        .request
        .filter(|o| Some(o.id.as_str()) != s.handled_request)
    {
        return Next::Sync(Start {
            trigger: BY_REQUEST,
            full: order.full || owed_full,
            request_id: Some(order.id.clone()),
        });
    }
    if let Some(end) = plan.quiet_until(s.now) {
        return Next::WaitUntil(plan.open_from(end));
    }
    let start = |trigger, full| {
        Next::Sync(Start {
            trigger,
            full,
            request_id: None,
        })
    };
    let Some(last) = s.last_start else {
        return start(AT_STARTUP, owed_full);
    };
    if owed_full {
        return start(FULL_READ, true);
    }
    if s.now >= last + plan.interval {
        return start(ON_SCHEDULE, false);
    }
    let next_sync = plan.next_sync(s.now, Some(last));
    let next_full = plan.next_full_read(s.now, s.last_full);
    Next::WaitUntil(next_sync.min(next_full))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{QuietHours, SyncSchedule};
    use time::macros::datetime;
    use time::Duration;

    /// Weekdays 10:00–13:00 quiet, every 30 minutes, the full read at 02:00.
    fn office() -> Plan {
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
        .plan()
        .unwrap()
    }

    /// A simulated PC: the clock moves in steps; every sync the scheduler starts is noted
    /// (and takes no time), as `Agent::run` would do it.
    struct Pc {
        plan: Plan,
        now: PrimitiveDateTime,
        last_start: Option<PrimitiveDateTime>,
        last_full: Option<PrimitiveDateTime>,
        request: Option<SyncOrder>,
        handled: Option<String>,
        /// The appliance does not answer `sync/start`: runs open nowhere.
        appliance_away: bool,
        started: Vec<(PrimitiveDateTime, Start)>,
    }

    impl Pc {
        fn new(now: PrimitiveDateTime, last_full: Option<PrimitiveDateTime>) -> Pc {
            Pc {
                plan: office(),
                now,
                last_start: None,
                last_full,
                request: None,
                handled: None,
                appliance_away: false,
                started: Vec::new(),
            }
        }

        /// Runs the scheduler until `until`, one minute at a time.
        fn run_until(&mut self, until: PrimitiveDateTime) {
            while self.now < until {
                let decision = next(&Situation {
                    now: self.now,
                    plan: &self.plan,
                    last_start: self.last_start,
                    last_full: self.last_full,
                    request: self.request.as_ref(),
                    handled_request: self.handled.as_deref(),
                });
                match decision {
                    Next::Sync(start) => {
                        self.last_start = Some(self.now);
                        if start.full {
                            self.last_full = Some(self.now);
                        }
                        // As `Agent::schedule_loop`: handled once opened, else forgotten
                        // until the next heartbeat answer brings it again.
                        if start.request_id.is_some() {
                            if self.appliance_away {
                                self.request = None;
                            } else {
                                self.handled = start.request_id.clone();
                            }
                        }
                        self.started.push((self.now, start));
                    }
                    Next::WaitUntil(t) => {
                        assert!(t > self.now, "waiting means a later time");
                        self.now = t.min(self.now + Duration::minutes(1)).min(until);
                    }
                }
            }
        }
    }

    #[test]
    fn no_sync_starts_in_quiet_hours() {
        // Thursday 09:00, full read done at 02:00.
        let mut pc = Pc::new(
            datetime!(2026-11-26 09:00),
            Some(datetime!(2026-11-26 02:00)),
        );
        pc.run_until(datetime!(2026-11-26 15:00));
        let times: Vec<PrimitiveDateTime> = pc.started.iter().map(|s| s.0).collect();
        assert!(
            times.iter().all(|t| pc.plan.quiet_until(*t).is_none()),
            "{times:?}"
        );
        assert_eq!(pc.started[0].1.trigger, AT_STARTUP);
        assert_eq!(pc.started[1].1.trigger, ON_SCHEDULE);
        // 09:00, 09:30, then nothing until 13:00, then every half hour.
        assert_eq!(
            times[..4],
            [
                datetime!(2026-11-26 09:00),
                datetime!(2026-11-26 09:30),
                datetime!(2026-11-26 13:00),
                datetime!(2026-11-26 13:30),
            ]
        );
    }

    #[test]
    fn the_full_read_happens_at_its_time() {
        let mut pc = Pc::new(
            datetime!(2026-11-26 23:50),
            Some(datetime!(2026-11-26 02:00)),
        );
        pc.run_until(datetime!(2026-11-27 03:00));
        let full: Vec<_> = pc.started.iter().filter(|s| s.1.full).collect();
        assert_eq!(full.len(), 1, "{:?}", pc.started);
        assert_eq!(full[0].0, datetime!(2026-11-27 02:00));
        assert_eq!(full[0].1.trigger, FULL_READ);
    }

    #[test]
    fn a_missed_full_read_happens_at_the_next_start_outside_quiet_hours() {
        // The PC was off at 02:00 and is switched on at 11:00, inside quiet hours.
        let mut pc = Pc::new(
            datetime!(2026-11-26 11:00),
            Some(datetime!(2026-11-25 02:00)),
        );
        pc.run_until(datetime!(2026-11-26 14:00));
        let (at, first) = &pc.started[0];
        assert_eq!(*at, datetime!(2026-11-26 13:00));
        assert!(first.full, "{first:?}");
        assert_eq!(pc.started.iter().filter(|s| s.1.full).count(), 1);
    }

    #[test]
    fn sync_now_starts_in_quiet_hours_and_a_repeated_request_starts_no_second_run() {
        let mut pc = Pc::new(
            datetime!(2026-11-26 10:30),
            Some(datetime!(2026-11-26 02:00)),
        );
        pc.run_until(datetime!(2026-11-26 10:40));
        assert!(pc.started.is_empty(), "quiet: {:?}", pc.started);
        // The heartbeat answer brings a request; it stays in every answer until the run
        // reaches the appliance.
        pc.request = Some(SyncOrder {
            id: "r1".into(),
            full: true,
        });
        pc.run_until(datetime!(2026-11-26 12:00));
        assert_eq!(pc.started.len(), 1, "{:?}", pc.started);
        let (at, start) = &pc.started[0];
        assert_eq!(*at, datetime!(2026-11-26 10:40));
        assert_eq!(
            *start,
            Start {
                trigger: BY_REQUEST,
                full: true,
                request_id: Some("r1".into())
            }
        );
    }

    #[test]
    fn a_sync_now_the_appliance_could_not_open_is_tried_at_the_next_heartbeat_answer() {
        let mut pc = Pc::new(
            datetime!(2026-11-26 10:30),
            Some(datetime!(2026-11-26 02:00)),
        );
        let order = SyncOrder {
            id: "r1".into(),
            full: false,
        };
        pc.request = Some(order.clone());
        pc.appliance_away = true;
        pc.run_until(datetime!(2026-11-26 10:45));
        assert_eq!(
            pc.started.len(),
            1,
            "tried once, not in a loop: {:?}",
            pc.started
        );
        assert_eq!(pc.handled, None, "not handled: the run did not open");
        // The appliance is back; its next heartbeat answer still carries the request.
        pc.appliance_away = false;
        pc.request = Some(order);
        pc.run_until(datetime!(2026-11-26 12:00));
        assert_eq!(pc.started.len(), 2, "{:?}", pc.started);
        assert_eq!(pc.started[1].0, datetime!(2026-11-26 10:45));
        assert_eq!(pc.started[1].1.request_id.as_deref(), Some("r1"));
        assert_eq!(pc.handled.as_deref(), Some("r1"));
    }

    #[test]
    fn no_sync_starts_in_quiet_hours_across_midnight() {
        // Every night 22:00 to 06:00; Thursday evening, full read done at 02:00.
        let mut pc = Pc::new(
            datetime!(2026-11-26 20:00),
            Some(datetime!(2026-11-26 02:00)),
        );
        pc.plan = SyncSchedule {
            interval_minutes: 60,
            quiet_hours: vec![QuietHours {
                days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .map(String::from)
                    .to_vec(),
                from: "22:00".into(),
                to: "06:00".into(),
            }],
            full_read_at: "02:00".into(),
        }
        .plan()
        .unwrap();
        pc.run_until(datetime!(2026-11-27 08:00));
        let times: Vec<PrimitiveDateTime> = pc.started.iter().map(|s| s.0).collect();
        assert_eq!(
            times,
            [
                datetime!(2026-11-26 20:00),
                datetime!(2026-11-26 21:00),
                datetime!(2026-11-27 06:00),
                datetime!(2026-11-27 07:00),
            ]
        );
        // The night's full read, missed in quiet hours, is the morning's first sync.
        assert!(pc.started[2].1.full, "{:?}", pc.started[2]);
    }

    #[test]
    fn waits_say_when_the_next_sync_is_due() {
        let plan = office();
        let decision = next(&Situation {
            now: datetime!(2026-11-26 09:45),
            plan: &plan,
            last_start: Some(datetime!(2026-11-26 09:40)),
            last_full: Some(datetime!(2026-11-26 02:00)),
            request: None,
            handled_request: None,
        });
        // 10:10 would be the interval; it falls in quiet hours, which end at 13:00.
        assert_eq!(decision, Next::WaitUntil(datetime!(2026-11-26 13:00)));
    }

    #[test]
    fn a_clock_set_back_does_not_hold_syncs_off_until_it_catches_up() {
        let plan = office();
        // The PC ran 36 days ahead; corrected, its last runs lie in the future.
        let decision = next(&Situation {
            now: datetime!(2026-11-26 15:00),
            plan: &plan,
            last_start: Some(datetime!(2027-01-01 14:50)),
            last_full: Some(datetime!(2027-01-01 02:00)),
            request: None,
            handled_request: None,
        });
        // Taken as just now: the next sync is one interval away, not in January.
        assert_eq!(decision, Next::WaitUntil(datetime!(2026-11-26 15:30)));
    }
}
