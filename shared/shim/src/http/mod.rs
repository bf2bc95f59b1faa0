//! Hosting an HTTP function: `lambda_http` on Lambda, an axum router on a server of our
//! own standalone (`server.rs`, within [`HttpLimits`]).

mod limits;
mod server;

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;

pub use limits::HttpLimits;
pub use server::serve_within;

use crate::{shutdown, Host};

/// Why an HTTP host stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum HttpHostError {
    /// The standalone server could not bind its port.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address it tried.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The standalone server failed while serving.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
    /// The Lambda runtime loop failed (for example, the Runtime API went away).
    #[error("Lambda runtime failed: {0}")]
    Lambda(lambda_http::Error),
}

/// Serves `router` on the detected [`Host`].
///
/// On Lambda the router answers API Gateway (REST and HTTP API v2), function URL and ALB
/// events through `lambda_http` (API Gateway holds the client's connection); standalone it
/// listens on `0.0.0.0:port` for HTTP/1.1 and HTTP/2 (prior knowledge) within `limits`
/// until Ctrl-C or SIGTERM, then drains in-flight requests.
///
/// # Errors
/// See [`HttpHostError`].
pub async fn serve(router: Router, port: u16, limits: HttpLimits) -> Result<(), HttpHostError> {
    match Host::detect() {
        Host::Lambda => {
            crate::invocation::flush_on_sigterm();
            lambda_http::run(router)
                .await
                .map_err(HttpHostError::Lambda)
        }
        Host::Standalone => {
            let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| HttpHostError::Bind { addr, source })?;
            serve_within(listener, router, limits, shutdown::signal()).await
        }
    }
}

/// Serves `/metrics`, `/livez` and `/healthz` (200 while no supervised task of `tasks` is
/// failing, 503 naming those that are) on `0.0.0.0:port` within `limits` until `shutdown`
/// resolves, on a standalone host; logs and gives up when the port cannot be bound.
pub async fn serve_metrics(
    meters: crate::meters::Meters,
    tasks: crate::tasks::TaskHealth,
    port: u16,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, %addr, "METRICS_PORT cannot be bound: no /metrics");
            return;
        }
    };
    let router = meters
        .router()
        .route("/livez", axum::routing::get(|| async { "ok" }))
        .route(
            "/healthz",
            axum::routing::get(move || async move { tasks.readiness() }),
        );
    if let Err(error) = serve_within(listener, router, limits, shutdown).await {
        tracing::error!(%error, "the metrics server stopped");
    }
}
