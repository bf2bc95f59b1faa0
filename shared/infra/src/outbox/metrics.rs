//! The outbox relay's counters.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// The relay's counters, for a process's `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct OutboxMetrics {
    published: Counter,
    failed: Counter,
    parked: Counter,
    pruned: Counter,
}

impl OutboxMetrics {
    /// Registers the counters as `events_published`, `publish_failures`, `events_parked`
    /// and `events_pruned` in `registry` (which a caller gives its prefix, e.g.
    /// `lzstock_outbox`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "events_published",
            "Outbox events the stream acknowledged",
            self.published.clone(),
        );
        registry.register(
            "publish_failures",
            "Outbox publishes that failed while the broker answered",
            self.failed.clone(),
        );
        registry.register(
            "events_parked",
            "Outbox events parked after too many failed attempts",
            self.parked.clone(),
        );
        registry.register(
            "events_pruned",
            "Published outbox events deleted after their retention",
            self.pruned.clone(),
        );
    }
}

impl OutboxMetrics {
    pub(super) fn published(&self) {
        self.published.inc();
    }

    pub(super) fn failed(&self) {
        self.failed.inc();
    }

    pub(super) fn parked(&self) {
        self.parked.inc();
    }

    pub(super) fn pruned(&self, rows: u64) {
        self.pruned.inc_by(rows);
    }
}
