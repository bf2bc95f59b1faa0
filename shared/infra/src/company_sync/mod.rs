//! Storing what a sync brought: the ticker map, each company's facts (idempotently), its
//! sync state, and the `facts_updated` event through the outbox, all of one company in one
//! transaction.

use lzstock_domain::common::StoreError;
use lzstock_domain::company::{Company, Fact, Filing, ListedCompany, SyncStore};
use lzstock_domain::{Cik, Ticker};
use sqlx::PgPool;

use crate::postgres::unavailable;

mod facts;

pub use facts::StoredFacts;

/// Companies, their facts and their sync state in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgCompanySync {
    pool: PgPool,
    subject_root: String,
}

impl PgCompanySync {
    /// A store on `pool`, publishing events below `subject_root`.
    #[must_use]
    pub fn new(pool: PgPool, subject_root: impl Into<String>) -> Self {
        Self {
            pool,
            subject_root: subject_root.into(),
        }
    }

    /// Whether SEC's ticker map is due a refresh: never fetched, or over a day ago.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn listing_due(&self) -> Result<bool, sqlx::Error> {
        let fresh: Option<bool> = sqlx::query_scalar!(
            r#"SELECT fetched_at > now() - interval '1 day' AS "fresh!" FROM sec_listing"#
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(!fresh.unwrap_or(false))
    }

    /// Inserts or updates the listed companies and notes when the map was fetched;
    /// returns how many rows changed.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn upsert_companies(&self, companies: &[ListedCompany]) -> Result<u64, sqlx::Error> {
        let tickers: Vec<String> = companies.iter().map(|c| c.ticker.to_string()).collect();
        let ciks: Vec<String> = companies.iter().map(|c| c.cik.to_string()).collect();
        let names: Vec<String> = companies
            .iter()
            .map(|c| {
                let name = c.name.trim();
                if name.is_empty() {
                    c.ticker.to_string()
                } else {
                    name.to_owned()
                }
            })
            .collect();
        sqlx::query!(
            "INSERT INTO sec_listing (id, fetched_at) VALUES (TRUE, now())
             ON CONFLICT (id) DO UPDATE SET fetched_at = now()"
        )
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query!(
            "INSERT INTO companies (ticker, cik, name)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
             ON CONFLICT (ticker) DO UPDATE SET cik = EXCLUDED.cik, name = EXCLUDED.name,
                                                updated_at = now()
             WHERE (companies.cik, companies.name) IS DISTINCT FROM (EXCLUDED.cik, EXCLUDED.name)",
            &tickers,
            &ciks,
            &names,
        )
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The newest filing whose facts are stored for `ticker`.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn last_accession(&self, ticker: &Ticker) -> Result<Option<String>, sqlx::Error> {
        Ok(sqlx::query_scalar!(
            "SELECT last_accession FROM company_syncs WHERE ticker = $1",
            ticker.as_str(),
        )
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// Records that syncing `ticker` failed, and why.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn record_failure(&self, ticker: &Ticker, reason: &str) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "INSERT INTO company_syncs (ticker, last_error, failed_at) VALUES ($1, $2, now())
             ON CONFLICT (ticker) DO UPDATE SET last_error = EXCLUDED.last_error, failed_at = now()",
            ticker.as_str(),
            reason,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn company_of(ticker: &str, cik: &str, name: String) -> Result<Company, StoreError> {
    Ok(Company {
        ticker: Ticker::parse(ticker).map_err(unavailable)?,
        cik: Cik::parse(cik).map_err(unavailable)?,
        name,
    })
}

impl PgCompanySync {
    /// Known companies, by ticker: those among `tickers` when given.
    async fn select(&self, tickers: Option<&[String]>) -> Result<Vec<Company>, StoreError> {
        sqlx::query!(
            "SELECT ticker, cik, name FROM companies c
             WHERE ($1::text[] IS NULL OR c.ticker = ANY($1))
             ORDER BY ticker",
            tickers as Option<&[String]>,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|row| company_of(&row.ticker, &row.cik, row.name))
        .collect()
    }
}

impl SyncStore for PgCompanySync {
    async fn upsert_companies(&self, companies: &[ListedCompany]) -> Result<(), StoreError> {
        if companies.is_empty() {
            return Ok(());
        }
        PgCompanySync::upsert_companies(self, companies)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn companies(&self, tickers: &[Ticker]) -> Result<Vec<Company>, StoreError> {
        let tickers: Vec<String> = tickers.iter().map(ToString::to_string).collect();
        self.select(Some(&tickers)).await
    }

    async fn universe(&self) -> Result<Vec<Company>, StoreError> {
        self.select(None).await
    }

    async fn tracked_tickers(&self) -> Result<Vec<Ticker>, StoreError> {
        let rows = sqlx::query_scalar!(
            r#"SELECT DISTINCT unnest(tickers) AS "ticker!" FROM dashboards ORDER BY 1"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        // A row that no longer parses is skipped, not allowed to stop every run.
        Ok(rows
            .iter()
            .filter_map(|text| Ticker::parse(text).ok())
            .collect())
    }

    async fn listing_fetched_at(
        &self,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        sqlx::query_scalar!("SELECT fetched_at FROM sec_listing")
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn last_accession(&self, ticker: &Ticker) -> Result<Option<String>, StoreError> {
        PgCompanySync::last_accession(self, ticker)
            .await
            .map_err(unavailable)
    }

    async fn store_facts(
        &self,
        ticker: &Ticker,
        filing: &Filing,
        facts: &[Fact],
    ) -> Result<Vec<String>, StoreError> {
        let stored = PgCompanySync::store_facts(self, ticker, filing, facts)
            .await
            .map_err(unavailable)?;
        if stored.rejected > 0 {
            tracing::warn!(%ticker, rejected = stored.rejected, "facts the table's rules refused");
        }
        Ok(stored.changed_concepts)
    }

    async fn record_failure(&self, ticker: &Ticker, reason: &str) -> Result<(), StoreError> {
        PgCompanySync::record_failure(self, ticker, reason)
            .await
            .map_err(unavailable)
    }
}
