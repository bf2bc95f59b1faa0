//! Telemetry initialisation: the one place that sets up `tracing` for every binary.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use crate::Host;

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for CloudWatch and log shippers.
    Json,
    /// Human-readable multi-line output for a terminal.
    Pretty,
}

impl LogFormat {
    /// Chooses the format: `LOG_FORMAT=json|pretty` wins; otherwise JSON on Lambda, where
    /// CloudWatch indexes the fields, and pretty everywhere else.
    #[must_use]
    pub fn detect(host: Host) -> Self {
        match std::env::var("LOG_FORMAT").ok().as_deref() {
            Some("json") => Self::Json,
            Some("pretty") => Self::Pretty,
            _ if host == Host::Lambda => Self::Json,
            _ => Self::Pretty,
        }
    }
}

/// Installs the global `tracing` subscriber, writing to stderr (stdout stays free for a
/// command's output; Lambda sends both to CloudWatch), with the level from `RUST_LOG`
/// (default `info`) and the format from [`LogFormat::detect`].
///
/// Calling it twice is harmless: the second call keeps the first subscriber.
pub fn init() {
    init_with(LogFormat::detect(Host::detect()));
}

/// Installs the global subscriber with an explicit format.
pub fn init_with(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr)
                    .compact(),
            )
            .try_init(),
    };
    // A subscriber already installed (a test harness, a second init) is fine to keep.
    drop(result);
}
