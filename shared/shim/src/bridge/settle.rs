//! Carrying out a record's outcome: ack; nak with a delay; or copy to the dead-letter
//! stream, wait for the stream's ack, and only then term.

use std::time::Duration;

use std::str::FromStr;

use async_nats::jetstream::{self, AckKind, Message};
use async_nats::{HeaderMap, HeaderName, HeaderValue};
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
    /// Set when the body was left out because the copy would exceed the server's
    /// `max_payload`; the original stays in its stream, and redrive reads the body there.
    pub const BODY_OMITTED: &str = "LZStock-Body-Omitted";
}

/// The longest header value the bridge writes, in bytes; longer text is cut there, and the
/// whole of it goes to the log.
pub const MAX_HEADER_VALUE: usize = 1024;

/// `text` as a header value: control characters (CR and LF would make the NATS client
/// panic, NUL and the rest confuse other clients) become spaces, and the result is cut to
/// [`MAX_HEADER_VALUE`] bytes on a character boundary, ending with `…` when cut.
#[must_use]
pub fn header_value(text: &str) -> HeaderValue {
    let clean = text.len() <= MAX_HEADER_VALUE && !text.chars().any(char::is_control);
    let value = if clean {
        text.to_owned()
    } else {
        let budget = MAX_HEADER_VALUE - '…'.len_utf8();
        let mut value = String::with_capacity(MAX_HEADER_VALUE);
        let mut cut = false;
        for c in text.chars() {
            if value.len() + c.len_utf8() > budget {
                cut = true;
                break;
            }
            value.push(if c.is_control() { ' ' } else { c });
        }
        if cut {
            value.push('…');
        }
        value
    };
    // Only CR and LF make a value invalid, and none is left.
    HeaderValue::from_str(&value).unwrap_or_default()
}

/// Retries of a dead-letter copy the dead-letter stream did not store, before the original
/// is nak'd to come back later.
const DEAD_LETTER_RETRIES: u64 = 3;
const DEAD_LETTER_BACKOFF: crate::backoff::Backoff = crate::backoff::Backoff {
    base: Duration::from_millis(250),
    max: Duration::from_secs(2),
};

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
    // A dead-letter stream electing a leader answers nothing for a moment: a few quick,
    // jittered retries here spare the original a delivery.
    let mut stored = store_dead_letter(js, &settings.dead_letter_prefix, record, reason).await;
    for attempt in 1..=DEAD_LETTER_RETRIES {
        if stored.is_ok() {
            break;
        }
        let delay = DEAD_LETTER_BACKOFF.delay(attempt, record.stream_sequence ^ attempt);
        tokio::time::sleep(delay).await;
        stored = store_dead_letter(js, &settings.dead_letter_prefix, record, reason).await;
    }
    match stored {
        Ok(()) => {
            tally.count(&record.subject, Count::DeadLettered);
            // Only now that the copy is stored may the original go; the server confirms the
            // term, so a bridge stopping right after cannot leave it to be delivered again.
            message.double_ack_with(AckKind::Term).await
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
        if name.eq_ignore_ascii_case("Nats-Msg-Id")
            || name.to_ascii_lowercase().starts_with("lzstock-")
        {
            continue;
        }
        // A record built from a NATS message has valid names; any other is dropped rather
        // than handed to a constructor that panics.
        let Ok(name) = HeaderName::from_str(name) else {
            tracing::warn!(header = %name, "dropping a header with an invalid name");
            continue;
        };
        for value in values {
            headers.append(name.clone(), header_value(value));
        }
    }
    if let Some(id) = record
        .header(h::EVENT_ID)
        .or_else(|| record.header("Nats-Msg-Id"))
    {
        headers.insert(h::EVENT_ID, header_value(id));
    }
    headers.insert(
        "Nats-Msg-Id",
        format!("dlq-{}-{}", record.stream, record.stream_sequence).as_str(),
    );
    headers.insert(h::ORIGINAL_SUBJECT, header_value(&record.subject));
    headers.insert(h::ORIGINAL_STREAM, header_value(&record.stream));
    headers.insert(
        h::ORIGINAL_SEQUENCE,
        record.stream_sequence.to_string().as_str(),
    );
    headers.insert(h::DELIVERIES, record.deliveries.to_string().as_str());
    headers.insert(h::REASON, header_value(reason));
    // A message near the server's max_payload no longer fits with these headers added, and
    // a copy that can never be stored would keep the original coming back forever.
    let header_bytes: usize = headers
        .iter()
        .map(|(name, values)| {
            let name = name.to_string().len();
            values
                .iter()
                .map(|value| name + value.as_str().len() + 4)
                .sum::<usize>()
        })
        .sum::<usize>()
        + 64;
    let max_payload = js.client().server_info().max_payload;
    let body = if max_payload > 0 && record.data.len() + header_bytes > max_payload {
        headers.insert(
            h::BODY_OMITTED,
            format!(
                "{} bytes, over max_payload with these headers; the body is {} #{}",
                record.data.len(),
                record.stream,
                record.stream_sequence
            )
            .as_str(),
        );
        Bytes::new()
    } else {
        Bytes::from(record.data.clone())
    };
    let subject = format!("{prefix}.{}", record.subject);
    js.publish_with_headers(subject, headers, body)
        .await?
        .await?;
    // The whole reason, which the header may carry only in part.
    tracing::warn!(
        messaging.destination.name = %record.subject,
        sequence = record.stream_sequence,
        reason,
        "dead-lettered"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_value_loses_control_characters() {
        let value = header_value("line one\r\nline two\0end\ttab");
        assert_eq!(value.as_str(), "line one  line two end tab");
    }

    #[test]
    fn a_long_header_value_is_cut_on_a_character_boundary() {
        let long = "é".repeat(100_000);
        let value = header_value(&long);
        assert!(value.as_str().len() <= MAX_HEADER_VALUE);
        assert!(value.as_str().ends_with('…'));
        assert!(value.as_str().starts_with("éé"));
    }

    #[test]
    fn a_clean_short_value_is_kept_as_it_is() {
        assert_eq!(
            header_value("gave up after 5 deliveries").as_str(),
            "gave up after 5 deliveries"
        );
    }
}
