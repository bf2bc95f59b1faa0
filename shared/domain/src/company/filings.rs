//! What SEC publishes about a company, as the sync usecase sees it: its listing, its newest
//! report.

use chrono::NaiveDate;

use super::{Cik, Ticker};

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
