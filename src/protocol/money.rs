//! Exact money: an amount is a whole number of paise. Text in, text out; never a float.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in paise (1/100 of a rupee, or of whatever the books' base currency is).
/// Positive is a debit, negative a credit: the appliance's sign convention (CONTRACT.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error("`{0}` is not a plain decimal number (write it like 12345.67)")]
    NotDecimal(String),
    #[error("`{0}` has more than two decimal places")]
    TooPrecise(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub const fn from_paise(paise: i64) -> Self {
        Amount(paise)
    }

    pub const fn paise(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_neg(self) -> Option<Amount> {
        self.0.checked_neg().map(Amount)
    }

    pub fn abs(self) -> Amount {
        Amount(self.0.saturating_abs())
    }

    /// Parses `-12345.67`, `12345`, `+0.5`, `12345.600` (zeros past the second decimal are exact
    /// and accepted). Rejects exponents, grouping, and anything finer than a paisa.
    pub fn parse_decimal(text: &str) -> Result<Amount, AmountError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        let (negative, digits) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
            return Err(AmountError::NotDecimal(text.to_string()));
        }
        let (kept, rest) = frac.split_at(frac.len().min(2));
        if rest.bytes().any(|b| b != b'0') {
            return Err(AmountError::TooPrecise(text.to_string()));
        }
        let too_large = || AmountError::TooLarge(text.to_string());
        let mut paise: i64 = 0;
        for b in whole.bytes() {
            paise = paise
                .checked_mul(10)
                .and_then(|p| p.checked_add(i64::from(b - b'0')))
                .ok_or_else(too_large)?;
        }
        let mut scale = 0;
        for b in kept.bytes() {
            paise = paise
                .checked_mul(10)
                .and_then(|p| p.checked_add(i64::from(b - b'0')))
                .ok_or_else(too_large)?;
            scale += 1;
        }
        for _ in scale..2 {
            paise = paise.checked_mul(10).ok_or_else(too_large)?;
        }
        Ok(Amount(if negative { -paise } else { paise }))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse_decimal(s)
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Self {
        Amount(iter.map(|a| a.0).sum())
    }
}

/// Written as a JSON number with exactly its decimal digits (serde_json's arbitrary_precision
/// keeps the text), so `12345.67` never becomes `12345.670000000001`.
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let number = serde_json::Number::from_str(&self.to_string())
            .map_err(|e| serde::ser::Error::custom(e.to_string()))?;
        number.serialize(serializer)
    }
}

/// Read from a JSON number (its exact text) or from a string holding one.
impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(serde_json::Number),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)
            .map_err(|_| de::Error::custom("expected an amount such as 12345.67"))?
        {
            Raw::Number(n) => n.to_string(),
            Raw::Text(s) => s,
        };
        Amount::parse_decimal(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(
            Amount::parse_decimal("12345.67").unwrap().paise(),
            1_234_567
        );
        assert_eq!(Amount::parse_decimal("-0.5").unwrap().paise(), -50);
        assert_eq!(Amount::parse_decimal("7").unwrap().paise(), 700);
        assert_eq!(Amount::parse_decimal("1.230").unwrap().paise(), 123);
        assert_eq!(Amount::parse_decimal(".25").unwrap().paise(), 25);
        assert_eq!(Amount::parse_decimal("5.").unwrap().paise(), 500);
    }

    #[test]
    fn rejects_what_is_not_exact() {
        assert!(matches!(
            Amount::parse_decimal("1.234"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(
            Amount::parse_decimal("1e5"),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(
            Amount::parse_decimal("1,000"),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(
            Amount::parse_decimal("."),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(
            Amount::parse_decimal("-"),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(
            Amount::parse_decimal("99999999999999999999"),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn json_round_trip_keeps_digits() {
        let a: Amount = serde_json::from_str("12345.67").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "12345.67");
        let b: Amount = serde_json::from_str("\"-0.10\"").unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), "-0.10");
        let big: Amount = serde_json::from_str("123456789012345.67").unwrap();
        assert_eq!(big.paise(), 12_345_678_901_234_567);
        assert!(serde_json::from_str::<Amount>("0.001").is_err());
    }
}
