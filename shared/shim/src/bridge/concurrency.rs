//! How many invokes of a route run at once: between the route's minimum and maximum,
//! following the backlog and Lambda's push-back (additive increase, multiplicative
//! decrease), as Lambda's own event source mappings scale their pollers.
//!
//! A route runs as many pull loops as its maximum; each invokes through a [`Gated`]
//! invoker, which waits for one of the route's slots first. The number of slots starts at
//! the minimum, rises by one (at most once a second) while invokes succeed on full batches
//! (the backlog is there), and halves (never under the minimum) on a throttle or a failed
//! invoke. A loop waiting for a slot keeps its batch reported in progress, as during an
//! invoke. `lzstock_bridge_invokes_in_flight{route}` shows the invokes running.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::invoke::{Invoke, InvokeError};
use crate::batch::{BatchResponse, MessageBatch};
use crate::meters::bounded;

/// The least time between two raises.
const RAISE_EVERY: Duration = Duration::from_secs(1);

/// One route's slots.
#[derive(Debug)]
pub struct Concurrency {
    route: String,
    min: usize,
    max: usize,
    limit: AtomicUsize,
    in_flight: AtomicUsize,
    freed: Notify,
    raised_at: Mutex<Option<Instant>>,
}

impl Concurrency {
    /// Slots for `route`, from `min` to `max` (both at least 1; `max` at least `min`).
    #[must_use]
    pub fn new(route: &str, min: usize, max: usize) -> Self {
        let min = min.max(1);
        let max = max.max(min);
        Self {
            route: route.to_owned(),
            min,
            max,
            limit: AtomicUsize::new(min),
            in_flight: AtomicUsize::new(0),
            freed: Notify::new(),
            raised_at: Mutex::new(None),
        }
    }

    /// The slots now open.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::SeqCst)
    }

    fn gauge(&self) {
        metrics::gauge!("lzstock_bridge_invokes_in_flight",
            "route" => bounded("route", &self.route))
        .set(self.in_flight.load(Ordering::SeqCst) as f64);
    }

    async fn acquire(&self) -> Slot<'_> {
        loop {
            let notified = self.freed.notified();
            let taken = self
                .in_flight
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < self.limit()).then_some(n + 1)
                })
                .is_ok();
            if taken {
                self.gauge();
                return Slot { slots: self };
            }
            notified.await;
        }
    }

    /// An invoke of a full batch succeeded: the backlog is there, one more slot.
    fn raise(&self) {
        let Ok(mut raised_at) = self.raised_at.lock() else {
            return;
        };
        if raised_at.is_some_and(|at| at.elapsed() < RAISE_EVERY) {
            return;
        }
        let raised = self
            .limit
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max).then_some(n + 1)
            });
        if let Ok(from) = raised {
            *raised_at = Some(Instant::now());
            tracing::debug!(route = %self.route, to = from + 1, "invoke concurrency raised");
            self.freed.notify_waiters();
        }
    }

    /// Lambda pushed back (a throttle) or an invoke failed: half the slots.
    fn lower(&self) {
        let lowered = self
            .limit
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                let half = (n / 2).max(self.min);
                (half < n).then_some(half)
            });
        if let Ok(from) = lowered {
            tracing::info!(route = %self.route, from, to = (from / 2).max(self.min), "invoke concurrency lowered");
        }
    }
}

struct Slot<'a> {
    slots: &'a Concurrency,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.slots.gauge();
        self.slots.freed.notify_one();
    }
}

/// An invoker that takes one of the route's slots for each invoke and tells the slots how
/// it went.
#[derive(Debug)]
pub struct Gated<'a, I> {
    inner: &'a I,
    slots: &'a Concurrency,
    batch_size: usize,
}

impl<'a, I> Gated<'a, I> {
    /// `inner`, gated by `slots`; a batch of `batch_size` records is a full one.
    #[must_use]
    pub const fn new(inner: &'a I, slots: &'a Concurrency, batch_size: usize) -> Self {
        Self {
            inner,
            slots,
            batch_size,
        }
    }
}

impl<I: Invoke> Invoke for Gated<'_, I> {
    async fn invoke(&self, batch: &MessageBatch) -> Result<BatchResponse, InvokeError> {
        let _slot = self.slots.acquire().await;
        let answered = self.inner.invoke(batch).await;
        match &answered {
            Ok(_) if batch.records.len() >= self.batch_size => self.slots.raise(),
            Ok(_) => {}
            Err(_) => self.slots.lower(),
        }
        answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_rise_by_one_a_second_and_halve_on_push_back() {
        let slots = Concurrency::new("r", 1, 8);
        for _ in 0..20 {
            slots.raise();
            tokio::time::sleep(RAISE_EVERY).await;
        }
        assert_eq!(slots.limit(), 8, "never over the maximum");
        slots.lower();
        assert_eq!(slots.limit(), 4);
        slots.lower();
        slots.lower();
        slots.lower();
        assert_eq!(slots.limit(), 1, "never under the minimum");
        slots.raise();
        slots.raise();
        assert_eq!(slots.limit(), 2, "at most one raise a second");
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_invokes_run_than_slots_are_open() {
        let slots = Concurrency::new("r", 2, 2);
        let first = slots.acquire().await;
        let _second = slots.acquire().await;
        let third = tokio::time::timeout(Duration::from_secs(1), slots.acquire()).await;
        assert!(third.is_err(), "the third waits");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), slots.acquire()).await;
        assert!(third.is_ok(), "and gets the freed slot");
    }
}
