//! What ScrapeCompanies needs from the outside: SEC's side, storage for companies and
//! facts, and a log of runs so a run can be resumed.

use std::future::Future;

use super::report::ScrapeReport;
use crate::common::StoreError;
use crate::company::{Cik, Company, Fact, Filing, ListedCompany, Ticker};

/// Why SEC's side could not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// SEC has no such document.
    #[error("{0}")]
    NotFound(String),
    /// This company's request failed (retries exhausted, malformed document…).
    #[error("{0}")]
    Failed(String),
    /// Every later request would fail the same way: the run stops.
    #[error("{0}")]
    Stop(String),
}

/// SEC's side of the sync.
pub trait FilingSource: Send + Sync {
    /// Every company SEC lists.
    fn listed_companies(
        &self,
    ) -> impl Future<Output = Result<Vec<ListedCompany>, SourceError>> + Send;

    /// The newest fact-bearing filing of `cik`, if it has one.
    fn latest_filing(
        &self,
        cik: Cik,
    ) -> impl Future<Output = Result<Option<Filing>, SourceError>> + Send;

    /// Every fact `cik` reported.
    fn reported_facts(
        &self,
        cik: Cik,
    ) -> impl Future<Output = Result<Vec<Fact>, SourceError>> + Send;
}

/// LZStock's side of the sync.
pub trait SyncStore: Send + Sync {
    /// Records SEC's listing.
    fn upsert_companies(
        &self,
        companies: &[ListedCompany],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The known companies among `tickers`.
    fn companies(
        &self,
        tickers: &[Ticker],
    ) -> impl Future<Output = Result<Vec<Company>, StoreError>> + Send;

    /// Every known company.
    fn universe(&self) -> impl Future<Output = Result<Vec<Company>, StoreError>> + Send;

    /// Every ticker on any dashboard, known or not, sorted.
    fn tracked_tickers(&self) -> impl Future<Output = Result<Vec<Ticker>, StoreError>> + Send;

    /// When SEC's listing was last recorded; `None` when it never was (no earlier copy).
    fn listing_fetched_at(
        &self,
    ) -> impl Future<Output = Result<Option<chrono::DateTime<chrono::Utc>>, StoreError>> + Send;

    /// The filing whose facts are stored for `ticker`.
    fn last_accession(
        &self,
        ticker: &Ticker,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Stores `facts` as of `filing`; returns the concepts that changed (empty: none).
    fn store_facts(
        &self,
        ticker: &Ticker,
        filing: &Filing,
        facts: &[Fact],
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Records why syncing `ticker` failed.
    fn record_failure(
        &self,
        ticker: &Ticker,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What became of one company in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompanyOutcome {
    /// Its facts changed.
    Synced,
    /// Its facts were fetched and held nothing new.
    Unchanged,
    /// It filed nothing since the stored filing: its facts were not fetched.
    Skipped,
    /// It could not be synced, for this reason.
    Failed(String),
}

/// What the log knows of a run when it is opened.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// The run is this invocation's to do; the companies an earlier attempt of the same run
    /// finished are listed with their outcomes (none for a new run).
    Open(Vec<(Ticker, CompanyOutcome)>),
    /// The run finished earlier; this is its report.
    Finished(ScrapeReport),
    /// Another invocation is doing this run right now.
    Busy,
}

/// Runs and their checkpoints, shared by every scraper instance.
pub trait RunLog: Send + Sync {
    /// Opens run `id` for this invocation, or says why not (see [`RunState`]).
    fn open(&self, id: &str) -> impl Future<Output = Result<RunState, StoreError>> + Send;

    /// Companies earlier runs left undone, the longest owed first.
    fn owed(&self) -> impl Future<Output = Result<Vec<Ticker>, StoreError>> + Send;

    /// Notes that run `id` owes `tickers` until an outcome is recorded for each.
    fn plan(
        &self,
        id: &str,
        tickers: &[Ticker],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records `ticker`'s outcome in run `id`; nothing owes it any more.
    fn record(
        &self,
        id: &str,
        ticker: &Ticker,
        outcome: &CompanyOutcome,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lets run `id` go unfinished, with nothing recorded of it, so that a retry of the same
    /// delivery does it afresh.
    fn release(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Closes run `id` with its report; opening it again gives that report.
    fn close(
        &self,
        id: &str,
        report: &ScrapeReport,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
