//! Publishing events to JetStream: `Nats-Msg-Id` and `traceparent` on every message, the
//! stream's ack awaited, and a bound on how many publishes wait for their ack at once.

use std::sync::Arc;

use async_nats::jetstream::{self, context::PublishAckFuture, publish::PublishAck};
use async_nats::HeaderMap;
use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One event to publish.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// The subject.
    pub subject: String,
    /// The event id, sent as `Nats-Msg-Id`: the stream drops a second publish of it within
    /// its duplicate window.
    pub id: String,
    /// The W3C `traceparent` of the trace the event belongs to.
    pub traceparent: Option<String>,
    /// The JSON body.
    pub body: Bytes,
}

impl OutgoingEvent {
    /// The message's headers: `Nats-Msg-Id` (the event id), the content type, and the
    /// `traceparent` when the event has one.
    #[must_use]
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", self.id.as_str());
        headers.insert("Content-Type", "application/json");
        if let Some(traceparent) = &self.traceparent {
            headers.insert("traceparent", traceparent.as_str());
        }
        headers
    }
}

/// Why a publish failed; the event may or may not be stored, so the caller publishes it
/// again (the id makes that safe).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The message could not be sent.
    #[error("publishing {id} to {subject}: {source}")]
    Send {
        /// The event id.
        id: String,
        /// The subject.
        subject: String,
        /// The client's reason.
        source: jetstream::context::PublishError,
    },
    /// The stream did not acknowledge it.
    #[error("no ack from the stream for {id}: {source}")]
    Ack {
        /// The event id.
        id: String,
        /// The client's reason.
        source: jetstream::context::PublishError,
    },
}

impl PublishError {
    /// The client's reason.
    #[must_use]
    pub const fn reason(&self) -> &jetstream::context::PublishError {
        match self {
            Self::Send { source, .. } | Self::Ack { source, .. } => source,
        }
    }
}

/// Publishes events with at most `max_in_flight` of them awaiting the stream's ack.
///
/// Cheap to clone; clones share the bound.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    js: jetstream::Context,
    in_flight: Arc<Semaphore>,
}

/// A sent event whose ack has not arrived; it holds its place in the in-flight bound until
/// [`PendingAck::stored`] returns or it is dropped.
#[derive(Debug)]
pub struct PendingAck {
    id: String,
    ack: PublishAckFuture,
    _slot: OwnedSemaphorePermit,
}

impl PendingAck {
    /// Waits for the stream's ack. `duplicate` is set on the ack when the stream already
    /// had the id.
    ///
    /// # Errors
    /// [`PublishError::Ack`].
    pub async fn stored(self) -> Result<PublishAck, PublishError> {
        self.ack.await.map_err(|source| PublishError::Ack {
            id: self.id,
            source,
        })
    }
}

impl EventPublisher {
    /// A publisher on `js` allowing `max_in_flight` unacknowledged publishes (at least 1).
    #[must_use]
    pub fn new(js: jetstream::Context, max_in_flight: usize) -> Self {
        Self {
            js,
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// Sends `event` once a slot is free and returns without waiting for the ack, so a
    /// caller can pipeline several publishes.
    ///
    /// # Errors
    /// [`PublishError::Send`].
    pub async fn send(&self, event: OutgoingEvent) -> Result<PendingAck, PublishError> {
        let slot = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("the semaphore is never closed"));
        let headers = event.headers();
        let ack = self
            .js
            .publish_with_headers(event.subject.clone(), headers, event.body)
            .await
            .map_err(|source| PublishError::Send {
                id: event.id.clone(),
                subject: event.subject,
                source,
            })?;
        Ok(PendingAck {
            id: event.id,
            ack,
            _slot: slot,
        })
    }

    /// Sends `event` and waits until the stream has stored it.
    ///
    /// # Errors
    /// See [`PublishError`].
    pub async fn publish(&self, event: OutgoingEvent) -> Result<PublishAck, PublishError> {
        self.send(event).await?.stored().await
    }

    /// How many more publishes may be in flight right now.
    #[must_use]
    pub fn free_slots(&self) -> usize {
        self.in_flight.available_permits()
    }
}
