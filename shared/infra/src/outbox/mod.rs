//! The transactional outbox: events written in the same transaction as the change they
//! announce, and published by a relay ([`relay`]) afterwards.

mod metrics;
pub mod relay;

use chrono::{DateTime, Utc};
use lzstock_domain::dashboard::{Dashboard, DashboardCreated};
use lzstock_domain::email::EmailCreated;
use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::dashboards::DASHBOARD_CREATED;
use crate::emails::EMAIL_CREATED;

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
                event.trace_id.as_deref().and_then(trace_id_of),
                event.dashboard.created_at,
                request,
                dashboard_json(&event.dashboard),
            ),
            traceparent: event.trace_id.as_deref().and_then(traceparent),
        }
    }
}

impl OutboxEvent {
    /// `<root>.emails.created`: the email as created, without its body (up to 1 MiB, it
    /// could outgrow a message; the sender reads it from the database).
    #[must_use]
    pub fn email_created(subject_root: &str, event: &EmailCreated) -> Self {
        let email = &event.email;
        let to: Vec<String> = email
            .to
            .as_slice()
            .iter()
            .map(ToString::to_string)
            .collect();
        let request = json!({
            "from": email.from.as_str(),
            "to": to,
            "subject": email.subject.as_str(),
        });
        let response = json!({
            "id": email.id.to_string(),
            "ownerId": email.owner.as_str(),
            "from": email.from.as_str(),
            "to": to,
            "subject": email.subject.as_str(),
            "status": email.status.as_str(),
            "createdAt": email.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        Self {
            id: event.event_id,
            subject: format!("{subject_root}.{EMAIL_CREATED}"),
            payload: envelope(
                event.event_id,
                event.trace_id.as_deref().and_then(trace_id_of),
                email.created_at,
                request,
                response,
            ),
            traceparent: event.trace_id.as_deref().and_then(traceparent),
        }
    }
}

/// `<root>.companies.facts_updated` subject, below the root.
pub const FACTS_UPDATED: &str = "companies.facts_updated";

impl OutboxEvent {
    /// `<root>.companies.facts_updated`: `{"ticker"}` and `{"ticker", "cik",
    /// "changedConcepts", "latestFiled", "accession"}`.
    #[must_use]
    pub fn facts_updated(
        subject_root: &str,
        ticker: &str,
        cik: &str,
        changed_concepts: &[String],
        latest_filed: chrono::NaiveDate,
        accession: &str,
    ) -> Self {
        let id = uuid::Uuid::now_v7();
        let occurred_at = Utc::now();
        Self {
            id,
            subject: format!("{subject_root}.{FACTS_UPDATED}"),
            payload: envelope(
                id,
                None,
                occurred_at,
                json!({ "ticker": ticker }),
                json!({
                    "ticker": ticker,
                    "cik": cik,
                    "changedConcepts": changed_concepts,
                    "latestFiled": latest_filed.to_string(),
                    "accession": accession,
                }),
            ),
            traceparent: None,
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
