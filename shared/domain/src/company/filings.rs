//! What SEC publishes about a company, as the sync usecase sees it: its listing, its newest
//! report, and the facts its filings reported.

use chrono::NaiveDate;

use super::{Cik, Fact, Ticker};

/// A company in SEC's ticker map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCompany {
    /// The ticker.
    pub ticker: Ticker,
    /// The CIK.
    pub cik: Cik,
    /// The registered name.
    pub name: String,
}

/// A filing that carries facts (an annual or quarterly report, or an amendment of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    /// Its accession number, e.g. `0000320193-25-000079`.
    pub accession: String,
    /// When it was filed.
    pub filed: NaiveDate,
    /// Its form, e.g. `10-K`.
    pub form: String,
}

/// A fact with the filing that reported it: the same period appears once per filing that
/// reported it (comparatives, amendments), and the current value is the latest filed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedFact {
    /// The value and its period.
    pub fact: Fact,
    /// The reporting filing's accession number.
    pub accession: String,
}
