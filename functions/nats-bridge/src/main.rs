//! The NATS bridge: a long-running process that provisions the streams, relays the
//! transactional outbox to JetStream (when `DATABASE_URL` is set) and, with the event
//! pipeline, pulls JetStream and invokes the events function.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use async_nats::jetstream;
use lzstock_app::bridge::BridgeConfig;
use lzstock_app::{health, resources};
use lzstock_infra::outbox::OutboxRelay;
use lzstock_shim::config::{self, ProcessEnv};
use lzstock_shim::{http, shutdown, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let config = config::or_exit("nats-bridge", BridgeConfig::from_source(&ProcessEnv));
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "nats-bridge stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: BridgeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge").await?;
    let js = jetstream::new(nats.clone());
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.http.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let pool = config
        .database
        .as_ref()
        .map(resources::database)
        .transpose()?;
    let probe = health::HealthProbe {
        database: pool.clone(),
        nats: Some(nats),
    };
    let relaying = async {
        match pool {
            Some(pool) => {
                OutboxRelay::new(pool, js.clone())
                    .run(shutdown::signal())
                    .await
            }
            None => std::future::pending().await,
        }
    };
    let serving = http::serve_standalone(listener, health::router(probe), shutdown::signal());
    let provisioning = async {
        let ready = resources::provision_streams(&js, &config.streams, shutdown::signal()).await?;
        if ready {
            tracing::info!(
                events = %config.streams.events,
                dead_letters = %config.streams.dead_letters,
                "streams ready"
            );
        }
        // Keep running with the server until shutdown.
        std::future::pending::<()>().await;
        Ok::<(), resources::StartupError>(())
    };
    tokio::select! {
        served = serving => served?,
        provisioned = provisioning => provisioned?,
        () = relaying => {}
    }
    Ok(())
}
