//! A stand-in for the Lambda Invoke API over real HTTP, answering each batch the way a
//! test says, so the bridge binary can be driven through the same SDK path it takes on AWS
//! without building a function.
//!
//! It behaves as Lambda does where the bridge can tell: `POST
//! /2015-03-31/functions/{name}/invocations`, a request over the payload limit refused with
//! 413 `RequestEntityTooLargeException`, and a function error answered 200 with
//! `X-Amz-Function-Error`.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use lzstock_shim::batch::MessageBatch;

use crate::local_http::LocalServer;

/// Lambda's limit on a synchronous invoke's request: 6 MB.
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// What the stand-in function answers to one batch.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The function returned this document.
    Returned(serde_json::Value),
    /// The function failed; this is the error document the runtime reports.
    Failed(serde_json::Value),
    /// Lambda throttled the invoke (429 `TooManyRequestsException`, reserved concurrency
    /// reached): the function never saw the batch.
    Throttled,
}

type Answering = dyn Fn(&MessageBatch) -> Answer + Send + Sync;

/// One batch the endpoint accepted.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The request's size in bytes.
    pub bytes: usize,
    /// `(stream_sequence, deliveries)` of each record.
    pub records: Vec<(u64, u64)>,
}

#[derive(Default)]
struct Log {
    accepted: Vec<Invocation>,
    refused: usize,
    throttled: usize,
}

struct Shared {
    limit: usize,
    answer: Box<Answering>,
    log: Mutex<Log>,
}

/// A running stand-in Invoke API on a free loopback port; it stops when dropped.
#[derive(Debug)]
pub struct InvokeEndpoint {
    server: LocalServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl InvokeEndpoint {
    /// Starts an endpoint that refuses requests over `limit` bytes and answers every other
    /// batch with `answer`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(
        limit: usize,
        answer: impl Fn(&MessageBatch) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let shared = Arc::new(Shared {
            limit,
            answer: Box::new(answer),
            log: Mutex::new(Log::default()),
        });
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            // The endpoint judges sizes itself, as Lambda does.
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&shared));
        Self {
            server: LocalServer::start(app).await,
            shared,
        }
    }

    /// The variables that point the bridge's AWS SDK at this endpoint.
    #[must_use]
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL_LAMBDA", self.server.url()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The batches accepted so far.
    ///
    /// # Panics
    /// When a request handler panicked while holding the log.
    #[must_use]
    pub fn accepted(&self) -> Vec<Invocation> {
        self.shared.log.lock().expect("log").accepted.clone()
    }

    /// How many invokes were answered as throttled.
    ///
    /// # Panics
    /// When a request handler panicked while holding the log.
    #[must_use]
    pub fn throttled(&self) -> usize {
        self.shared.log.lock().expect("log").throttled
    }

    /// How many requests were refused as too large.
    ///
    /// # Panics
    /// When a request handler panicked while holding the log.
    #[must_use]
    pub fn refused(&self) -> usize {
        self.shared.log.lock().expect("log").refused
    }
}

async fn invoke(State(shared): State<Arc<Shared>>, _headers: HeaderMap, body: Bytes) -> Response {
    if body.len() > shared.limit {
        shared.log.lock().expect("log").refused += 1;
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [
                ("x-amzn-ErrorType", "RequestEntityTooLargeException"),
                ("Content-Type", "application/json"),
            ],
            format!(
                r#"{{"Type":"User","message":"Request must be smaller than {} bytes for the InvokeFunction operation"}}"#,
                shared.limit
            ),
        )
            .into_response();
    }
    let Ok(batch) = serde_json::from_slice::<MessageBatch>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a message batch").into_response();
    };
    let answer = (shared.answer)(&batch);
    if matches!(answer, Answer::Throttled) {
        shared.log.lock().expect("log").throttled += 1;
        return throttled_answer();
    }
    shared.log.lock().expect("log").accepted.push(Invocation {
        bytes: body.len(),
        records: batch
            .records
            .iter()
            .map(|r| (r.stream_sequence, r.deliveries))
            .collect(),
    });
    match answer {
        Answer::Throttled => StatusCode::TOO_MANY_REQUESTS.into_response(),
        Answer::Returned(document) => (
            StatusCode::OK,
            [("Content-Type", "application/json")],
            document.to_string(),
        )
            .into_response(),
        // Pretty-printed, as some runtimes send it: the raw text has line breaks.
        Answer::Failed(document) => (
            StatusCode::OK,
            [
                ("X-Amz-Function-Error", "Unhandled"),
                ("Content-Type", "application/json"),
            ],
            serde_json::to_string_pretty(&document).unwrap_or_default(),
        )
            .into_response(),
    }
}

/// What Lambda's Invoke API answers when the function's reserved concurrency is exhausted:
/// 429 `TooManyRequestsException`, as the SDK reads it.
#[must_use]
pub fn throttled_answer() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            ("x-amzn-ErrorType", "TooManyRequestsException"),
            ("Content-Type", "application/json"),
        ],
        r#"{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#,
    )
        .into_response()
}
