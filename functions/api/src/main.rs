//! The API function: REST and proto services over HTTP, on Lambda or standalone.

use std::process::ExitCode;
use std::sync::Arc;

use async_nats::jetstream;
use lzstock_app::api::{self, ApiConfig, ApiState, Authenticator};
use lzstock_app::{health::HealthProbe, resources};
use lzstock_infra::companies::PgCompanyStore;
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::emails::PgEmailStore;
use lzstock_infra::outbox::OutboxRelay;
use lzstock_shim::config::{self, ProcessEnv};
use lzstock_shim::{http, shutdown, telemetry, Host};

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of main: dropping it flushes exported spans.
    let _telemetry = telemetry::init();
    let config = config::or_exit("api", ApiConfig::from_source(&ProcessEnv));
    // The API serves /metrics on its own port standalone; on Lambda, EMF per invocation.
    let _meters = config::or_exit(
        "api",
        lzstock_shim::meters::install_from(&ProcessEnv, Host::detect()),
    );
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "api stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: ApiConfig) -> Result<(), Box<dyn std::error::Error>> {
    let pool = resources::database(&config.database)?;
    let nats = resources::nats(&config.nats, "lzstock-api").await?;
    // Standalone, this process relays its own outbox; on Lambda, where nothing runs between
    // invocations, the nats-bridge does.
    let relay = (Host::detect() == Host::Standalone).then(|| {
        Arc::new(OutboxRelay::with_settings(
            pool.clone(),
            jetstream::new(nats.clone()),
            config.outbox.relay,
        ))
    });
    if let Some(relay) = relay.clone() {
        tokio::spawn(async move { relay.run(shutdown::signal()).await });
    }
    let state = ApiState {
        health: HealthProbe {
            database: Some(pool.clone()),
            nats: Some(nats),
        },
        dashboards: PgDashboardStore::new(pool.clone(), config.streams.subject_root.clone()),
        companies: PgCompanyStore::new(pool.clone()),
        auth: Authenticator::from_config(&config.auth),
        relay,
        emails: PgEmailStore::new(pool, config.streams.subject_root.clone()),
        email_cache: resources::email_cache(&config.optional)?,
        default_from: config.email_from.clone(),
    };
    http::serve(api::router(state), config.http.port).await?;
    Ok(())
}
