//! The API function: its configuration and its router.

use axum::{http::StatusCode, response::IntoResponse, Json, Router};
use lzstock_shim::config::{ConfigError, Source};
use serde_json::json;

use crate::config::{AuthConfig, DatabaseConfig, HttpConfig, NatsConfig, OptionalServices};
use crate::health::{self, HealthProbe};

/// Everything the API function reads from the environment.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// NATS, to publish events.
    pub nats: NatsConfig,
    /// The standalone port.
    pub http: HttpConfig,
    /// Bearer-token verification when standalone.
    pub auth: AuthConfig,
    /// Cache and trace export, when configured.
    pub optional: OptionalServices,
}

impl ApiConfig {
    /// Parses the configuration.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseConfig::from_source(source)?,
            nats: NatsConfig::from_source(source)?,
            http: HttpConfig::from_source(source)?,
            auth: AuthConfig::from_source(source)?,
            optional: OptionalServices::from_source(source)?,
        })
    }
}

/// The API's dependencies, shared by every request.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// What `/healthz` checks.
    pub health: HealthProbe,
}

/// The API's one router, served by `lambda_http` on Lambda and by axum standalone.
pub fn router(state: ApiState) -> Router {
    health::router(state.health).fallback(not_found)
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"code": "not_found", "message": "no such route"})),
    )
}
