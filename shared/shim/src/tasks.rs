//! A process's long-running tasks (consumer loops, listeners, relays, servers), none of
//! them fire-and-forget: each runs under [`supervise`], which restarts it after an error or
//! a panic with a capped, jittered backoff, counts the restart
//! (`lzstock_task_restarts_total{task}`), shows whether it runs
//! (`lzstock_tasks_running{task}`), and tells readiness ([`TaskHealth`]) when it has been down
//! longer than its restart should take.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use futures::FutureExt;

use crate::backoff::Backoff;

/// The delays between restarts of a task that keeps failing.
pub const RESTART_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

/// A task that ran this long before failing starts again from the shortest delay.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// How long past its restart delay a task may stay down before readiness fails.
const RESTART_GRACE: Duration = Duration::from_secs(2);

/// How long a restarted task must keep running to count as recovered.
const STEADY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, Default)]
struct TaskState {
    /// When its current run started, while it runs.
    running_since: Option<Instant>,
    /// When its current streak of failures began (a run that lasted [`STEADY`] ends it),
    /// and how long its first restart may take.
    failing_since: Option<(Instant, Duration)>,
}

impl TaskState {
    fn is_failing(&self) -> bool {
        let steady = self
            .running_since
            .is_some_and(|since| since.elapsed() >= STEADY);
        !steady
            && self
                .failing_since
                .is_some_and(|(since, allowed)| since.elapsed() > allowed + RESTART_GRACE)
    }
}

/// The states of a process's supervised tasks. Cheap to clone; clones share the states.
#[derive(Debug, Clone, Default)]
pub struct TaskHealth {
    tasks: Arc<Mutex<BTreeMap<String, TaskState>>>,
}

impl TaskHealth {
    /// No task yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn update(&self, task: &str, change: impl FnOnce(&mut TaskState)) {
        if let Ok(mut tasks) = self.tasks.lock() {
            change(tasks.entry(task.to_owned()).or_default());
        }
    }

    /// The tasks that have been failing (down, or restarted and failing again) for longer
    /// than their first restart should take: a process with any is not ready. A task counts
    /// as recovered once a run has lasted a few seconds.
    #[must_use]
    pub fn failing(&self) -> Vec<String> {
        let Ok(tasks) = self.tasks.lock() else {
            return vec!["(task states unreadable)".to_owned()];
        };
        tasks
            .iter()
            .filter(|(_, state)| state.is_failing())
            .map(|(task, _)| task.clone())
            .collect()
    }

    /// `/healthz` of a host that has no other dependency to report: 200 `{"status": "ok"}`,
    /// or 503 with the failing tasks.
    #[must_use]
    pub fn readiness(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let failing = self.failing();
        let status = if failing.is_empty() {
            axum::http::StatusCode::OK
        } else {
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        };
        let body = serde_json::json!({
            "status": if failing.is_empty() { "ok" } else { "unavailable" },
            "tasks": {"failing": failing},
        });
        (status, axum::Json(body)).into_response()
    }
}

/// Runs task `name` — `start(shutdown())` — until it ends without error or `shutdown()`
/// resolves. An error or a panic is logged, counted and followed by a restart after
/// [`RESTART_BACKOFF`] (from the shortest delay again once a run lasted a minute). Returns
/// what the last run returned, or `None` when shutdown came during a backoff.
pub async fn supervise<S, SF, R, RF, T, E>(
    name: &str,
    health: &TaskHealth,
    shutdown: S,
    mut start: R,
) -> Option<T>
where
    S: Fn() -> SF,
    SF: Future<Output = ()>,
    R: FnMut(SF) -> RF,
    RF: Future<Output = Result<T, E>>,
    E: Display,
{
    let task = name.to_owned();
    let running = metrics::gauge!("lzstock_tasks_running", "task" => task.clone());
    let mut restarts = 0_u64;
    loop {
        let started = Instant::now();
        health.update(name, |state| state.running_since = Some(started));
        running.set(1.0);
        let outcome = AssertUnwindSafe(start(shutdown())).catch_unwind().await;
        running.set(0.0);
        let reason = match outcome {
            Ok(Ok(done)) => {
                health.update(name, |state| *state = TaskState::default());
                return Some(done);
            }
            Ok(Err(error)) => error.to_string(),
            Err(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| format!("panicked: {s}"))
                .or_else(|| {
                    panic
                        .downcast_ref::<String>()
                        .map(|s| format!("panicked: {s}"))
                })
                .unwrap_or_else(|| "panicked".to_owned()),
        };
        if started.elapsed() >= HEALTHY_RUN {
            restarts = 0;
        }
        restarts += 1;
        let delay = RESTART_BACKOFF.delay(restarts, restarts ^ u64::from(std::process::id()));
        health.update(name, |state| {
            state.running_since = None;
            // A run that lasted ends the streak; otherwise it goes on from its first failure.
            if started.elapsed() >= STEADY || state.failing_since.is_none() {
                state.failing_since = Some((Instant::now(), delay));
            }
        });
        metrics::counter!("lzstock_task_restarts_total", "task" => task.clone()).increment(1);
        tracing::error!(task = name, %reason, restart_in = ?delay, "a task stopped; restarting it");
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
    async fn a_failing_task_is_restarted_until_it_ends_well() {
        let health = TaskHealth::new();
        let runs = AtomicUsize::new(0);
        let done = supervise("flaky", &health, std::future::pending::<()>, |_stop| {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            async move {
                match run {
                    0 => Err("the broker went away"),
                    1 => panic!("a bug"),
                    _ => Ok(run),
                }
            }
        })
        .await;
        assert_eq!(done, Some(2));
        assert!(health.failing().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_failing_longer_than_its_restart_delay_makes_the_process_unready() {
        let health = TaskHealth::new();
        let watched = health.clone();
        let healed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let heals = Arc::clone(&healed);
        tokio::spawn(async move {
            supervise("listener", &watched, std::future::pending::<()>, |_stop| {
                let healed = heals.load(Ordering::SeqCst);
                async move {
                    if healed {
                        std::future::pending::<()>().await;
                    }
                    Err::<(), _>("always")
                }
            })
            .await
        });
        // The first restart waits up to a second: inside it, the task is not failing yet.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(health.failing().is_empty());
        // Restarted and failing again and again: failing, from the first failure on.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(health.failing(), ["listener"]);
        // Once a restart holds for a few seconds, it has recovered.
        healed.store(true, Ordering::SeqCst);
        tokio::time::sleep(RESTART_BACKOFF.max + STEADY + RESTART_GRACE).await;
        assert!(health.failing().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_the_backoff_stops_restarting() {
        let health = TaskHealth::new();
        let done: Option<()> = supervise(
            "broken",
            &health,
            || std::future::ready(()),
            |_stop| async { Err::<(), _>("always") },
        )
        .await;
        assert_eq!(done, None);
    }
}
