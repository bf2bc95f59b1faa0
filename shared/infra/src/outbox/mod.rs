//! The transactional outbox: events written in the same transaction as the change they
//! announce, and published by a relay ([`relay`]) afterwards. The outbox knows no event:
//! each store builds its own ([`OutboxEvent::new`]) under a subject of
//! `lzstock_domain::events`.

mod metrics;
pub mod relay;

use chrono::{DateTime, Utc};
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
        Self {
            id,
            subject: format!("{subject_root}.{subject}"),
            payload: json!({
                "id": id.to_string(),
                "trace_id": trace.and_then(trace_id_of),
                "occurred_at": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "request": request,
                "response": response,
            }),
            traceparent: trace.and_then(traceparent),
        }
    }
}

/// The trace id (32 lower-case hex digits) of `trace`: a W3C `traceparent`, or a bare trace
/// id; `None` for anything else.
fn trace_id_of(trace: &str) -> Option<&str> {
    let hex32 = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if hex32(trace) {
        return Some(trace);
    }
    let mut parts = trace.split('-');
    let (version, id) = (parts.next()?, parts.next()?);
    (version == "00" && hex32(id)).then_some(id)
}

/// The `traceparent` to publish with: `trace` itself when it is one (its span, the
/// request's, becomes the handlers' parent), or one continuing a bare trace id under a new
/// span; `None` for anything else.
fn traceparent(trace: &str) -> Option<String> {
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = trace.split('-').collect();
    if let ["00", id, span, flags] = parts.as_slice() {
        if hex(id, 32) && hex(span, 16) && hex(flags, 2) {
            return Some(trace.to_ascii_lowercase());
        }
    }
    let valid = hex(trace, 32);
    valid.then(|| {
        let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
        format!("00-{}-{span}-01", trace.to_ascii_lowercase())
    })
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
    use super::traceparent;

    #[test]
    fn a_traceparent_continues_only_a_w3c_trace_id() {
        let header = traceparent("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap();
        assert!(header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(header.ends_with("-01"));
        assert_eq!(header.len(), 55);
        assert!(traceparent("not-a-trace").is_none());
        let full = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(traceparent(full).as_deref(), Some(full));
        assert_eq!(
            super::trace_id_of(full),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }
}
