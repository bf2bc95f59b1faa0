//! A proxy in front of the emulator's Invoke API that answers every invoke as Lambda does
//! when a function's reserved concurrency is used up, while the nemesis says so.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use lzstock_harness::invoke_api::throttled_answer;
use lzstock_harness::local_http::LocalServer;

#[derive(Debug)]
struct Shared {
    upstream: String,
    throttling: AtomicBool,
    throttled: AtomicU64,
    http: reqwest::Client,
}

/// The proxy, on a free loopback port; stops when dropped.
#[derive(Debug)]
pub struct ThrottlingProxy {
    server: LocalServer,
    shared: Arc<Shared>,
}

impl ThrottlingProxy {
    /// Starts a proxy forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            throttling: AtomicBool::new(false),
            throttled: AtomicU64::new(0),
            // A fresh connection per invoke: the emulator may drop an idle one.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap_or_default(),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        Self {
            server: LocalServer::start(app).await,
            shared,
        }
    }

    /// The proxy's address: the bridges' `AWS_ENDPOINT_URL_LAMBDA`.
    #[must_use]
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Throttles every invoke from now until [`stop`](Self::stop).
    pub fn start_throttling(&self) {
        self.shared.throttling.store(true, Ordering::SeqCst);
    }

    /// Forwards invokes again.
    pub fn stop(&self) {
        self.shared.throttling.store(false, Ordering::SeqCst);
    }

    /// How many invokes it refused so far.
    #[must_use]
    pub fn throttled(&self) -> u64 {
        self.shared.throttled.load(Ordering::SeqCst)
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.throttling.load(Ordering::SeqCst) {
        shared.throttled.fetch_add(1, Ordering::SeqCst);
        return throttled_answer();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = shared
        .http
        .request(method, format!("{}{path}", shared.upstream))
        .body(body);
    if let Some(content_type) = headers.get("content-type") {
        request = request.header("content-type", content_type);
    }
    let Ok(answer) = request.send().await else {
        return (StatusCode::BAD_GATEWAY, "the emulator did not answer").into_response();
    };
    let status = answer.status();
    let mut kept = HeaderMap::new();
    for (name, value) in answer.headers() {
        let name = name.as_str();
        if name.starts_with("x-amz") || name == "content-type" {
            kept.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap_or(axum::http::header::CONTENT_TYPE),
                value.clone(),
            );
        }
    }
    let body = answer.bytes().await.unwrap_or_default();
    (
        StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
        kept,
        body,
    )
        .into_response()
}
