//! `/healthz`: whether this process reached its dependencies and, for whoever may know,
//! the versions of the servers it talked to.
//!
//! Anyone may ask whether the process is ready; the server versions are a map for an
//! attacker, so the API shows them only to a caller with a valid token (the bridge, whose
//! port is an operator port beside `/metrics`, shows them to every caller: [`router`]). The probe's
//! result is kept for [`PROBE_TTL`], so a flood of health checks costs the database and
//! NATS one round trip each per period, not one per request.

use std::sync::Arc;

use crate::config::NatsConfig;
use std::time::Duration;

use async_nats::jetstream;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long one dependency check may take; health must answer even when a server hangs.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a probe's result answers `/healthz` before the dependencies are asked again.
pub const PROBE_TTL: Duration = Duration::from_secs(2);

/// The dependencies a process checks; a function leaves out those it does not use.
#[derive(Debug, Clone, Default)]
pub struct HealthProbe {
    /// The process's pool, if it uses PostgreSQL.
    pub database: Option<PgPool>,
    /// The process's NATS client, if it uses NATS.
    pub nats: Option<NatsProbe>,
    /// The process's supervised tasks, if it runs any: one down longer than its restart
    /// should take makes the process unready.
    pub tasks: Option<lzstock_shim::tasks::TaskHealth>,
}

/// The NATS client a probe checks: one the process holds, or one connected at the first
/// check (on Lambda, where init must not touch the network and only the health check uses
/// the broker).
#[derive(Debug, Clone)]
pub enum NatsProbe {
    /// The process's client.
    Client(async_nats::Client),
    /// Connected on first use, with these settings.
    OnFirstCheck(Arc<tokio::sync::OnceCell<async_nats::Client>>, NatsConfig),
}

impl NatsProbe {
    /// A probe that connects at the first check.
    #[must_use]
    pub fn on_first_check(config: NatsConfig) -> Self {
        Self::OnFirstCheck(Arc::default(), config)
    }

    async fn client(&self) -> Result<async_nats::Client, String> {
        match self {
            Self::Client(client) => Ok(client.clone()),
            Self::OnFirstCheck(cell, config) => cell
                .get_or_try_init(|| crate::resources::nats(config, "lzstock-health"))
                .await
                .cloned()
                .map_err(|error| error.to_string()),
        }
    }
}

/// Up, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Reached and working.
    Ok,
    /// Not reached, or not working.
    Unavailable,
}

/// The report `/healthz` returns.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// `ok` when every dependency is.
    pub status: Status,
    /// The LZStock release.
    pub version: &'static str,
    /// PostgreSQL, when checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DependencyHealth>,
    /// NATS and JetStream, when checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats: Option<DependencyHealth>,
    /// The process's long-running tasks, when it runs any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TasksHealth>,
}

/// The supervised tasks' state.
#[derive(Debug, Clone, Serialize)]
pub struct TasksHealth {
    /// `ok` unless a task has been down longer than its restart should take.
    pub status: Status,
    /// Those tasks, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<String>,
}

/// One dependency's state.
#[derive(Debug, Clone, Serialize)]
pub struct DependencyHealth {
    /// Whether it answered.
    pub status: Status,
    /// The server's version, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A short reason, when it did not; the details are in the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DependencyHealth {
    fn up(version: String) -> Self {
        Self {
            status: Status::Ok,
            version: Some(version),
            error: None,
        }
    }

    fn down(error: &str) -> Self {
        Self {
            status: Status::Unavailable,
            version: None,
            error: Some(error.to_owned()),
        }
    }
}

impl HealthProbe {
    /// Checks every dependency, each within [`CHECK_TIMEOUT`].
    pub async fn check(&self) -> HealthReport {
        let (database, nats) = tokio::join!(
            async {
                match &self.database {
                    Some(pool) => Some(check_database(pool).await),
                    None => None,
                }
            },
            async {
                match &self.nats {
                    Some(probe) => Some(match probe.client().await {
                        Ok(client) => check_nats(&client).await,
                        Err(error) => {
                            tracing::warn!(%error, "no NATS client for the health check");
                            DependencyHealth::down("no connection")
                        }
                    }),
                    None => None,
                }
            }
        );
        let tasks = self.tasks.as_ref().map(|tasks| {
            let failing = tasks.failing();
            TasksHealth {
                status: if failing.is_empty() {
                    Status::Ok
                } else {
                    Status::Unavailable
                },
                failing,
            }
        });
        let all_ok = [&database, &nats]
            .into_iter()
            .flatten()
            .all(|d| d.status == Status::Ok)
            && tasks.as_ref().is_none_or(|t| t.status == Status::Ok);
        HealthReport {
            status: if all_ok {
                Status::Ok
            } else {
                Status::Unavailable
            },
            version: env!("CARGO_PKG_VERSION"),
            database,
            nats,
            tasks,
        }
    }
}

async fn check_database(pool: &PgPool) -> DependencyHealth {
    match tokio::time::timeout(CHECK_TIMEOUT, lzstock_infra::postgres::server_version(pool)).await {
        Ok(Ok(version)) => DependencyHealth::up(version),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health: database unreachable");
            DependencyHealth::down("unreachable")
        }
        Err(_) => DependencyHealth::down("timed out"),
    }
}

async fn check_nats(client: &async_nats::Client) -> DependencyHealth {
    // A client that is (re)connecting right now gets the check's time budget to finish:
    // on a cold start the first health check often races the initial connect.
    let connected = tokio::time::timeout(CHECK_TIMEOUT, async {
        loop {
            if let Some(version) = lzstock_infra::nats::server_version(client) {
                return version;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let Ok(version) = connected else {
        return DependencyHealth::down("not connected");
    };
    // Connected is not enough: the functions need JetStream enabled on the account.
    let js = jetstream::new(client.clone());
    match tokio::time::timeout(CHECK_TIMEOUT, js.query_account()).await {
        Ok(Ok(_)) => DependencyHealth::up(version),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health: JetStream unavailable");
            DependencyHealth::down("JetStream unavailable")
        }
        Err(_) => DependencyHealth::down("timed out"),
    }
}

impl HealthReport {
    /// The report without server versions, for callers who may only know readiness.
    #[must_use]
    pub fn readiness(mut self) -> Self {
        for dependency in [&mut self.database, &mut self.nats].into_iter().flatten() {
            dependency.version = None;
        }
        self
    }
}

/// A probe whose result is reused for [`PROBE_TTL`]; concurrent callers share one check.
#[derive(Debug)]
pub struct CachedProbe {
    probe: HealthProbe,
    last: Mutex<Option<(Instant, HealthReport)>>,
}

impl CachedProbe {
    /// Caches `probe`'s results.
    #[must_use]
    pub fn new(probe: HealthProbe) -> Self {
        Self {
            probe,
            last: Mutex::new(None),
        }
    }

    /// The last report if younger than [`PROBE_TTL`], else a fresh one.
    pub async fn check(&self) -> HealthReport {
        // Held across the check: callers arriving meanwhile wait for its result.
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref() {
            if at.elapsed() < PROBE_TTL {
                return report.clone();
            }
        }
        let report = self.probe.check().await;
        *last = Some((Instant::now(), report.clone()));
        report
    }

    /// The `/healthz` answer: 200 with the report when every dependency is up, 503
    /// otherwise; server versions only when `disclosed`.
    pub async fn answer(&self, disclosed: bool) -> (StatusCode, Json<HealthReport>) {
        let report = self.check().await;
        let status = match report.status {
            Status::Ok => StatusCode::OK,
            Status::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let report = if disclosed {
            report
        } else {
            report.readiness()
        };
        (status, Json(report))
    }
}

/// `GET /healthz` with the server versions for every caller (an operator port, beside
/// `/metrics`), and `GET /livez`: 200 while the process serves at all, checking nothing
/// (liveness, and the baseline of the server itself in benchmarks). The API, which shows
/// versions only to authenticated callers, serves its own `/healthz` over a [`CachedProbe`].
pub fn router(probe: HealthProbe) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .with_state(Arc::new(CachedProbe::new(probe)))
}

/// `GET /livez`'s answer.
pub async fn livez() -> &'static str {
    "ok"
}

async fn healthz(State(probe): State<Arc<CachedProbe>>) -> impl IntoResponse {
    probe.answer(true).await
}
