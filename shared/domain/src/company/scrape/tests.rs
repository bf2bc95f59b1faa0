use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDate;

use super::*;
use crate::company::Fact;

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

fn revenue(value: f64) -> ReportedFact {
    let date = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date");
    ReportedFact {
        fact: Fact {
            concept: "us-gaap:Revenues".into(),
            unit: "USD".into(),
            period_start: Some(date("2025-01-01")),
            period_end: date("2025-12-31"),
            fiscal_year: 2025,
            fiscal_period: "FY".into(),
            form: "10-K".into(),
            filed: date("2026-02-01"),
            value,
        },
        accession: "0000000001-26-000001".into(),
    }
}

/// SEC, in memory: per CIK, its newest filing or an error, and its facts.
#[derive(Default)]
struct Sec {
    filings: HashMap<u64, Result<Option<Filing>, SourceError>>,
    facts_fetched: AtomicUsize,
}

impl FilingSource for Sec {
    async fn listed_companies(&self) -> Result<Vec<ListedCompany>, SourceError> {
        Ok(Vec::new())
    }

    async fn latest_filing(&self, cik: Cik) -> Result<Option<Filing>, SourceError> {
        self.filings
            .get(&cik.value())
            .cloned()
            .unwrap_or_else(|| Err(SourceError::NotFound(format!("CIK {cik}"))))
    }

    async fn reported_facts(&self, _cik: Cik) -> Result<Vec<ReportedFact>, SourceError> {
        self.facts_fetched.fetch_add(1, Ordering::SeqCst);
        Ok(vec![revenue(100.0)])
    }
}

/// Storage, in memory.
#[derive(Default)]
struct Store {
    companies: Vec<Company>,
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

    async fn universe(&self, _dashboards_only: bool) -> Result<Vec<Company>, StoreError> {
        Ok(self.companies.clone())
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
        facts: &[ReportedFact],
    ) -> Result<Vec<String>, StoreError> {
        self.accessions
            .lock()
            .expect("lock")
            .insert(ticker.to_string(), filing.accession.clone());
        let value = facts.first().map_or(0.0, |f| f.fact.value);
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
    let usecase = ScrapeCompanies::new(sec, store, 4);
    let report = usecase
        .execute(&scope(&["AAA", "bad ticker", "ZZZ", "BBB"]), false, None)
        .await
        .expect("report");
    assert_eq!(report.requested, 4);
    assert_eq!(report.synced, ["AAA", "BBB"]);
    let failed: Vec<&str> = report.failed.iter().map(|f| f.ticker.as_str()).collect();
    assert_eq!(failed, ["bad ticker", "ZZZ"]);
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
    let usecase = ScrapeCompanies::new(sec, store, 2);
    let first = usecase
        .execute(&Scope::All, false, None)
        .await
        .expect("first");
    assert_eq!(first.synced, ["AAA"]);
    let second = usecase
        .execute(&Scope::All, false, None)
        .await
        .expect("second");
    assert_eq!(second.skipped, ["AAA"]);
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
    let usecase = ScrapeCompanies::new(sec, store, 1);
    let report = usecase
        .execute(&Scope::All, false, None)
        .await
        .expect("report");
    assert_eq!(report.synced, ["CCC"]);
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert!(report.failed[1].reason.contains("SEC has no"), "{report:?}");
    assert_eq!(usecase.store.failures.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn an_error_every_request_would_repeat_stops_the_run_with_what_was_left() {
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
    let usecase = ScrapeCompanies::new(sec, store, 1);
    let Err(ScrapeError::Stopped { reason, report }) =
        usecase.execute(&Scope::All, false, None).await
    else {
        panic!("the run goes on")
    };
    assert!(reason.contains("User-Agent"));
    assert_eq!(report.remaining, ["AAA", "BBB"]);
}

#[tokio::test]
async fn a_passed_deadline_leaves_every_company_for_the_next_run() {
    let sec = Sec {
        filings: HashMap::from([(1, Ok(Some(filing("a-1"))))]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1)],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, 1);
    let past = Instant::now()
        .checked_sub(Duration::from_secs(1))
        .expect("an instant in the past");
    let report = usecase
        .execute(&Scope::All, false, Some(past))
        .await
        .expect("report");
    assert_eq!(report.remaining, ["AAA"]);
    let next = usecase
        .execute(&Scope::All, false, None)
        .await
        .expect("next");
    assert_eq!(next.synced, ["AAA"]);
}
