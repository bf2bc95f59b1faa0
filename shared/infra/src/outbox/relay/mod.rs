//! The outbox relay: publishes committed events to JetStream. Its statements on the
//! outbox's rows are in [`rows`], and how it tells a row's fault from the broker's in
//! [`fault`].
//!
//! Each pass claims the oldest pending rows for a short while (no row lock is held across a
//! publish), sends them in commit order with the row id as `Nats-Msg-Id`, and marks the rows
//! the stream acknowledged published, a claim at a time (one statement per claim). While a
//! full claim is published, the next is claimed, and the previous claim's mark runs. A row whose publish fails while the
//! broker answers (a payload over `max_payload`, a subject no stream holds) is tried again
//! after a growing delay and parked after [`RelaySettings::max_attempts`], so it cannot hold
//! back the rows behind it. A failure that is the broker's (a timeout, a lost connection, a
//! stream without a leader during an election, JetStream temporarily unavailable) charges
//! no row: an outage or an election delays events, it never parks them. Published rows are
//! pruned after [`RelaySettings::retention`].
//!
//! Guarantees: every committed event is published at least once; a repeat within the
//! stream's duplicate window (a relay that died between an ack and its window's mark) is dropped by
//! the stream, and handlers record the event id, so a later repeat has no second effect.
//! Events leave in commit order, except that a row that failed is retried after rows
//! committed later.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use lzstock_shim::backoff::Backoff;
use sqlx::PgPool;
use tokio::sync::Notify;
use tracing::Instrument;

mod fault;
mod rows;
mod settings;

pub use rows::unpark;
pub use settings::RelaySettings;

use super::metrics::OutboxMetrics;
use crate::publisher::{EventPublisher, OutgoingEvent, PublishError};
use fault::Fault;

/// The span of one event's publish, from the send to the stream's ack, in the trace the
/// event's row was written in.
fn publish_span(event: &OutgoingEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "outbox.publish",
        otel.kind = "producer",
        messaging.system = "nats",
        messaging.operation.type = "send",
        messaging.destination.name = %event.subject,
        messaging.message.id = %event.id,
    );
    if let Some(traceparent) = &event.traceparent {
        lzstock_shim::telemetry::continue_trace(&span, traceparent);
    }
    span
}

/// How many events one claim takes at most.
pub const RELAY_BATCH: i64 = 100;
/// Publishes awaiting their ack at once.
pub const RELAY_IN_FLIGHT: usize = 32;
/// How often the relay looks for events nobody woke it for (written by another process).
pub const RELAY_POLL: Duration = Duration::from_millis(500);
/// How often published rows past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Why a relay pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// PostgreSQL failed.
    #[error("outbox: {0}")]
    Database(#[from] sqlx::Error),
    /// The broker did not answer; no row was charged an attempt.
    #[error("the broker is unavailable: {0}")]
    BrokerUnavailable(String),
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Rows published and marked.
    pub published: usize,
    /// Rows whose publish failed while the broker answered; they wait for their next try.
    pub failed: usize,
    /// Rows parked in this pass.
    pub parked: usize,
}

/// Publishes outbox rows to JetStream.
#[derive(Debug)]
pub struct OutboxRelay {
    pool: PgPool,
    js: jetstream::Context,
    publisher: EventPublisher,
    wake: Notify,
    settings: RelaySettings,
    metrics: OutboxMetrics,
}

/// Rows the stream acknowledged and the relay has not marked yet, and the mark in flight.
#[derive(Default)]
struct Acked {
    ids: Vec<uuid::Uuid>,
    marking: Option<tokio::task::JoinHandle<Result<usize, sqlx::Error>>>,
}

/// A claimed row.
struct Claimed {
    id: uuid::Uuid,
    /// The claim's token: the row is settled only while it still carries it.
    token: uuid::Uuid,
    attempts: i32,
    event: OutgoingEvent,
}

impl OutboxRelay {
    /// A relay from `pool` to `js` with the default [`RelaySettings`].
    #[must_use]
    pub fn new(pool: PgPool, js: jetstream::Context) -> Self {
        Self::with_settings(pool, js, RelaySettings::default())
    }

    /// A relay from `pool` to `js` with `settings`.
    #[must_use]
    pub fn with_settings(pool: PgPool, js: jetstream::Context, settings: RelaySettings) -> Self {
        Self {
            pool,
            publisher: EventPublisher::new(js.clone(), RELAY_IN_FLIGHT),
            js,
            wake: Notify::new(),
            settings,
            metrics: OutboxMetrics::default(),
        }
    }

    /// The relay's counters.
    #[must_use]
    pub fn metrics(&self) -> &OutboxMetrics {
        &self.metrics
    }

    /// Asks the running relay to publish now instead of at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes every due row, oldest first, until none is left.
    ///
    /// # Errors
    /// See [`RelayError`]; rows not yet published stay pending.
    pub async fn publish_pending(&self) -> Result<RelayPass, RelayError> {
        let mut pass = RelayPass::default();
        let mut acked = Acked::default();
        let full = usize::try_from(RELAY_BATCH).unwrap_or(usize::MAX);
        let mut rows = self.claim().await?;
        let published = loop {
            if rows.is_empty() {
                break Ok(());
            }
            // A full claim may have more behind it: the next claim runs while this one is
            // published.
            let (sent, next) = if rows.len() < full {
                (
                    self.publish(rows, &mut acked, &mut pass).await,
                    Ok(Vec::new()),
                )
            } else {
                tokio::join!(self.publish(rows, &mut acked, &mut pass), self.claim())
            };
            match (sent, next) {
                (Ok(()), Ok(next)) => rows = next,
                (Ok(()), Err(error)) => break Err(RelayError::from(error)),
                (Err(error), next) => {
                    // Rows claimed ahead go back to the next pass at once.
                    for row in next.iter().flatten() {
                        if self.release(row).await.is_err() {
                            break;
                        }
                    }
                    break Err(error);
                }
            }
        };
        let marked = self.finish_marking(&mut acked, &mut pass).await;
        published?;
        marked?;
        Ok(pass)
    }

    /// Sends `rows` in order with at most [`RELAY_IN_FLIGHT`] awaiting their ack, settling
    /// each as its ack (or failure) arrives.
    async fn publish(
        &self,
        rows: Vec<Claimed>,
        acked: &mut Acked,
        pass: &mut RelayPass,
    ) -> Result<(), RelayError> {
        let mut outage: Option<String> = None;
        let mut waiting = FuturesUnordered::new();
        for row in rows {
            while waiting.len() >= RELAY_IN_FLIGHT {
                if let Some((row, result)) = waiting.next().await {
                    self.settle(row, result, acked, pass, &mut outage).await?;
                }
            }
            if outage.is_some() {
                // The broker is away: the rest of the claim waits for the next pass.
                self.release(&row).await?;
                continue;
            }
            let span = publish_span(&row.event);
            let mut event = row.event.clone();
            // The handlers hang under this publish, so the trace shows the hop.
            event.traceparent =
                lzstock_shim::telemetry::traceparent_of(&span).or(event.traceparent);
            match self.publisher.send(event).instrument(span.clone()).await {
                Ok(pending) => waiting
                    .push(async move { (row, pending.stored().await.map(drop)) }.instrument(span)),
                Err(error) => {
                    self.settle(row, Err(error), acked, pass, &mut outage)
                        .await?;
                }
            }
        }
        while let Some((row, result)) = waiting.next().await {
            self.settle(row, result, acked, pass, &mut outage).await?;
        }
        self.mark_published(acked, pass).await?;
        match outage {
            Some(reason) => Err(RelayError::BrokerUnavailable(reason)),
            None => Ok(()),
        }
    }

    async fn settle(
        &self,
        row: Claimed,
        result: Result<(), PublishError>,
        acked: &mut Acked,
        pass: &mut RelayPass,
        outage: &mut Option<String>,
    ) -> Result<(), sqlx::Error> {
        let error = match result {
            Ok(()) => {
                acked.ids.push(row.id);
                return Ok(());
            }
            Err(error) => error,
        };
        if outage.is_none() && self.fault_of(&row.event.subject, &error).await == Fault::Broker {
            *outage = Some(error.to_string());
        }
        if outage.is_some() {
            // Not the row's fault: release it for the next pass, uncharged.
            return self.release(&row).await;
        }
        let attempts = u32::try_from(row.attempts).unwrap_or(0) + 1;
        let reason = error.to_string();
        let retry_after = self.settings.retry_after(attempts, row.id);
        let parked = sqlx::query_scalar!(
            r#"UPDATE outbox SET attempts = attempts + 1, last_error = $2, claimed_until = NULL,
                   claim_token = NULL,
                   next_attempt_at = now() + make_interval(secs => $3),
                   parked_at = CASE WHEN attempts + 1 >= $4 THEN now() END
               WHERE id = $1 AND claim_token = $5
               RETURNING parked_at IS NOT NULL AS "parked!""#,
            row.id,
            reason,
            retry_after.as_secs_f64(),
            i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX),
            row.token,
        )
        .fetch_optional(&self.pool)
        .await?;
        // Another relay took the row over after this claim lapsed: its attempt, not ours.
        let Some(parked) = parked else {
            return Ok(());
        };
        self.metrics.count_failed();
        pass.failed += 1;
        if parked {
            self.metrics.count_parked();
            pass.parked += 1;
            tracing::error!(
                event = %row.id,
                subject = %row.event.subject,
                attempts,
                error = %reason,
                "outbox event parked after repeated failures; the relay moves on"
            );
        } else {
            tracing::warn!(
                event = %row.id,
                subject = %row.event.subject,
                attempts,
                error = %reason,
                ?retry_after,
                "publishing an outbox event failed; it is retried later"
            );
        }
        Ok(())
    }

    /// Publishes due events whenever woken and at least every [`RELAY_POLL`], and prunes
    /// published rows every ten minutes, until `shutdown` resolves. Failures are logged and
    /// retried with capped backoff.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        // A failing pass is tried again sooner than a broker outage ends, later each time.
        let backoff = Backoff {
            base: RELAY_POLL,
            max: Duration::from_secs(10),
        };
        let seed = u64::from(std::process::id());
        let mut failures: u64 = 0;
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                match self.prune().await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "pruned published outbox events"),
                    Err(error) => tracing::warn!(%error, "pruning the outbox failed"),
                }
                pruned_at = Some(tokio::time::Instant::now());
            }
            let wait = match self.publish_pending().await {
                Ok(pass) => {
                    if pass.published > 0 {
                        tracing::debug!(count = pass.published, "outbox events published");
                    }
                    failures = 0;
                    RELAY_POLL
                }
                Err(error) => {
                    failures += 1;
                    let wait = backoff.delay(failures, seed ^ failures);
                    tracing::warn!(%error, retry_in = ?wait, "outbox relay pass failed");
                    wait
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap() {
        let settings = RelaySettings::default();
        let row = uuid::Uuid::from_u128(7);
        // Less up to a quarter of jitter, the same for the same row.
        let first = settings.retry_after(1, row);
        assert!(first <= Duration::from_secs(1) && first >= Duration::from_millis(750));
        assert_eq!(first, settings.retry_after(1, row));
        let third = settings.retry_after(3, row);
        assert!(third <= Duration::from_secs(4) && third >= Duration::from_secs(3));
        assert!(settings.retry_after(40, row) <= Duration::from_secs(300));
        assert!(settings.retry_after(40, row) >= Duration::from_secs(225));
    }
}
