//! The standalone HTTP server: HTTP/1.1 and HTTP/2 (prior knowledge) on one port, within
//! [`HttpLimits`], draining in-flight requests on shutdown.
//!
//! A connection waits at most `header_timeout` for a request's headers, the first
//! request's included (a client that connects and sends nothing is closed too), and a
//! request at most `body_timeout` from its headers to its answer; past the connection cap,
//! a new connection is closed as soon as it is accepted. Each of these is counted in
//! `lzstock_http_limited_total{limit}`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::limits::HttpLimits;
use super::HttpHostError;

/// How long accepting pauses after an error the listener may recover from (too many open
/// files, say), so a persistent one does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting and waits for the connections in hand to finish their requests.
///
/// # Errors
/// [`HttpHostError::Serve`] when the listener fails for good.
pub async fn serve_within(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HttpHostError> {
    let body_timeout = limits.body_timeout;
    let router = router.layer(axum::middleware::from_fn(move |request, next| {
        within_deadline(body_timeout, request, next)
    }));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) if recoverable(&error) => {
                    tracing::warn!(%error, "accepting a connection failed; pausing");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
                Err(error) => return Err(HttpHostError::Serve(error)),
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            limited("connections");
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            match first_byte(&stream, header_timeout).await {
                FirstByte::Arrived => {}
                FirstByte::Closed => return,
                FirstByte::TimedOut => {
                    limited("headers");
                    return;
                }
            }
            let _ = stream.set_nodelay(true);
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                let header_timeout = error
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_timeout);
                if header_timeout {
                    limited("headers");
                } else {
                    tracing::debug!(%error, "connection ended with an error");
                }
            }
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// What became of a new connection's first byte.
enum FirstByte {
    Arrived,
    /// The client closed (or reset) the connection first.
    Closed,
    TimedOut,
}

/// Waits up to `limit` for the client's first byte: until it comes the server cannot tell
/// HTTP/1.1 from HTTP/2, and no header timeout runs.
async fn first_byte(stream: &TcpStream, limit: Duration) -> FirstByte {
    let mut first = [0_u8; 1];
    match tokio::time::timeout(limit, stream.peek(&mut first)).await {
        Ok(Ok(1..)) => FirstByte::Arrived,
        Ok(_) => FirstByte::Closed,
        Err(_) => FirstByte::TimedOut,
    }
}

/// Answers 408 and closes the connection when `request` has no answer within `limit`: its
/// body did not arrive in time (or, rarely, the handler itself overran).
async fn within_deadline(limit: Duration, request: Request, next: Next) -> Response {
    if let Ok(response) = tokio::time::timeout(limit, next.run(request)).await {
        return response;
    }
    limited("body");
    let mut response = (
        StatusCode::REQUEST_TIMEOUT,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(
            r#"{"code":"deadline_exceeded","message":"the request did not arrive in full in time"}"#,
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Counts a client turned away by `limit` (`headers`, `body` or `connections`).
fn limited(limit: &'static str) {
    metrics::counter!("lzstock_http_limited_total", "limit" => limit).increment(1);
}

/// Accept errors that concern one connection or a passing shortage, not the listener.
fn recoverable(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
    ) || error.raw_os_error().is_some_and(|code| {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: resources that come back.
        [24, 23, 105, 12].contains(&code)
    })
}
