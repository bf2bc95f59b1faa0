//! The transactional outbox and its relay to JetStream.
//!
//! A usecase's store writes the event into `outbox` in the same transaction as the change
//! it announces. [`OutboxRelay`] then publishes pending rows to JetStream with the row id as
//! `Nats-Msg-Id`, awaits the stream's ack, and marks them published. A relay that dies
//! between the publish and the mark publishes again on restart, and the stream's duplicate
//! window drops the repeat: at-least-once publishing, exactly-once in the stream.

use std::time::Duration;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use lzstock_domain::dashboard::{Dashboard, DashboardCreated};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::Notify;

use crate::dashboards::DASHBOARD_CREATED;
use crate::publisher::{EventPublisher, OutgoingEvent};

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// The event id; `Nats-Msg-Id` when published.
    pub id: uuid::Uuid,
    /// The full subject, e.g. `lzstock.dashboards.created`.
    pub subject: String,
    /// The envelope `{id, trace_id, occurred_at, request, response}`.
    pub payload: Value,
    /// The W3C `traceparent` to publish with, if the event ran in a trace.
    pub traceparent: Option<String>,
}

fn envelope(
    id: uuid::Uuid,
    trace_id: Option<&str>,
    occurred_at: DateTime<Utc>,
    request: Value,
    response: Value,
) -> Value {
    json!({
        "id": id.to_string(),
        "trace_id": trace_id,
        "occurred_at": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "request": request,
        "response": response,
    })
}

/// A dashboard in canonical proto3 JSON (`lzstock.v1.Dashboard`).
#[must_use]
pub fn dashboard_json(dashboard: &Dashboard) -> Value {
    json!({
        "id": dashboard.id.to_string(),
        "ownerId": dashboard.owner.as_str(),
        "name": dashboard.name.as_str(),
        "tickers": dashboard.tickers.as_slice().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "indicators": dashboard.indicators.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "createdAt": dashboard.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

impl OutboxEvent {
    /// `<root>.dashboards.created`: the CreateDashboard request and the created dashboard.
    #[must_use]
    pub fn dashboard_created(subject_root: &str, event: &DashboardCreated) -> Self {
        let request = json!({
            "name": event.request.name.as_str(),
            "tickers": event.request.tickers.as_slice().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "indicators": event.request.indicators.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        Self {
            id: event.event_id,
            subject: format!("{subject_root}.{DASHBOARD_CREATED}"),
            payload: envelope(
                event.event_id,
                event.trace_id.as_deref(),
                event.dashboard.created_at,
                request,
                dashboard_json(&event.dashboard),
            ),
            traceparent: event.trace_id.as_deref().and_then(traceparent),
        }
    }
}

/// A `traceparent` continuing trace `trace_id` (32 hex digits), or `None` for any other id.
fn traceparent(trace_id: &str) -> Option<String> {
    let valid = trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| {
        let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
        format!("00-{}-{span}-01", trace_id.to_ascii_lowercase())
    })
}

/// Writes `event` in the caller's transaction.
///
/// # Errors
/// When the insert fails.
pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    event: &OutboxEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO outbox (id, subject, payload, traceparent) VALUES ($1, $2, $3, $4)",
        event.id,
        event.subject,
        event.payload,
        event.traceparent,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Why a relay pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// PostgreSQL failed.
    #[error("outbox: {0}")]
    Database(#[from] sqlx::Error),
    /// JetStream did not store an event.
    #[error("publishing {id}: {reason}")]
    Publish {
        /// The event.
        id: uuid::Uuid,
        /// Why.
        reason: String,
    },
}

/// Publishes outbox rows to JetStream.
#[derive(Debug)]
pub struct OutboxRelay {
    pool: PgPool,
    publisher: EventPublisher,
    wake: Notify,
}

/// How many events one relay pass publishes at most.
pub const RELAY_BATCH: i64 = 100;
/// Publishes of one pass awaiting their ack at once.
pub const RELAY_IN_FLIGHT: usize = 32;
/// How often the relay looks for events nobody woke it for (written by another process).
pub const RELAY_POLL: Duration = Duration::from_millis(500);

impl OutboxRelay {
    /// A relay from `pool` to `js`.
    #[must_use]
    pub fn new(pool: PgPool, js: jetstream::Context) -> Self {
        Self {
            pool,
            publisher: EventPublisher::new(js, RELAY_IN_FLIGHT),
            wake: Notify::new(),
        }
    }

    /// Asks the running relay to publish now instead of at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes pending events, oldest first, until none is left or one fails (order is
    /// kept: a failed event is retried before any later one). Returns how many it published.
    /// Rows are locked with `SKIP LOCKED`, so several relays can run at once.
    ///
    /// # Errors
    /// See [`RelayError`]; the failed event stays pending.
    pub async fn publish_pending(&self) -> Result<usize, RelayError> {
        let mut published = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let rows = sqlx::query!(
                "SELECT id, subject, payload, traceparent FROM outbox
                 WHERE published_at IS NULL
                 ORDER BY created_at, id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED",
                RELAY_BATCH,
            )
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                return Ok(published);
            }
            let count = rows.len();
            // Pipelined, in order: a pass is not one round trip per event. Only the prefix
            // before the first failure is marked published; a later event that was stored
            // anyway is published again next pass and dropped by the duplicate window.
            let mut results = futures::stream::iter(rows.into_iter().map(|row| {
                let event = OutgoingEvent {
                    subject: row.subject,
                    id: row.id.to_string(),
                    traceparent: row.traceparent,
                    body: serde_json::to_vec(&row.payload).unwrap_or_default().into(),
                };
                let publisher = &self.publisher;
                async move { (row.id, publisher.publish(event).await) }
            }))
            .buffered(RELAY_IN_FLIGHT);
            while let Some((id, result)) = results.next().await {
                if let Err(error) = result {
                    let reason = error.to_string();
                    sqlx::query!(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                        id,
                        reason,
                    )
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return Err(RelayError::Publish { id, reason });
                }
                sqlx::query!(
                    "UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1",
                    id,
                )
                .execute(&mut *tx)
                .await?;
                published += 1;
            }
            tx.commit().await?;
            if count < usize::try_from(RELAY_BATCH).unwrap_or(usize::MAX) {
                return Ok(published);
            }
        }
    }

    /// Publishes pending events whenever woken and at least every [`RELAY_POLL`], until
    /// `shutdown` resolves. Failures are logged and retried with capped backoff.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = RELAY_POLL;
        loop {
            let wait = match self.publish_pending().await {
                Ok(count) => {
                    if count > 0 {
                        tracing::debug!(count, "outbox events published");
                    }
                    backoff = RELAY_POLL;
                    RELAY_POLL
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "outbox relay pass failed");
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
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
    use super::traceparent;

    #[test]
    fn a_traceparent_continues_only_a_w3c_trace_id() {
        let header = traceparent("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap();
        assert!(header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(header.ends_with("-01"));
        assert_eq!(header.len(), 55);
        assert!(traceparent("not-a-trace").is_none());
    }
}
