//! Replay: re-deliver a stream's history to a route, from a sequence or a time.
//!
//! An ordered consumer reads the history without touching the route's durable consumer;
//! batches go through the route's [`Invoke`] as live ones do. Handlers apply an event at
//! most once (they record what they processed), so a replay re-applies only what was never
//! applied: a new route catching up, or an effect that was rolled back by hand.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::DeliverPolicy};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::invoke::{checked, Invoke};
use super::record::record_of;
use super::settings::ConsumerSettings;
use super::settle::store_dead_letter;
use super::sizing;
use crate::batch::{MessageBatch, MessageRecord, Outcome};

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// From this stream sequence on.
    Sequence(u64),
    /// From the first message stored at or after this time.
    Time(DateTime<Utc>),
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Messages read from the stream and handed to the route.
    pub delivered: u64,
    /// Messages the route handled (possibly after retries).
    pub acked: u64,
    /// Messages the route rejected or that kept failing, now in the dead-letter stream.
    pub dead_lettered: u64,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// JetStream failed.
    #[error("reading {stream}: {source}")]
    JetStream {
        /// The stream.
        stream: String,
        /// The broker's reason.
        source: async_nats::Error,
    },
}

/// Replays `settings.stream`, filtered to the route's subjects, from `from` up to the last
/// message stored when it starts. `progress` is called after every batch.
///
/// # Errors
/// See [`ReplayError`]. A failing handler is not an error: its records are retried with
/// backoff up to `max_deliver` times and then dead-lettered.
pub async fn replay<I: Invoke>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    from: ReplayFrom,
    invoker: &I,
    mut progress: impl FnMut(&ReplaySummary),
) -> Result<ReplaySummary, ReplayError> {
    let failed = |source: async_nats::Error| ReplayError::JetStream {
        stream: settings.stream.clone(),
        source,
    };
    let mut stream = js
        .get_stream(&settings.stream)
        .await
        .map_err(|e| failed(e.into()))?;
    let last = stream
        .info()
        .await
        .map_err(|e| failed(e.into()))?
        .state
        .last_sequence;
    let deliver_policy = match from {
        ReplayFrom::Sequence(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
        ReplayFrom::Time(time) => DeliverPolicy::ByStartTime {
            start_time: time
                .timestamp_nanos_opt()
                .and_then(|nanos| {
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()
                })
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        },
    };
    let mut consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: super::settings::single_subject(&settings.filter_subjects),
            filter_subjects: super::settings::several_subjects(&settings.filter_subjects),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| failed(e.into()))?;
    let mut summary = ReplaySummary::default();
    let waiting = consumer
        .info()
        .await
        .map_err(|e| failed(e.into()))?
        .num_pending;
    if waiting == 0 {
        return Ok(summary);
    }
    let mut messages = consumer.messages().await.map_err(|e| failed(e.into()))?;
    let mut done = false;
    while !done {
        let mut records = Vec::with_capacity(settings.batch_size);
        while records.len() < settings.batch_size {
            let next = tokio::time::timeout(settings.max_wait, messages.next()).await;
            let message = match next {
                Ok(Some(message)) => message.map_err(|e| failed(e.into()))?,
                Ok(None) => {
                    done = true;
                    break;
                }
                // The batching window passed: hand over what there is.
                Err(_) => break,
            };
            let pending = message.info().map(|info| info.pending).unwrap_or(0);
            if let Some(record) = record_of(&message) {
                done = pending == 0 || record.stream_sequence >= last;
                records.push(record);
            }
            if done {
                break;
            }
        }
        if records.is_empty() {
            continue;
        }
        summary.delivered += records.len() as u64;
        let plan = sizing::plan(&records, settings.max_invoke_bytes);
        let mut slots: Vec<Option<MessageRecord>> = records.into_iter().map(Some).collect();
        for (index, bytes) in plan.oversized {
            if let Some(record) = slots[index].take() {
                let reason = format!(
                    "the message encodes to {bytes} bytes, more than one invoke may carry ({} bytes)",
                    settings.max_invoke_bytes
                );
                dead_letter(js, settings, &record, &reason, &mut summary).await;
            }
        }
        for group in plan.invokes {
            let records = group.iter().filter_map(|&i| slots[i].take()).collect();
            deliver(js, settings, invoker, records, &mut summary).await;
        }
        progress(&summary);
    }
    Ok(summary)
}

/// Invokes the route with `records`, retrying failures with backoff up to `max_deliver`
/// times and dead-lettering what is rejected or keeps failing.
async fn deliver<I: Invoke>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    invoker: &I,
    mut records: Vec<MessageRecord>,
    summary: &mut ReplaySummary,
) {
    let mut deliveries = 1;
    while !records.is_empty() {
        for record in &mut records {
            record.deliveries = deliveries;
        }
        let batch = MessageBatch { records };
        let invoked = invoker
            .invoke(&batch)
            .await
            .and_then(|response| checked(&batch, response));
        let outcomes: Vec<(MessageRecord, Outcome)> = match invoked {
            Ok(response) => {
                let mut failures: std::collections::HashMap<String, Outcome> = response
                    .batch_item_failures
                    .iter()
                    .map(|f| (f.item_identifier.clone(), f.outcome()))
                    .collect();
                batch
                    .records
                    .into_iter()
                    .map(|r| {
                        let outcome = failures
                            .remove(&r.item_identifier())
                            .unwrap_or(Outcome::Ack);
                        (r, outcome)
                    })
                    .collect()
            }
            Err(error) => {
                tracing::warn!(%error, "replay invoke failed");
                let delay = settings.backoff.delay(deliveries, 0);
                batch
                    .records
                    .into_iter()
                    .map(|r| (r, Outcome::Retry { delay }))
                    .collect()
            }
        };
        let mut again = Vec::new();
        let mut wait = Duration::ZERO;
        for (record, outcome) in outcomes {
            let exhausted = i64::try_from(deliveries).unwrap_or(i64::MAX) >= settings.max_deliver;
            let reason = match outcome {
                Outcome::Ack => {
                    summary.acked += 1;
                    continue;
                }
                Outcome::Retry { delay } if !exhausted => {
                    wait = wait.max(delay);
                    again.push(record);
                    continue;
                }
                Outcome::Retry { .. } => format!("replay gave up after {deliveries} deliveries"),
                Outcome::Reject { reason } => reason,
            };
            dead_letter(js, settings, &record, &reason, summary).await;
        }
        records = again;
        if !records.is_empty() {
            tokio::time::sleep(wait).await;
            deliveries += 1;
        }
    }
}

async fn dead_letter(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    record: &MessageRecord,
    reason: &str,
    summary: &mut ReplaySummary,
) {
    match store_dead_letter(js, &settings.dead_letter_prefix, record, reason).await {
        Ok(()) => summary.dead_lettered += 1,
        Err(error) => {
            tracing::error!(%error, sequence = record.stream_sequence, "cannot dead-letter a replayed message; it stays in the stream");
        }
    }
}
