//! GetCompany: a company with its recent facts and derived indicators.

use std::future::Future;

use super::{compute_indicators, Company, Fact, IndicatorValue, Ticker};
use crate::dashboard::StoreError;

/// Storage for companies and their facts.
pub trait CompanyStore: Send + Sync {
    /// The company with `ticker`.
    fn company(
        &self,
        ticker: &Ticker,
    ) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send;

    /// `ticker`'s annual (10-K / FY) facts, newest period first.
    fn annual_facts(
        &self,
        ticker: &Ticker,
    ) -> impl Future<Output = Result<Vec<Fact>, StoreError>> + Send;
}

/// A company, its annual facts and the indicators derived from them.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyProfile {
    /// The company.
    pub company: Company,
    /// Its annual facts, newest period first.
    pub facts: Vec<Fact>,
    /// The indicators the facts support.
    pub indicators: Vec<IndicatorValue>,
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
    #[tracing::instrument(skip_all, fields(ticker = %ticker))]
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
        let indicators = compute_indicators(&facts);
        Ok(CompanyProfile {
            company,
            facts,
            indicators,
        })
    }
}
