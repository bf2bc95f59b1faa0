//! Typed configuration, parsed once at start from the environment.
//!
//! Each binary has one struct holding only the settings it needs, built from the pieces
//! below. A missing or malformed variable is one line naming it; secrets are wrapped in
//! [`Secret`] and never printed.

use std::time::Duration;

use lzstock_infra::outbox::RelaySettings;

use lzstock_shim::config::{optional, parsed_or, required, ConfigError, Secret, Source};
use lzstock_shim::http::HttpLimits;

mod consumer;
mod mail;
mod nats;

pub use consumer::{consumer_defaults, ConsumerVariables};
pub use mail::{email_from, MailConfig, SmtpConfig};
pub use nats::NatsConfig;

/// The variables a binary that only needs PostgreSQL (migrate) may read from Secrets
/// Manager (`*_SECRET`).
pub const DATABASE_SECRETS: [&str; 1] = ["DATABASE_URL"];

/// `DATABASE_URL` and pool size.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://…`; may carry a password, so it is a secret.
    pub url: Secret<String>,
    /// `DATABASE_MAX_CONNECTIONS`, default 5: a Lambda instance handles one request at a time.
    pub max_connections: u32,
}

/// `PORT` and the limits of a standalone HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Default 8080.
    pub port: u16,
    /// What a client may take: `HTTP_HEADER_TIMEOUT_SECS`, `HTTP_BODY_TIMEOUT_SECS`,
    /// `HTTP_MAX_CONNECTIONS`, `HTTP2_MAX_CONCURRENT_STREAMS`.
    pub limits: HttpLimits,
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

/// Checks that `url` (the value of `name`) starts with one of `schemes`; the error names the
/// scheme it had, never the URL (it may hold a password).
///
/// # Errors
/// When the scheme is another.
pub fn check_scheme(name: &'static str, url: &str, schemes: &[&str]) -> Result<(), ConfigError> {
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
    /// Reads `PORT` (default 8080) and the limits.
    ///
    /// # Errors
    /// When `PORT` is not a port number, or a limit is malformed.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Self::from_source_with_default(source, 8080)
    }

    /// Reads `PORT` with another default, and the limits.
    ///
    /// # Errors
    /// When `PORT` is not a port number, or a limit is malformed.
    pub fn from_source_with_default(
        source: &dyn Source,
        default: u16,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            port: parsed_or(source, "PORT", default)?,
            limits: HttpLimits::from_source(source)?,
        })
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

#[cfg(test)]
mod tests;
