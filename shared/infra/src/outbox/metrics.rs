//! The outbox relay's counters: each relay keeps its own (for its owner and tests to read)
//! and adds to the process's `metrics` facade, which a host exports:
//! `lzstock_outbox_events_published_total`, `lzstock_outbox_publish_failures_total`,
//! `lzstock_outbox_events_parked_total` and `lzstock_outbox_events_pruned_total`.

use std::sync::atomic::{AtomicU64, Ordering};

/// One relay's counts since it was made.
#[derive(Debug, Default)]
pub struct OutboxMetrics {
    published: AtomicU64,
    failed: AtomicU64,
    parked: AtomicU64,
    pruned: AtomicU64,
}

impl OutboxMetrics {
    /// Events the stream acknowledged.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Publishes that failed while the broker answered.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Events parked after too many failed attempts.
    pub fn parked(&self) -> u64 {
        self.parked.load(Ordering::Relaxed)
    }

    /// Published events deleted after their retention.
    pub fn pruned(&self) -> u64 {
        self.pruned.load(Ordering::Relaxed)
    }

    pub(super) fn count_published(&self, events: usize) {
        let events = u64::try_from(events).unwrap_or(u64::MAX);
        self.published.fetch_add(events, Ordering::Relaxed);
        metrics::counter!("lzstock_outbox_events_published_total").increment(events);
    }

    pub(super) fn count_failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("lzstock_outbox_publish_failures_total").increment(1);
    }

    pub(super) fn count_parked(&self) {
        self.parked.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("lzstock_outbox_events_parked_total").increment(1);
    }

    pub(super) fn count_pruned(&self, rows: u64) {
        self.pruned.fetch_add(rows, Ordering::Relaxed);
        metrics::counter!("lzstock_outbox_events_pruned_total").increment(rows);
    }
}
