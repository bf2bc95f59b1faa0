//! The message batch: what the bridge sends a function, and what the function answers.
//!
//! The shape follows Lambda's own SQS event source mapping, so the same partial-batch
//! semantics apply: the function reports only the records that did not succeed.
//!
//! ```json
//! {"records": [{
//!     "subject": "lzstock.users.signed_up",
//!     "data": "<base64 of the message body>",
//!     "headers": {"Nats-Msg-Id": ["…"], "traceparent": ["00-…"]},
//!     "stream": "LZSTOCK",
//!     "stream_sequence": 42,
//!     "consumer_sequence": 7,
//!     "deliveries": 1,
//!     "published_at": "2026-11-23T10:00:00Z"
//! }]}
//! ```
//!
//! The answer lists failures only, each with either a delay before redelivery or the reason
//! the record is poison:
//!
//! ```json
//! {"batchItemFailures": [
//!     {"itemIdentifier": "42", "retry_after_ms": 5000},
//!     {"itemIdentifier": "43", "reject_reason": "no route for subject lzstock.nope"}
//! ]}
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};

/// A batch of messages, as the bridge sends it to a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBatch {
    /// The messages, in stream order.
    pub records: Vec<MessageRecord>,
}

/// One JetStream message with its delivery metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The subject the message was published to.
    pub subject: String,
    /// The message body, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
    /// The message headers; a header may repeat.
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    /// The stream that stored the message.
    pub stream: String,
    /// The message's sequence in its stream; unique per stream, so it identifies the record.
    pub stream_sequence: u64,
    /// The consumer's delivery sequence.
    #[serde(default)]
    pub consumer_sequence: u64,
    /// How many times the message has been delivered, this delivery included.
    pub deliveries: u64,
    /// When the stream stored the message.
    pub published_at: DateTime<Utc>,
}

impl MessageRecord {
    /// The identifier a [`BatchItemFailure`] refers to: the stream sequence.
    #[must_use]
    pub fn item_identifier(&self) -> String {
        self.stream_sequence.to_string()
    }

    /// The first value of header `name`, compared case-insensitively.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }
}

/// What to do with a message once its handler has run: the three-way decision every
/// message path makes, never a bare `Result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: acknowledge it.
    Ack,
    /// Failed for a reason that may pass (a database or broker down): redeliver after `delay`.
    Retry {
        /// How long to wait before the next delivery.
        delay: Duration,
    },
    /// Poison (malformed, invalid, unroutable): never retry, dead-letter it with `reason`.
    Reject {
        /// Why the message cannot be processed, for the dead-letter headers.
        reason: String,
    },
}

/// The function's answer to a [`MessageBatch`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// The records that did not succeed; an empty list acknowledges the whole batch.
    #[serde(rename = "batchItemFailures", default)]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One record that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItemFailure {
    /// The record's [`MessageRecord::item_identifier`].
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
    /// Redeliver after this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Dead-letter the record for this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
}

impl BatchItemFailure {
    /// The failure entry for `record` given its outcome, or `None` when it was acked.
    #[must_use]
    pub fn from_outcome(record: &MessageRecord, outcome: Outcome) -> Option<Self> {
        let item_identifier = record.item_identifier();
        match outcome {
            Outcome::Ack => None,
            Outcome::Retry { delay } => Some(Self {
                item_identifier,
                retry_after_ms: Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
                reject_reason: None,
            }),
            Outcome::Reject { reason } => Some(Self {
                item_identifier,
                retry_after_ms: None,
                reject_reason: Some(reason),
            }),
        }
    }

    /// The outcome this entry stands for; an entry with neither field is retried at once.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        match (&self.reject_reason, self.retry_after_ms) {
            (Some(reason), _) => Outcome::Reject {
                reason: reason.clone(),
            },
            (None, delay) => Outcome::Retry {
                delay: Duration::from_millis(delay.unwrap_or(0)),
            },
        }
    }
}

/// Handles one message and decides its [`Outcome`].
///
/// Implemented by the application's event router; a closure taking an owned
/// [`MessageRecord`] also implements it, which suits tests.
pub trait MessageHandler: Send + Sync {
    /// Handles `record`.
    fn handle<'a>(&'a self, record: &'a MessageRecord)
        -> impl Future<Output = Outcome> + Send + 'a;

    /// Handles a batch: one outcome per record, in the records' order. By default each
    /// record on its own ([`each_on_its_own`]); a handler that applies a batch together (in
    /// one database transaction, say) overrides this.
    fn handle_batch<'a>(
        &'a self,
        records: &'a [MessageRecord],
        concurrency: usize,
    ) -> impl Future<Output = Vec<Outcome>> + Send + 'a
    where
        Self: Sized,
    {
        each_on_its_own(self, records, concurrency)
    }
}

impl<F, Fut> MessageHandler for F
where
    F: Fn(MessageRecord) -> Fut + Send + Sync,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn handle<'a>(
        &'a self,
        record: &'a MessageRecord,
    ) -> impl Future<Output = Outcome> + Send + 'a {
        self(record.clone())
    }
}

/// The delay before redelivering a message whose handler panicked.
pub const PANIC_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Answers `batch` with the records that did not succeed, as [`MessageHandler::handle_batch`]
/// decided. A handler that panics is retried, never fatal to the batch: a record's panic
/// retries that record, a panic of the batch as a whole retries every record.
pub async fn process<H: MessageHandler>(
    batch: &MessageBatch,
    concurrency: usize,
    handler: &H,
) -> BatchResponse {
    let outcomes = AssertUnwindSafe(handler.handle_batch(&batch.records, concurrency))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(records = batch.records.len(), "batch handler panicked");
            vec![panicked(); batch.records.len()]
        });
    if outcomes.len() != batch.records.len() {
        // A handler bug; every record goes round again rather than be acked unhandled.
        tracing::error!(
            records = batch.records.len(),
            outcomes = outcomes.len(),
            "batch handler answered a different number of records"
        );
        return BatchResponse {
            batch_item_failures: batch
                .records
                .iter()
                .filter_map(|record| BatchItemFailure::from_outcome(record, panicked()))
                .collect(),
        };
    }
    BatchResponse {
        batch_item_failures: batch
            .records
            .iter()
            .zip(outcomes)
            .filter_map(|(record, outcome)| BatchItemFailure::from_outcome(record, outcome))
            .collect(),
    }
}

/// Handles every record on its own, at most `concurrency` at a time, each guarded by
/// [`guarded`]: the default [`MessageHandler::handle_batch`].
pub async fn each_on_its_own<H: MessageHandler>(
    handler: &H,
    records: &[MessageRecord],
    concurrency: usize,
) -> Vec<Outcome> {
    // Futures built up front, not in a `map` closure: a closure over borrowed records makes
    // the batch future's `Send` bound unprovable in generic callers (rust-lang/rust#64552).
    let mut handling = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        handling.push(async move { (index, guarded(handler.handle(record), record).await) });
    }
    let mut outcomes: Vec<(usize, Outcome)> = futures::stream::iter(handling)
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

/// Runs `handling`, the handling of `record`; a panic becomes a retry after
/// [`PANIC_RETRY_DELAY`], logged with the record.
pub async fn guarded(handling: impl Future<Output = Outcome>, record: &MessageRecord) -> Outcome {
    AssertUnwindSafe(handling)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(
                messaging.destination.name = %record.subject,
                messaging.message.id = %record.item_identifier(),
                "message handler panicked"
            );
            panicked()
        })
}

const fn panicked() -> Outcome {
    Outcome::Retry {
        delay: PANIC_RETRY_DELAY,
    }
}

mod base64_bytes {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> MessageBatch {
        serde_json::from_str(include_str!("../fixtures/message-batch.json")).unwrap()
    }

    #[test]
    fn the_fixture_round_trips() {
        let batch = fixture();
        assert_eq!(batch.records.len(), 2);
        assert_eq!(batch.records[0].data, br#"{"id":"a"}"#);
        assert_eq!(batch.records[0].header("nats-msg-id"), Some("a"));
        let again: MessageBatch =
            serde_json::from_value(serde_json::to_value(&batch).unwrap()).unwrap();
        assert_eq!(again, batch);
    }

    #[tokio::test]
    async fn only_failures_are_reported_in_record_order() {
        let batch = fixture();
        let response = process(&batch, 4, &|record: MessageRecord| {
            let outcome = if record.stream_sequence == 1 {
                Outcome::Reject {
                    reason: "bad".into(),
                }
            } else {
                Outcome::Ack
            };
            async move { outcome }
        })
        .await;
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "1", "reject_reason": "bad"}]})
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_is_retried_and_the_rest_still_run() {
        let batch = fixture();
        let response = process(&batch, 1, &|record: MessageRecord| {
            let explode = record.stream_sequence == 1;
            async move {
                assert!(!explode, "handler bug");
                Outcome::Ack
            }
        })
        .await;
        assert_eq!(response.batch_item_failures.len(), 1);
        assert_eq!(
            response.batch_item_failures[0].outcome(),
            Outcome::Retry {
                delay: PANIC_RETRY_DELAY
            }
        );
    }
}
