//! Carrying out a record's outcome: ack; nak with a delay; or copy to the dead-letter
//! stream, wait for the stream's ack, and only then term.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message};
use async_nats::HeaderMap;
use bytes::Bytes;

use super::metrics::{Count, Tally};
use super::settings::ConsumerSettings;
use crate::batch::{MessageRecord, Outcome};

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

/// One delivered message to settle.
pub(crate) struct Settling<'r, 'm> {
    pub(crate) record: &'r MessageRecord,
    pub(crate) message: &'m Message,
    /// Why the whole batch failed, if it did: named in the reason of a dead letter that ran
    /// out of deliveries.
    pub(crate) cause: Option<&'m str>,
}

/// Carries out one outcome. A failure to ack or nak is only logged: the server redelivers
/// after `ack_wait`, so the message is late, not lost.
pub(crate) async fn settle<'a>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    tally: &mut Tally<'a>,
    Settling {
        record,
        message,
        cause,
    }: Settling<'a, '_>,
    outcome: Outcome,
) {
    let exhausted = i64::try_from(record.deliveries).unwrap_or(i64::MAX) >= settings.max_deliver;
    let result = match outcome {
        Outcome::Ack => {
            tally.count(&record.subject, Count::Acked);
            message.ack().await
        }
        Outcome::Retry { delay } if !exhausted => {
            tally.count(&record.subject, Count::Retried);
            message.ack_with(AckKind::Nak(Some(delay))).await
        }
        Outcome::Retry { .. } => {
            let mut reason = format!("gave up after {} deliveries", record.deliveries);
            if let Some(cause) = cause {
                reason = format!("{reason}: {cause}");
            }
            dead_letter(js, settings, tally, record, message, &reason).await
        }
        Outcome::Reject { reason } => {
            tally.count(&record.subject, Count::Rejected);
            dead_letter(js, settings, tally, record, message, &reason).await
        }
    };
    if let Err(error) = result {
        tracing::warn!(%error, sequence = record.stream_sequence, "settling a message failed");
    }
}

async fn dead_letter<'a>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    tally: &mut Tally<'a>,
    record: &'a MessageRecord,
    message: &Message,
    reason: &str,
) -> Result<(), async_nats::Error> {
    match store_dead_letter(js, &settings.dead_letter_prefix, record, reason).await {
        Ok(()) => {
            tally.count(&record.subject, Count::DeadLettered);
            // Only now that the copy is stored may the original go.
            message.ack_with(AckKind::Term).await
        }
        Err(error) => {
            // Keep the original: it comes back and is dead-lettered on a later delivery.
            message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await?;
            Err(error)
        }
    }
}

/// Copies `record` to `<prefix>.<subject>` with the dead-letter headers and waits for the
/// dead-letter stream's ack. The copy's `Nats-Msg-Id` derives from the original stream and
/// sequence, so a repeated dead-lettering of one message is dropped as a duplicate.
pub(crate) async fn store_dead_letter(
    js: &jetstream::Context,
    prefix: &str,
    record: &MessageRecord,
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
    let subject = format!("{prefix}.{}", record.subject);
    js.publish_with_headers(subject, headers, Bytes::from(record.data.clone()))
        .await?
        .await?;
    tracing::warn!(
        messaging.destination.name = %record.subject,
        sequence = record.stream_sequence,
        reason,
        "dead-lettered"
    );
    Ok(())
}
