//! The one shutdown signal every standalone host listens to.

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, whichever comes first.
///
/// Hosts pass this future to their server or consumer loop so they stop taking new work,
/// finish what is in flight, and exit 0.
pub async fn signal() {
    let ctrl_c = async {
        // If the handler cannot be installed the process can still be stopped by SIGTERM.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        () = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}
