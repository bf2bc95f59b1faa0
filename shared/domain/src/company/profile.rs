//! GetCompany: a company with its recent annual facts and its insights; and the insights
//! of several companies at once, for a dashboard.

use std::future::Future;

use serde::Serialize;

use super::{annual_insights, insight_concepts, Company, Fact, Insight, Reading, Ticker};
use crate::common::StoreError;
use crate::dashboard::Indicator;

/// Storage for companies and their facts.
pub trait CompanyStore: Send + Sync {
    /// The company with `ticker`.
    fn company(
        &self,
        ticker: &Ticker,
    ) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send;

    /// `ticker`'s annual (10-K / FY) facts, newest period first, for display.
    fn annual_facts(
        &self,
        ticker: &Ticker,
    ) -> impl Future<Output = Result<Vec<Fact>, StoreError>> + Send;

    /// Every fact of `concepts` that `tickers` reported, one per filing that reported it.
    fn facts_of(
        &self,
        tickers: &[Ticker],
        concepts: &[&str],
    ) -> impl Future<Output = Result<Vec<(Ticker, Fact)>, StoreError>> + Send;
}

/// A company, its annual facts and its insights.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyProfile {
    /// The company.
    pub company: Company,
    /// Its annual facts, newest period first.
    pub facts: Vec<Fact>,
    /// Every indicator of its latest fiscal year, with a value or the reason it has none.
    pub insights: Vec<Insight>,
}

/// Why GetCompany failed.
#[derive(Debug, thiserror::Error)]
pub enum GetCompanyError {
    /// LZStock does not track the company.
    #[error("company not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

/// Reads a company's profile.
#[derive(Debug, Clone)]
pub struct GetCompany<S> {
    store: S,
}

impl<S: CompanyStore> GetCompany<S> {
    /// The usecase over `store`.
    pub const fn new(store: S) -> Self {
        Self { store }
    }

    /// The profile of `ticker`.
    ///
    /// # Errors
    /// See [`GetCompanyError`].
    #[tracing::instrument(name = "GetCompany", skip_all, fields(ticker = %ticker))]
    pub async fn execute(&self, ticker: &Ticker) -> Result<CompanyProfile, GetCompanyError> {
        let company = self
            .store
            .company(ticker)
            .await
            .map_err(GetCompanyError::Unexpected)?
            .ok_or(GetCompanyError::NotFound)?;
        let facts = self
            .store
            .annual_facts(ticker)
            .await
            .map_err(GetCompanyError::Unexpected)?;
        let mut insights = insights_of(&self.store, std::slice::from_ref(ticker), &Indicator::ALL)
            .await
            .map_err(GetCompanyError::Unexpected)?;
        Ok(CompanyProfile {
            company,
            facts,
            insights: insights.pop().map(|c| c.insights).unwrap_or_default(),
        })
    }
}

/// One company's insights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanyInsights {
    /// The company.
    pub ticker: Ticker,
    /// The indicators asked for, in that order.
    pub insights: Vec<Insight>,
}

/// The `indicators` of each of `tickers`, in the order given, from one read of storage. A
/// ticker with no facts synced gets every indicator "not available", with that reason.
///
/// # Errors
/// When storage fails.
pub async fn insights_of<S: CompanyStore>(
    store: &S,
    tickers: &[Ticker],
    indicators: &[Indicator],
) -> Result<Vec<CompanyInsights>, StoreError> {
    let facts = store.facts_of(tickers, &insight_concepts()).await?;
    Ok(tickers
        .iter()
        .map(|ticker| {
            let own: Vec<Fact> = facts
                .iter()
                .filter(|(t, _)| t == ticker)
                .map(|(_, f)| f.clone())
                .collect();
            let all = if own.is_empty() {
                Indicator::ALL
                    .iter()
                    .map(|&indicator| Insight {
                        indicator,
                        reading: Reading::NotAvailable {
                            reason: format!("no facts of {ticker} have been synced from SEC"),
                        },
                    })
                    .collect()
            } else {
                annual_insights(&own)
            };
            CompanyInsights {
                ticker: ticker.clone(),
                insights: indicators
                    .iter()
                    .filter_map(|i| all.iter().find(|x| x.indicator == *i).cloned())
                    .collect(),
            }
        })
        .collect())
}
