//! The bridge's metrics, through the process's `metrics` facade (see [`crate::meters`]):
//! per subject, what was delivered and what became of it; per route, how far its consumer
//! is behind, how many deliveries await their ack, and how long invokes take.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `lzstock_bridge_messages_{delivered,acked,retried,rejected,dead_lettered}_total` | subject | messages, by fate |
//! | `lzstock_bridge_messages_pending` | route | in the stream, not yet delivered to the consumer |
//! | `lzstock_bridge_messages_ack_pending` | route | delivered, not yet settled |
//! | `lzstock_bridge_max_ack_pending` | route | the consumer's limit on the former |
//! | `lzstock_bridge_consumer_stalls_total` | route | times a consumer was re-subscribed |
//! | `lzstock_bridge_route_panics_total` | route | times a route's loop was restarted |
//! | `lzstock_bridge_invoke_duration_seconds` | route | one batch's invoke |
//! | `lzstock_bridge_invoke_failures_total` | route | invokes that failed as a whole (crash, timeout, unreachable, a malformed answer) |

use std::time::Duration;

use axum::Router;

use crate::meters::{self, bounded, Meters};
use crate::Host;

/// What happened to a message, as counted per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Delivered = 0,
    Acked = 1,
    Retried = 2,
    Rejected = 3,
    DeadLettered = 4,
}

/// The counter of each [`Count`], in its order.
const COUNTERS: [&str; 5] = [
    "lzstock_bridge_messages_delivered_total",
    "lzstock_bridge_messages_acked_total",
    "lzstock_bridge_messages_retried_total",
    "lzstock_bridge_messages_rejected_total",
    "lzstock_bridge_messages_dead_lettered_total",
];

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

/// A consumer's state as the server reports it, for [`BridgeMetrics::consumer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerState {
    /// Messages in the stream not yet delivered to the consumer.
    pub pending: u64,
    /// Deliveries awaiting their ack.
    pub ack_pending: u64,
    /// The consumer's `max_ack_pending`.
    pub max_ack_pending: i64,
}

/// The bridge's metrics; cheap to clone. Every instance counts into the process's one
/// recorder, installed on first use (Prometheus, since the bridge runs standalone).
#[derive(Debug, Clone)]
pub struct BridgeMetrics {
    meters: Meters,
}

impl Default for BridgeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

// Gauges take f64; counts this large lose nothing that matters on a dashboard.
#[allow(clippy::cast_precision_loss)]
fn gauge_value(count: u64) -> f64 {
    count as f64
}

impl BridgeMetrics {
    /// The process's metrics, installing its Prometheus recorder if none is yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            meters: meters::install(Host::Standalone),
        }
    }

    /// Adds one batch's counts.
    pub(crate) fn add(&self, tally: &Tally<'_>) {
        for (subject, counts) in &tally.subjects {
            let subject = bounded("subject", subject);
            for (name, &count) in COUNTERS.iter().zip(counts) {
                if count > 0 {
                    metrics::counter!(*name, "subject" => subject.clone()).increment(count);
                }
            }
        }
    }

    /// Counts a message on `subject` copied to the dead-letter stream.
    pub fn dead_lettered(&self, subject: &str) {
        metrics::counter!(COUNTERS[Count::DeadLettered as usize],
            "subject" => bounded("subject", subject))
        .increment(1);
    }

    /// Sets how many messages wait for `route`.
    pub fn pending(&self, route: &str, pending: u64) {
        metrics::gauge!("lzstock_bridge_messages_pending", "route" => bounded("route", route))
            .set(gauge_value(pending));
    }

    /// Sets what the server says of `route`'s consumer.
    pub fn consumer(&self, route: &str, state: ConsumerState) {
        let route = bounded("route", route);
        self.pending(&route, state.pending);
        metrics::gauge!("lzstock_bridge_messages_ack_pending", "route" => route.clone())
            .set(gauge_value(state.ack_pending));
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("lzstock_bridge_max_ack_pending", "route" => route)
            .set(state.max_ack_pending as f64);
    }

    /// Counts a stalled consumer of `route`.
    pub fn stalled(&self, route: &str) {
        metrics::counter!("lzstock_bridge_consumer_stalls_total", "route" => bounded("route", route))
            .increment(1);
    }

    /// Counts a panic in a loop of `route`.
    pub fn panicked(&self, route: &str) {
        metrics::counter!("lzstock_bridge_route_panics_total", "route" => bounded("route", route))
            .increment(1);
    }

    /// Records how long one invoke for `route` took.
    pub fn invoked(&self, route: &str, took: Duration) {
        metrics::histogram!("lzstock_bridge_invoke_duration_seconds",
            "route" => bounded("route", route))
        .record(took.as_secs_f64());
    }

    /// Counts an invoke of `route` that Lambda throttled.
    pub fn invoke_throttled(&self, route: &str) {
        metrics::counter!("lzstock_bridge_invoke_throttles_total",
            "route" => bounded("route", route))
        .increment(1);
    }

    /// Counts an invoke that failed as a whole on `route`.
    pub fn invoke_failed(&self, route: &str) {
        metrics::counter!("lzstock_bridge_invoke_failures_total",
            "route" => bounded("route", route))
        .increment(1);
    }

    /// The process's metrics in the Prometheus text format (empty when another recorder
    /// than this module's was installed first).
    #[must_use]
    pub fn render(&self) -> String {
        self.meters.render().unwrap_or_default()
    }

    /// `GET /metrics`.
    pub fn router(&self) -> Router {
        self.meters.router()
    }
}
