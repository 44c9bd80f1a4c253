//! Month keys (`YYYY-MM`) and calendar dates (`YYYY-MM-DD`) as the wire carries them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// A calendar month, ordered in time. Written `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MonthKey {
    year: i32,
    month: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month key; write YYYY-MM, e.g. 2026-02")]
pub struct BadMonthKey(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date; write YYYY-MM-DD, e.g. 2026-02-10")]
pub struct BadDate(pub String);

impl MonthKey {
    pub fn new(year: i32, month: u8) -> Option<MonthKey> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year))
            .then_some(MonthKey { year, month })
    }

    pub fn of(date: Date) -> MonthKey {
        MonthKey {
            year: date.year(),
            month: date.month() as u8,
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn first_day(self) -> Date {
        Date::from_calendar_date(self.year, self.time_month(), 1).expect("valid month key")
    }

    pub fn last_day(self) -> Date {
        let m = self.time_month();
        Date::from_calendar_date(self.year, m, m.length(self.year)).expect("valid month key")
    }

    pub fn contains(self, date: Date) -> bool {
        MonthKey::of(date) == self
    }

    pub fn previous(self) -> MonthKey {
        if self.month == 1 {
            MonthKey {
                year: self.year - 1,
                month: 12,
            }
        } else {
            MonthKey {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> MonthKey {
        if self.month == 12 {
            MonthKey {
                year: self.year + 1,
                month: 1,
            }
        } else {
            MonthKey {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    fn time_month(self) -> Month {
        Month::try_from(self.month).expect("month in 1..=12")
    }
}

impl fmt::Display for MonthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for MonthKey {
    type Err = BadMonthKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMonthKey(s.to_string());
        let b = s.as_bytes();
        if b.len() != 7
            || b[4] != b'-'
            || !s[..4]
                .bytes()
                .chain(s[5..].bytes())
                .all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = s[..4].parse().map_err(|_| bad())?;
        let month: u8 = s[5..].parse().map_err(|_| bad())?;
        MonthKey::new(year, month).ok_or_else(bad)
    }
}

impl TryFrom<String> for MonthKey {
    type Error = BadMonthKey;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<MonthKey> for String {
    fn from(m: MonthKey) -> String {
        m.to_string()
    }
}

const ISO_DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Parses a strict `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<Date, BadDate> {
    if s.len() != 10 {
        return Err(BadDate(s.to_string()));
    }
    Date::parse(s, ISO_DATE).map_err(|_| BadDate(s.to_string()))
}

pub fn format_date(d: Date) -> String {
    d.format(ISO_DATE).expect("a date always formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_keys() {
        let m: MonthKey = "2026-02".parse().unwrap();
        assert_eq!(m.to_string(), "2026-02");
        assert_eq!(format_date(m.last_day()), "2026-02-28");
        assert_eq!(m.previous().to_string(), "2026-01");
        assert_eq!(
            "2025-12".parse::<MonthKey>().unwrap().next().to_string(),
            "2026-01"
        );
        for bad in [
            "2026-13",
            "2026-2",
            "26-02",
            "2026/02",
            "2026-00",
            "abcd-ef",
            "2026-02-01",
        ] {
            assert!(bad.parse::<MonthKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert!(parse_date("2026-02-10").is_ok());
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("2026-2-10").is_err());
        assert!(parse_date("10-02-2026").is_err());
    }
}
