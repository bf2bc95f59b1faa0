//! The composition root's expensive resources, built once per process.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use lzstock_infra::nats::NatsError;
use lzstock_infra::streams::EventStreams;
use lzstock_infra::{nats, postgres};
use lzstock_shim::backoff::Backoff;
use lzstock_shim::bridge::advisory;
use lzstock_shim::config::{optional, parsed_or, ConfigError, Source};
use lzstock_shim::secrets::EnvWithSecrets;
use lzstock_shim::streams::ProvisionError;
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
    /// The streams could not be provisioned.
    #[error("{0}")]
    Streams(#[from] StreamsError),
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

/// Where `DATABASE_URL` comes from a secret, keeps `pool` connecting with what the secret
/// holds now: each time PostgreSQL refuses the pool's credentials (the secret was rotated),
/// the secret is read once more, at most once per [`REREAD_INTERVAL`], and the connections
/// opened from then on use its value. Does nothing where the URL is a plain variable.
pub fn follow_database_secret<S: Source + Send + Sync + 'static>(
    pool: &PgPool,
    env: &Arc<EnvWithSecrets<S>>,
) {
    let pool = pool.clone();
    follow_secret(
        env,
        "DATABASE_URL",
        "PostgreSQL",
        || postgres::credentials_refused().notified(),
        move |url| {
            pool.set_connect_options(url.parse::<sqlx::postgres::PgConnectOptions>()?);
            Ok::<(), sqlx::Error>(())
        },
    );
}

/// Where `SMTP_URL` comes from a secret, keeps `mailer` sending with what the secret holds
/// now: each time the mail server refuses the login, the secret is read once more (at most
/// once per [`REREAD_INTERVAL`]) and the mailer sends through its URL from then on. Does
/// nothing where the URL is a plain variable.
pub fn follow_smtp_secret<S: Source + Send + Sync + 'static>(
    mailer: &SmtpMailer,
    env: &Arc<EnvWithSecrets<S>>,
) {
    let (refusals, mailer) = (mailer.clone(), mailer.clone());
    follow_secret(
        env,
        "SMTP_URL",
        "the mail server",
        move || {
            let refusals = refusals.clone();
            async move { refusals.login_refused().await }
        },
        move |url| mailer.set_url(url),
    );
}

/// Reads `variable`'s secret again each time `refused` resolves (`server` refused the
/// credentials), at most once per [`REREAD_INTERVAL`], and hands the value to `apply`.
fn follow_secret<S, R, F, A, E>(
    env: &Arc<EnvWithSecrets<S>>,
    variable: &'static str,
    server: &'static str,
    refused: R,
    apply: A,
) where
    S: Source + Send + Sync + 'static,
    R: Fn() -> F + Send + 'static,
    F: std::future::Future<Output = ()> + Send,
    A: Fn(&str) -> Result<(), E> + Send + 'static,
    E: std::fmt::Display,
{
    if !env.is_secret(variable) {
        return;
    }
    let env = Arc::clone(env);
    tokio::spawn(async move {
        let mut last: Option<tokio::time::Instant> = None;
        loop {
            refused().await;
            if last.is_some_and(|at| at.elapsed() < REREAD_INTERVAL) {
                continue;
            }
            last = Some(tokio::time::Instant::now());
            match env.reread(variable).await {
                Ok(Some(value)) => match apply(&value) {
                    Ok(()) => {
                        tracing::warn!(
                            "{server} refused the credentials: read {variable}_SECRET again"
                        );
                    }
                    Err(error) => {
                        tracing::error!(%error, "{variable}_SECRET now holds no usable value");
                    }
                },
                Ok(None) => return,
                Err(error) => tracing::error!(%error, "cannot read {variable}_SECRET again"),
            }
        }
    });
}

/// The least time between two reads of a refused credential's secret: a wrong secret is
/// not read in a loop.
pub const REREAD_INTERVAL: Duration = Duration::from_secs(30);

/// Connects the process's one NATS client; it keeps reconnecting in the background.
///
/// # Errors
/// When the URL or credentials are unusable.
pub async fn nats(
    config: &NatsConfig,
    client_name: &str,
) -> Result<async_nats::Client, StartupError> {
    Ok(nats::connect(
        &config.servers,
        config.creds.as_ref(),
        &config.tls,
        client_name,
    )
    .await?)
}

/// Reads the stream names, defaulting to `LZSTOCK`, `LZSTOCK_DLQ` and subjects `lzstock.>`.
/// `EVENTS_STREAM`, `DEAD_LETTER_STREAM` and `EVENTS_SUBJECT_ROOT` override them (tests give
/// each case its own); `NATS_STREAM_REPLICAS` (1, 3 or 5) sets the copies a cluster keeps of
/// each.
///
/// # Errors
/// When `NATS_STREAM_REPLICAS` is not 1, 3 or 5.
pub fn event_streams(source: &dyn Source) -> Result<EventStreams, ConfigError> {
    let defaults = EventStreams::default();
    let replicas = optional(source, "NATS_STREAM_REPLICAS")
        .map(|_| parsed_or(source, "NATS_STREAM_REPLICAS", 1_usize))
        .transpose()?;
    if let Some(replicas) = replicas.filter(|r| ![1, 3, 5].contains(r)) {
        return Err(ConfigError::Malformed {
            name: "NATS_STREAM_REPLICAS",
            reason: format!(
                "must be 1, 3 or 5 (a replicated stream needs a majority of its copies), got {replicas}"
            ),
        });
    }
    Ok(EventStreams {
        events: optional(source, "EVENTS_STREAM").unwrap_or(defaults.events),
        dead_letters: optional(source, "DEAD_LETTER_STREAM").unwrap_or(defaults.dead_letters),
        subject_root: optional(source, "EVENTS_SUBJECT_ROOT").unwrap_or(defaults.subject_root),
        dead_letter_prefix: defaults.dead_letter_prefix,
        replicas,
    })
}

/// How long provisioning at start waits out an unavailable JetStream (a leader election, a
/// node restarting, the broker not up yet) before giving up with the last reason.
pub const PROVISION_PATIENCE: Duration = Duration::from_secs(300);

/// Why the streams could not be provisioned at start.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    /// The server refused the configuration: retrying cannot fix that.
    #[error("JetStream refused the streams: {0}")]
    Refused(ProvisionError),
    /// `NATS_STREAM_REPLICAS` asks for more copies than the cluster can place.
    #[error("NATS_STREAM_REPLICAS: {0}")]
    Replicas(ProvisionError),
    /// JetStream stayed unavailable for [`PROVISION_PATIENCE`].
    #[error("JetStream was not available within {} s: {last}", .patience.as_secs())]
    Unavailable {
        /// How long it was waited for.
        patience: Duration,
        /// The last reason.
        last: ProvisionError,
    },
}

/// Provisions the event, dead-letter and advisory streams, retrying with capped backoff
/// and jitter while JetStream is unavailable, for at most [`PROVISION_PATIENCE`]. Returns
/// `Ok(true)` once they are provisioned, `Ok(false)` when `shutdown` resolved first.
///
/// # Errors
/// See [`StreamsError`]. Too many replicas is final at once where the cluster cannot have
/// them (a single server, or fewer servers than asked for); where it could (a node of a
/// big enough cluster is down), it is retried like an unavailable JetStream.
pub async fn provision_streams(
    js: &jetstream::Context,
    streams: &EventStreams,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<bool, StreamsError> {
    provision_streams_within(js, streams, PROVISION_PATIENCE, shutdown).await
}

/// [`provision_streams`] with another patience.
///
/// # Errors
/// See [`StreamsError`].
pub async fn provision_streams_within(
    js: &jetstream::Context,
    streams: &EventStreams,
    patience: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<bool, StreamsError> {
    tokio::pin!(shutdown);
    let started = tokio::time::Instant::now();
    let backoff = Backoff {
        base: Duration::from_millis(200),
        max: Duration::from_secs(5),
    };
    let mut attempt = 0_u64;
    loop {
        attempt += 1;
        let provisioned = match streams.provision(js).await {
            Ok(()) => advisory::provision(js, &streams.events, streams.replicas).await,
            Err(error) => Err(error),
        };
        let error = match provisioned {
            Ok(()) => return Ok(true),
            Err(error @ ProvisionError::Refused { .. }) => {
                return Err(StreamsError::Refused(error))
            }
            Err(error @ ProvisionError::Replicas { wanted, .. }) => {
                if !cluster_could_hold(js, wanted) {
                    return Err(StreamsError::Replicas(error));
                }
                error
            }
            Err(error) => error,
        };
        if started.elapsed() >= patience {
            return Err(match error {
                ProvisionError::Replicas { .. } => StreamsError::Replicas(error),
                _ => StreamsError::Unavailable {
                    patience,
                    last: error,
                },
            });
        }
        let delay = backoff.delay(attempt, attempt ^ u64::from(std::process::id()));
        tracing::warn!(%error, retry_in = ?delay, "cannot provision streams yet");
        tokio::select! {
            () = &mut shutdown => return Ok(false),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Whether the cluster the client is connected to may have `replicas` servers: it is a
/// cluster, and the server announced at least that many (itself and its peers' client
/// URLs) when the client connected.
fn cluster_could_hold(js: &jetstream::Context, replicas: usize) -> bool {
    let info = js.client().server_info();
    info.cluster.is_some() && info.connect_urls.len().max(1) >= replicas.saturating_sub(1)
}
