//! Dead letters for messages that ran out of deliveries while no bridge was there to
//! dead-letter them (it crashed holding the last delivery, say).
//!
//! JetStream announces such a message once, on the core subject
//! `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`, and a core message
//! with no subscriber is gone. So a stream captures the announcements, and every bridge
//! shares one durable consumer on it: an advisory raised while no bridge ran waits for the
//! next one. The copy carries the same `Nats-Msg-Id` the bridge would have given it, so a
//! message dead-lettered by both is stored once.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream, AckKind};
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde::Deserialize;

use super::metrics::BridgeMetrics;
use super::settle::store_dead_letter;
use crate::batch::MessageRecord;

/// The durable consumer the bridges share on the advisory stream.
pub const DURABLE: &str = "dead-letterer";

/// The stream that keeps the max-deliveries advisories of `events_stream`.
#[must_use]
pub fn stream_name(events_stream: &str) -> String {
    format!("{events_stream}_ADVISORIES")
}

/// The advisory subject for every consumer of `events_stream`.
#[must_use]
pub fn subject(events_stream: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{events_stream}.*")
}

/// Why the advisory listener failed.
#[derive(Debug, thiserror::Error)]
pub enum AdvisoryError {
    /// The listener's consumer could not be created.
    #[error("cannot consume the advisory stream {stream}: {source}")]
    Consumer {
        /// The stream's name.
        stream: String,
        /// The broker's reason.
        source: async_nats::Error,
    },
}

/// Creates or updates the stream that keeps `events_stream`'s max-deliveries advisories,
/// with `replicas` copies (`None`: an existing stream's, or one; see
/// [`crate::streams::provision`]).
///
/// # Errors
/// When JetStream is unreachable or refuses the configuration.
pub async fn provision(
    js: &jetstream::Context,
    events_stream: &str,
    replicas: Option<usize>,
) -> Result<(), crate::streams::ProvisionError> {
    let config = stream::Config {
        name: stream_name(events_stream),
        subjects: vec![subject(events_stream)],
        retention: stream::RetentionPolicy::WorkQueue,
        max_age: Duration::from_secs(7 * 24 * 3600),
        ..Default::default()
    };
    crate::streams::provision(js, config, replicas).await
}

/// Consecutive consumer errors after which the listener stops, for its supervisor to open
/// the stream and consumer again.
const ERRORS_BEFORE_REOPENING: u32 = 3;

/// The advisory's body, as JetStream sends it.
#[derive(Debug, Deserialize)]
struct MaxDeliveries {
    stream: String,
    consumer: String,
    stream_seq: u64,
    deliveries: u64,
}

/// Dead-letters every message named by a max-deliveries advisory of `events_stream`, until
/// `shutdown` resolves. Returns how many it dead-lettered.
///
/// # Errors
/// When the advisory stream or its consumer cannot be opened.
pub async fn run(
    js: &jetstream::Context,
    events_stream: &str,
    dead_letter_prefix: &str,
    metrics: &BridgeMetrics,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, AdvisoryError> {
    let name = stream_name(events_stream);
    let consumer_error = |source: async_nats::Error| AdvisoryError::Consumer {
        stream: name.clone(),
        source,
    };
    let advisories = js
        .get_stream(&name)
        .await
        .map_err(|e| consumer_error(e.into()))?;
    let consumer = advisories
        .get_or_create_consumer(
            DURABLE,
            pull::Config {
                durable_name: Some(DURABLE.to_owned()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| consumer_error(e.into()))?;
    let events = js
        .get_stream(events_stream)
        .await
        .map_err(|e| consumer_error(e.into()))?;
    let mut messages = consumer
        .stream()
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .map_err(|e| consumer_error(e.into()))?;
    tokio::pin!(shutdown);
    let mut shutdown = shutdown.fuse();
    let mut stored = 0;
    let mut errors_in_a_row = 0;
    loop {
        let next = tokio::select! {
            () = &mut shutdown => break,
            next = messages.next() => next,
        };
        let advisory = match next {
            Some(Ok(advisory)) => {
                errors_in_a_row = 0;
                advisory
            }
            Some(Err(error)) => {
                // The stream re-subscribes by itself after a missed heartbeat; errors that go
                // on (the consumer or its stream deleted) end this run, so its supervisor
                // opens everything again and readiness shows the listener failing meanwhile.
                errors_in_a_row += 1;
                tracing::warn!(%error, errors_in_a_row, "advisory consumer");
                if errors_in_a_row >= ERRORS_BEFORE_REOPENING {
                    return Err(consumer_error(Box::new(error)));
                }
                continue;
            }
            // Not asked to stop, yet the messages ended (the consumer was deleted): the
            // supervisor opens it again.
            None => {
                return Err(consumer_error(
                    "the advisory consumer's messages ended".into(),
                ))
            }
        };
        let settled = match serde_json::from_slice::<MaxDeliveries>(&advisory.payload) {
            Ok(notice) => match dead_letter(js, &events, dead_letter_prefix, &notice).await {
                Ok(subject) => {
                    if let Some(subject) = subject {
                        stored += 1;
                        metrics.dead_lettered(&subject);
                    }
                    advisory.ack().await
                }
                Err(error) => {
                    tracing::warn!(%error, sequence = notice.stream_seq, "dead-lettering from an advisory failed; retrying");
                    advisory
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                        .await
                }
            },
            Err(error) => {
                tracing::warn!(%error, "ignoring an advisory that does not parse");
                advisory.ack_with(AckKind::Term).await
            }
        };
        if let Err(error) = settled {
            tracing::warn!(%error, "settling an advisory failed");
        }
    }
    Ok(stored)
}

async fn dead_letter(
    js: &jetstream::Context,
    events: &jetstream::stream::Stream,
    prefix: &str,
    notice: &MaxDeliveries,
) -> Result<Option<String>, async_nats::Error> {
    let message = match events.get_raw_message(notice.stream_seq).await {
        Ok(message) => message,
        Err(error)
            if error.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
        {
            // Aged out or deleted: nothing left to copy.
            tracing::warn!(
                sequence = notice.stream_seq,
                "the message of a max-deliveries advisory is gone"
            );
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    };
    let mut headers = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (name, values) in message.headers.iter() {
        headers.insert(
            name.to_string(),
            values.iter().map(|v| v.as_str().to_owned()).collect(),
        );
    }
    let published_at =
        DateTime::<Utc>::from_timestamp(message.time.unix_timestamp(), message.time.nanosecond())
            .unwrap_or_default();
    let record = MessageRecord {
        subject: message.subject.to_string(),
        data: message.payload.to_vec(),
        headers,
        stream: notice.stream.clone(),
        stream_sequence: notice.stream_seq,
        consumer_sequence: 0,
        deliveries: notice.deliveries,
        published_at,
    };
    let reason = format!(
        "ran out of deliveries ({}) on consumer {} with no bridge to dead-letter it",
        notice.deliveries, notice.consumer
    );
    store_dead_letter(js, prefix, &record, &reason).await?;
    Ok(Some(record.subject))
}
