//! The migrate function: applies the schema's pending migrations under PostgreSQL's
//! advisory lock ([`lzstock_infra::migrations`]).
//!
//! On Lambda it backs the template's `Migrations` custom resource, so every deploy migrates
//! before the functions that need the new schema are updated: CloudFormation's `Create` and
//! `Update` apply what is pending, `Delete` leaves the schema as it is, and each request is
//! answered at its response URL with what was applied. Invoked directly (`{}`), it migrates
//! and returns the report. Standalone, it migrates once, prints the report as JSON and
//! exits (as `lzstock-admin migrate` does).
//!
//! It connects to PostgreSQL itself, never through RDS Proxy: the advisory lock belongs to
//! a session, which a pooling proxy does not keep.

use std::process::ExitCode;

use lzstock_app::config::DatabaseConfig;
use lzstock_app::resources;
use lzstock_infra::migrations::{self, MigrationError, MigrationReport};
use lzstock_shim::config;
use lzstock_shim::custom_resource::{self, CustomResourceRequest};
use lzstock_shim::secrets;
use lzstock_shim::{meters, telemetry, Host};
use sqlx::PgPool;

/// The custom resource's id: one schema per stack, whatever the deploy.
const PHYSICAL_RESOURCE_ID: &str = "lzstock-schema";

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = telemetry::init();
    // DATABASE_URL may come from Secrets Manager (DATABASE_URL_SECRET).
    let env = secrets::process_env("migrate", &lzstock_app::config::DATABASE_SECRETS).await;
    let config = config::or_exit("migrate", DatabaseConfig::from_source(&*env));
    let _meters = config::or_exit("migrate", meters::install_from(&*env, Host::detect()));
    let pool = match resources::database(&config) {
        Ok(pool) => pool,
        Err(error) => {
            tracing::error!(%error, "migrate cannot start");
            return ExitCode::FAILURE;
        }
    };
    resources::follow_database_secret(&pool, &env);
    match Host::detect() {
        Host::Lambda => {
            let pool = &pool;
            let served = custom_resource::run(PHYSICAL_RESOURCE_ID, |request| async move {
                migrate_for(pool, request).await
            })
            .await;
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(%error, "Lambda runtime failed");
                    ExitCode::FAILURE
                }
            }
        }
        Host::Standalone => match migrations::apply_pending(&pool).await {
            Ok(report) => {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(%error, "migrations failed");
                ExitCode::FAILURE
            }
        },
    }
}

/// What a request does: a stack's deletion keeps the schema (its data outlives the stack);
/// anything else applies what is pending.
async fn migrate_for(
    pool: &PgPool,
    request: Option<CustomResourceRequest>,
) -> Result<MigrationReport, MigrationError> {
    if matches!(request, Some(CustomResourceRequest::Delete(_))) {
        tracing::info!("stack deleted: the schema and its data stay");
        return Ok(MigrationReport {
            applied: Vec::new(),
            total: 0,
        });
    }
    let report = migrations::apply_pending(pool).await?;
    tracing::info!(
        applied = report.applied.len(),
        total = report.total,
        "migrations applied"
    );
    Ok(report)
}
