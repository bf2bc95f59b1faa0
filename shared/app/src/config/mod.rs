//! Typed configuration, parsed once at start from the environment.
//!
//! Each binary has one struct holding only the settings it needs, built from the pieces
//! below. A missing or malformed variable is one line naming it; secrets are wrapped in
//! [`Secret`] and never printed.

use std::time::Duration;

use lzstock_infra::outbox::RelaySettings;

use lzstock_shim::config::{optional, parsed_or, required, ConfigError, Secret, Source};
use lzstock_shim::schedule::Schedule;

mod mail;
mod nats;

pub use mail::{email_from, MailConfig, SmtpConfig};
pub use nats::NatsConfig;

/// `DATABASE_URL` and pool size.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://…`; may carry a password, so it is a secret.
    pub url: Secret<String>,
    /// `DATABASE_MAX_CONNECTIONS`, default 5: a Lambda instance handles one request at a time.
    pub max_connections: u32,
}

/// `PORT` for a standalone HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Default 8080.
    pub port: u16,
}

/// How the API authenticates callers.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// On Lambda (`AWS_LAMBDA_RUNTIME_API` set): only the claims API Gateway's JWT
    /// authorizer verified count; `JWT_SECRET` is not read, so no second path exists.
    Authorizer,
    /// Standalone: the API verifies bearer tokens itself.
    Tokens(TokenConfig),
}

/// `JWT_SECRET`, `JWT_JWKS_URL`, `JWT_ISSUER` and `JWT_AUDIENCE`: how the standalone API
/// verifies bearer tokens. At least one of the secret and the key set is set.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The HS256 key, at least 32 bytes.
    pub jwt_secret: Option<Secret<String>>,
    /// Where an identity provider publishes its signing keys (RS256/ES256).
    pub jwks_url: Option<String>,
    /// The issuer every token must name, when set.
    pub issuer: Option<String>,
    /// The audience every token must include, when set.
    pub audience: Option<String>,
}

/// How the scraper reaches SEC: `SEC_USER_AGENT` (the declared identity SEC's fair-access
/// policy requires), `SEC_BASE_URL`, `SEC_TICKERS_URL`, `SEC_REQUESTS_PER_SECOND`,
/// `SEC_BLOCK_PAUSE_SECS` and `SCRAPER_CONCURRENCY`.
#[derive(Debug, Clone)]
pub struct SecConfig {
    /// e.g. `LZStock admin@example.com`.
    pub user_agent: String,
    /// Where SEC's documents are.
    pub endpoints: lzstock_infra::sec::EdgarEndpoints,
    /// Requests a second for the whole fleet (default 10, SEC's limit).
    pub requests_per_second: f64,
    /// How long the fleet pauses after SEC blocks it, in seconds (default 600).
    pub block_pause_secs: u64,
    /// Companies synced at once by one process (default 8).
    pub concurrency: usize,
}

/// `OUTBOX_MAX_ATTEMPTS` and `OUTBOX_RETENTION_HOURS`: how the outbox relay parks rows that
/// keep failing and how long it keeps published ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxConfig {
    /// The relay's settings.
    pub relay: RelaySettings,
}

impl OutboxConfig {
    /// Reads `OUTBOX_MAX_ATTEMPTS` (default 10) and `OUTBOX_RETENTION_HOURS` (default 168).
    ///
    /// # Errors
    /// When either is not a whole number of at least 1.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let defaults = RelaySettings::default();
        let max_attempts: u32 = parsed_or(source, "OUTBOX_MAX_ATTEMPTS", defaults.max_attempts)?;
        let hours: u64 = parsed_or(
            source,
            "OUTBOX_RETENTION_HOURS",
            defaults.retention.as_secs() / 3600,
        )?;
        for (name, value) in [
            ("OUTBOX_MAX_ATTEMPTS", u64::from(max_attempts)),
            ("OUTBOX_RETENTION_HOURS", hours),
        ] {
            if value == 0 {
                return Err(ConfigError::Malformed {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
        }
        Ok(Self {
            relay: RelaySettings {
                max_attempts,
                retention: Duration::from_secs(hours.saturating_mul(3600)),
                ..defaults
            },
        })
    }
}

/// Optional `REDIS_URL` and `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[derive(Debug, Clone, Default)]
pub struct OptionalServices {
    /// `redis://…`, when a cache is configured.
    pub redis_url: Option<Secret<String>>,
    /// Where OTLP traces go, when they leave the process.
    pub otlp_endpoint: Option<String>,
}

fn url_with_scheme(
    source: &dyn Source,
    name: &'static str,
    hint: &'static str,
    schemes: &[&str],
) -> Result<String, ConfigError> {
    let url = required(source, name, hint)?;
    check_scheme(name, &url, schemes)?;
    Ok(url)
}

fn check_scheme(name: &'static str, url: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if scheme.is_some_and(|s| schemes.contains(&s)) {
        Ok(())
    } else {
        // Name the scheme it had, never the URL: it may hold a password.
        Err(ConfigError::Malformed {
            name,
            reason: format!(
                "expected a URL starting with {} (got scheme {:?})",
                schemes.join("://, ") + "://",
                scheme.unwrap_or("")
            ),
        })
    }
}

impl DatabaseConfig {
    /// Reads `DATABASE_URL` and `DATABASE_MAX_CONNECTIONS`.
    ///
    /// # Errors
    /// When `DATABASE_URL` is missing or not a PostgreSQL URL.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let url = url_with_scheme(
            source,
            "DATABASE_URL",
            "set it to postgres://user:password@host:port/database",
            &["postgres", "postgresql"],
        )?;
        Ok(Self {
            url: Secret::new(url),
            max_connections: parsed_or(source, "DATABASE_MAX_CONNECTIONS", 5)?,
        })
    }
}

impl HttpConfig {
    /// Reads `PORT` (default 8080).
    ///
    /// # Errors
    /// When `PORT` is not a port number.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Self::from_source_with_default(source, 8080)
    }

    /// Reads `PORT` with another default.
    ///
    /// # Errors
    /// When `PORT` is not a port number.
    pub fn from_source_with_default(
        source: &dyn Source,
        default: u16,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            port: parsed_or(source, "PORT", default)?,
        })
    }
}

impl AuthConfig {
    /// Reads the authentication settings: none on Lambda, the token settings standalone.
    ///
    /// # Errors
    /// Standalone, when neither `JWT_SECRET` nor `JWT_JWKS_URL` is set, or one is malformed.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        if optional(source, lzstock_shim::host::RUNTIME_API_VAR).is_some() {
            return Ok(Self::Authorizer);
        }
        let jwt_secret = optional(source, "JWT_SECRET")
            .map(|_| jwt_secret(source))
            .transpose()?;
        let jwks_url = optional(source, "JWT_JWKS_URL")
            .map(|url| check_scheme("JWT_JWKS_URL", &url, &["http", "https"]).map(|()| url))
            .transpose()?;
        if jwt_secret.is_none() && jwks_url.is_none() {
            return Err(ConfigError::Missing {
                name: "JWT_SECRET",
                hint: "set JWT_SECRET (an HS256 key of at least 32 bytes) or JWT_JWKS_URL (an identity provider's key set)",
            });
        }
        Ok(Self::Tokens(TokenConfig {
            jwt_secret,
            jwks_url,
            issuer: optional(source, "JWT_ISSUER"),
            audience: optional(source, "JWT_AUDIENCE"),
        }))
    }
}

/// Reads `JWT_SECRET`, the HS256 key.
///
/// # Errors
/// When it is missing or shorter than 32 bytes (HS256 wants a key as long as its hash).
pub fn jwt_secret(source: &dyn Source) -> Result<Secret<String>, ConfigError> {
    let secret = required(
        source,
        "JWT_SECRET",
        "set it to a random string of at least 32 bytes (HS256 key)",
    )?;
    if secret.len() < 32 {
        return Err(ConfigError::Malformed {
            name: "JWT_SECRET",
            reason: format!("must be at least 32 bytes, got {}", secret.len()),
        });
    }
    Ok(Secret::new(secret))
}

impl SecConfig {
    /// Reads `SEC_USER_AGENT`.
    ///
    /// # Errors
    /// When `SEC_USER_AGENT` is missing or not "Company Name contact@domain", or another
    /// variable is malformed or out of range.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let user_agent = required(
            source,
            "SEC_USER_AGENT",
            "SEC requires a declared identity, e.g. \"LZStock admin@example.com\"",
        )?;
        let has_contact = user_agent.split_whitespace().any(|word| {
            word.split_once('@')
                .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'))
        });
        let has_name = user_agent
            .split_whitespace()
            .any(|word| !word.contains('@'));
        // It is sent as a header: anything a header cannot carry is refused here, at start,
        // not at the first request.
        let sendable = user_agent.chars().all(|c| c == ' ' || c.is_ascii_graphic());
        if !has_contact || !has_name || !sendable {
            return Err(ConfigError::Malformed {
                name: "SEC_USER_AGENT",
                reason: format!(
                    "must be \"Company Name contact@domain\" in printable ASCII (got {user_agent:?})"
                ),
            });
        }
        let defaults = lzstock_infra::sec::EdgarEndpoints::default();
        let url = |name: &'static str, default: String| -> Result<String, ConfigError> {
            let url = optional(source, name).unwrap_or(default);
            check_scheme(name, &url, &["http", "https"])?;
            Ok(url.trim_end_matches('/').to_owned())
        };
        let endpoints = lzstock_infra::sec::EdgarEndpoints {
            data_base: url("SEC_BASE_URL", defaults.data_base)?,
            tickers_url: url("SEC_TICKERS_URL", defaults.tickers_url)?,
        };
        let requests_per_second: f64 = parsed_or(source, "SEC_REQUESTS_PER_SECOND", 10.0)?;
        if !(requests_per_second > 0.0 && requests_per_second <= 1000.0) {
            return Err(ConfigError::Malformed {
                name: "SEC_REQUESTS_PER_SECOND",
                reason: format!(
                    "must be above 0 and at most 1000 (SEC allows 10), got {requests_per_second}"
                ),
            });
        }
        let block_pause_secs: u64 = parsed_or(source, "SEC_BLOCK_PAUSE_SECS", 600)?;
        if block_pause_secs == 0 {
            return Err(ConfigError::Malformed {
                name: "SEC_BLOCK_PAUSE_SECS",
                reason: "must be at least 1".into(),
            });
        }
        let concurrency: usize = parsed_or(source, "SCRAPER_CONCURRENCY", 8)?;
        if !(1..=64).contains(&concurrency) {
            return Err(ConfigError::Malformed {
                name: "SCRAPER_CONCURRENCY",
                reason: format!("must be 1 to 64, got {concurrency}"),
            });
        }
        Ok(Self {
            user_agent,
            endpoints,
            requests_per_second,
            block_pause_secs,
            concurrency,
        })
    }
}

impl OptionalServices {
    /// Reads `REDIS_URL` and `OTEL_EXPORTER_OTLP_ENDPOINT`, both optional.
    ///
    /// # Errors
    /// When one is set with the wrong scheme.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let redis_url = optional(source, "REDIS_URL")
            .map(|url| check_scheme("REDIS_URL", &url, &["redis", "rediss"]).map(|()| url))
            .transpose()?
            .map(Secret::new);
        let otlp_endpoint = optional(source, "OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|url| {
                check_scheme("OTEL_EXPORTER_OTLP_ENDPOINT", &url, &["http", "https"]).map(|()| url)
            })
            .transpose()?;
        Ok(Self {
            redis_url,
            otlp_endpoint,
        })
    }
}

/// The default `SCRAPER_SCHEDULE`: 03:00 UTC daily, after EDGAR's overnight filings settle.
pub const DEFAULT_SCRAPER_SCHEDULE: &str = "0 3 * * *";

/// Reads `SCRAPER_SCHEDULE` (a cron expression).
///
/// # Errors
/// When it is set but is not a cron expression.
pub fn scraper_schedule(source: &dyn Source) -> Result<Schedule, ConfigError> {
    let pattern =
        optional(source, "SCRAPER_SCHEDULE").unwrap_or_else(|| DEFAULT_SCRAPER_SCHEDULE.into());
    pattern.parse().map_err(|reason| ConfigError::Malformed {
        name: "SCRAPER_SCHEDULE",
        reason: format!("{reason} (got {pattern:?})"),
    })
}

#[cfg(test)]
mod tests;
