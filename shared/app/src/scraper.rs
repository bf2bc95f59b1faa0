//! The scraper function: its configuration and its scheduled job.

use lzstock_domain::company::{Scope, ScrapeCompanies, ScrapeError, ScrapeReport};
use lzstock_domain::dashboard::StoreError;
use lzstock_infra::company_sync::PgCompanySync;
use lzstock_infra::sec::{Edgar, RequestBudget, SecHttp, SecPolicy};
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
    /// Stream names (events go through the outbox under this root).
    pub streams: lzstock_infra::streams::EventStreams,
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
            streams: crate::resources::event_streams(source)?,
        })
    }
}

/// Parses `--tickers AAPL,MSFT` into the tickers as given; each is parsed by the run, which
/// reports a malformed one instead of refusing the whole list.
#[must_use]
pub fn ticker_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `--universe dashboards|all`.
///
/// # Errors
/// When it is neither.
pub fn universe(text: &str) -> Result<Scope, String> {
    match text {
        "dashboards" => Ok(Scope::Dashboards),
        "all" => Ok(Scope::All),
        other => Err(format!(
            "--universe must be dashboards or all, got {other:?}"
        )),
    }
}

/// The scope a scheduled run's input asks for: `{"tickers": ["AAPL", …]}`,
/// `{"universe": "dashboards" | "all"}`, or nothing (the dashboards' companies).
///
/// # Errors
/// When the input is anything else, naming what is wrong.
pub fn scope_of_input(input: &serde_json::Value) -> Result<Scope, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        tickers: Option<Vec<String>>,
        universe: Option<String>,
    }
    if input.is_null() {
        return Ok(Scope::Dashboards);
    }
    let parsed: Input = serde_json::from_value(input.clone()).map_err(|e| {
        format!("the schedule's input is not {{\"tickers\"}} or {{\"universe\"}}: {e}")
    })?;
    match (parsed.tickers, parsed.universe) {
        (Some(tickers), None) => Ok(Scope::Tickers(tickers)),
        (None, Some(universe)) => self::universe(&universe),
        (None, None) => Ok(Scope::Dashboards),
        (Some(_), Some(_)) => Err("the schedule's input names both tickers and a universe".into()),
    }
}

/// What one run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// The run that produced this report.
    pub run: ScheduledRun,
    /// Companies asked for, and what became of each.
    #[serde(flatten)]
    pub companies: ScrapeReport,
    /// Requests sent to SEC.
    pub requests: u64,
    /// Times SEC blocked the fleet during the run.
    pub throttled: u64,
    /// Why the run stopped early, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Why a run failed as a whole (one company failing never fails the run).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The budget could not be read, or the client could not be built.
    #[error("{0}")]
    Setup(String),
    /// The trigger's input is not one the scraper understands.
    #[error("{0}")]
    Input(String),
}

/// One run of the scraper over `scope`, within `deadline` (the host's, or the operator's).
///
/// # Errors
/// See [`RunError`]; a run stopped by SEC's refusal returns its report with `stopped`.
pub async fn run(
    config: &ScraperConfig,
    pool: &PgPool,
    subject_root: &str,
    run: ScheduledRun,
    scope: &Scope,
    deadline: Option<std::time::Instant>,
) -> Result<RunReport, RunError> {
    let budget = RequestBudget::new(pool.clone(), "sec", config.sec.requests_per_second);
    let policy = SecPolicy {
        block_pause: std::time::Duration::from_secs(config.sec.block_pause_secs),
        ..SecPolicy::default()
    };
    let http = SecHttp::new(&config.sec.user_agent, budget, policy)
        .map_err(|e| RunError::Setup(format!("SEC_USER_AGENT: {e}")))?;
    let edgar = Edgar::new(http, config.sec.endpoints.clone());
    let store = PgCompanySync::new(pool.clone(), subject_root);
    let refresh = store
        .listing_due()
        .await
        .map_err(|e| RunError::Store(StoreError::Unavailable(Box::new(e))))?;
    let usecase = ScrapeCompanies::new(edgar, store, config.sec.concurrency);
    tracing::info!(run.id = %run.id, ?scope, refresh, "scraper run");
    let (companies, stopped) = match usecase.execute(scope, refresh, deadline).await {
        Ok(report) => (report, None),
        Err(ScrapeError::Stopped { reason, report }) => (report, Some(reason)),
        Err(ScrapeError::Unexpected(error)) => return Err(error.into()),
    };
    let counters = usecase.source().http().counters();
    Ok(RunReport {
        run_id: run.id.clone(),
        run,
        companies,
        requests: counters.requests(),
        throttled: counters.throttled(),
        stopped,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_schedules_input_names_tickers_a_universe_or_nothing() {
        assert_eq!(
            scope_of_input(&serde_json::Value::Null),
            Ok(Scope::Dashboards)
        );
        assert_eq!(
            scope_of_input(&json!({"tickers": ["AAPL"]})),
            Ok(Scope::Tickers(vec!["AAPL".into()]))
        );
        assert_eq!(scope_of_input(&json!({"universe": "all"})), Ok(Scope::All));
        assert!(scope_of_input(&json!({"universe": "everything"})).is_err());
        assert!(scope_of_input(&json!({"tickers": ["A"], "universe": "all"})).is_err());
        assert!(scope_of_input(&json!({"ticker": "AAPL"})).is_err());
    }
}
