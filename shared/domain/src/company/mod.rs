//! Companies: identity (ticker, CIK), reported XBRL facts, and the indicators derived
//! from them.

mod filings;
mod ids;
mod insights;
mod profile;
mod scrape;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use filings::{Filing, ListedCompany};
pub use ids::{Cik, Ticker, ValueError};
pub use insights::{annual_insights, definition, insight_concepts, Insight, Period, Reading};
pub use profile::{
    insights_of, CompanyInsights, CompanyProfile, CompanyStore, GetCompany, GetCompanyError,
};
pub use scrape::{
    CompanyOutcome, Failure, FilingSource, RunLog, RunState, Scope, ScrapeCompanies, ScrapeError,
    ScrapeReport, ScrapeRun, SourceError, SyncStore,
};

/// A company LZStock tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    /// Its ticker.
    pub ticker: Ticker,
    /// Its SEC Central Index Key.
    pub cik: Cik,
    /// Its registered name.
    pub name: String,
}

/// One reported value of an XBRL concept, as filed with the SEC. The same period appears
/// once per filing that reported it (comparatives, amendments); the filing is known by its
/// accession number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// The concept, e.g. `us-gaap:Revenues`.
    pub concept: String,
    /// The unit, e.g. `USD` or `USD/shares`.
    pub unit: String,
    /// The first day of a duration; `None` for a value at an instant (a balance).
    pub period_start: Option<NaiveDate>,
    /// The last day of the period, or the instant.
    pub period_end: NaiveDate,
    /// The fiscal year of the filing that reported it.
    pub fiscal_year: i32,
    /// `FY`, `Q1`…`Q4`, of the filing.
    pub fiscal_period: String,
    /// The form, e.g. `10-K`.
    pub form: String,
    /// When it was filed.
    pub filed: NaiveDate,
    /// The accession number of the filing that reported it, e.g. `0000320193-25-000079`.
    pub accession: String,
    /// The value.
    pub value: f64,
}
