//! The value objects that identify a company.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a raw value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The ticker is empty, too long or has a character outside `A-Z 0-9 . -`.
    #[error("ticker {0:?} must be 1 to 10 upper-case letters, digits, '.' or '-', starting with a letter or digit")]
    Ticker(String),
    /// The CIK is not 1 to 10 decimal digits.
    #[error("CIK {0:?} must be 1 to 10 decimal digits")]
    Cik(String),
}

/// A stock ticker: 1 to 10 of `A-Z`, `0-9`, `.`, `-`, starting with a letter or digit
/// (`AAPL`, `BRK.B`, `BF-A`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ticker(String);

impl Ticker {
    /// Parses a ticker. Lower case is refused rather than folded: a ticker is an identifier,
    /// and silently changing one hides client bugs.
    ///
    /// # Errors
    /// [`ValueError::Ticker`] when the text is not a ticker.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let valid_char =
            |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-';
        let starts_well = raw
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if starts_well && raw.len() <= 10 && raw.chars().all(valid_char) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::Ticker(raw.to_owned()))
        }
    }

    /// The ticker's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ticker {
    type Error = ValueError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Ticker> for String {
    fn from(ticker: Ticker) -> Self {
        ticker.0
    }
}

impl fmt::Display for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An SEC Central Index Key, held as its number and written zero-padded to ten digits
/// (`0000320193`), the form EDGAR's URLs and the database use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cik(u64);

impl Cik {
    /// Parses `320193` or `0000320193`.
    ///
    /// # Errors
    /// [`ValueError::Cik`] when the text is not 1 to 10 decimal digits.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if (1..=10).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()) {
            raw.parse()
                .map(Self)
                .map_err(|_| ValueError::Cik(raw.to_owned()))
        } else {
            Err(ValueError::Cik(raw.to_owned()))
        }
    }

    /// The CIK as a number.
    #[must_use]
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl TryFrom<String> for Cik {
    type Error = ValueError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Cik> for String {
    fn from(cik: Cik) -> Self {
        cik.to_string()
    }
}

impl fmt::Display for Cik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_tickers_parse() {
        for raw in ["AAPL", "BRK.B", "BF-A", "A", "0700", "ABCDEFGHIJ"] {
            assert_eq!(Ticker::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn malformed_tickers_are_refused() {
        for raw in ["", "aapl", ".A", "-A", "ABCDEFGHIJK", "A B", "Ä"] {
            assert!(Ticker::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn a_cik_is_written_with_ten_digits() {
        assert_eq!(Cik::parse("320193").unwrap().to_string(), "0000320193");
        assert_eq!(
            Cik::parse("0000320193").unwrap(),
            Cik::parse("320193").unwrap()
        );
    }

    #[test]
    fn malformed_ciks_are_refused() {
        for raw in ["", "12345678901", "12a", "-1", " 1"] {
            assert!(Cik::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn tickers_deserialize_only_through_parsing() {
        assert!(serde_json::from_str::<Ticker>("\"aapl\"").is_err());
        assert_eq!(
            serde_json::from_str::<Ticker>("\"AAPL\"").unwrap().as_str(),
            "AAPL"
        );
    }
}
