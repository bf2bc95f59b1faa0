use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDate;

use super::*;
use crate::company::{Cik, Fact, Filing, ListedCompany};

fn ticker(text: &str) -> Ticker {
    Ticker::parse(text).expect("ticker")
}

fn company(text: &str, cik: u64) -> Company {
    Company {
        ticker: ticker(text),
        cik: Cik::parse(&cik.to_string()).expect("cik"),
        name: text.into(),
    }
}

fn filing(accession: &str) -> Filing {
    Filing {
        accession: accession.into(),
        filed: NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
        form: "10-K".into(),
    }
}

fn revenue(value: f64) -> Fact {
    let date = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date");
    Fact {
        concept: "us-gaap:Revenues".into(),
        unit: "USD".into(),
        period_start: Some(date("2025-01-01")),
        period_end: date("2025-12-31"),
        fiscal_year: 2025,
        fiscal_period: "FY".into(),
        form: "10-K".into(),
        filed: date("2026-02-01"),
        accession: "0000000001-26-000001".into(),
        value,
    }
}

/// SEC, in memory: per CIK, its newest filing or an error, and its facts.
#[derive(Default)]
struct Sec {
    filings: HashMap<u64, Result<Option<Filing>, SourceError>>,
    facts_fetched: AtomicUsize,
    /// The ticker map cannot be fetched, for this reason.
    listing_down: Option<SourceError>,
    filings_asked: AtomicUsize,
}

impl FilingSource for Sec {
    async fn listed_companies(&self) -> Result<Vec<ListedCompany>, SourceError> {
        match &self.listing_down {
            Some(error) => Err(error.clone()),
            None => Ok(Vec::new()),
        }
    }

    async fn latest_filing(&self, cik: Cik) -> Result<Option<Filing>, SourceError> {
        self.filings_asked.fetch_add(1, Ordering::SeqCst);
        self.filings
            .get(&cik.value())
            .cloned()
            .unwrap_or_else(|| Err(SourceError::NotFound(format!("CIK {cik}"))))
    }

    async fn reported_facts(&self, _cik: Cik) -> Result<Vec<Fact>, SourceError> {
        self.facts_fetched.fetch_add(1, Ordering::SeqCst);
        Ok(vec![revenue(100.0)])
    }
}

/// Storage, in memory.
#[derive(Default)]
struct Store {
    companies: Vec<Company>,
    /// Tickers on dashboards.
    tracked: Vec<&'static str>,
    /// When the listing was recorded, if it was.
    listing_at: Option<chrono::DateTime<chrono::Utc>>,
    accessions: Mutex<HashMap<String, String>>,
    facts: Mutex<HashMap<String, f64>>,
    failures: Mutex<Vec<(String, String)>>,
}

impl SyncStore for Store {
    async fn upsert_companies(&self, _companies: &[ListedCompany]) -> Result<(), StoreError> {
        Ok(())
    }

    async fn companies(&self, tickers: &[Ticker]) -> Result<Vec<Company>, StoreError> {
        Ok(self
            .companies
            .iter()
            .filter(|c| tickers.contains(&c.ticker))
            .cloned()
            .collect())
    }

    async fn universe(&self) -> Result<Vec<Company>, StoreError> {
        Ok(self.companies.clone())
    }

    async fn tracked_tickers(&self) -> Result<Vec<Ticker>, StoreError> {
        Ok(self.tracked.iter().map(|t| ticker(t)).collect())
    }

    async fn listing_fetched_at(
        &self,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        Ok(self.listing_at)
    }

    async fn last_accession(&self, ticker: &Ticker) -> Result<Option<String>, StoreError> {
        Ok(self
            .accessions
            .lock()
            .expect("lock")
            .get(ticker.as_str())
            .cloned())
    }

    async fn store_facts(
        &self,
        ticker: &Ticker,
        filing: &Filing,
        facts: &[Fact],
    ) -> Result<Vec<String>, StoreError> {
        self.accessions
            .lock()
            .expect("lock")
            .insert(ticker.to_string(), filing.accession.clone());
        let value = facts.first().map_or(0.0, |f| f.value);
        let before = self
            .facts
            .lock()
            .expect("lock")
            .insert(ticker.to_string(), value);
        Ok(if before == Some(value) {
            Vec::new()
        } else {
            vec!["us-gaap:Revenues".into()]
        })
    }

    async fn record_failure(&self, ticker: &Ticker, reason: &str) -> Result<(), StoreError> {
        self.failures
            .lock()
            .expect("lock")
            .push((ticker.to_string(), reason.into()));
        Ok(())
    }
}

/// The run log, in memory.
#[derive(Default)]
struct Runs {
    outcomes: Mutex<HashMap<String, Vec<(Ticker, CompanyOutcome)>>>,
    finished: Mutex<HashMap<String, ScrapeReport>>,
    busy: Mutex<HashSet<String>>,
    owed: Mutex<Vec<Ticker>>,
    released: Mutex<Vec<String>>,
}

impl RunLog for Runs {
    async fn open(&self, id: &str) -> Result<RunState, StoreError> {
        if let Some(report) = self.finished.lock().expect("lock").get(id) {
            return Ok(RunState::Finished(report.clone()));
        }
        if self.busy.lock().expect("lock").contains(id) {
            return Ok(RunState::Busy);
        }
        let done = self.outcomes.lock().expect("lock").get(id).cloned();
        Ok(RunState::Open(done.unwrap_or_default()))
    }

    async fn owed(&self) -> Result<Vec<Ticker>, StoreError> {
        Ok(self.owed.lock().expect("lock").clone())
    }

    async fn plan(&self, _id: &str, tickers: &[Ticker]) -> Result<(), StoreError> {
        let mut owed = self.owed.lock().expect("lock");
        for ticker in tickers {
            if !owed.contains(ticker) {
                owed.push(ticker.clone());
            }
        }
        Ok(())
    }

    async fn record(
        &self,
        id: &str,
        ticker: &Ticker,
        outcome: &CompanyOutcome,
    ) -> Result<(), StoreError> {
        self.owed.lock().expect("lock").retain(|t| t != ticker);
        self.outcomes
            .lock()
            .expect("lock")
            .entry(id.to_owned())
            .or_default()
            .push((ticker.clone(), outcome.clone()));
        Ok(())
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.released.lock().expect("lock").push(id.to_owned());
        Ok(())
    }

    async fn close(&self, id: &str, report: &ScrapeReport) -> Result<(), StoreError> {
        self.finished
            .lock()
            .expect("lock")
            .insert(id.to_owned(), report.clone());
        Ok(())
    }
}

fn run(id: &str, scope: Scope) -> ScrapeRun {
    ScrapeRun {
        id: id.into(),
        scope,
        refresh_listing: false,
        deadline: None,
    }
}

fn scope(tickers: &[&str]) -> Scope {
    Scope::Tickers(tickers.iter().map(|t| (*t).to_owned()).collect())
}

#[tokio::test]
async fn one_malformed_and_one_unknown_ticker_are_reported_and_the_rest_sync() {
    let sec = Sec {
        filings: HashMap::from([(1, Ok(Some(filing("a-1")))), (2, Ok(Some(filing("b-1"))))]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1), company("BBB", 2)],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 4);
    let report = usecase
        .execute(&run("r1", scope(&["AAA", "bad ticker", "ZZZ", "BBB"])))
        .await
        .expect("report");
    assert_eq!(report.requested, 4);
    assert_eq!(report.synced, ["AAA", "BBB"]);
    let failed: Vec<&str> = report.failed.iter().map(|f| f.ticker.as_str()).collect();
    assert_eq!(failed, ["ZZZ", "bad ticker"]);
}

#[tokio::test]
async fn a_second_run_over_unchanged_filings_fetches_no_facts() {
    let sec = Sec {
        filings: HashMap::from([(1, Ok(Some(filing("a-1"))))]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1)],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 2);
    let first = usecase
        .execute(&run("r1", Scope::All))
        .await
        .expect("first");
    assert_eq!(first.synced, ["AAA"]);
    let second = usecase
        .execute(&run("r2", Scope::All))
        .await
        .expect("second");
    assert_eq!(second.skipped, ["AAA"]);
    assert!(!second.repeated);
    assert_eq!(usecase.source.facts_fetched.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn one_company_failing_is_recorded_and_never_fails_the_run() {
    let sec = Sec {
        filings: HashMap::from([
            (
                1,
                Err(SourceError::Failed("retries exhausted (503)".into())),
            ),
            (3, Ok(Some(filing("c-1")))),
        ]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1), company("BBB", 2), company("CCC", 3)],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 1);
    let report = usecase
        .execute(&run("r1", Scope::All))
        .await
        .expect("report");
    assert_eq!(report.synced, ["CCC"]);
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert!(report.failed[1].reason.contains("SEC has no"), "{report:?}");
    assert_eq!(usecase.store.failures.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn an_error_every_request_would_repeat_stops_the_run_and_the_next_does_the_rest() {
    let sec = Sec {
        filings: HashMap::from([
            (
                1,
                Err(SourceError::Stop("SEC refuses the User-Agent".into())),
            ),
            (2, Ok(Some(filing("b-1")))),
        ]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1), company("BBB", 2)],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 1);
    let report = usecase
        .execute(&run("r1", Scope::All))
        .await
        .expect("report");
    assert!(report
        .stopped
        .as_deref()
        .is_some_and(|r| r.contains("User-Agent")));
    assert_eq!(report.remaining, ["AAA", "BBB"]);
    assert_eq!(
        usecase.runs.owed.lock().expect("lock").len(),
        2,
        "both are owed to the next run"
    );
}

mod listing;
mod runs;
