//! The events function's configuration.

use lzstock_domain::dashboard::TickerList;
use lzstock_infra::streams::EventStreams;
use lzstock_shim::bridge::ConsumerSettings;
use lzstock_shim::config::{optional, parsed_or, ConfigError, Source};

use crate::routing::Commit;
use lzstock_app::config::{
    consumer_defaults, ConsumerVariables, DatabaseConfig, MailConfig, NatsConfig, OptionalServices,
};
use lzstock_app::resources;

/// The variables the events function may read from Secrets Manager (`*_SECRET`).
pub const SECRETS: [&str; 3] = ["DATABASE_URL", "SMTP_URL", "NATS_CREDS"];

/// Everything the events function reads from the environment.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// PostgreSQL, where handlers write their effects.
    pub database: DatabaseConfig,
    /// NATS, consumed standalone.
    pub nats: NatsConfig,
    /// Stream names.
    pub streams: EventStreams,
    /// How the standalone consumer pulls.
    pub consumer: ConsumerSettings,
    /// `EVENTS_COMMIT`: whether a batch's records commit together where their routes allow
    /// it (`batch`, the default) or each on its own (`record`).
    pub commit: Commit,
    /// `SIGNUP_DEFAULT_TICKERS`: the companies of a new user's first dashboard.
    pub signup_tickers: TickerList,
    /// `EMAIL_FROM` and `SMTP_URL`: how emails leave (none until both are set).
    pub mail: Option<MailConfig>,
    /// `REDIS_URL`, whose email cache a sent email invalidates.
    pub optional: OptionalServices,
}

/// The variables that tune the standalone consumer.
const CONSUMER_VARIABLES: ConsumerVariables = ConsumerVariables {
    durable: Some("EVENTS_CONSUMER"),
    batch_size: Some("EVENTS_BATCH_SIZE"),
    max_wait_ms: None,
    max_deliver: Some("EVENTS_MAX_DELIVER"),
    ack_wait_ms: Some("EVENTS_ACK_WAIT_MS"),
    max_ack_pending: None,
    concurrency: Some("EVENTS_CONCURRENCY"),
    backoff_base_ms: None,
    backoff_max_ms: None,
    invoke_timeout_ms: None,
    max_invoke_bytes: None,
    start: None,
};

/// The default `SIGNUP_DEFAULT_TICKERS`.
pub const DEFAULT_SIGNUP_TICKERS: &str = "AAPL,MSFT,GOOGL,AMZN,NVDA";

impl EventsConfig {
    /// Parses the configuration. `EVENTS_BATCH_SIZE` (10), `EVENTS_MAX_DELIVER` (5),
    /// `EVENTS_ACK_WAIT_MS` (30000) and `EVENTS_CONCURRENCY` (4) tune the standalone consumer.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let streams = resources::event_streams(source)?;
        let defaults = ConsumerSettings {
            concurrency: 4,
            ..consumer_defaults(&streams, "events")
        };
        let consumer = CONSUMER_VARIABLES.read(source, defaults, "EVENTS_CONSUMER")?;
        let tickers = optional(source, "SIGNUP_DEFAULT_TICKERS")
            .unwrap_or_else(|| DEFAULT_SIGNUP_TICKERS.to_owned());
        let signup_tickers =
            crate::dashboard_events::parse_signup_tickers(&tickers).map_err(|reason| {
                ConfigError::Malformed {
                    name: "SIGNUP_DEFAULT_TICKERS",
                    reason,
                }
            })?;
        Ok(Self {
            database: DatabaseConfig::from_source(source)?,
            nats: NatsConfig::from_source(source)?,
            streams,
            consumer,
            commit: parsed_or(source, "EVENTS_COMMIT", Commit::Batch)?,
            signup_tickers,
            mail: MailConfig::optional_from_source(source)?,
            optional: OptionalServices::from_source(source)?,
        })
    }
}
