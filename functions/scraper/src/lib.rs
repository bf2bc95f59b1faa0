//! The scraper function: its configuration, its scheduled job ([`schedules`]) and one run of
//! the SEC sync. `main.rs` runs it on Lambda, on its schedule standalone, or once.
#![warn(missing_docs)]

pub mod config;
pub mod schedules;

use std::time::{Duration, Instant};

use lzstock_domain::common::StoreError;
use lzstock_domain::company::{Scope, ScrapeCompanies, ScrapeError, ScrapeReport, ScrapeRun};
use lzstock_infra::company_sync::PgCompanySync;
use lzstock_infra::scrape_runs::PgScrapeRuns;
use lzstock_infra::sec::{Edgar, RequestBudget, SecConnection, SecHttp, SecPolicy};
use lzstock_shim::schedule::ScheduledRun;
use serde::Serialize;
use sqlx::PgPool;

use crate::config::ScraperConfig;

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

/// What a scheduled run needs: the configuration, the database and the SEC client, each
/// built once at start.
#[derive(Debug, Clone)]
pub struct ScraperDeps {
    /// The scraper's configuration.
    pub config: ScraperConfig,
    /// PostgreSQL.
    pub pool: PgPool,
    /// The HTTP client to SEC.
    pub sec: SecConnection,
}

/// One fire of the schedule: the scope its input names, until a minute before the host's
/// deadline. The routing matrix's `sec_sync` row runs this.
///
/// # Errors
/// See [`RunError`]; a run that stopped before the end fails the delivery
/// ([`RunError::Stopped`]), so the scheduler retries it and its dead-letter queue sees it.
pub async fn scheduled(deps: &ScraperDeps, run: ScheduledRun) -> Result<RunReport, RunError> {
    let scope = scope_of_input(&run.input).map_err(RunError::Input)?;
    let deadline = run.deadline.and_then(Deadline::before_host);
    let root = deps.config.streams.subject_root.clone();
    self::run(
        &deps.config,
        &deps.pool,
        &deps.sec,
        &root,
        run,
        &scope,
        deadline,
    )
    .await?
    .completed()
}

/// The id of the run `run` stands for over `scope`: the trigger's id (derived from the fire
/// time when the trigger gives one, see [`ScheduledRun::id`]) and the scope, so every
/// delivery of one fire names the same run and two rules firing at once name two.
#[must_use]
pub fn run_id(run: &ScheduledRun, scope: &Scope) -> String {
    let scope = match scope {
        Scope::Dashboards => "dashboards".to_owned(),
        Scope::All => "all".to_owned(),
        Scope::Tickers(tickers) => format!("tickers-{:016x}", fnv1a(&tickers.join(","))),
    };
    format!("{}/{scope}", run.id)
}

/// FNV-1a, 64 bits: a stable digest (std's hasher may change between releases, and run
/// ids outlive the binary that made them).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What one run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// The trigger that started this invocation.
    pub run: ScheduledRun,
    /// Companies asked for, and what became of each.
    #[serde(flatten)]
    pub companies: ScrapeReport,
    /// The moment after which this invocation started no company: a minute before the
    /// host's deadline, or the operator's `--deadline`; absent when none applied (a local
    /// emulator's deadline is ignored, see [`Deadline::before_host`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// Requests this invocation sent to SEC.
    pub requests: u64,
    /// Times SEC blocked the fleet during this invocation.
    pub throttled: u64,
}

impl RunReport {
    /// The report of a run that went to its end; a run that stopped is an error carrying
    /// its report.
    ///
    /// # Errors
    /// [`RunError::Stopped`] when the report says `stopped`.
    pub fn completed(self) -> Result<Self, RunError> {
        if self.companies.stopped.is_some() {
            Err(RunError::Stopped(Box::new(self)))
        } else {
            Ok(self)
        }
    }
}

/// Why a run failed as a whole (one company failing never fails the run).
#[derive(thiserror::Error)]
pub enum RunError {
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The trigger's input is not one the scraper understands.
    #[error("{0}")]
    Input(String),
    /// Another invocation is doing this run (a duplicate delivery of the same fire); a
    /// retry after it finished gets its report.
    #[error("run {0} is being done by another invocation")]
    Busy(String),
    /// The run stopped before the end (SEC's ticker map unreachable with no earlier copy,
    /// or SEC refusing every request); the report says which companies failed or remain.
    #[error(
        "run {} stopped: {}; {} of {} companies failed, {} left for the next run",
        .0.run_id,
        .0.companies.stopped.as_deref().unwrap_or("for no reason given"),
        .0.companies.failed.len(),
        .0.companies.requested,
        .0.companies.remaining.len()
    )]
    Stopped(Box<RunReport>),
}

/// As displayed: the Lambda runtime logs an error's `Debug`, and a stopped run's whole
/// report there would bury the reason.
impl std::fmt::Debug for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// How long before the host's deadline a run stops starting companies: enough for the
/// companies under way to finish and the report to be written.
const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// The last moment a run may start a company, on both clocks: the monotonic one the run
/// checks, and the wall clock its report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// When, for the run's checks.
    pub instant: Instant,
    /// When, for the report.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Deadline {
    /// `left` from now (an operator's `--deadline`).
    #[must_use]
    pub fn after(left: Duration) -> Self {
        Self {
            instant: Instant::now() + left,
            at: chrono::Utc::now()
                + chrono::Duration::from_std(left).unwrap_or(chrono::TimeDelta::MAX),
        }
    }

    /// A minute before the host's deadline (Lambda's). A deadline over a day in the past is
    /// no deadline (local emulators send a duration where Lambda sends a time) and is
    /// ignored.
    #[must_use]
    pub fn before_host(host_deadline: chrono::DateTime<chrono::Utc>) -> Option<Self> {
        let now = chrono::Utc::now();
        if host_deadline < now - chrono::Duration::days(1) {
            tracing::warn!(%host_deadline, "the host's deadline is long past: ignored");
            return None;
        }
        let left = (host_deadline - now).to_std().unwrap_or_default();
        Some(Self::after(left.saturating_sub(DEADLINE_MARGIN)))
    }
}

/// How long a run stays held by an invocation that stopped renewing it (it died).
const RUN_LEASE: Duration = Duration::from_secs(60);

/// One run of the scraper over `scope`, within `deadline` (the host's, or the operator's).
/// A run already done gives its report again (`repeated`) and sends no request.
///
/// # Errors
/// See [`RunError`]; a run stopped by SEC's refusal returns its report with `stopped`.
pub async fn run(
    config: &ScraperConfig,
    pool: &PgPool,
    sec: &SecConnection,
    subject_root: &str,
    run: ScheduledRun,
    scope: &Scope,
    deadline: Option<Deadline>,
) -> Result<RunReport, RunError> {
    let budget = RequestBudget::new(pool.clone(), "sec", config.sec.requests_per_second);
    let policy = SecPolicy {
        block_pause: Duration::from_secs(config.sec.block_pause_secs),
        ..SecPolicy::default()
    };
    let http = SecHttp::new(sec, budget, policy);
    let edgar = Edgar::new(http, config.sec.endpoints.clone());
    let store = PgCompanySync::new(pool.clone(), subject_root);
    let runs = PgScrapeRuns::new(pool.clone(), RUN_LEASE);
    let refresh_listing = store
        .listing_due()
        .await
        .map_err(|e| RunError::Store(StoreError::Unavailable(Box::new(e))))?;
    let usecase = ScrapeCompanies::new(edgar, store, runs.clone(), config.sec.concurrency);
    let request = ScrapeRun {
        id: run_id(&run, scope),
        scope: scope.clone(),
        refresh_listing,
        deadline: deadline.map(|d| d.instant),
    };
    tracing::info!(run.id = %request.id, ?scope, refresh_listing, "scraper run");
    let outcome = tokio::select! {
        outcome = usecase.execute(&request) => outcome,
        never = hold(&runs, &request.id) => match never {},
    };
    let companies = match outcome {
        Ok(report) => report,
        Err(ScrapeError::Busy(id)) => return Err(RunError::Busy(id)),
        Err(ScrapeError::Unexpected(error)) => return Err(error.into()),
    };
    let counters = usecase.source().http().counters();
    metrics::counter!("lzstock_scraper_requests_total").increment(counters.requests());
    metrics::counter!("lzstock_scraper_throttled_total").increment(counters.throttled());
    metrics::counter!("lzstock_scraper_companies_synced_total")
        .increment(companies.synced.len() as u64);
    metrics::counter!("lzstock_scraper_companies_failed_total")
        .increment(companies.failed.len() as u64);
    Ok(RunReport {
        run_id: request.id,
        run,
        companies,
        deadline: deadline.map(|d| d.at),
        requests: counters.requests(),
        throttled: counters.throttled(),
    })
}

/// Renews the lease on run `id` while the run goes on (it never returns; the run ends by
/// dropping it). A failed renewal is logged: the lease outlives a few.
async fn hold(runs: &PgScrapeRuns, id: &str) -> std::convert::Infallible {
    let mut every = tokio::time::interval(RUN_LEASE / 3);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(error) = runs.renew(id).await {
            tracing::warn!(%error, run.id = id, "the run's lease could not be renewed");
        }
    }
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

    #[test]
    fn a_hosts_deadline_is_used_a_minute_early_unless_it_is_long_past() {
        let host = chrono::Utc::now() + chrono::Duration::minutes(15);
        let used = Deadline::before_host(host).expect("a deadline in the future is used");
        let margin = (host - used.at).num_milliseconds();
        assert!(
            (59_000..=61_000).contains(&margin),
            "{margin} ms before the host's"
        );
        // cargo lambda watch sends its timeout (ten minutes after the epoch).
        let emulator = chrono::DateTime::from_timestamp(600, 0).expect("a time");
        assert_eq!(Deadline::before_host(emulator), None);
    }

    #[test]
    fn a_run_id_names_the_fire_and_the_scope() {
        let fire = ScheduledRun {
            id: "2026-11-24T02:00:00Z".into(),
            ..ScheduledRun::manual()
        };
        let ids = [
            run_id(&fire, &Scope::Dashboards),
            run_id(&fire, &Scope::All),
            run_id(&fire, &Scope::Tickers(vec!["AAPL".into()])),
            run_id(&fire, &Scope::Tickers(vec!["MSFT".into()])),
        ];
        assert_eq!(ids[0], "2026-11-24T02:00:00Z/dashboards");
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(ids[2], run_id(&fire, &Scope::Tickers(vec!["AAPL".into()])));
    }
}
