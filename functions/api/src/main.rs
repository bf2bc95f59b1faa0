//! The API function: REST and proto services over HTTP, on Lambda or standalone.

use std::process::ExitCode;
use std::sync::Arc;

use async_nats::jetstream;
use lzstock_api::config::ApiConfig;
use lzstock_api::{self as api, ApiState, Authenticator};
use lzstock_app::health::{HealthProbe, NatsProbe};
use lzstock_app::resources;
use lzstock_infra::companies::PgCompanyStore;
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::emails::PgEmailStore;
use lzstock_infra::outbox::OutboxRelay;
use lzstock_shim::config::{self, ProcessEnv};
use lzstock_shim::secrets::{self, EnvWithSecrets};
use lzstock_shim::tasks::{self, TaskHealth};
use lzstock_shim::{http, shutdown, telemetry, Host};

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of main: dropping it flushes exported spans.
    let _telemetry = telemetry::init();
    // Secrets first: DATABASE_URL and NATS_CREDS may come from Secrets Manager.
    let env = secrets::process_env("api", &lzstock_api::config::SECRETS).await;
    let config = config::or_exit("api", ApiConfig::from_source(&*env));
    // The API serves /metrics on its own port standalone; on Lambda, EMF per invocation.
    let _meters = config::or_exit(
        "api",
        lzstock_shim::meters::install_from(&*env, Host::detect()),
    );
    match run(config, &env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "api stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    config: ApiConfig,
    env: &Arc<EnvWithSecrets<ProcessEnv>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let pool = resources::database(&config.database)?;
    resources::follow_database_secret(&pool, env);
    // Standalone, this process relays its own outbox; on Lambda, where nothing runs between
    // invocations, the nats-bridge does, and only the health check uses the broker: it
    // connects at the first check, not during init.
    let (relay, nats, tasks) = match Host::detect() {
        Host::Standalone => {
            let nats = resources::nats(&config.nats, "lzstock-api").await?;
            let relay = Arc::new(OutboxRelay::with_settings(
                pool.clone(),
                jetstream::new(nats.clone()),
                config.outbox.relay,
            ));
            // Supervised: restarted if it fails, and /healthz fails while it stays down.
            let health = TaskHealth::new();
            let (running, watched) = (Arc::clone(&relay), health.clone());
            tokio::spawn(async move {
                tasks::supervise("outbox-relay", &watched, shutdown::signal, |stop| async {
                    running.run(stop).await;
                    Ok::<(), std::convert::Infallible>(())
                })
                .await
            });
            (Some(relay), NatsProbe::Client(nats), Some(health))
        }
        Host::Lambda => (None, NatsProbe::on_first_check(config.nats.clone()), None),
    };
    let state = ApiState {
        health: HealthProbe {
            database: Some(pool.clone()),
            nats: Some(nats),
            tasks,
        },
        dashboards: PgDashboardStore::new(pool.clone(), config.streams.subject_root.clone()),
        companies: PgCompanyStore::new(pool.clone()),
        auth: Authenticator::from_config(&config.auth),
        relay,
        emails: PgEmailStore::new(pool, config.streams.subject_root.clone()),
        email_cache: resources::email_cache(&config.optional)?,
        default_from: config.email_from.clone(),
    };
    http::serve(api::router(state), config.http.port, config.http.limits).await?;
    Ok(())
}
