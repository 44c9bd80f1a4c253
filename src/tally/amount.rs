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
/// base-currency value is the part after `=`, also with `? ` where Tally could not write `₹`.
/// Empty text is zero.
///
/// Only a base-currency marker may stand before the number: a foreign-currency amount without
/// its base value, or a `?` glued to the number (an encoding lost a character there, perhaps a
/// minus), is refused rather than read as rupees.
pub fn parse_tally_amount(text: &str) -> Result<Amount, BadTallyAmount> {
    let bad = |reason: &str| BadTallyAmount {
        text: text.to_string(),
        reason: reason.to_string(),
        too_precise: false,
    };
    let whole = text.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if whole.is_empty() {
        return Ok(Amount::ZERO);
    }
    let s =
        match whole.rsplit_once('=') {
            Some((_, base)) if base.trim().is_empty() => return Err(bad(
                "nothing follows `=`, where Tally writes the amount's value in the base currency",
            )),
            Some((_, base)) => base.trim(),
            None => whole,
        };
    let (s, side) = strip_side(s);
    let Some(start) = number_start(s) else {
        return Err(bad("there is no number in it"));
    };
    let (prefix, number) = s.split_at(start);
    let negative = sign_before_number(prefix).map_err(|r| bad(&r))?;
    let mut digits = String::with_capacity(number.len());
    for c in number.chars() {
        match c {
            '0'..='9' | '.' => digits.push(c),
            // Grouping separators, Indian or Western.
            ',' => {}
            c if c.is_whitespace() => {}
            c => return Err(bad(&format!("unexpected `{c}` after the number"))),
        }
    }
    let value = Amount::parse_decimal(&digits).map_err(|e| match e {
        AmountError::TooPrecise(_) => BadTallyAmount {
            too_precise: true,
            ..bad("it has more than two decimal places in the base currency")
        },
        other => bad(&other.to_string()),
    })?;
    Ok(match side {
        Some(true) => Amount::from_paise(-value.paise().abs()),
        Some(false) => Amount::from_paise(value.paise().abs()),
        None if negative => Amount::from_paise(-value.paise()),
        None => value,
    })
}

/// A trailing `Dr` / `Cr` states the side outright (`Some(true)` = debit).
fn strip_side(s: &str) -> (&str, Option<bool>) {
    let lower = s.to_ascii_lowercase();
    let side = if lower.ends_with("dr") {
        Some(true)
    } else if lower.ends_with("cr") {
        Some(false)
    } else {
        None
    };
    match side {
        Some(_) => (s[..s.len() - 2].trim_end(), side),
        None => (s, None),
    }
}

/// Where the number begins: its first digit, or a `.` just before it that ends no word
/// (`-.50`, but not the dot of `Rs.`).
fn number_start(s: &str) -> Option<usize> {
    let first = s.find(|c: char| c.is_ascii_digit())?;
    let before = &s[..first];
    match before.strip_suffix('.') {
        Some(head) if !head.ends_with(char::is_alphabetic) => Some(first - 1),
        _ => Some(first),
    }
}

/// The base currency's names Tally may write before a base-currency amount.
const BASE_CURRENCY_WORDS: [&str; 3] = ["Rs.", "Rs", "INR"];

/// Whether the text before the number makes it negative; an error naming what else stands there.
fn sign_before_number(prefix: &str) -> Result<bool, String> {
    let mut negative = false;
    let mut rest = prefix;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("(-)") {
            negative = !negative;
            rest = after;
            continue;
        }
        let after = &rest[c.len_utf8()..];
        match c {
            '-' => negative = !negative,
            '+' | '₹' | '₨' => {}
            c if c.is_whitespace() => {}
            // `? 82.58`, `-? 132929.85`: every `₹` a lossy encoding turned into `?` is followed
            // by a space. A `?` glued to the number may stand for any lost character.
            '?' if after.starts_with(char::is_whitespace) => {}
            '?' => {
                return Err("a `?` stands right before the number: the answer's encoding lost a character there (a minus sign or a currency, it cannot be told), so the amount cannot be read safely".into())
            }
            c if c.is_alphabetic() => {
                let word = BASE_CURRENCY_WORDS
                    .iter()
                    .find(|w| rest.starts_with(**w))
                    .ok_or_else(|| {
                        let word: String = rest.chars().take_while(|c| c.is_alphabetic()).collect();
                        format!("`{word}` stands before the number, where only the base currency (₹, Rs or INR) may")
                    })?;
                rest = &rest[word.len()..];
                continue;
            }
            c if is_currency_symbol(c) => {
                return Err(format!("`{c}` marks a foreign-currency amount and Tally gave no value in the base currency for it (`… = ₹ …`): it cannot be stored as rupees"))
            }
            c => return Err(format!("unexpected `{c}` before the number")),
        }
        rest = after;
    }
    Ok(negative)
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
        assert!(parse_tally_amount("$ 100 @ ₹ 83.25/$ = ").is_err());
    }

    fn why(s: &str) -> String {
        parse_tally_amount(s).unwrap_err().reason
    }

    #[test]
    fn a_question_mark_glued_to_the_number_is_a_lost_character_not_a_rupee() {
        for s in ["?1000", "-?1000", "?1,000.00 Dr", "$ 1 @ ? 2/$ = -?1000"] {
            assert!(why(s).contains("lost a character"), "{s}: {}", why(s));
        }
        // Every `₹` an encoding turned into `?` is followed by a space: still read exactly.
        assert_eq!(p("? 82.58"), 8258);
        assert_eq!(p("-? 1,32,929.85"), -13_292_985);
        assert_eq!(p("?\u{a0}5.00"), 500);
        assert_eq!(p("-$1609.71 @ ?82.58/$ = -? 132929.85"), -13_292_985);
    }

    #[test]
    fn a_foreign_currency_amount_without_its_base_value_is_refused() {
        for s in [
            "$ 100.00",
            "-$ 100.00",
            "€ 5",
            "£5.00 Dr",
            "¥ 300",
            "$ 100.00 @ ₹ 83.25/$",
        ] {
            assert!(why(s).contains("foreign-currency"), "{s}: {}", why(s));
        }
        assert!(why("USD 100.00").contains("`USD`"));
        assert!(why("abc 12").contains("`abc`"));
        // Its value in the base currency, after `=`, is what is stored.
        assert_eq!(p("$ 100.00 = ₹ 8325.00"), 832_500);
        assert_eq!(p("-€ 10 @ ₹ 90/€ = -₹ 900.00"), -90_000);
    }

    #[test]
    fn the_base_currency_may_be_named_before_the_number() {
        assert_eq!(p("Rs. 1,000.00"), 100_000);
        assert_eq!(p("-Rs.1000"), -100_000);
        assert_eq!(p("INR 5.00 Dr"), -500);
        assert_eq!(p("₨ 5"), 500);
        assert_eq!(p("-₹1,000.00"), -100_000);
        assert_eq!(p("$ 1 @ Rs. 83/$ = -Rs. 83.00"), -8300);
        assert_eq!(p("-.50"), -50);
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
