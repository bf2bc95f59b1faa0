//! [`CompanyStore`] on PostgreSQL.

use crate::postgres::unavailable;
use lzstock_domain::common::StoreError;
use lzstock_domain::company::{Company, CompanyStore, Fact};
use lzstock_domain::{Cik, Ticker};
use sqlx::PgPool;

/// The most annual facts a profile carries.
pub const MAX_FACTS: i64 = 500;

/// The most facts read for the insights of one company (every filing's value of some twenty
/// concepts over decades is a few thousand).
pub const MAX_INSIGHT_FACTS_PER_COMPANY: i64 = 20_000;

/// Companies and their facts in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgCompanyStore {
    pool: PgPool,
}

impl PgCompanyStore {
    /// A store on `pool`.
    #[must_use]
    pub const fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl CompanyStore for PgCompanyStore {
    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "companies.company"))]
    async fn company(&self, ticker: &Ticker) -> Result<Option<Company>, StoreError> {
        let row = sqlx::query!(
            "SELECT ticker, cik, name FROM companies WHERE ticker = $1",
            ticker.as_str(),
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|row| {
            Ok(Company {
                ticker: Ticker::parse(&row.ticker).map_err(unavailable)?,
                cik: Cik::parse(&row.cik).map_err(unavailable)?,
                name: row.name,
            })
        })
        .transpose()
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "companies.annual_facts"))]
    async fn annual_facts(&self, ticker: &Ticker) -> Result<Vec<Fact>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT concept, unit, period_start, period_end, fiscal_year, fiscal_period, form,
                      filed, accession, value::float8 AS "value!"
               FROM company_facts
               WHERE ticker = $1 AND fiscal_period = 'FY'
               ORDER BY period_end DESC, filed DESC, concept
               LIMIT $2"#,
            ticker.as_str(),
            MAX_FACTS,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|row| Fact {
                concept: row.concept,
                unit: row.unit,
                period_start: row.period_start,
                period_end: row.period_end,
                fiscal_year: row.fiscal_year,
                fiscal_period: row.fiscal_period,
                form: row.form,
                filed: row.filed,
                accession: row.accession,
                value: row.value,
            })
            .collect())
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "companies.facts_of"))]
    async fn facts_of(
        &self,
        tickers: &[Ticker],
        concepts: &[&str],
    ) -> Result<Vec<(Ticker, Fact)>, StoreError> {
        let tickers: Vec<String> = tickers.iter().map(ToString::to_string).collect();
        let concepts: Vec<String> = concepts.iter().map(|c| (*c).to_owned()).collect();
        let limit = MAX_INSIGHT_FACTS_PER_COMPANY * i64::try_from(tickers.len()).unwrap_or(1);
        let rows = sqlx::query!(
            r#"SELECT ticker, concept, unit, period_start, period_end, fiscal_year,
                      fiscal_period, form, filed, accession, value::float8 AS "value!"
               FROM company_facts
               WHERE ticker = ANY($1) AND concept = ANY($2)
               ORDER BY ticker, period_end DESC, filed DESC
               LIMIT $3"#,
            &tickers,
            &concepts,
            limit,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.into_iter()
            .map(|row| {
                let ticker = Ticker::parse(&row.ticker).map_err(unavailable)?;
                Ok((
                    ticker,
                    Fact {
                        concept: row.concept,
                        unit: row.unit,
                        period_start: row.period_start,
                        period_end: row.period_end,
                        fiscal_year: row.fiscal_year,
                        fiscal_period: row.fiscal_period,
                        form: row.form,
                        filed: row.filed,
                        accession: row.accession,
                        value: row.value,
                    },
                ))
            })
            .collect()
    }
}
