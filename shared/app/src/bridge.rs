//! The NATS bridge: its configuration.

use lzstock_infra::streams::EventStreams;
use lzstock_shim::config::{ConfigError, Source};

use crate::config::{DatabaseConfig, HttpConfig, NatsConfig};
use crate::resources;

/// Everything the bridge reads from the environment.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// NATS.
    pub nats: NatsConfig,
    /// Stream names.
    pub streams: EventStreams,
    /// The port of `/healthz` (default 8090).
    pub http: HttpConfig,
    /// PostgreSQL, when `DATABASE_URL` is set: the bridge then relays the outbox to
    /// JetStream, which Lambda-hosted functions cannot do between invocations.
    pub database: Option<DatabaseConfig>,
}

impl BridgeConfig {
    /// Parses the configuration.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            nats: NatsConfig::from_source(source)?,
            streams: resources::event_streams(source)?,
            http: HttpConfig::from_source_with_default(source, 8090)?,
            database: lzstock_shim::config::optional(source, "DATABASE_URL")
                .map(|_| DatabaseConfig::from_source(source))
                .transpose()?,
        })
    }
}
