//! Where metrics go. Code counts through the `metrics` facade (`metrics::counter!` and
//! friends); this module installs the one exporter the host expects: a Prometheus registry
//! rendered at `/metrics` on a standalone host, or CloudWatch Embedded Metric Format lines
//! written to stdout at the end of each Lambda invocation. Label values that come from
//! outside (subjects, routes) go through [`bounded`], so a publisher inventing names cannot
//! grow memory without bound.

mod emf;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::header;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use emf::{EmfRecorder, EmfSettings};

use crate::Host;

/// The installed exporter.
#[derive(Clone)]
pub enum Meters {
    /// Prometheus, rendered on request.
    Prometheus(PrometheusHandle),
    /// CloudWatch EMF, flushed per invocation.
    Emf(Arc<EmfRecorder>),
    /// Another recorder was installed first (a test); nothing to render or flush here.
    Elsewhere,
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Prometheus(_) => "Meters::Prometheus",
            Self::Emf(_) => "Meters::Emf",
            Self::Elsewhere => "Meters::Elsewhere",
        })
    }
}

static INSTALLED: OnceLock<Meters> = OnceLock::new();

/// The buckets of every Prometheus histogram (all of them durations, in seconds): from a
/// millisecond to a minute, so `histogram_quantile` works across hosts and routes.
const DURATION_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Installs the exporter `host` expects, once per process, with its settings from
/// `source` (`METRICS_NAMESPACE`, `METRICS_DIMENSIONS`; see [`EmfSettings`]); later calls
/// return the first. A binary calls this at start, so a malformed setting stops it there.
///
/// # Errors
/// When a setting is malformed, on any host.
pub fn install_from(
    source: &dyn crate::config::Source,
    host: Host,
) -> Result<Meters, crate::config::ConfigError> {
    let settings = EmfSettings::from_source(source)?;
    Ok(install_with(host, settings))
}

/// The installed exporter, or the one `host` expects with default settings when none is
/// installed yet (a library's code, a test).
pub fn install(host: Host) -> Meters {
    if let Some(meters) = INSTALLED.get() {
        return meters.clone();
    }
    let settings = EmfSettings::from_source(&crate::config::ProcessEnv).unwrap_or_default();
    install_with(host, settings)
}

fn install_with(host: Host, settings: EmfSettings) -> Meters {
    INSTALLED
        .get_or_init(|| match host {
            Host::Lambda => {
                let recorder = Arc::new(EmfRecorder::new(settings));
                match metrics::set_global_recorder(emf::Shared(Arc::clone(&recorder))) {
                    Ok(()) => Meters::Emf(recorder),
                    Err(_) => Meters::Elsewhere,
                }
            }
            Host::Standalone => match PrometheusBuilder::new()
                .set_buckets(&DURATION_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
            {
                Ok(handle) => Meters::Prometheus(handle),
                Err(_) => Meters::Elsewhere,
            },
        })
        .clone()
}

impl Meters {
    /// The Prometheus text exposition, on a standalone host.
    #[must_use]
    pub fn render(&self) -> Option<String> {
        match self {
            Self::Prometheus(handle) => Some(handle.render()),
            _ => None,
        }
    }

    /// Writes what was counted since the last flush as EMF lines to stdout, on Lambda.
    pub fn flush(&self) {
        if let Self::Emf(recorder) = self {
            recorder.flush_to_stdout();
        }
    }

    /// `GET /metrics`: the Prometheus exposition (404 where metrics leave another way).
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let meters = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let meters = meters.clone();
                async move {
                    match meters.render() {
                        Some(text) => (
                            axum::http::StatusCode::OK,
                            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                            text,
                        ),
                        None => (
                            axum::http::StatusCode::NOT_FOUND,
                            [(header::CONTENT_TYPE, "text/plain")],
                            "metrics leave this host as CloudWatch EMF".to_owned(),
                        ),
                    }
                }
            }),
        )
    }
}

/// How many distinct values one label may take; later ones are reported as `other`.
pub const MAX_LABEL_VALUES: usize = 200;

/// `value`, or `other` once `label` has seen [`MAX_LABEL_VALUES`] distinct values.
#[must_use]
pub fn bounded(label: &'static str, value: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<(&'static str, String)>>> = OnceLock::new();
    let Ok(mut seen) = SEEN.get_or_init(Mutex::default).lock() else {
        return "other".into();
    };
    let key = (label, value.to_owned());
    if seen.contains(&key) {
        return key.1;
    }
    if seen.iter().filter(|(l, _)| *l == label).count() >= MAX_LABEL_VALUES {
        return "other".into();
    }
    seen.insert(key.clone());
    key.1
}

/// Writes what was counted since the last flush, where the installed exporter needs it
/// (EMF on Lambda); a no-op elsewhere.
pub fn flush() {
    if let Some(meters) = INSTALLED.get() {
        meters.flush();
    }
}

/// `METRICS_PORT`: where a standalone host without an HTTP server of its own (the events
/// function, the scraper's cron mode) serves `/metrics`; unset, it serves none.
///
/// # Errors
/// When it is set but is not a port number.
pub fn port_from_env(
    source: &dyn crate::config::Source,
) -> Result<Option<u16>, crate::config::ConfigError> {
    crate::config::optional(source, "METRICS_PORT")
        .map(|raw| {
            raw.trim()
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or(crate::config::ConfigError::Malformed {
                    name: "METRICS_PORT",
                    reason: format!("{raw:?} is not a port number (1-65535)"),
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_keeps_at_most_its_quota_of_values() {
        for n in 0..MAX_LABEL_VALUES {
            assert_eq!(bounded("test_label", &format!("v{n}")), format!("v{n}"));
        }
        assert_eq!(bounded("test_label", "one too many"), "other");
        assert_eq!(bounded("test_label", "v3"), "v3", "known values stay");
        assert_eq!(bounded("another_label", "x"), "x");
    }
}
