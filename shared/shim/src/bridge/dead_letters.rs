//! Operations on the dead-letter stream: list dead letters with their reasons, and redrive
//! them to their original subjects once the cause is fixed.

use async_nats::jetstream::{self, message::StreamMessage};
use async_nats::HeaderMap;

use super::dead_letter_headers as h;

/// Which dead letters an operation applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only those first published to this subject.
    pub subject: Option<String>,
    /// Only those at or after this dead-letter stream sequence.
    pub from_sequence: Option<u64>,
    /// Only those at or before this dead-letter stream sequence.
    pub to_sequence: Option<u64>,
}

/// A dead letter as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its sequence in the dead-letter stream.
    pub sequence: u64,
    /// The subject it was first published to.
    pub original_subject: String,
    /// Its sequence in the original stream.
    pub original_sequence: String,
    /// The event id.
    pub event_id: String,
    /// Deliveries before it was dead-lettered.
    pub deliveries: String,
    /// Why.
    pub reason: String,
}

/// What went wrong reading or writing the streams.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// JetStream failed.
    #[error("JetStream: {0}")]
    JetStream(String),
}

fn js_error(error: impl std::fmt::Display) -> DeadLetterError {
    DeadLetterError::JetStream(error.to_string())
}

fn header(message: &StreamMessage, name: &str) -> String {
    message
        .headers
        .get(name)
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}

impl Filter {
    fn keeps(&self, letter: &DeadLetter) -> bool {
        self.subject
            .as_ref()
            .is_none_or(|s| *s == letter.original_subject)
            && self
                .from_sequence
                .is_none_or(|from| letter.sequence >= from)
            && self.to_sequence.is_none_or(|to| letter.sequence <= to)
    }
}

/// The dead letters in `stream` that `filter` keeps, oldest first, with their raw messages.
async fn scan(
    js: &jetstream::Context,
    stream: &str,
    filter: &Filter,
) -> Result<Vec<(DeadLetter, StreamMessage)>, DeadLetterError> {
    let mut handle = js.get_stream(stream).await.map_err(js_error)?;
    let state = handle.info().await.map_err(js_error)?.state.clone();
    let mut letters = Vec::new();
    if state.messages == 0 {
        return Ok(letters);
    }
    let first = filter
        .from_sequence
        .unwrap_or(state.first_sequence)
        .max(state.first_sequence);
    let last = filter
        .to_sequence
        .unwrap_or(state.last_sequence)
        .min(state.last_sequence);
    for sequence in first..=last {
        // Redriven letters are deleted, leaving gaps.
        let Ok(message) = handle.get_raw_message(sequence).await else {
            continue;
        };
        let letter = DeadLetter {
            sequence,
            original_subject: header(&message, h::ORIGINAL_SUBJECT),
            original_sequence: header(&message, h::ORIGINAL_SEQUENCE),
            event_id: header(&message, h::EVENT_ID),
            deliveries: header(&message, h::DELIVERIES),
            reason: header(&message, h::REASON),
        };
        if filter.keeps(&letter) {
            letters.push((letter, message));
        }
    }
    Ok(letters)
}

/// Lists the dead letters `filter` keeps.
///
/// # Errors
/// When the stream cannot be read.
pub async fn list(
    js: &jetstream::Context,
    stream: &str,
    filter: &Filter,
) -> Result<Vec<DeadLetter>, DeadLetterError> {
    Ok(scan(js, stream, filter)
        .await?
        .into_iter()
        .map(|(letter, _)| letter)
        .collect())
}

/// Republishes each dead letter `filter` keeps to its original subject, awaiting the
/// stream's ack, then deletes it from the dead-letter stream; `progress` is called after
/// each. The republished message has `Nats-Msg-Id` `redrive-<stream>-<sequence>` (a repeated
/// redrive of the same letter is dropped) and keeps the event id in `LZStock-Event-Id`, so
/// the handler's exactly-once record still applies. Returns how many were redriven.
///
/// # Errors
/// When a stream cannot be read or a publish is not acknowledged; letters redriven before
/// the failure stay redriven, the rest stay dead.
pub async fn redrive(
    js: &jetstream::Context,
    stream: &str,
    filter: &Filter,
    mut progress: impl FnMut(&DeadLetter),
) -> Result<usize, DeadLetterError> {
    let handle = js.get_stream(stream).await.map_err(js_error)?;
    let mut count = 0;
    for (letter, message) in scan(js, stream, filter).await? {
        let payload = if message.headers.get(h::BODY_OMITTED).is_some() {
            // The copy left the body in the original stream, which still holds it unless it
            // aged out; then the letter stays, to be dealt with by hand.
            match original_body(js, &message).await {
                Some(body) => body,
                None => {
                    tracing::error!(
                        sequence = letter.sequence,
                        "the dead letter's body was left in its original stream, which no longer holds it; not redriven"
                    );
                    continue;
                }
            }
        } else {
            message.payload.clone()
        };
        let mut headers = HeaderMap::new();
        for (name, values) in message.headers.iter() {
            let name = name.to_string();
            if name.eq_ignore_ascii_case("Nats-Msg-Id")
                || name.to_ascii_lowercase().starts_with("lzstock-")
            {
                continue;
            }
            for value in values {
                headers.append(name.as_str(), value.as_str());
            }
        }
        headers.insert(
            "Nats-Msg-Id",
            format!("redrive-{stream}-{}", letter.sequence).as_str(),
        );
        headers.insert(h::EVENT_ID, letter.event_id.as_str());
        js.publish_with_headers(letter.original_subject.clone(), headers, payload)
            .await
            .map_err(js_error)?
            .await
            .map_err(js_error)?;
        handle
            .delete_message(letter.sequence)
            .await
            .map_err(js_error)?;
        progress(&letter);
        count += 1;
    }
    Ok(count)
}

/// The body of the message a dead letter was copied from, read from its original stream.
async fn original_body(js: &jetstream::Context, letter: &StreamMessage) -> Option<bytes::Bytes> {
    let stream = header(letter, h::ORIGINAL_STREAM);
    let sequence: u64 = header(letter, h::ORIGINAL_SEQUENCE).parse().ok()?;
    let original = js
        .get_stream(&stream)
        .await
        .ok()?
        .get_raw_message(sequence)
        .await
        .ok()?;
    Some(original.payload)
}
