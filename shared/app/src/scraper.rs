//! The scraper function: its configuration and its scheduled job.

use lzstock_domain::{Ticker, ValueError};
use lzstock_shim::config::{ConfigError, Source};
use lzstock_shim::schedule::{Schedule, ScheduledRun};
use serde::Serialize;
use sqlx::PgPool;

use crate::config::{self, DatabaseConfig, NatsConfig, SecConfig};

/// Everything the scraper reads from the environment.
#[derive(Debug, Clone)]
pub struct ScraperConfig {
    /// PostgreSQL, where facts are stored.
    pub database: DatabaseConfig,
    /// NATS, where `facts_updated` events go.
    pub nats: NatsConfig,
    /// The identity declared to SEC.
    pub sec: SecConfig,
    /// `SCRAPER_SCHEDULE`, used standalone.
    pub schedule: Schedule,
}

impl ScraperConfig {
    /// Parses the configuration.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseConfig::from_source(source)?,
            nats: NatsConfig::from_source(source)?,
            sec: SecConfig::from_source(source)?,
            schedule: config::scraper_schedule(source)?,
        })
    }
}

/// Parses `--tickers AAPL,MSFT`.
///
/// # Errors
/// The first ticker that does not parse.
pub fn parse_tickers(list: &str) -> Result<Vec<Ticker>, ValueError> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Ticker::parse)
        .collect()
}

/// What one run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run that produced this report.
    pub run: ScheduledRun,
    /// The companies the run covers: the requested tickers, or every tracked company.
    pub universe: Vec<String>,
}

/// Why a run failed as a whole (one company failing never fails the run).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The tracked universe could not be read.
    #[error("cannot read the tracked companies: {0}")]
    Database(#[from] sqlx::Error),
}

/// One run of the scraper over `tickers`, or over every tracked company when empty.
///
/// # Errors
/// See [`RunError`].
pub async fn run(
    pool: &PgPool,
    run: ScheduledRun,
    tickers: &[Ticker],
) -> Result<RunReport, RunError> {
    let universe = if tickers.is_empty() {
        sqlx::query_scalar("SELECT ticker FROM companies ORDER BY ticker")
            .fetch_all(pool)
            .await?
    } else {
        tickers.iter().map(ToString::to_string).collect()
    };
    tracing::info!(run.id = %run.id, companies = universe.len(), "scraper run");
    Ok(RunReport { run, universe })
}
