//! What happens around every Lambda invocation, whatever the trigger: it is counted (the
//! process's first as a cold start), its error and duration recorded, and before the
//! runtime answers, the invocation's metrics and spans leave the process. A sandbox is
//! frozen as soon as the answer is sent, and may never thaw: anything still buffered then
//! is lost.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::{meters, telemetry, Host};

/// Runs one Lambda invocation: counts it (and the process's first as a cold start), its
/// error and its duration, then flushes what it counted and the spans it finished.
pub async fn invocation<T, E>(
    run: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    static WARM: AtomicBool = AtomicBool::new(false);
    if !WARM.swap(true, Ordering::Relaxed) {
        metrics::counter!("lzstock_lambda_cold_starts_total").increment(1);
    }
    metrics::counter!("lzstock_lambda_invocations_total").increment(1);
    let started = std::time::Instant::now();
    let result = run.await;
    if result.is_err() {
        metrics::counter!("lzstock_lambda_errors_total").increment(1);
    }
    metrics::histogram!("lzstock_lambda_duration_seconds").record(started.elapsed().as_secs_f64());
    meters::flush();
    telemetry::flush_spans().await;
    result
}

/// [`invocation`] for an HTTP function: each request is one invocation on Lambda; a 5xx
/// counts as an error. Standalone it does nothing.
pub async fn http_invocation(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if Host::detect() == Host::Standalone {
        return next.run(request).await;
    }
    let outcome = invocation(async {
        let response = next.run(request).await;
        if response.status().is_server_error() {
            Err(response)
        } else {
            Ok(response)
        }
    })
    .await;
    outcome.unwrap_or_else(|response| response)
}

/// On Lambda, a process is sent SIGTERM before it is shut down only when an extension is
/// registered (a telemetry layer, say); without a handler it would die with whatever it
/// still buffers. This spawns one: on SIGTERM, what was counted and the finished spans are
/// flushed, and the process exits cleanly. Lambda allows 500 ms for it (2 s with an
/// external extension); the flush is bounded by the exporter's own timeout.
pub fn flush_on_sigterm() {
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return;
    };
    tokio::spawn(async move {
        if terminate.recv().await.is_some() {
            tracing::info!("SIGTERM: flushing metrics and spans before shutdown");
            meters::flush();
            telemetry::flush_spans().await;
            std::process::exit(0);
        }
    });
}
