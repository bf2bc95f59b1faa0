//! The standalone message host: a durable JetStream pull consumer that feeds batches to a
//! handler and carries out each record's [`Outcome`].
//!
//! It applies the same decisions the bridge applies for a Lambda-hosted function: ack;
//! nak *with* a delay (a bare nak redelivers at once); or copy to the dead-letter stream,
//! wait for the stream's ack, and only then term.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, AckKind, Message};
use async_nats::HeaderMap;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::batch::{self, MessageBatch, MessageHandler, MessageRecord, Outcome};

/// Header names written on a dead letter.
pub mod dead_letter_headers {
    /// The subject the message was first published to.
    pub const ORIGINAL_SUBJECT: &str = "LZStock-Original-Subject";
    /// The message's sequence in its original stream.
    pub const ORIGINAL_SEQUENCE: &str = "LZStock-Original-Sequence";
    /// The stream the message came from.
    pub const ORIGINAL_STREAM: &str = "LZStock-Original-Stream";
    /// How many deliveries were made before it was dead-lettered.
    pub const DELIVERIES: &str = "LZStock-Deliveries";
    /// Why it was dead-lettered.
    pub const REASON: &str = "LZStock-Reason";
    /// The event id: the original `Nats-Msg-Id`. A redriven message carries it too, since
    /// its own `Nats-Msg-Id` must differ from the original's to pass the duplicate window.
    pub const EVENT_ID: &str = "LZStock-Event-Id";
}

/// How the consumer pulls and when it gives up on a message.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// The stream to consume.
    pub stream: String,
    /// The durable consumer's name; several processes with the same name share the work.
    pub durable: String,
    /// The subjects to take from the stream (empty: all).
    pub filter_subjects: Vec<String>,
    /// Messages fetched at most per batch.
    pub batch_size: usize,
    /// How long a fetch waits to fill a batch.
    pub max_wait: Duration,
    /// Deliveries before a message that keeps failing is dead-lettered.
    pub max_deliver: i64,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Unacknowledged messages the server lets this consumer hold at once.
    pub max_ack_pending: i64,
    /// Records of one batch handled at once.
    pub concurrency: usize,
    /// Dead letters go to `<dead_letter_prefix>.<original subject>`.
    pub dead_letter_prefix: String,
}

/// Why the consumer stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The stream is missing or unreachable.
    #[error("cannot open stream {stream}: {source}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// The broker's reason.
        source: async_nats::jetstream::context::GetStreamError,
    },
    /// The durable consumer cannot be created.
    #[error("cannot create consumer {durable}: {source}")]
    Consumer {
        /// The consumer's name.
        durable: String,
        /// The broker's reason.
        source: async_nats::jetstream::stream::ConsumerError,
    },
}

/// Consumes until `shutdown` resolves, then finishes the batch in hand and returns.
///
/// Fetch errors (the broker restarting, say) are logged and retried after a pause: the
/// consumer outlives a broker outage.
///
/// # Errors
/// See [`ConsumerError`]; both happen only at start.
pub async fn run<H: MessageHandler>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    handler: &H,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ConsumerError> {
    let stream = js
        .get_stream(&settings.stream)
        .await
        .map_err(|source| ConsumerError::Stream {
            stream: settings.stream.clone(),
            source,
        })?;
    let consumer = stream
        .get_or_create_consumer(
            &settings.durable,
            pull::Config {
                durable_name: Some(settings.durable.clone()),
                filter_subjects: settings.filter_subjects.clone(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: settings.ack_wait,
                max_deliver: settings.max_deliver,
                max_ack_pending: settings.max_ack_pending,
                ..Default::default()
            },
        )
        .await
        .map_err(|source| ConsumerError::Consumer {
            durable: settings.durable.clone(),
            source,
        })?;
    tracing::info!(stream = %settings.stream, durable = %settings.durable, "consuming");

    tokio::pin!(shutdown);
    loop {
        let fetched = tokio::select! {
            () = &mut shutdown => break,
            fetched = fetch(&consumer, settings) => fetched,
        };
        let messages = match fetched {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "fetch failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        handle_batch(js, settings, messages, handler).await;
    }
    tracing::info!(durable = %settings.durable, "consumer drained");
    Ok(())
}

async fn fetch(
    consumer: &jetstream::consumer::Consumer<pull::Config>,
    settings: &ConsumerSettings,
) -> Result<Vec<Message>, async_nats::Error> {
    let mut batch = consumer
        .fetch()
        .max_messages(settings.batch_size)
        .expires(settings.max_wait)
        .messages()
        .await?;
    let mut messages = Vec::with_capacity(settings.batch_size);
    while let Some(message) = batch.next().await {
        messages.push(message?);
    }
    Ok(messages)
}

async fn handle_batch<H: MessageHandler>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    messages: Vec<Message>,
    handler: &H,
) {
    let mut pending = Vec::with_capacity(messages.len());
    let mut records = Vec::with_capacity(messages.len());
    for message in messages {
        match record_of(&message) {
            Some(record) => {
                records.push(record);
                pending.push(message);
            }
            // Not a JetStream delivery: nothing to ack; the server redelivers real ones.
            None => tracing::warn!(subject = %message.subject, "skipping a non-JetStream message"),
        }
    }
    let batch = MessageBatch { records };
    let response = {
        let work = batch::process(&batch, settings.concurrency, handler);
        tokio::pin!(work);
        // While the handler runs longer than half of ack_wait, tell the server the messages
        // are in progress, so it does not redeliver them to someone else meanwhile.
        let mut progress = tokio::time::interval_at(
            tokio::time::Instant::now() + settings.ack_wait / 2,
            settings.ack_wait / 2,
        );
        loop {
            tokio::select! {
                response = &mut work => break response,
                _ = progress.tick() => {
                    for message in &pending {
                        if let Err(error) = message.ack_with(AckKind::Progress).await {
                            tracing::warn!(%error, "in-progress ack failed");
                        }
                    }
                }
            }
        }
    };
    let mut failures: HashMap<String, Outcome> = response
        .batch_item_failures
        .iter()
        .map(|f| (f.item_identifier.clone(), f.outcome()))
        .collect();
    for (record, message) in batch.records.iter().zip(pending) {
        let outcome = failures
            .remove(&record.item_identifier())
            .unwrap_or(Outcome::Ack);
        settle(js, settings, record, &message, outcome).await;
    }
}

/// Carries out one outcome. A failure to ack or nak is only logged: the server redelivers
/// after `ack_wait`, so the message is late, not lost.
async fn settle(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    record: &MessageRecord,
    message: &Message,
    outcome: Outcome,
) {
    let exhausted = i64::try_from(record.deliveries).unwrap_or(i64::MAX) >= settings.max_deliver;
    let result = match outcome {
        Outcome::Ack => message.ack().await,
        Outcome::Retry { delay } if !exhausted => message.ack_with(AckKind::Nak(Some(delay))).await,
        Outcome::Retry { .. } => {
            let reason = format!("gave up after {} deliveries", record.deliveries);
            dead_letter(js, settings, record, message, &reason).await
        }
        Outcome::Reject { reason } => dead_letter(js, settings, record, message, &reason).await,
    };
    if let Err(error) = result {
        tracing::warn!(%error, sequence = record.stream_sequence, "settling a message failed");
    }
}

async fn dead_letter(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    record: &MessageRecord,
    message: &Message,
    reason: &str,
) -> Result<(), async_nats::Error> {
    use dead_letter_headers as h;
    let mut headers = HeaderMap::new();
    for (name, values) in &record.headers {
        if !name.eq_ignore_ascii_case("Nats-Msg-Id")
            && !name.to_ascii_lowercase().starts_with("lzstock-")
        {
            for value in values {
                headers.append(name.as_str(), value.as_str());
            }
        }
    }
    if let Some(id) = record
        .header(h::EVENT_ID)
        .or_else(|| record.header("Nats-Msg-Id"))
    {
        headers.insert(h::EVENT_ID, id);
    }
    // Derived from the original position, so a repeated dead-lettering is dropped as a duplicate.
    headers.insert(
        "Nats-Msg-Id",
        format!("dlq-{}-{}", record.stream, record.stream_sequence).as_str(),
    );
    headers.insert(h::ORIGINAL_SUBJECT, record.subject.as_str());
    headers.insert(h::ORIGINAL_STREAM, record.stream.as_str());
    headers.insert(
        h::ORIGINAL_SEQUENCE,
        record.stream_sequence.to_string().as_str(),
    );
    headers.insert(h::DELIVERIES, record.deliveries.to_string().as_str());
    headers.insert(h::REASON, reason);
    let subject = format!("{}.{}", settings.dead_letter_prefix, record.subject);
    let stored = js
        .publish_with_headers(subject, headers, record.data.clone().into())
        .await;
    match stored {
        Ok(ack) => {
            ack.await?;
            tracing::warn!(
                messaging.destination.name = %record.subject,
                sequence = record.stream_sequence,
                reason,
                "dead-lettered"
            );
            // Only now that the copy is stored may the original go.
            message.ack_with(AckKind::Term).await
        }
        Err(error) => {
            // Keep the original: it comes back and is dead-lettered on a later delivery.
            message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await?;
            Err(error.into())
        }
    }
}

fn record_of(message: &Message) -> Option<MessageRecord> {
    let info = message.info().ok()?;
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(map) = &message.headers {
        for (name, values) in map.iter() {
            headers.insert(
                name.to_string(),
                values.iter().map(|v| v.as_str().to_owned()).collect(),
            );
        }
    }
    let published_at = DateTime::<Utc>::from_timestamp(
        info.published.unix_timestamp(),
        info.published.nanosecond(),
    )
    .unwrap_or_default();
    Some(MessageRecord {
        subject: message.subject.to_string(),
        data: message.payload.to_vec(),
        headers,
        stream: info.stream.to_owned(),
        stream_sequence: info.stream_sequence,
        consumer_sequence: info.consumer_sequence,
        deliveries: u64::try_from(info.delivered).unwrap_or(1),
        published_at,
    })
}
