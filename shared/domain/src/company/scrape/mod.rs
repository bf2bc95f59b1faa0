//! ScrapeCompanies: keeps companies' facts in step with what they filed with SEC.
//!
//! A company is synced only when its newest report is not the one whose facts are already
//! stored, so a run over unchanged data fetches no facts and writes nothing. One company
//! failing is reported with its reason and never fails the run; only an error every later
//! request would repeat (SEC refusing the declared identity) stops it early, and storage
//! failing fails it.
//!
//! A run has an id and leaves a checkpoint: the outcome of each company, as it finishes.
//! Opening a run that finished gives its report and does nothing; opening one an earlier
//! attempt left unfinished does only the companies that attempt did not. A run with a
//! deadline starts no company after it; the companies it did not reach stay owed, and the
//! next run, whatever its scope, does them first.
//!
//! Every company in scope is in the report. When SEC's ticker map cannot be fetched, the
//! run goes on from the copy recorded earlier and says so; with no earlier copy it cannot
//! know any company's CIK, so each one is reported failed with that reason, the run reports
//! `stopped`, and it is left undone for a retry.

mod ports;
mod report;
mod run_state;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::StreamExt;

use super::{Company, Ticker};
use crate::common::StoreError;
use run_state::{Listing, Progress, Stop, SyncFailure};

pub use ports::{CompanyOutcome, FilingSource, RunLog, RunState, SourceError, SyncStore};
pub use report::{Failure, ScrapeReport};

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

/// One run to do.
#[derive(Debug, Clone)]
pub struct ScrapeRun {
    /// Its id: the same for every delivery of one schedule fire.
    pub id: String,
    /// The companies it covers (besides those earlier runs owe).
    pub scope: Scope,
    /// Whether SEC's listing is fetched and recorded first.
    pub refresh_listing: bool,
    /// No company is started after this.
    pub deadline: Option<Instant>,
}

/// Why a run failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// Another invocation is doing the same run; it reports.
    #[error("run {0} is being done by another invocation")]
    Busy(String),
    /// Storage failed.
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

/// The usecase.
#[derive(Debug, Clone)]
pub struct ScrapeCompanies<S, T, L> {
    source: S,
    store: T,
    runs: L,
    concurrency: usize,
}

impl<S: FilingSource, T: SyncStore, L: RunLog> ScrapeCompanies<S, T, L> {
    /// Syncs from `source` into `store`, `concurrency` companies at a time (at least 1),
    /// checkpointing in `runs`.
    pub fn new(source: S, store: T, runs: L, concurrency: usize) -> Self {
        Self {
            source,
            store,
            runs,
            concurrency: concurrency.max(1),
        }
    }

    /// The source, for its counters.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Does `run`, or the part of it not done yet.
    ///
    /// # Errors
    /// See [`ScrapeError`]. A run SEC stopped is not an error: its report says why.
    pub async fn execute(&self, run: &ScrapeRun) -> Result<ScrapeReport, ScrapeError> {
        let done = match self.runs.open(&run.id).await? {
            RunState::Open(done) => done,
            RunState::Finished(report) => {
                return Ok(ScrapeReport {
                    repeated: true,
                    ..report
                })
            }
            RunState::Busy => return Err(ScrapeError::Busy(run.id.clone())),
        };
        let mut report = ScrapeReport::default();
        let listing = if run.refresh_listing {
            self.refresh_listing().await?
        } else {
            Listing::Current
        };
        let unlisted = match &listing {
            Listing::Unavailable(reason) => reason.clone(),
            _ => "SEC does not list this ticker".to_owned(),
        };
        let companies = self.companies(run, &unlisted, &mut report).await?;
        // Tickers refused before any work are in `failed` already.
        report.requested = report.failed.len() + companies.len();
        match listing {
            Listing::Current => {}
            Listing::Earlier(note) => {
                tracing::warn!(%note, "SEC's ticker map could not be refreshed");
                report.listing_unavailable = Some(note);
            }
            Listing::Unavailable(reason) => {
                // Nothing can be known of a company SEC's map never listed here: each is
                // reported failed, and the run is left undone so a retry of the delivery
                // tries SEC again.
                tracing::error!(%reason, "the run cannot start");
                for company in companies {
                    report.failed.push(Failure {
                        ticker: company.ticker.to_string(),
                        reason: reason.clone(),
                    });
                }
                report.failed.sort_by(|a, b| a.ticker.cmp(&b.ticker));
                report.stopped = Some(reason);
                self.runs.release(&run.id).await?;
                return Ok(report);
            }
            Listing::Stopped(reason) => {
                let planned: Vec<Ticker> = companies.iter().map(|c| c.ticker.clone()).collect();
                self.runs.plan(&run.id, &planned).await?;
                report.remaining = planned.iter().map(ToString::to_string).collect();
                report.remaining.sort();
                report.stopped = Some(reason);
                self.runs.close(&run.id, &report).await?;
                return Ok(report);
            }
        }
        let planned: Vec<Ticker> = companies.iter().map(|c| c.ticker.clone()).collect();
        self.runs.plan(&run.id, &planned).await?;

        let mut outcomes: Vec<(Ticker, Option<CompanyOutcome>)> = Vec::new();
        let mut todo = Vec::with_capacity(companies.len());
        for company in companies {
            match done.iter().find(|(ticker, _)| *ticker == company.ticker) {
                Some((ticker, outcome)) => outcomes.push((ticker.clone(), Some(outcome.clone()))),
                None => todo.push(company),
            }
        }
        let stop = Stop::default();
        let progress = Progress {
            done: AtomicUsize::new(0),
            total: todo.len(),
        };
        // Futures built up front, not in a `map` closure: a closure over borrowed companies
        // makes the run's `Send` bound unprovable for callers (rust-lang/rust#64552).
        let mut work = Vec::with_capacity(todo.len());
        for company in &todo {
            work.push(self.attempt(&run.id, company, &stop, &progress, run.deadline));
        }
        let attempted: Vec<(Ticker, Option<CompanyOutcome>)> = futures::stream::iter(work)
            .buffer_unordered(self.concurrency)
            .collect::<Vec<Result<_, StoreError>>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        outcomes.extend(attempted);
        outcomes.sort_by(|a, b| a.0.cmp(&b.0));
        for (ticker, outcome) in outcomes {
            let ticker = ticker.to_string();
            match outcome {
                Some(CompanyOutcome::Synced) => report.synced.push(ticker),
                Some(CompanyOutcome::Unchanged) => report.unchanged.push(ticker),
                Some(CompanyOutcome::Skipped) => report.skipped.push(ticker),
                Some(CompanyOutcome::Failed(reason)) => {
                    report.failed.push(Failure { ticker, reason });
                }
                None => report.remaining.push(ticker),
            }
        }
        report.failed.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        report.stopped = stop.into_reason();
        self.runs.close(&run.id, &report).await?;
        Ok(report)
    }

    /// Fetches and records SEC's listing; when it cannot be had, says whether the run can go
    /// on from an earlier copy.
    async fn refresh_listing(&self) -> Result<Listing, StoreError> {
        let error = match self.source.listed_companies().await {
            Ok(listed) => {
                self.store.upsert_companies(&listed).await?;
                return Ok(Listing::Current);
            }
            Err(SourceError::Stop(reason)) => return Ok(Listing::Stopped(reason)),
            Err(error) => error,
        };
        Ok(match self.store.listing_fetched_at().await? {
            Some(at) => Listing::Earlier(format!(
                "SEC's ticker map could not be fetched ({error}); the run went on from the copy \
                 fetched at {}",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            )),
            None => Listing::Unavailable(format!(
                "SEC's ticker map could not be fetched ({error}) and no earlier copy exists"
            )),
        })
    }

    /// The companies `run` covers, those earlier runs owe first; tickers that are malformed
    /// or not known go into `report` as failed, the latter with `unlisted` as the reason.
    async fn companies(
        &self,
        run: &ScrapeRun,
        unlisted: &str,
        report: &mut ScrapeReport,
    ) -> Result<Vec<Company>, StoreError> {
        let owed = self.runs.owed().await?;
        let mut companies = self.store.companies(&owed).await?;
        // Owed first, in the order they were left.
        companies.sort_by_key(|c| owed.iter().position(|t| *t == c.ticker));
        let tickers = match &run.scope {
            Scope::Tickers(raw) => {
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
                Some(tickers)
            }
            Scope::Dashboards => Some(self.store.tracked_tickers().await?),
            Scope::All => None,
        };
        let in_scope = match tickers {
            Some(tickers) => {
                let known = self.store.companies(&tickers).await?;
                let mut reported = HashSet::new();
                for ticker in &tickers {
                    let owed_and_known = companies.iter().any(|c| &c.ticker == ticker);
                    if !owed_and_known
                        && !known.iter().any(|c| &c.ticker == ticker)
                        && reported.insert(ticker.clone())
                    {
                        report.failed.push(Failure {
                            ticker: ticker.to_string(),
                            reason: unlisted.to_owned(),
                        });
                    }
                }
                known
            }
            None => self.store.universe().await?,
        };
        let mut seen: HashSet<Ticker> = companies.iter().map(|c| c.ticker.clone()).collect();
        for company in in_scope {
            if seen.insert(company.ticker.clone()) {
                companies.push(company);
            }
        }
        Ok(companies)
    }

    /// Syncs `company` and records its outcome, unless the run stopped or its deadline
    /// passed (`None`: left for the next run).
    async fn attempt(
        &self,
        run_id: &str,
        company: &Company,
        stop: &Stop,
        progress: &Progress,
        deadline: Option<Instant>,
    ) -> Result<(Ticker, Option<CompanyOutcome>), StoreError> {
        let ticker = company.ticker.clone();
        if stop.is_set() || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok((ticker, None));
        }
        let outcome = match self.sync(company).await {
            Ok(outcome) => outcome,
            Err(SyncFailure::Stop(reason)) => {
                stop.set(reason);
                return Ok((ticker, None));
            }
            Err(SyncFailure::Company(reason)) => {
                self.store.record_failure(&company.ticker, &reason).await?;
                CompanyOutcome::Failed(reason)
            }
            Err(SyncFailure::Store(error)) => return Err(error),
        };
        self.runs.record(run_id, &ticker, &outcome).await?;
        let done = progress.done.fetch_add(1, Ordering::SeqCst) + 1;
        match &outcome {
            CompanyOutcome::Failed(reason) => {
                tracing::warn!(%ticker, done, of = progress.total, %reason, "company failed");
            }
            other => {
                tracing::info!(%ticker, done, of = progress.total, outcome = ?other, "company done")
            }
        }
        Ok((ticker, Some(outcome)))
    }

    async fn sync(&self, company: &Company) -> Result<CompanyOutcome, SyncFailure> {
        let failed = |error: SourceError| match error {
            SourceError::Stop(reason) => SyncFailure::Stop(reason),
            SourceError::NotFound(what) => SyncFailure::Company(format!("SEC has no {what}")),
            SourceError::Failed(reason) => SyncFailure::Company(reason),
        };
        let Some(filing) = self
            .source
            .latest_filing(company.cik)
            .await
            .map_err(failed)?
        else {
            return Ok(CompanyOutcome::Skipped);
        };
        let stored = self.store.last_accession(&company.ticker).await?;
        if stored.as_deref() == Some(filing.accession.as_str()) {
            return Ok(CompanyOutcome::Skipped);
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
            CompanyOutcome::Unchanged
        } else {
            CompanyOutcome::Synced
        })
    }
}

#[cfg(test)]
mod tests;
