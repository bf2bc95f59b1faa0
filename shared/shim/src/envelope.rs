//! The event envelope and the generic constructor that turns a typed callback into a
//! [`MessageHandler`].
//!
//! Every LZStock event body is `{"id", "trace_id", "occurred_at", "request", "response"}`:
//! the previous step's request and response in canonical proto3 JSON. [`typed`] decodes
//! it, checks `Nats-Msg-Id` against `id`, runs the callback in a span carrying the trace,
//! catches panics, and turns the callback's typed result into an [`Outcome`].

use crate::backoff::Backoff;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::batch::{MessageHandler, MessageRecord, Outcome};
use crate::telemetry::TraceParent;

/// An event: the id, the trace it belongs to, when it happened, and the previous step's
/// request and response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<Req, Res> {
    /// The event id; also the message's `Nats-Msg-Id`.
    pub id: String,
    /// The W3C trace id (32 hex digits) the event was produced in, if any.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// The previous step's request.
    pub request: Req,
    /// The previous step's response; absent for an event that only asks for something
    /// (its default, which a handler needing one refuses by name).
    #[serde(default)]
    pub response: Res,
}

/// Why a handler failed, in the two kinds the message path must tell apart.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A failure that may pass (a database or broker down): redeliver later.
    #[error("retryable: {0}")]
    Retryable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The event can never succeed (it fails validation): dead-letter it now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// A failure known to last a while (another worker holds the work under a lease):
    /// redeliver once it is over, or after the backoff if that is later, so that waiting
    /// out a crashed worker's lease spends one delivery instead of the event's last ones.
    #[error("retry after {delay:?}: {source}")]
    RetryAfter {
        /// How long the failure will last.
        delay: std::time::Duration,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl HandlerError {
    /// A retryable failure caused by `error`.
    pub fn retryable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Retryable(Box::new(error))
    }

    /// A permanent failure for `reason`.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent(reason.into())
    }

    /// A failure caused by `error` that will last `delay`.
    pub fn retry_after(
        delay: std::time::Duration,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::RetryAfter {
            delay,
            source: Box::new(error),
        }
    }
}

/// A [`MessageHandler`] built by [`typed`].
pub struct TypedHandler<Req, Res, F> {
    callback: F,
    backoff: Backoff,
    _payload: PhantomData<fn() -> (Req, Res)>,
}

impl<Req, Res, F> std::fmt::Debug for TypedHandler<Req, Res, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedHandler")
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Turns `callback`, which receives a decoded [`Envelope`], into a message handler:
///
/// - a body that is not an envelope of `Req`/`Res`, or whose `id` differs from its
///   `Nats-Msg-Id` header (or has none), is `Reject`ed;
/// - `Ok` is `Ack`; [`HandlerError::Retryable`] is `Retry` after [`Backoff::delay`],
///   [`HandlerError::RetryAfter`] after its own delay when that is longer;
///   [`HandlerError::Permanent`] is `Reject`;
/// - a panic is `Retry` (the consumer dead-letters it once deliveries run out).
pub fn typed<Req, Res, F, Fut>(callback: F, backoff: Backoff) -> TypedHandler<Req, Res, F>
where
    Req: DeserializeOwned + Send + 'static,
    Res: DeserializeOwned + Default + Send + 'static,
    F: Fn(Envelope<Req, Res>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    TypedHandler {
        callback,
        backoff,
        _payload: PhantomData,
    }
}

impl<Req, Res, F, Fut> MessageHandler for TypedHandler<Req, Res, F>
where
    Req: DeserializeOwned + Send + 'static,
    Res: DeserializeOwned + Default + Send + 'static,
    F: Fn(Envelope<Req, Res>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    async fn handle(&self, record: &MessageRecord) -> Outcome {
        // JSON is UTF-8 (RFC 8259), and serde_json skips the fields a type ignores without
        // checking their bytes: the whole body is checked first, so a body that is not JSON
        // is never acked because its bad bytes sat in an unknown field (found by fuzzing).
        let Ok(text) = std::str::from_utf8(&record.data) else {
            return Outcome::Reject {
                reason: "not an envelope of the expected payloads: the body is not UTF-8".into(),
            };
        };
        let envelope: Envelope<Req, Res> = match serde_json::from_str(text) {
            Ok(envelope) => envelope,
            Err(error) => {
                return Outcome::Reject {
                    reason: format!("not an envelope of the expected payloads: {error}"),
                }
            }
        };
        // A redriven message keeps the event id in LZStock-Event-Id (its own Nats-Msg-Id
        // must be new to pass the stream's duplicate window).
        let event_id = record
            .header(crate::bridge::dead_letter_headers::EVENT_ID)
            .or_else(|| record.header("Nats-Msg-Id"));
        match event_id {
            Some(id) if id == envelope.id => {}
            Some(id) => {
                return Outcome::Reject {
                    reason: format!(
                        "Nats-Msg-Id {id:?} differs from the envelope id {:?}",
                        envelope.id
                    ),
                }
            }
            None => {
                return Outcome::Reject {
                    reason: "the message has no Nats-Msg-Id header".into(),
                }
            }
        }
        let parent = record
            .header("traceparent")
            .and_then(|header| TraceParent::parse(header).ok());
        let trace_id = parent
            .as_ref()
            .map(|parent| parent.trace_id().to_owned())
            .or_else(|| envelope.trace_id.clone())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "handle_message",
            messaging.system = "nats",
            messaging.destination.name = %record.subject,
            messaging.message.id = %envelope.id,
            messaging.nats.stream_sequence = record.stream_sequence,
            messaging.nats.deliveries = record.deliveries,
            trace_id = %trace_id,
        );
        // The publisher's span is the parent: the handler continues its trace.
        if let Some(parent) = parent {
            let _ = span.set_parent(parent.remote_context(record.header("tracestate")));
        }
        // Calling the callback inside the future puts a panic before its first await under
        // catch_unwind too.
        let run = AssertUnwindSafe(async { (self.callback)(envelope).await }).catch_unwind();
        match run.instrument(span.clone()).await {
            Ok(Ok(())) => Outcome::Ack,
            Ok(Err(HandlerError::Permanent(reason))) => {
                span.in_scope(|| tracing::warn!(%reason, "event rejected"));
                Outcome::Reject { reason }
            }
            Ok(Err(HandlerError::Retryable(error))) => {
                let delay = self
                    .backoff
                    .delay(record.deliveries, record.stream_sequence);
                span.in_scope(
                    || tracing::warn!(%error, retry_in = ?delay, "event will be retried"),
                );
                Outcome::Retry { delay }
            }
            Ok(Err(HandlerError::RetryAfter { delay, source })) => {
                let delay = delay.max(
                    self.backoff
                        .delay(record.deliveries, record.stream_sequence),
                );
                span.in_scope(
                    || tracing::warn!(error = %source, retry_in = ?delay, "event will be retried"),
                );
                Outcome::Retry { delay }
            }
            Err(_) => {
                let delay = self
                    .backoff
                    .delay(record.deliveries, record.stream_sequence);
                span.in_scope(|| tracing::error!(retry_in = ?delay, "event handler panicked"));
                Outcome::Retry { delay }
            }
        }
    }
}

#[cfg(test)]
mod tests;
