//! The transactional outbox: events written in the same transaction as the change they
//! announce, and published by a relay ([`relay`]) afterwards. The outbox knows no event:
//! each store builds its own ([`OutboxEvent::new`]) under a subject of
//! `lzstock_domain::events`.

mod metrics;
pub mod relay;

use chrono::{DateTime, Utc};
use lzstock_shim::telemetry::TraceParent;
use serde_json::{json, Value};
use sqlx::PgConnection;

pub use metrics::OutboxMetrics;
pub use relay::{OutboxRelay, RelayError, RelayPass, RelaySettings};

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

impl OutboxEvent {
    /// An event on `<subject_root>.<subject>` with the envelope `{id, trace_id,
    /// occurred_at, request, response}`. `trace`, a W3C `traceparent` or a bare trace id
    /// from the request that caused the event, is carried as the envelope's `trace_id` and
    /// the message's `traceparent`, so the handlers' spans join the request's trace; anything
    /// else is dropped.
    #[must_use]
    pub fn new(
        id: uuid::Uuid,
        subject_root: &str,
        subject: &str,
        trace: Option<&str>,
        occurred_at: DateTime<Utc>,
        request: Value,
        response: Value,
    ) -> Self {
        let parent = trace.and_then(TraceParent::continuing);
        Self {
            id,
            subject: format!("{subject_root}.{subject}"),
            payload: json!({
                "id": id.to_string(),
                "trace_id": parent.as_ref().map(TraceParent::trace_id),
                "occurred_at": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "request": request,
                "response": response,
            }),
            traceparent: parent.map(|parent| parent.to_string()),
        }
    }
}

/// Writes `event` in the caller's transaction.
///
/// # Errors
/// When the insert fails.
pub async fn insert(connection: &mut PgConnection, event: &OutboxEvent) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO outbox (id, subject, payload, traceparent) VALUES ($1, $2, $3, $4)",
        event.id,
        event.subject,
        event.payload,
        event.traceparent,
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_carries_its_callers_trace_or_continues_a_bare_trace_id() {
        let full = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let event = |trace| {
            OutboxEvent::new(
                uuid::Uuid::now_v7(),
                "lzstock",
                "things.happened",
                trace,
                Utc::now(),
                json!({}),
                json!({}),
            )
        };
        let traced = event(Some(full));
        assert_eq!(traced.subject, "lzstock.things.happened");
        assert_eq!(traced.traceparent.as_deref(), Some(full));
        assert_eq!(
            traced.payload["trace_id"],
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let bare = event(Some("4BF92F3577B34DA6A3CE929D0E0E4736"));
        let header = bare.traceparent.expect("continued");
        assert!(header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(header.ends_with("-01"));
        let untraced = event(Some("not-a-trace"));
        assert_eq!(untraced.traceparent, None);
        assert!(untraced.payload["trace_id"].is_null());
    }
}
