//! The scraper's run log in PostgreSQL: which runs finished (with their reports), what each
//! unfinished run has done so far, and which companies runs left undone.
//!
//! A run is held by one invocation at a time through a lease (`held_until`) that the
//! holder renews while it works: a duplicate delivery of the same fire finds the run busy
//! while the lease lives, finished once it closed, and resumable if its holder died.

use std::time::Duration;

use crate::postgres::unavailable;
use lzstock_domain::common::StoreError;
use lzstock_domain::company::{CompanyOutcome, RunLog, RunState, ScrapeReport};
use lzstock_domain::Ticker;
use sqlx::PgPool;

/// Runs are forgotten this long after they finished.
const RETENTION_DAYS: i32 = 30;

/// The run log.
#[derive(Debug, Clone)]
pub struct PgScrapeRuns {
    pool: PgPool,
    lease: Duration,
}

impl PgScrapeRuns {
    /// A log on `pool`; a run's holder keeps it for `lease` past each renewal.
    #[must_use]
    pub fn new(pool: PgPool, lease: Duration) -> Self {
        Self { pool, lease }
    }

    /// Extends the lease on run `id` while it is unfinished.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn renew(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE scrape_runs SET held_until = now() + make_interval(secs => $2)
             WHERE id = $1 AND finished_at IS NULL",
            id,
            self.lease.as_secs_f64()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn open_run(&self, id: &str) -> Result<RunState, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Taken when new, or when unfinished and its lease ran out.
        let taken = sqlx::query_scalar!(
            r#"INSERT INTO scrape_runs (id, held_until)
               VALUES ($1, now() + make_interval(secs => $2))
               ON CONFLICT (id) DO UPDATE SET held_until = EXCLUDED.held_until
               WHERE scrape_runs.finished_at IS NULL
                 AND (scrape_runs.held_until IS NULL OR scrape_runs.held_until < now())
               RETURNING id"#,
            id,
            self.lease.as_secs_f64()
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        let state = if taken.is_some() {
            let rows = sqlx::query!(
                "SELECT ticker, outcome, reason FROM scrape_run_companies WHERE run_id = $1",
                id
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
            let mut done = Vec::with_capacity(rows.len());
            for row in rows {
                let ticker = Ticker::parse(&row.ticker).map_err(unavailable)?;
                done.push((ticker, outcome_of(&row.outcome, row.reason)?));
            }
            RunState::Open(done)
        } else {
            let report = sqlx::query_scalar!("SELECT report FROM scrape_runs WHERE id = $1", id)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
            match report {
                Some(report) => RunState::Finished(
                    serde_json::from_value::<ScrapeReport>(report).map_err(unavailable)?,
                ),
                None => RunState::Busy,
            }
        };
        tx.commit().await.map_err(unavailable)?;
        Ok(state)
    }
}

fn outcome_of(text: &str, reason: Option<String>) -> Result<CompanyOutcome, StoreError> {
    Ok(match text {
        "synced" => CompanyOutcome::Synced,
        "unchanged" => CompanyOutcome::Unchanged,
        "skipped" => CompanyOutcome::Skipped,
        "failed" => CompanyOutcome::Failed(reason.unwrap_or_default()),
        other => {
            return Err(StoreError::Unavailable(
                format!("scrape_run_companies holds an unknown outcome {other:?}").into(),
            ))
        }
    })
}

impl RunLog for PgScrapeRuns {
    async fn open(&self, id: &str) -> Result<RunState, StoreError> {
        self.open_run(id).await
    }

    async fn owed(&self) -> Result<Vec<Ticker>, StoreError> {
        let rows = sqlx::query_scalar!("SELECT ticker FROM scrape_owed ORDER BY since, ticker")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        // A row that no longer parses is skipped, not allowed to stop every later run.
        Ok(rows.iter().filter_map(|t| Ticker::parse(t).ok()).collect())
    }

    async fn plan(&self, id: &str, tickers: &[Ticker]) -> Result<(), StoreError> {
        let tickers: Vec<String> = tickers.iter().map(ToString::to_string).collect();
        sqlx::query!(
            "INSERT INTO scrape_owed (ticker, run_id)
             SELECT ticker, $1 FROM UNNEST($2::text[]) AS t (ticker)
             ON CONFLICT (ticker) DO NOTHING",
            id,
            &tickers
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn record(
        &self,
        id: &str,
        ticker: &Ticker,
        outcome: &CompanyOutcome,
    ) -> Result<(), StoreError> {
        let (outcome, reason) = match outcome {
            CompanyOutcome::Synced => ("synced", None),
            CompanyOutcome::Unchanged => ("unchanged", None),
            CompanyOutcome::Skipped => ("skipped", None),
            CompanyOutcome::Failed(reason) => ("failed", Some(reason.as_str())),
        };
        sqlx::query!(
            "WITH recorded AS (
                 INSERT INTO scrape_run_companies (run_id, ticker, outcome, reason)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (run_id, ticker) DO UPDATE
                 SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, recorded_at = now()
             )
             DELETE FROM scrape_owed WHERE ticker = $2",
            id,
            ticker.as_str(),
            outcome,
            reason
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE scrape_runs SET held_until = NULL WHERE id = $1 AND finished_at IS NULL",
            id
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn close(&self, id: &str, report: &ScrapeReport) -> Result<(), StoreError> {
        let report = serde_json::to_value(report).map_err(unavailable)?;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query!(
            "UPDATE scrape_runs SET finished_at = now(), held_until = NULL, report = $2
             WHERE id = $1",
            id,
            report
        )
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        sqlx::query!(
            "DELETE FROM scrape_runs WHERE finished_at < now() - make_interval(days => $1)",
            RETENTION_DAYS
        )
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }
}
