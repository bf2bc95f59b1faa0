//! The bridge's configuration, and the routes it pulls for.
//!
//! A route is one durable pull consumer on the events stream, filtered to some subjects,
//! whose batches go to one Lambda function. Routes come from `BRIDGE_ROUTES_FILE` (JSON)
//! or, without a file, from `BRIDGE_FUNCTION`: one route for every subject under the root.
//! With neither, the bridge invokes nothing (standalone, the events function consumes
//! JetStream itself) and only provisions streams, relays the outbox and dead-letters
//! from advisories.
//!
//! ```json
//! {"routes": [
//!   {"name": "signups", "function": "events", "subjects": ["users.signed_up"],
//!    "batch_size": 10, "max_wait_ms": 1000, "max_deliver": 5, "ack_wait_ms": 30000,
//!    "max_ack_pending": 1000, "min_concurrency": 1, "max_concurrency": 10,
//!    "invoke_timeout_ms": 930000,
//!    "max_invoke_bytes": 5900000, "start": "all"}
//! ]}
//! ```
//!
//! Subjects are relative to `EVENTS_SUBJECT_ROOT`; every field but `name`, `function` and
//! `subjects` falls back to the `BRIDGE_*` variable of the same meaning. Route names are
//! unique (each names its durable consumer), and every value is checked against the range
//! the bridge works with: a bad one stops the bridge at start, naming the route and field.

use std::time::Duration;

use lzstock_infra::streams::EventStreams;
use lzstock_shim::bridge::settings::InvalidSetting;
use lzstock_shim::bridge::ConsumerSettings;
use lzstock_shim::config::{optional, parsed_or, ConfigError, Source};
use serde::Deserialize;

use lzstock_app::config::{
    consumer_defaults, ConsumerVariables, DatabaseConfig, HttpConfig, NatsConfig, OutboxConfig,
};
use lzstock_app::resources;

/// The variables the bridge may read from Secrets Manager (`*_SECRET`).
pub const SECRETS: [&str; 2] = ["DATABASE_URL", "NATS_CREDS"];

/// Everything the bridge reads from the environment.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// NATS.
    pub nats: NatsConfig,
    /// Stream names.
    pub streams: EventStreams,
    /// The port of `/healthz` and `/metrics` (default 8090).
    pub http: HttpConfig,
    /// PostgreSQL, when `DATABASE_URL` is set: the bridge then relays the outbox to
    /// JetStream, which Lambda-hosted functions cannot do between invocations.
    pub database: Option<DatabaseConfig>,
    /// The routes to pull and invoke; empty when the bridge invokes nothing.
    pub routes: Vec<BridgeRoute>,
    /// How the outbox relay retries, parks and prunes (with `DATABASE_URL`).
    pub outbox: OutboxConfig,
    /// `AWS_ENDPOINT_URL_LAMBDA`, when set: where invokes go instead of Lambda's regional
    /// endpoint (`cargo lambda watch` locally). The AWS SDK reads it, and `AWS_REGION`,
    /// itself; both are checked here so a malformed one stops the bridge at start.
    pub lambda_endpoint: Option<String>,
}

/// One durable consumer and the function its batches go to.
#[derive(Debug, Clone)]
pub struct BridgeRoute {
    /// The Lambda function invoked with each batch.
    pub function: String,
    /// The fewest invokes of this route at once; the bridge rises from here while the
    /// backlog grows and invokes succeed.
    pub min_concurrency: usize,
    /// The most invokes of this route at once (as many pull loops share the durable).
    pub max_concurrency: usize,
    /// How the route's consumer pulls; its durable name is the route's name.
    pub consumer: ConsumerSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    routes: Vec<RouteEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    name: String,
    function: String,
    subjects: Vec<String>,
    batch_size: Option<usize>,
    max_wait_ms: Option<u64>,
    max_deliver: Option<i64>,
    ack_wait_ms: Option<u64>,
    max_ack_pending: Option<i64>,
    min_concurrency: Option<usize>,
    max_concurrency: Option<usize>,
    /// The older name of a fixed concurrency: minimum and maximum at once.
    batches_in_flight: Option<usize>,
    invoke_timeout_ms: Option<u64>,
    max_invoke_bytes: Option<usize>,
    start: Option<String>,
}

impl BridgeConfig {
    /// Parses the configuration.
    ///
    /// # Errors
    /// The first missing or malformed variable, or a routes file that cannot be read or
    /// parsed.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let streams = resources::event_streams(source)?;
        let routes = routes(source, &streams)?;
        Ok(Self {
            nats: NatsConfig::from_source(source)?,
            streams,
            http: HttpConfig::from_source_with_default(source, 8090)?,
            database: optional(source, "DATABASE_URL")
                .map(|_| DatabaseConfig::from_source(source))
                .transpose()?,
            routes,
            outbox: OutboxConfig::from_source(source)?,
            lambda_endpoint: lambda_endpoint(source)?,
        })
    }
}

/// `AWS_ENDPOINT_URL_LAMBDA` (an `http://` or `https://` URL) and `AWS_REGION` (like
/// `eu-west-1`), when set.
fn lambda_endpoint(source: &dyn Source) -> Result<Option<String>, ConfigError> {
    if let Some(region) = optional(source, "AWS_REGION") {
        let parts: Vec<&str> = region.split('-').collect();
        let shaped = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !shaped {
            return Err(ConfigError::Malformed {
                name: "AWS_REGION",
                reason: format!("{region:?} is not a region name like eu-west-1"),
            });
        }
    }
    optional(source, "AWS_ENDPOINT_URL_LAMBDA")
        .map(|url| {
            let url = url.trim().to_owned();
            let host = ["http://", "https://"]
                .iter()
                .find_map(|scheme| url.strip_prefix(scheme));
            match host {
                Some(rest) if !rest.is_empty() => Ok(url),
                _ => Err(ConfigError::Malformed {
                    name: "AWS_ENDPOINT_URL_LAMBDA",
                    reason: "must be an http:// or https:// URL".into(),
                }),
            }
        })
        .transpose()
}

/// The `BRIDGE_*` variables that set the routes' defaults.
const ROUTE_DEFAULTS: ConsumerVariables = ConsumerVariables {
    durable: None,
    batch_size: Some("BRIDGE_BATCH_SIZE"),
    max_wait_ms: Some("BRIDGE_MAX_WAIT_MS"),
    max_deliver: Some("BRIDGE_MAX_DELIVER"),
    ack_wait_ms: Some("BRIDGE_ACK_WAIT_MS"),
    max_ack_pending: Some("BRIDGE_MAX_ACK_PENDING"),
    // Records of a batch run concurrently inside the function, not in the bridge.
    concurrency: None,
    backoff_base_ms: Some("BRIDGE_BACKOFF_BASE_MS"),
    backoff_max_ms: Some("BRIDGE_BACKOFF_MAX_MS"),
    invoke_timeout_ms: Some("BRIDGE_INVOKE_TIMEOUT_MS"),
    max_invoke_bytes: Some("BRIDGE_MAX_INVOKE_BYTES"),
    start: Some("BRIDGE_START"),
};

/// The most invokes one route of one bridge may run at once.
const MAX_CONCURRENCY: usize = 100;

fn check_concurrency(min: usize, max: usize) -> Result<(), String> {
    if min == 0 || max < min || max > MAX_CONCURRENCY {
        return Err(format!(
            "must be 1 <= min <= max <= {MAX_CONCURRENCY}, got {min} and {max}"
        ));
    }
    Ok(())
}

/// `BRIDGE_MIN_CONCURRENCY` and `BRIDGE_MAX_CONCURRENCY` (1 and 10), or
/// `BRIDGE_BATCHES_IN_FLIGHT`, the older name of a fixed concurrency, for both.
fn concurrency_defaults(source: &dyn Source) -> Result<(usize, usize), ConfigError> {
    if optional(source, "BRIDGE_BATCHES_IN_FLIGHT").is_some() {
        let fixed = parsed_or(source, "BRIDGE_BATCHES_IN_FLIGHT", 1_usize)?;
        check_concurrency(fixed, fixed).map_err(|reason| ConfigError::Malformed {
            name: "BRIDGE_BATCHES_IN_FLIGHT",
            reason,
        })?;
        return Ok((fixed, fixed));
    }
    let min = parsed_or(source, "BRIDGE_MIN_CONCURRENCY", 1_usize)?;
    let max = parsed_or(source, "BRIDGE_MAX_CONCURRENCY", 10_usize)?;
    check_concurrency(min, max).map_err(|reason| ConfigError::Malformed {
        name: if min == 0 {
            "BRIDGE_MIN_CONCURRENCY"
        } else {
            "BRIDGE_MAX_CONCURRENCY"
        },
        reason,
    })?;
    Ok((min, max))
}

fn routes(source: &dyn Source, streams: &EventStreams) -> Result<Vec<BridgeRoute>, ConfigError> {
    // One batch record at a time (the default): records of a batch run concurrently inside
    // the function, not in the bridge.
    let defaults = consumer_defaults(streams, "bridge");
    let defaults = ROUTE_DEFAULTS.read(source, defaults, "BRIDGE_ROUTES_FILE")?;
    let concurrency = concurrency_defaults(source)?;
    if let Some(path) = optional(source, "BRIDGE_ROUTES_FILE") {
        let malformed = |reason: String| ConfigError::Malformed {
            name: "BRIDGE_ROUTES_FILE",
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| malformed(format!("{path}: {e}")))?;
        let file: RoutesFile =
            serde_json::from_str(&text).map_err(|e| malformed(format!("{path}: {e}")))?;
        let mut routes: Vec<BridgeRoute> = Vec::with_capacity(file.routes.len());
        for entry in file.routes {
            let route = route_of(entry, &defaults, concurrency, streams)
                .map_err(|e| malformed(format!("{path}: {e}")))?;
            if routes
                .iter()
                .any(|r| r.consumer.durable == route.consumer.durable)
            {
                return Err(malformed(format!(
                    "{path}: route {} appears more than once (a route's name is its durable consumer's)",
                    route.consumer.durable
                )));
            }
            routes.push(route);
        }
        return Ok(routes);
    }
    Ok(optional(source, "BRIDGE_FUNCTION")
        .map(|function| BridgeRoute {
            function,
            min_concurrency: concurrency.0,
            max_concurrency: concurrency.1,
            consumer: defaults,
        })
        .into_iter()
        .collect())
}

fn route_of(
    entry: RouteEntry,
    defaults: &ConsumerSettings,
    concurrency: (usize, usize),
    streams: &EventStreams,
) -> Result<BridgeRoute, String> {
    let valid_name = !entry.name.is_empty()
        && entry.name.len() <= 64
        && entry
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(format!(
            "route name {:?} must be 1 to 64 letters, digits, '-' or '_' (it names the durable consumer)",
            entry.name
        ));
    }
    let name = entry.name;
    let invalid = |field: &str, reason: &str| format!("route {name}: {field} {reason}");
    if entry.function.trim().is_empty() {
        return Err(invalid("function", "must name a function"));
    }
    if entry.subjects.is_empty() {
        return Err(invalid("subjects", "must hold at least one subject"));
    }
    if let Some(subject) = entry.subjects.iter().find(|s| !valid_subject(s)) {
        return Err(invalid(
            "subjects",
            &format!("{subject:?} is not a NATS subject (dot-separated tokens, no spaces)"),
        ));
    }
    let (min_concurrency, max_concurrency) = match entry.batches_in_flight {
        Some(fixed) => (fixed, fixed),
        None => (
            entry.min_concurrency.unwrap_or(concurrency.0),
            entry.max_concurrency.unwrap_or(concurrency.1),
        ),
    };
    if let Err(reason) = check_concurrency(min_concurrency, max_concurrency) {
        let field = match (entry.batches_in_flight, min_concurrency) {
            (Some(_), _) => "batches_in_flight",
            (None, 0) => "min_concurrency",
            (None, _) => "max_concurrency",
        };
        return Err(invalid(field, &reason));
    }
    let start = match entry.start.as_deref() {
        Some(raw) => raw
            .parse()
            .map_err(|reason: String| invalid("start", &reason))?,
        None => defaults.start,
    };
    let consumer = ConsumerSettings {
        filter_subjects: entry
            .subjects
            .iter()
            .map(|subject| streams.subject(subject))
            .collect(),
        batch_size: entry.batch_size.unwrap_or(defaults.batch_size),
        max_wait: entry
            .max_wait_ms
            .map_or(defaults.max_wait, Duration::from_millis),
        max_deliver: entry.max_deliver.unwrap_or(defaults.max_deliver),
        ack_wait: entry
            .ack_wait_ms
            .map_or(defaults.ack_wait, Duration::from_millis),
        max_ack_pending: entry.max_ack_pending.unwrap_or(defaults.max_ack_pending),
        invoke_timeout: entry
            .invoke_timeout_ms
            .map_or(defaults.invoke_timeout, Duration::from_millis),
        max_invoke_bytes: entry.max_invoke_bytes.unwrap_or(defaults.max_invoke_bytes),
        start,
        durable: name.clone(),
        ..defaults.clone()
    };
    consumer
        .validate()
        .map_err(|InvalidSetting { field, reason }| invalid(field, &reason))?;
    Ok(BridgeRoute {
        function: entry.function,
        min_concurrency,
        max_concurrency,
        consumer,
    })
}

/// A subject a route may filter on: dot-separated non-empty tokens without whitespace,
/// `*` and a final `>` as wildcards.
fn valid_subject(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    tokens.iter().enumerate().all(|(i, token)| {
        !token.is_empty()
            && !token.chars().any(|c| c.is_whitespace() || c.is_control())
            && (!token.contains('>') || (*token == ">" && i == tokens.len() - 1))
            && (!token.contains('*') || *token == "*")
    })
}

#[cfg(test)]
mod tests;
