//! The bridge's Prometheus metrics: per subject, what was delivered and what became of it;
//! per route, what is still pending and how long invokes take.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubjectLabels {
    subject: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// What happened to a message, as counted per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Delivered = 0,
    Acked = 1,
    Retried = 2,
    Rejected = 3,
    DeadLettered = 4,
}

/// One batch's counts, added to the metrics at once: a label lookup per subject per batch
/// rather than several per message.
#[derive(Debug, Default)]
pub(crate) struct Tally<'a> {
    subjects: Vec<(&'a str, [u64; 5])>,
}

impl<'a> Tally<'a> {
    pub(crate) fn count(&mut self, subject: &'a str, what: Count) {
        let index = what as usize;
        // A batch holds few subjects: a scan beats hashing.
        match self.subjects.iter_mut().find(|(s, _)| *s == subject) {
            Some((_, counts)) => counts[index] += 1,
            None => {
                let mut counts = [0; 5];
                counts[index] = 1;
                self.subjects.push((subject, counts));
            }
        }
    }
}

/// Counters and histograms shared by every consumer of one process; cheap to clone.
#[derive(Clone)]
pub struct BridgeMetrics {
    registry: Arc<Registry>,
    delivered: Family<SubjectLabels, Counter>,
    acked: Family<SubjectLabels, Counter>,
    retried: Family<SubjectLabels, Counter>,
    rejected: Family<SubjectLabels, Counter>,
    dead_lettered: Family<SubjectLabels, Counter>,
    pending: Family<RouteLabels, Gauge>,
    stalls: Family<RouteLabels, Counter>,
    panics: Family<RouteLabels, Counter>,
    invoke_seconds: Family<RouteLabels, Histogram>,
}

impl std::fmt::Debug for BridgeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeMetrics").finish_non_exhaustive()
    }
}

impl Default for BridgeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl BridgeMetrics {
    /// A fresh set of metrics, all at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::with_others(|_| {})
    }

    /// A fresh set of metrics, with the process's other metrics (the outbox relay's, say)
    /// registered by `others` in the same registry, so one `/metrics` serves them all.
    #[must_use]
    pub fn with_others(others: impl FnOnce(&mut Registry)) -> Self {
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("lzstock_bridge");
        let delivered = Family::<SubjectLabels, Counter>::default();
        let acked = Family::<SubjectLabels, Counter>::default();
        let retried = Family::<SubjectLabels, Counter>::default();
        let rejected = Family::<SubjectLabels, Counter>::default();
        let dead_lettered = Family::<SubjectLabels, Counter>::default();
        let pending = Family::<RouteLabels, Gauge>::default();
        let stalls = Family::<RouteLabels, Counter>::default();
        let panics = Family::<RouteLabels, Counter>::default();
        let invoke_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "messages_delivered",
            "Messages delivered to the bridge",
            delivered.clone(),
        );
        registry.register("messages_acked", "Messages acknowledged", acked.clone());
        registry.register(
            "messages_retried",
            "Messages negatively acknowledged with a backoff delay",
            retried.clone(),
        );
        registry.register(
            "messages_rejected",
            "Messages their handler rejected as poison",
            rejected.clone(),
        );
        registry.register(
            "messages_dead_lettered",
            "Messages copied to the dead-letter stream",
            dead_lettered.clone(),
        );
        registry.register(
            "messages_pending",
            "Messages in the stream not yet delivered to the route's consumer",
            pending.clone(),
        );
        registry.register(
            "consumer_stalls",
            "Times a consumer stopped answering and was re-subscribed",
            stalls.clone(),
        );
        registry.register(
            "route_panics",
            "Times a route's loop panicked and was restarted",
            panics.clone(),
        );
        registry.register(
            "invoke_duration_seconds",
            "How long invoking the function with one batch took",
            invoke_seconds.clone(),
        );
        others(&mut root);
        Self {
            registry: Arc::new(root),
            delivered,
            acked,
            retried,
            rejected,
            dead_lettered,
            pending,
            stalls,
            panics,
            invoke_seconds,
        }
    }

    fn subject(subject: &str) -> SubjectLabels {
        SubjectLabels {
            subject: subject.to_owned(),
        }
    }

    fn route(route: &str) -> RouteLabels {
        RouteLabels {
            route: route.to_owned(),
        }
    }

    /// Adds one batch's counts.
    pub(crate) fn add(&self, tally: &Tally<'_>) {
        let families = [
            &self.delivered,
            &self.acked,
            &self.retried,
            &self.rejected,
            &self.dead_lettered,
        ];
        for (subject, counts) in &tally.subjects {
            let labels = Self::subject(subject);
            for (family, &count) in families.iter().zip(counts) {
                if count > 0 {
                    family.get_or_create(&labels).inc_by(count);
                }
            }
        }
    }

    /// Counts a message on `subject` copied to the dead-letter stream.
    pub fn dead_lettered(&self, subject: &str) {
        self.dead_lettered
            .get_or_create(&Self::subject(subject))
            .inc();
    }

    /// Sets how many messages wait for `route`.
    pub fn pending(&self, route: &str, pending: u64) {
        self.pending
            .get_or_create(&Self::route(route))
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Counts a stalled consumer of `route`.
    pub fn stalled(&self, route: &str) {
        self.stalls.get_or_create(&Self::route(route)).inc();
    }

    /// Counts a panic in a loop of `route`.
    pub fn panicked(&self, route: &str) {
        self.panics.get_or_create(&Self::route(route)).inc();
    }

    /// Records how long one invoke for `route` took.
    pub fn invoked(&self, route: &str, took: Duration) {
        self.invoke_seconds
            .get_or_create(&Self::route(route))
            .observe(took.as_secs_f64());
    }

    /// The metrics in the Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// `GET /metrics`.
    pub fn router(&self) -> Router {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move {
                    (
                        [(
                            CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        )
    }
}
