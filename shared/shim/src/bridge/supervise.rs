//! Keeping a route's loop alive: an error or a panic inside it is caught, counted and the
//! loop started again after a backoff, while the process's other routes go on.
//!
//! The messages the failed loop held were never settled; the server redelivers them after
//! `ack_wait`, so a failure delays them and loses none.

use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::metrics::BridgeMetrics;
use crate::tasks::{self, TaskHealth};

pub use crate::tasks::RESTART_BACKOFF;

/// Runs a route's loop as the task `route:<route>` under [`tasks::supervise`]: restarted
/// after an error or a panic, with a backoff, while the process's other routes go on. A
/// panic is also counted in `lzstock_bridge_route_panics_total`.
pub async fn supervise<S, SF, R, RF, T, E>(
    route: &str,
    metrics: &BridgeMetrics,
    health: &TaskHealth,
    shutdown: S,
    start: R,
) -> Option<T>
where
    S: Fn() -> SF,
    SF: Future<Output = ()>,
    R: Fn(SF) -> RF,
    RF: Future<Output = Result<T, E>>,
    E: Display,
{
    let task = format!("route:{route}");
    tasks::supervise(&task, health, shutdown, |stop| {
        AssertUnwindSafe(start(stop))
            .catch_unwind()
            .map(|outcome| match outcome {
                Ok(result) => result,
                Err(panic) => {
                    metrics.panicked(route);
                    std::panic::resume_unwind(panic)
                }
            })
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_loop_is_restarted_and_counted() {
        let metrics = BridgeMetrics::new();
        let health = TaskHealth::new();
        let runs = AtomicUsize::new(0);
        let done = supervise(
            "flaky",
            &metrics,
            &health,
            std::future::pending::<()>,
            |_shutdown| {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                async move {
                    assert!(run >= 2, "bug in run {run}");
                    Ok::<_, String>(run)
                }
            },
        )
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
            &TaskHealth::new(),
            || std::future::ready(()),
            |_shutdown| async { Err::<(), _>("always") },
        )
        .await;
        assert_eq!(done, None);
    }
}
