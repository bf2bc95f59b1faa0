//! Everything the scraper reads from the environment: the database, NATS, how it reaches
//! SEC, and its schedule standalone.

use lzstock_app::config::{check_scheme, DatabaseConfig, NatsConfig};
use lzstock_shim::config::{optional, parsed_or, required, ConfigError, Source};
use lzstock_shim::schedule::Schedule;

/// The variables the scraper may read from Secrets Manager (`*_SECRET`).
pub const SECRETS: [&str; 2] = ["DATABASE_URL", "NATS_CREDS"];

/// Everything the scraper reads from the environment.
#[derive(Debug, Clone)]
pub struct ScraperConfig {
    /// PostgreSQL, where facts are stored.
    pub database: DatabaseConfig,
    /// NATS, where `facts_updated` events go.
    pub nats: NatsConfig,
    /// The identity declared to SEC.
    pub sec: SecConfig,
    /// `SCRAPER_SCHEDULE`, used standalone.
    pub schedule: Schedule,
    /// Stream names (events go through the outbox under this root).
    pub streams: lzstock_infra::streams::EventStreams,
}

impl ScraperConfig {
    /// Parses the configuration.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseConfig::from_source(source)?,
            nats: NatsConfig::from_source(source)?,
            sec: SecConfig::from_source(source)?,
            schedule: scraper_schedule(source)?,
            streams: lzstock_app::resources::event_streams(source)?,
        })
    }
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
mod tests {
    use super::*;

    #[test]
    fn sec_settings_are_checked_by_name() {
        let base = ("SEC_USER_AGENT", "LZStock ops@lzstock.dev");
        let config = SecConfig::from_source(&[base]).unwrap();
        assert_eq!(config.endpoints.data_base, "https://data.sec.gov");
        assert_eq!((config.requests_per_second, config.concurrency), (10.0, 8));
        for (name, value) in [
            ("SEC_REQUESTS_PER_SECOND", "0"),
            ("SEC_REQUESTS_PER_SECOND", "NaN"),
            ("SEC_BLOCK_PAUSE_SECS", "0"),
            ("SCRAPER_CONCURRENCY", "0"),
            ("SEC_BASE_URL", "ftp://sec"),
        ] {
            let error = SecConfig::from_source(&[base, (name, value)])
                .unwrap_err()
                .to_string();
            assert!(error.contains(name), "{name}={value}: {error}");
        }
        assert!(SecConfig::from_source(&[("SEC_USER_AGENT", "ops@lzstock.dev")]).is_err());
    }

    #[test]
    fn the_sec_user_agent_needs_a_contact_address() {
        assert!(SecConfig::from_source(&[("SEC_USER_AGENT", "LZStock")]).is_err());
        assert!(SecConfig::from_source(&[("SEC_USER_AGENT", "LZStock\tops@lzstock.dev")]).is_err());
        assert!(SecConfig::from_source(&[("SEC_USER_AGENT", "LZStöck ops@lzstock.dev")]).is_err());
        assert!(SecConfig::from_source(&[("SEC_USER_AGENT", "LZStock ops@lzstock.dev")]).is_ok());
    }

    #[test]
    fn a_bad_schedule_names_the_variable() {
        let err = scraper_schedule(&[("SCRAPER_SCHEDULE", "nightly")]).unwrap_err();
        assert!(err.to_string().contains("SCRAPER_SCHEDULE"));
    }
}
