//! Handing a fetched batch to the function and settling each record from its answer: the
//! batch is cut into invokes that fit the Invoke API's payload limit, the messages are kept
//! in progress while an invoke runs, and a failed invoke retries every record it carried.

use std::collections::HashMap;
use std::time::Instant;

use async_nats::jetstream::{self, AckKind, Message};

use super::invoke::{checked, Invoke, InvokeError};
use super::metrics::{BridgeMetrics, Count, Tally};
use super::record::record_of;
use super::settings::{progress_every, ConsumerSettings};
use super::settle::{settle, Settling};
use super::sizing;
use crate::batch::{MessageBatch, MessageRecord, Outcome};
use tracing::Instrument;

/// Invokes the function with the records of `messages`, as many invokes as their size
/// needs, and settles every record.
pub(crate) async fn handle_batch<I: Invoke>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    messages: Vec<Message>,
    invoker: &I,
    metrics: &BridgeMetrics,
) {
    let mut delivered = Vec::with_capacity(messages.len());
    for message in messages {
        match record_of(&message) {
            Some(record) => delivered.push((record, message)),
            // Not a JetStream delivery: nothing to ack; the server redelivers real ones.
            None => tracing::warn!(subject = %message.subject, "skipping a non-JetStream message"),
        }
    }
    let plan = sizing::plan(delivered.iter().map(|(r, _)| r), settings.max_invoke_bytes);
    let mut slots: Vec<Option<(MessageRecord, Message)>> =
        delivered.into_iter().map(Some).collect();
    let oversized: Vec<(MessageRecord, Message, usize)> = plan
        .oversized
        .iter()
        .filter_map(|&(index, bytes)| slots[index].take().map(|(r, m)| (r, m, bytes)))
        .collect();
    // Each invoke's records, and the messages they came from, in stream order.
    let invokes: Vec<(MessageBatch, Vec<Message>)> = plan
        .invokes
        .iter()
        .map(|group| {
            let (records, messages) = group.iter().filter_map(|&i| slots[i].take()).unzip();
            (MessageBatch { records }, messages)
        })
        .collect();
    let mut tally = Tally::default();
    for (record, message, bytes) in &oversized {
        tally.count(&record.subject, Count::Delivered);
        // It would be refused on every delivery: no retry can help.
        let reason = format!(
            "the message encodes to {bytes} bytes, more than one invoke may carry ({} bytes)",
            settings.max_invoke_bytes
        );
        let settling = Settling {
            record,
            message,
            cause: None,
        };
        settle(
            js,
            settings,
            &mut tally,
            settling,
            Outcome::Reject { reason },
        )
        .await;
    }
    for (index, (batch, messages)) in invokes.iter().enumerate() {
        // The messages of later invokes wait too: report all of them in progress.
        let waiting: Vec<&Message> = invokes[index..].iter().flat_map(|(_, m)| m).collect();
        let (mut failures, cause) = invoke(settings, invoker, metrics, batch, &waiting).await;
        for (record, message) in batch.records.iter().zip(messages) {
            tally.count(&record.subject, Count::Delivered);
            // Most batches succeed whole: no identifier to format then.
            let outcome = if failures.is_empty() {
                Outcome::Ack
            } else {
                failures
                    .remove(&record.item_identifier())
                    .unwrap_or(Outcome::Ack)
            };
            let settling = Settling {
                record,
                message,
                cause: cause.as_deref(),
            };
            settle(js, settings, &mut tally, settling, outcome).await;
        }
    }
    metrics.add(&tally);
}

/// The delays between tries of a throttled invoke.
const THROTTLE_BACKOFF: crate::backoff::Backoff = crate::backoff::Backoff {
    base: std::time::Duration::from_millis(500),
    max: std::time::Duration::from_secs(10),
};

/// Tells the server `waiting` is being worked on (a failure is only logged: at worst a
/// message is redelivered, and handlers apply it once).
async fn in_progress(waiting: &[&Message]) {
    for message in waiting {
        if let Err(error) = message.ack_with(AckKind::Progress).await {
            tracing::warn!(%error, "in-progress ack failed");
        }
    }
}

/// Invokes the function with `batch` and returns each failed record's outcome, with the
/// error that failed the whole invoke, if one did. While it runs, `waiting` is reported in
/// progress.
async fn invoke<I: Invoke>(
    settings: &ConsumerSettings,
    invoker: &I,
    metrics: &BridgeMetrics,
    batch: &MessageBatch,
    waiting: &[&Message],
) -> (HashMap<String, Outcome>, Option<String>) {
    let started = Instant::now();
    // One span per invoke, linked to the trace of every record it carries (a batch has no
    // single parent: each record continues its own publisher's trace in the handler).
    let span = tracing::info_span!(
        "bridge.invoke",
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.destination.name = %settings.stream,
        messaging.consumer.group.name = %settings.durable,
        messaging.batch.message_count = batch.records.len(),
    );
    for record in &batch.records {
        if let Some(context) = record
            .header("traceparent")
            .and_then(crate::telemetry::remote_parent)
        {
            use opentelemetry::trace::TraceContextExt;
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            span.add_link(context.span().span_context().clone());
        }
    }
    let invoked = async {
        // While the invoke runs longer than a third of ack_wait, tell the server the messages
        // are in progress, so it does not redeliver them to someone else meanwhile; the same
        // while a throttled invoke waits for its next try.
        let mut progress = tokio::time::interval_at(
            tokio::time::Instant::now() + progress_every(settings.ack_wait),
            progress_every(settings.ack_wait),
        );
        let mut throttles = 0_u64;
        loop {
            // Past invoke_timeout the batch counts as failed (retried with backoff): a
            // function that never answers must not hold its messages in progress forever.
            let work = tokio::time::timeout(settings.invoke_timeout, invoker.invoke(batch));
            tokio::pin!(work);
            let invoked = loop {
                tokio::select! {
                    invoked = &mut work => break invoked.unwrap_or(Err(InvokeError::TimedOut {
                        after: settings.invoke_timeout,
                    })),
                    _ = progress.tick() => in_progress(waiting).await,
                }
            };
            let Err(InvokeError::Throttled { reason, .. }) = &invoked else {
                break invoked;
            };
            // Lambda had no capacity: the batch was never run. It stays in hand (in
            // progress, no nak, so no delivery is spent) and is tried again after a capped,
            // jittered backoff, however long the throttling lasts.
            throttles += 1;
            metrics.invoke_throttled(&settings.durable);
            let seed = batch.records.first().map_or(0, |r| r.stream_sequence);
            let delay = THROTTLE_BACKOFF.delay(throttles, seed ^ throttles);
            tracing::warn!(%reason, throttles, retry_in = ?delay, "invoke throttled; keeping the batch and trying again");
            let pause = tokio::time::sleep(delay);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = &mut pause => break,
                    _ = progress.tick() => in_progress(waiting).await,
                }
            }
        }
    }
    .instrument(span)
    .await;
    metrics.invoked(&settings.durable, started.elapsed());
    match invoked.and_then(|response| checked(batch, response)) {
        Ok(response) => (
            response
                .batch_item_failures
                .iter()
                .map(|f| (f.item_identifier.clone(), f.outcome()))
                .collect(),
            None,
        ),
        Err(error) => {
            // The function crashed, timed out or could not be reached: every record comes
            // back after the backoff, and dead-letters, with this error as the cause, once
            // it runs out of deliveries.
            tracing::warn!(%error, records = batch.records.len(), "invoke failed; retrying the batch");
            metrics.invoke_failed(&settings.durable);
            let failures = batch
                .records
                .iter()
                .map(|record| {
                    let delay = settings
                        .backoff
                        .delay(record.deliveries, record.stream_sequence);
                    (record.item_identifier(), Outcome::Retry { delay })
                })
                .collect();
            (failures, Some(error.to_string()))
        }
    }
}
