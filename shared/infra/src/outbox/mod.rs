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

use crate::publisher::OutgoingEvent;

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

impl From<OutboxEvent> for OutgoingEvent {
    /// The message the relay publishes for a row: its id as `Nats-Msg-Id`, its envelope as
    /// the body, its `traceparent` as the header.
    fn from(event: OutboxEvent) -> Self {
        Self {
            subject: event.subject,
            id: event.id.to_string(),
            traceparent: event.traceparent,
            // A JSON value always serialises.
            body: serde_json::to_vec(&event.payload)
                .unwrap_or_default()
                .into(),
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

    proptest::proptest! {
        /// A row, as the relay publishes it, reads back as the handlers read it: the
        /// header's id is the envelope's, the envelope's trace id is the header's, and the
        /// request and response arrive as written.
        #[test]
        fn an_outbox_row_reads_back_from_its_message(
            id in proptest::num::u128::ANY,
            subject in "[a-z_]{1,12}\\.[a-z_]{1,12}",
            trace in proptest::option::of("[0-9a-f]{32}|00-[0-9a-f]{31}[1-9a-f]-[1-9a-f][0-9a-f]{15}-0[01]|\\PC{0,40}"),
            text in "\\PC{0,60}",
            millis in 0_i64..4_102_444_800_000,
        ) {
            let id = uuid::Uuid::from_u128(id);
            let occurred_at = DateTime::from_timestamp_millis(millis).expect("in range");
            let row = OutboxEvent::new(
                id,
                "lzstock",
                &subject,
                trace.as_deref(),
                occurred_at,
                json!({ "text": text }),
                json!({ "id": id.to_string() }),
            );
            let message = OutgoingEvent::from(row.clone());
            let headers = message.headers();
            let header = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
            proptest::prop_assert_eq!(header("Nats-Msg-Id"), Some(id.to_string()));
            proptest::prop_assert_eq!(message.subject.clone(), format!("lzstock.{subject}"));
            let envelope: lzstock_shim::envelope::Envelope<Value, Value> =
                serde_json::from_slice(&message.body).expect("an envelope");
            proptest::prop_assert_eq!(&envelope.id, &id.to_string());
            proptest::prop_assert_eq!(&envelope.request["text"], &json!(text));
            proptest::prop_assert_eq!(envelope.occurred_at, occurred_at);
            let parent = header("traceparent").map(|h| TraceParent::parse(&h).expect("valid"));
            proptest::prop_assert_eq!(
                envelope.trace_id.as_deref(),
                parent.as_ref().map(TraceParent::trace_id)
            );
            let expected = trace.as_deref().and_then(TraceParent::continuing);
            proptest::prop_assert_eq!(
                parent.as_ref().map(TraceParent::trace_id),
                expected.as_ref().map(TraceParent::trace_id)
            );
        }
    }
}
