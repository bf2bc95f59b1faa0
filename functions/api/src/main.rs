//! The API function: REST and proto services over HTTP, on Lambda or standalone.

use std::process::ExitCode;

use lzstock_app::api::{self, ApiConfig, ApiState};
use lzstock_app::{health::HealthProbe, resources};
use lzstock_shim::config::{self, ProcessEnv};
use lzstock_shim::{http, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let config = config::or_exit("api", ApiConfig::from_source(&ProcessEnv));
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
    let state = ApiState {
        health: HealthProbe {
            database: Some(pool),
            nats: Some(nats),
        },
    };
    http::serve(api::router(state), config.http.port).await?;
    Ok(())
}
