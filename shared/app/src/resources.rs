//! The composition root's expensive resources, built once per process.

use std::time::Duration;

use async_nats::jetstream::{self, context::CreateStreamError};
use lzstock_infra::nats::NatsError;
use lzstock_infra::streams::EventStreams;
use lzstock_infra::{nats, postgres};
use lzstock_shim::bridge::advisory;
use lzstock_shim::config::{optional, ConfigError, Source};
use sqlx::PgPool;

use crate::config::{DatabaseConfig, MailConfig, NatsConfig, OptionalServices};
use lzstock_infra::email_cache::{RedisEmailCache, RedisUrlError, DEFAULT_TTL};
use lzstock_infra::smtp::{SmtpMailer, SmtpUrlError};

/// Why a function could not build its resources at start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database URL could not be used.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The NATS client could not be built.
    #[error("NATS: {0}")]
    Nats(#[from] NatsError),
    /// JetStream refused the stream configuration.
    #[error("JetStream refused the streams: {0}")]
    Streams(#[from] CreateStreamError),
    /// `SMTP_URL` is not one the mailer can use.
    #[error("SMTP_URL: {0}")]
    Smtp(#[from] SmtpUrlError),
    /// `REDIS_URL` is not one the cache can use.
    #[error("REDIS_URL: {0}")]
    Redis(#[from] RedisUrlError),
}

/// Builds the process's one SMTP mailer (pooled; nothing is dialled until the first email).
///
/// # Errors
/// When `SMTP_URL` is unusable.
pub fn mailer(config: &MailConfig) -> Result<SmtpMailer, StartupError> {
    Ok(SmtpMailer::from_url(
        config.smtp.url.expose(),
        config.from.domain(),
    )?)
}

/// Builds the email cache when `REDIS_URL` is set (connected on first use).
///
/// # Errors
/// When `REDIS_URL` is unusable.
pub fn email_cache(services: &OptionalServices) -> Result<Option<RedisEmailCache>, StartupError> {
    services
        .redis_url
        .as_ref()
        .map(|url| RedisEmailCache::new(url.expose(), DEFAULT_TTL))
        .transpose()
        .map_err(Into::into)
}

/// Builds the process's one PostgreSQL pool (lazy: the database may still be starting).
///
/// # Errors
/// When the URL is unusable.
pub fn database(config: &DatabaseConfig) -> Result<PgPool, StartupError> {
    Ok(postgres::pool(config.url.expose(), config.max_connections)?)
}

/// Connects the process's one NATS client; it keeps reconnecting in the background.
///
/// # Errors
/// When the URL or credentials are unusable.
pub async fn nats(
    config: &NatsConfig,
    client_name: &str,
) -> Result<async_nats::Client, StartupError> {
    Ok(nats::connect(&config.servers, config.creds.as_ref(), client_name).await?)
}

/// Reads the stream names, defaulting to `LZSTOCK`, `LZSTOCK_DLQ` and subjects `lzstock.>`.
/// `EVENTS_STREAM`, `DEAD_LETTER_STREAM` and `EVENTS_SUBJECT_ROOT` override them (tests give
/// each case its own).
///
/// # Errors
/// Never today; the signature leaves room for validation.
pub fn event_streams(source: &dyn Source) -> Result<EventStreams, ConfigError> {
    let defaults = EventStreams::default();
    Ok(EventStreams {
        events: optional(source, "EVENTS_STREAM").unwrap_or(defaults.events),
        dead_letters: optional(source, "DEAD_LETTER_STREAM").unwrap_or(defaults.dead_letters),
        subject_root: optional(source, "EVENTS_SUBJECT_ROOT").unwrap_or(defaults.subject_root),
        dead_letter_prefix: defaults.dead_letter_prefix,
    })
}

/// Provisions the streams, retrying with capped backoff while JetStream is unreachable,
/// until it succeeds (`Ok(true)`) or `shutdown` resolves (`Ok(false)`).
///
/// # Errors
/// When the server refuses the configuration (say, subjects overlapping another stream):
/// retrying cannot fix that, so the caller should stop with the reason.
pub async fn provision_streams(
    js: &jetstream::Context,
    streams: &EventStreams,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<bool, CreateStreamError> {
    tokio::pin!(shutdown);
    let mut delay = Duration::from_millis(200);
    loop {
        let provisioned = match streams.provision(js).await {
            Ok(()) => advisory::provision(js, &streams.events).await,
            Err(error) => Err(error),
        };
        match provisioned {
            Ok(()) => return Ok(true),
            Err(error) if is_refusal(&error) => return Err(error),
            Err(error) => {
                tracing::warn!(%error, retry_in = ?delay, "cannot provision streams yet");
            }
        }
        tokio::select! {
            () = &mut shutdown => return Ok(false),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn is_refusal(error: &CreateStreamError) -> bool {
    use jetstream::context::CreateStreamErrorKind as Kind;
    matches!(
        error.kind(),
        Kind::JetStream(_)
            | Kind::EmptyStreamName
            | Kind::InvalidStreamName
            | Kind::DomainAndExternalSet
    )
}
