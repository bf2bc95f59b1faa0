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

/// The shutdown signal, listened for once and shared by every part of a process.
///
/// Each call to [`signal`] registers its own listener, so a part that starts listening only
/// after a slow start-up step would miss a SIGTERM that arrived meanwhile and never stop.
/// `Shutdown` listens from the moment it is created, and [`Shutdown::requested`] resolves
/// at once for a signal that came before it was called.
#[derive(Debug, Clone)]
pub struct Shutdown {
    requested: tokio::sync::watch::Receiver<bool>,
}

impl Shutdown {
    /// Starts listening for Ctrl-C and SIGTERM. Must be called inside the Tokio runtime.
    #[must_use]
    pub fn listen() -> Self {
        let (request, requested) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            signal().await;
            let _ = request.send(true);
        });
        Self { requested }
    }

    /// Resolves once shutdown has been asked for, at once if it already has.
    pub fn requested(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut requested = self.requested.clone();
        async move {
            // An error means the listener is gone, which only happens at process exit.
            let _ = requested.wait_for(|asked| *asked).await;
        }
    }
}
