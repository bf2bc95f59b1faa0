//! ScrapeCompanies: keeps companies' facts in step with what they filed with SEC.
//!
//! A company is synced only when its newest report is not the one whose facts are already
//! stored, so a run over unchanged data fetches no facts and writes nothing. One company
//! failing is reported with its reason and never fails the run; only an error every later
//! request would repeat (SEC refusing the declared identity, storage gone) stops it. A run
//! with a deadline starts no company after it and reports those left, for the next run.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;

use super::{Cik, Company, Filing, ListedCompany, ReportedFact, Ticker};
use crate::dashboard::StoreError;

/// Which companies a run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// These tickers, as given (each is parsed; a malformed one is reported as failed).
    Tickers(Vec<String>),
    /// Every ticker on any dashboard.
    Dashboards,
    /// Every known company.
    All,
}

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
    ) -> impl Future<Output = Result<Vec<ReportedFact>, SourceError>> + Send;
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

    /// Every company on a dashboard, or every known company.
    fn universe(
        &self,
        dashboards_only: bool,
    ) -> impl Future<Output = Result<Vec<Company>, StoreError>> + Send;

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
        facts: &[ReportedFact],
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Records why syncing `ticker` failed.
    fn record_failure(
        &self,
        ticker: &Ticker,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One company the run could not sync, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The ticker as given.
    pub ticker: String,
    /// Why.
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScrapeReport {
    /// Companies asked for.
    pub requested: usize,
    /// Companies whose facts changed.
    pub synced: Vec<String>,
    /// Companies whose facts were fetched and held nothing new.
    pub unchanged: Vec<String>,
    /// Companies with no filing newer than the one stored: their facts were not fetched.
    pub skipped: Vec<String>,
    /// Companies that failed, with the reason.
    pub failed: Vec<Failure>,
    /// Companies not started before the deadline.
    pub remaining: Vec<String>,
}

/// Why a run stopped as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// Every later request would fail: the report so far, and why.
    #[error("the run stopped: {reason}")]
    Stopped {
        /// Why.
        reason: String,
        /// What was done before it stopped.
        report: ScrapeReport,
    },
    /// Storage failed.
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

enum Outcome {
    Synced,
    Unchanged,
    Skipped,
    Failed(String),
    Remaining,
}

/// The usecase.
#[derive(Debug, Clone)]
pub struct ScrapeCompanies<S, T> {
    source: S,
    store: T,
    concurrency: usize,
}

impl<S: FilingSource, T: SyncStore> ScrapeCompanies<S, T> {
    /// Syncs from `source` into `store`, `concurrency` companies at a time (at least 1).
    pub fn new(source: S, store: T, concurrency: usize) -> Self {
        Self {
            source,
            store,
            concurrency: concurrency.max(1),
        }
    }

    /// The source, for its counters.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Runs over `scope`. With `refresh_listing`, SEC's listing is fetched and recorded
    /// first. No company is started after `deadline`.
    ///
    /// # Errors
    /// See [`ScrapeError`].
    pub async fn execute(
        &self,
        scope: &Scope,
        refresh_listing: bool,
        deadline: Option<Instant>,
    ) -> Result<ScrapeReport, ScrapeError> {
        let mut report = ScrapeReport::default();
        if refresh_listing {
            match self.source.listed_companies().await {
                Ok(listed) => self.store.upsert_companies(&listed).await?,
                Err(SourceError::Stop(reason)) => {
                    return Err(ScrapeError::Stopped { reason, report })
                }
                // The companies already known can still be synced.
                Err(error) => tracing::warn!(%error, "SEC's ticker map could not be refreshed"),
            }
        }
        let companies = match scope {
            Scope::Tickers(raw) => {
                report.requested = raw.len();
                let mut tickers = Vec::with_capacity(raw.len());
                for text in raw {
                    match Ticker::parse(text) {
                        Ok(ticker) => tickers.push(ticker),
                        Err(error) => report.failed.push(Failure {
                            ticker: text.clone(),
                            reason: error.to_string(),
                        }),
                    }
                }
                let known = self.store.companies(&tickers).await?;
                for ticker in &tickers {
                    if !known.iter().any(|c| &c.ticker == ticker) {
                        report.failed.push(Failure {
                            ticker: ticker.to_string(),
                            reason: "SEC does not list this ticker".into(),
                        });
                    }
                }
                known
            }
            Scope::Dashboards | Scope::All => {
                let companies = self.store.universe(*scope == Scope::Dashboards).await?;
                report.requested = companies.len();
                companies
            }
        };
        let stop = AtomicBool::new(false);
        let stop_reason = std::sync::Mutex::new(None::<String>);
        // Futures built up front, not in a `map` closure: a closure over borrowed companies
        // makes the run's `Send` bound unprovable for callers (rust-lang/rust#64552).
        let mut work = Vec::with_capacity(companies.len());
        for company in &companies {
            work.push(self.attempt(company, &stop, &stop_reason, deadline));
        }
        let mut outcomes: Vec<(Ticker, Outcome)> = futures::stream::iter(work)
            .buffer_unordered(self.concurrency)
            .collect::<Vec<Result<_, StoreError>>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        outcomes.sort_by(|a, b| a.0.cmp(&b.0));
        for (ticker, outcome) in outcomes {
            let ticker = ticker.to_string();
            match outcome {
                Outcome::Synced => report.synced.push(ticker),
                Outcome::Unchanged => report.unchanged.push(ticker),
                Outcome::Skipped => report.skipped.push(ticker),
                Outcome::Failed(reason) => report.failed.push(Failure { ticker, reason }),
                Outcome::Remaining => report.remaining.push(ticker),
            }
        }
        let reason = stop_reason.into_inner().ok().flatten();
        match reason {
            Some(reason) => Err(ScrapeError::Stopped { reason, report }),
            None => Ok(report),
        }
    }

    /// Syncs `company` unless the run stopped or its deadline passed.
    async fn attempt(
        &self,
        company: &Company,
        stop: &AtomicBool,
        stop_reason: &std::sync::Mutex<Option<String>>,
        deadline: Option<Instant>,
    ) -> Result<(Ticker, Outcome), StoreError> {
        if stop.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok((company.ticker.clone(), Outcome::Remaining));
        }
        let outcome = match self.sync(company).await {
            Ok(outcome) => outcome,
            Err(SyncFailure::Stop(reason)) => {
                stop.store(true, Ordering::SeqCst);
                if let Ok(mut slot) = stop_reason.lock() {
                    slot.get_or_insert(reason);
                }
                Outcome::Remaining
            }
            Err(SyncFailure::Company(reason)) => Outcome::Failed(reason),
            Err(SyncFailure::Store(error)) => return Err(error),
        };
        Ok((company.ticker.clone(), outcome))
    }

    async fn sync(&self, company: &Company) -> Result<Outcome, SyncFailure> {
        let failed = |error: SourceError| match error {
            SourceError::Stop(reason) => SyncFailure::Stop(reason),
            SourceError::NotFound(what) => SyncFailure::Company(format!("SEC has no {what}")),
            SourceError::Failed(reason) => SyncFailure::Company(reason),
        };
        let attempt = async {
            let Some(filing) = self
                .source
                .latest_filing(company.cik)
                .await
                .map_err(failed)?
            else {
                return Ok(Outcome::Skipped);
            };
            let stored = self.store.last_accession(&company.ticker).await?;
            if stored.as_deref() == Some(filing.accession.as_str()) {
                return Ok(Outcome::Skipped);
            }
            let facts = self
                .source
                .reported_facts(company.cik)
                .await
                .map_err(failed)?;
            let changed = self
                .store
                .store_facts(&company.ticker, &filing, &facts)
                .await?;
            Ok(if changed.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Synced
            })
        };
        match attempt.await {
            Err(SyncFailure::Company(reason)) => {
                self.store.record_failure(&company.ticker, &reason).await?;
                Ok(Outcome::Failed(reason))
            }
            other => other,
        }
    }
}

enum SyncFailure {
    Company(String),
    Stop(String),
    Store(StoreError),
}

impl From<StoreError> for SyncFailure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

#[cfg(test)]
mod tests;
