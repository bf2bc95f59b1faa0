//! Keeping a route's loop alive: a panic inside it is caught, counted and the loop started
//! again after a backoff, while the process's other routes go on.
//!
//! The messages the panicking loop held were never settled; the server redelivers them
//! after `ack_wait`, so a panic delays them and loses none.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;

use super::metrics::BridgeMetrics;
use crate::envelope::Backoff;

/// The delays between restarts of a loop that keeps panicking.
pub const RESTART_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

/// A loop that ran this long before panicking starts again from the shortest delay.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs `start(shutdown())` until it returns, starting it again after each panic (with
/// [`RESTART_BACKOFF`] between restarts) unless `shutdown()` resolves meanwhile. Each
/// panic is logged with its message and counted in `lzstock_bridge_route_panics_total`.
pub async fn supervise<S, SF, R, RF, T>(
    route: &str,
    metrics: &BridgeMetrics,
    shutdown: S,
    start: R,
) -> Option<T>
where
    S: Fn() -> SF,
    SF: Future<Output = ()>,
    R: Fn(SF) -> RF,
    RF: Future<Output = T>,
{
    let mut restarts = 0_u64;
    loop {
        let started = Instant::now();
        let panic = match AssertUnwindSafe(start(shutdown())).catch_unwind().await {
            Ok(done) => return Some(done),
            Err(panic) => panic,
        };
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        metrics.panicked(route);
        if started.elapsed() >= HEALTHY_RUN {
            restarts = 0;
        }
        restarts += 1;
        let delay = RESTART_BACKOFF.delay(restarts, restarts);
        tracing::error!(route, panic = %message, restart_in = ?delay, "a route's loop panicked; restarting it");
        tokio::select! {
            () = shutdown() => return None,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_loop_is_restarted_and_counted() {
        let metrics = BridgeMetrics::new();
        let runs = AtomicUsize::new(0);
        let done = supervise("flaky", &metrics, std::future::pending::<()>, |_shutdown| {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(run >= 2, "bug in run {run}");
                run
            }
        })
        .await;
        assert_eq!(done, Some(2));
        assert!(metrics
            .render()
            .contains("lzstock_bridge_route_panics_total{route=\"flaky\"} 2"));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_the_backoff_stops_restarting() {
        let metrics = BridgeMetrics::new();
        let done: Option<()> = supervise(
            "broken",
            &metrics,
            || std::future::ready(()),
            |_shutdown| async { panic!("always") },
        )
        .await;
        assert_eq!(done, None);
    }
}
