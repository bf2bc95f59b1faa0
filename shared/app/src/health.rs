//! `/healthz`: what this process reached, with the versions of the servers it talked to.

use std::time::Duration;

use async_nats::jetstream;
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use serde::Serialize;
use sqlx::PgPool;

/// How long one dependency check may take; health must answer even when a server hangs.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The dependencies a process checks; a function leaves out those it does not use.
#[derive(Debug, Clone, Default)]
pub struct HealthProbe {
    /// The process's pool, if it uses PostgreSQL.
    pub database: Option<PgPool>,
    /// The process's NATS client, if it uses NATS.
    pub nats: Option<async_nats::Client>,
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
                    Some(client) => Some(check_nats(client).await),
                    None => None,
                }
            }
        );
        let all_ok = [&database, &nats]
            .into_iter()
            .flatten()
            .all(|d| d.status == Status::Ok);
        HealthReport {
            status: if all_ok {
                Status::Ok
            } else {
                Status::Unavailable
            },
            version: env!("CARGO_PKG_VERSION"),
            database,
            nats,
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

/// `GET /healthz`: 200 with the report when every dependency is up, 503 otherwise.
/// `GET /livez`: 200 while the process serves at all, checking nothing (liveness, and the
/// baseline of the server itself in benchmarks).
pub fn router(probe: HealthProbe) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(|| async { "ok" }))
        .with_state(probe)
}

async fn healthz(State(probe): State<HealthProbe>) -> impl IntoResponse {
    let report = probe.check().await;
    let status = match report.status {
        Status::Ok => StatusCode::OK,
        Status::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(report))
}
