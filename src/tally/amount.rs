//! Tally's amount and date text. Amounts come back in Tally's own sign (debit negative).

use crate::protocol::money::{Amount, AmountError};
use time::Date;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Tally amount `{text}` could not be read: {reason}")]
pub struct BadTallyAmount {
    pub text: String,
    pub reason: String,
    /// More decimal places than paise hold: a base currency with three decimals.
    pub too_precise: bool,
}

/// Reads every form Tally writes an amount in, keeping Tally's sign (a debit is negative):
/// `-12000.00`, ` 12000.00`, `(-)12000.00`, `1,20,000.00`, `15000.00 Dr`, `15000.00 Cr`,
/// `-₹ 1,000.00`, and a foreign-currency amount `-$ 10000.0000 @ ₹ 42.50/$ = -₹ 425000.00`, whose
/// base-currency value is the part after `=`, also with `?` where Tally could not write `₹`.
/// Empty text is zero.
pub fn parse_tally_amount(text: &str) -> Result<Amount, BadTallyAmount> {
    let bad = |reason: &str| BadTallyAmount {
        text: text.to_string(),
        reason: reason.to_string(),
        too_precise: false,
    };
    let mut s = text.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if let Some((_, base)) = s.rsplit_once('=') {
        s = base.trim();
    }
    if s.is_empty() {
        return Ok(Amount::ZERO);
    }
    let mut negative = false;
    // A trailing Dr/Cr states the side outright.
    let mut side: Option<bool> = None;
    let lower = s.to_ascii_lowercase();
    if lower.ends_with("dr") {
        side = Some(true);
        s = s[..s.len() - 2].trim_end();
    } else if lower.ends_with("cr") {
        side = Some(false);
        s = s[..s.len() - 2].trim_end();
    }
    if let Some(rest) = s.strip_prefix("(-)") {
        negative = true;
        s = rest;
    }
    let mut digits = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '0'..='9' | '.' => digits.push(c),
            '-' if digits.is_empty() => negative = !negative,
            '+' if digits.is_empty() => {}
            // Grouping separators (Indian or Western), currency symbols and spacing around them.
            ',' | ' ' | '\u{a0}' => {}
            // Tally writes `?` for `₹` in UTF-8 answers, and field reports see it in UTF-16
            // ones too (`-$1609.71 @ ? 82.58/$ = -? 132929.85`): a currency sign, before the number.
            '?' if digits.is_empty() => {}
            c if !digits.is_empty() => {
                return Err(bad(&format!("unexpected `{c}` after the number")))
            }
            c if c.is_alphabetic() || is_currency_symbol(c) => {}
            c => return Err(bad(&format!("unexpected `{c}`"))),
        }
    }
    if digits.is_empty() {
        return Err(bad("there is no number in it"));
    }
    let value = Amount::parse_decimal(&digits).map_err(|e| match e {
        AmountError::TooPrecise(_) => BadTallyAmount {
            too_precise: true,
            ..bad("it has more than two decimal places in the base currency")
        },
        other => bad(&other.to_string()),
    })?;
    let value = match side {
        Some(true) => Amount::from_paise(-value.paise().abs()),
        Some(false) => Amount::from_paise(value.paise().abs()),
        None if negative => Amount::from_paise(-value.paise()),
        None => value,
    };
    Ok(value)
}

fn is_currency_symbol(c: char) -> bool {
    matches!(c, '₹' | '$' | '€' | '£' | '¥') || ('\u{20a0}'..='\u{20cf}').contains(&c)
}

/// `YYYYMMDD` as Tally writes dates; also `D-Mon-YYYY` and `DD-MM-YYYY`, which requests accept.
pub fn parse_tally_date(text: &str) -> Option<Date> {
    let s = text.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let y: i32 = s[..4].parse().ok()?;
        let m: u8 = s[4..6].parse().ok()?;
        let d: u8 = s[6..].parse().ok()?;
        return Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok();
    }
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() == 3 {
        let d: u8 = parts[0].parse().ok()?;
        let y: i32 = parts[2].parse().ok()?;
        // Tally's short form `1-Apr-25`.
        let y = if parts[2].len() == 2 { 2000 + y } else { y };
        let m = match parts[1].parse::<u8>() {
            Ok(m) => time::Month::try_from(m).ok()?,
            Err(_) => month_from_abbrev(parts[1])?,
        };
        return Date::from_calendar_date(y, m, d).ok();
    }
    None
}

fn month_from_abbrev(s: &str) -> Option<time::Month> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = s.to_ascii_lowercase();
    let i = NAMES.iter().position(|n| lower.starts_with(n))?;
    time::Month::try_from(i as u8 + 1).ok()
}

/// `YYYYMMDD`, for requests.
pub fn format_tally_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month() as u8, d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> i64 {
        parse_tally_amount(s).unwrap().paise()
    }

    #[test]
    fn every_amount_form() {
        assert_eq!(p("-12000.00"), -1_200_000);
        assert_eq!(p(" 12000.00"), 1_200_000);
        assert_eq!(p("(-)12000.00"), -1_200_000);
        assert_eq!(p("1,20,000.00"), 12_000_000);
        assert_eq!(p("-1,20,000.50"), -12_000_050);
        assert_eq!(p("15000.00 Dr"), -1_500_000);
        assert_eq!(p("15000.00 Cr"), 1_500_000);
        assert_eq!(p("-$ 10000.0000 @ ₹ 42.50/$ = -₹ 425000.00"), -42_500_000);
        assert_eq!(p("$ 100.00 @ ₹ 83.25/$ = ₹ 8325.00"), 832_500);
        assert_eq!(p("-₹ 1,000.00"), -100_000);
        assert_eq!(p("-$1609.71 @ ? 82.58/$ = -? 132929.85"), -13_292_985);
        assert_eq!(p("-? 1,32,929.85"), -13_292_985);
        assert_eq!(p("? 5.00 Cr"), 500);
        assert_eq!(p(""), 0);
        assert_eq!(p("   "), 0);
        assert_eq!(p("\u{4} 5"), 500);
    }

    #[test]
    fn unreadable_amounts_say_why() {
        assert!(parse_tally_amount("12.345")
            .unwrap_err()
            .reason
            .contains("two decimal"));
        assert!(parse_tally_amount("abc").is_err());
        assert!(parse_tally_amount("12x").is_err());
        assert!(parse_tally_amount("12?").is_err());
        assert!(parse_tally_amount("?").is_err());
    }

    #[test]
    fn dates() {
        let d = parse_tally_date("20250802").unwrap();
        assert_eq!((d.year(), d.month() as u8, d.day()), (2025, 8, 2));
        assert_eq!(parse_tally_date("1-Apr-2025"), parse_tally_date("20250401"));
        assert_eq!(parse_tally_date("01-04-2025"), parse_tally_date("20250401"));
        assert_eq!(parse_tally_date("1-Apr-25"), parse_tally_date("20250401"));
        assert_eq!(parse_tally_date("20251301"), None);
        assert_eq!(format_tally_date(d), "20250802");
    }
}
