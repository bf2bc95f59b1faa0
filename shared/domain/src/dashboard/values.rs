//! The value objects a dashboard is made of, each constructed only by parsing.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{InvalidInput, Ticker};

/// The id of a dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DashboardId(uuid::Uuid);

impl DashboardId {
    /// A new, time-ordered id (UUIDv7).
    #[must_use]
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// Wraps an id read back from storage.
    #[must_use]
    pub const fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }

    /// The id as a UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }

    /// Parses the text form a client sends.
    ///
    /// # Errors
    /// When `raw` is not a UUID.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        uuid::Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| InvalidInput::new("id", format!("{raw:?} is not a dashboard id (UUID)")))
    }
}

impl fmt::Display for DashboardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A dashboard's name: 1 to 100 characters without control characters, not only
/// whitespace; kept without its surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DashboardName(String);

impl DashboardName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Parses a name and trims its surrounding whitespace. The length counts the name as
    /// sent, so the rule is the one the API document states (1 to 100 characters, no
    /// control character, at least one that is not whitespace).
    ///
    /// # Errors
    /// When the name is empty, longer than 100 characters, only whitespace, or has
    /// control characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err(InvalidInput::new("name", "must not be empty"));
        }
        if chars > Self::MAX_CHARS {
            return Err(InvalidInput::new(
                "name",
                format!(
                    "must be at most {} characters, got {chars}",
                    Self::MAX_CHARS
                ),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "name",
                "must not contain control characters",
            ));
        }
        let name = raw.trim();
        if name.is_empty() {
            return Err(InvalidInput::new("name", "must not be only whitespace"));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The indicators a dashboard can show: a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Revenue growth against the same period a year earlier.
    RevenueGrowthYoy,
    /// Net income over revenue.
    NetMargin,
    /// Diluted earnings per share.
    EpsDiluted,
    /// Total liabilities over shareholders' equity.
    DebtToEquity,
    /// Current assets over current liabilities.
    CurrentRatio,
}

impl Indicator {
    /// Every indicator, in display order.
    pub const ALL: [Self; 5] = [
        Self::RevenueGrowthYoy,
        Self::NetMargin,
        Self::EpsDiluted,
        Self::DebtToEquity,
        Self::CurrentRatio,
    ];

    /// The indicator's wire name, e.g. `net_margin`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RevenueGrowthYoy => "revenue_growth_yoy",
            Self::NetMargin => "net_margin",
            Self::EpsDiluted => "eps_diluted",
            Self::DebtToEquity => "debt_to_equity",
            Self::CurrentRatio => "current_ratio",
        }
    }
}

impl FromStr for Indicator {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == raw)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|i| i.as_str()).collect();
                format!(
                    "unknown indicator {raw:?}; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The companies of a dashboard: 1 to 50 distinct tickers, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<Ticker>")]
pub struct TickerList(Vec<Ticker>);

impl TickerList {
    /// The most tickers a dashboard holds.
    pub const MAX: usize = 50;

    /// Parses raw tickers, naming the first bad one by its index.
    ///
    /// # Errors
    /// When the list is empty or too long, a ticker is malformed, or one repeats.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, InvalidInput> {
        if raw.is_empty() || raw.len() > Self::MAX {
            return Err(InvalidInput::new(
                "tickers",
                format!("must hold 1 to {} tickers, got {}", Self::MAX, raw.len()),
            ));
        }
        let mut seen = HashSet::with_capacity(raw.len());
        let mut tickers = Vec::with_capacity(raw.len());
        for (index, text) in raw.iter().enumerate() {
            let ticker = Ticker::parse(text.as_ref())
                .map_err(|e| InvalidInput::new(format!("tickers[{index}]"), e.to_string()))?;
            if !seen.insert(ticker.clone()) {
                return Err(InvalidInput::new(
                    format!("tickers[{index}]"),
                    format!("{ticker} appears more than once"),
                ));
            }
            tickers.push(ticker);
        }
        Ok(Self(tickers))
    }

    /// The tickers.
    #[must_use]
    pub fn as_slice(&self) -> &[Ticker] {
        &self.0
    }
}

impl TryFrom<String> for DashboardName {
    type Error = InvalidInput;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<DashboardName> for String {
    fn from(name: DashboardName) -> Self {
        name.0
    }
}

impl TryFrom<Vec<String>> for TickerList {
    type Error = InvalidInput;
    fn try_from(raw: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<TickerList> for Vec<Ticker> {
    fn from(list: TickerList) -> Self {
        list.0
    }
}

/// Parses indicator names into a duplicate-free list, naming the first bad one.
///
/// # Errors
/// When a name is unknown or repeats.
pub fn parse_indicators<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Indicator>, InvalidInput> {
    let mut indicators: Vec<Indicator> = Vec::with_capacity(raw.len());
    for (index, text) in raw.iter().enumerate() {
        let field = || format!("indicators[{index}]");
        let indicator: Indicator = text
            .as_ref()
            .parse()
            .map_err(|e| InvalidInput::new(field(), e))?;
        if indicators.contains(&indicator) {
            return Err(InvalidInput::new(
                field(),
                format!("{indicator} appears more than once"),
            ));
        }
        indicators.push(indicator);
    }
    Ok(indicators)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::OwnerId;

    #[test]
    fn a_name_is_trimmed_and_bounded_in_characters_not_bytes() {
        assert_eq!(DashboardName::parse("  Tech  ").unwrap().as_str(), "Tech");
        assert!(DashboardName::parse("   ").is_err());
        assert!(DashboardName::parse(&"é".repeat(100)).is_ok());
        let err = DashboardName::parse(&"a".repeat(101)).unwrap_err();
        assert_eq!(err.field, "name");
        // The length counts the name as sent, as the API document says.
        assert!(DashboardName::parse(&format!(" {} ", "a".repeat(99))).is_err());
        assert!(DashboardName::parse("\u{3000}\u{a0}").is_err());
        assert!(DashboardName::parse("tab\there").is_err());
    }

    #[test]
    fn tickers_must_be_distinct_and_bounded() {
        assert_eq!(
            TickerList::parse(&["AAPL", "MSFT"])
                .unwrap()
                .as_slice()
                .len(),
            2
        );
        assert_eq!(TickerList::parse::<&str>(&[]).unwrap_err().field, "tickers");
        let too_many: Vec<String> = (0..51).map(|i| format!("T{i}")).collect();
        assert_eq!(TickerList::parse(&too_many).unwrap_err().field, "tickers");
        let err = TickerList::parse(&["AAPL", "aapl"]).unwrap_err();
        assert_eq!(err.field, "tickers[1]");
        let err = TickerList::parse(&["AAPL", "MSFT", "AAPL"]).unwrap_err();
        assert_eq!(err.field, "tickers[2]");
        assert!(err.reason.contains("more than once"));
    }

    #[test]
    fn indicators_come_from_a_closed_set() {
        assert_eq!(
            parse_indicators(&["net_margin", "eps_diluted"]).unwrap(),
            [Indicator::NetMargin, Indicator::EpsDiluted]
        );
        let err = parse_indicators(&["net_margin", "pe_ratio"]).unwrap_err();
        assert_eq!(err.field, "indicators[1]");
        assert!(parse_indicators(&["net_margin", "net_margin"]).is_err());
        assert!(parse_indicators::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn indicator_names_round_trip() {
        for indicator in Indicator::ALL {
            assert_eq!(indicator.as_str().parse::<Indicator>(), Ok(indicator));
        }
    }

    #[test]
    fn deserialising_goes_through_the_parsers() {
        assert!(serde_json::from_str::<OwnerId>("\"\"").is_err());
        assert!(serde_json::from_str::<OwnerId>("\" padded\"").is_err());
        assert_eq!(
            serde_json::from_str::<DashboardName>("\"  Tech  \"")
                .unwrap()
                .as_str(),
            "Tech"
        );
        assert!(
            serde_json::from_str::<DashboardName>(&format!("\"{}\"", "a".repeat(101))).is_err()
        );
        assert!(serde_json::from_str::<TickerList>("[]").is_err());
        assert!(serde_json::from_str::<TickerList>(r#"["AAPL", "AAPL"]"#).is_err());
        let list: TickerList = serde_json::from_str(r#"["AAPL", "MSFT"]"#).unwrap();
        assert_eq!(serde_json::to_string(&list).unwrap(), r#"["AAPL","MSFT"]"#);
    }

    #[test]
    fn owners_and_ids_parse() {
        assert!(OwnerId::parse("user-1").is_ok());
        assert!(OwnerId::parse("").is_err());
        assert!(OwnerId::parse(" user").is_err());
        assert!(DashboardId::parse("not-a-uuid").is_err());
        let id = DashboardId::generate();
        assert_eq!(DashboardId::parse(&id.to_string()), Ok(id));
    }
}
