//! The email routes of the routing matrix: `emails.requested` (a controller: another
//! service's intent, parsed like an API request), `emails.created` (a usecase: send it) and
//! `companies.facts_updated` (a usecase: alert the owners tracking the company).

use std::sync::Arc;
use std::time::Duration;

use lzstock_domain::common::{OwnerId, ProcessedEvent};
use lzstock_domain::email::{
    AlertOwners, Body, CreateEmail, CreateEmailError, EmailAddress, EmailId, NewEmail, Recipients,
    SendEmail, SendEmailError, SendOutcome, Subject,
};
use lzstock_domain::{InvalidInput, Ticker};
use lzstock_proto::lzstock::v1 as pb;
use lzstock_shim::envelope::{Envelope, HandlerError};
use serde::Deserialize;
use serde_json::Value;

use crate::event_deps::EventDeps;

/// How long a sender holds an email it claimed: longer than one SMTP exchange may take, so
/// a second sender only takes over from one that died.
pub const SEND_LEASE: Duration = Duration::from_secs(120);

/// The least wait before an email the mail server could not take (a 4xx, a refused
/// connection, a timeout) is tried again: a mail server's "try again later" is meant in
/// tens of seconds or more, and the event's five deliveries then outlast a minute of
/// trouble instead of fifteen seconds. The fault campaign dead-lettered emails whose
/// retries at 1, 2, 4 and 8 s all met one mail outage or another.
pub const MAIL_RETRY_AFTER: Duration = Duration::from_secs(15);

/// Why an email waits: sending is not configured.
#[derive(Debug, thiserror::Error)]
#[error("email is not configured: set SMTP_URL and EMAIL_FROM")]
struct NotConfigured;

fn refused(prefix: &str, error: &InvalidInput) -> HandlerError {
    HandlerError::permanent(format!("{prefix}.{}: {}", error.field, error.reason))
}

/// Controller for `emails.requested`: the email another service asks for, created once
/// per event id. Every field is parsed as the API parses it; a refusal dead-letters the
/// event naming the field.
pub(crate) async fn email_requested(
    deps: Arc<EventDeps>,
    processed: ProcessedEvent,
    envelope: Envelope<pb::EmailRequestedRequest, Value>,
) -> Result<(), HandlerError> {
    let request = &envelope.request;
    let owner = OwnerId::parse(&request.owner_id).map_err(|e| refused("request", &e))?;
    let from = match request.from.as_str() {
        "" => None,
        raw => Some(EmailAddress::parse_field(raw, "from").map_err(|e| refused("request", &e))?),
    };
    let new = NewEmail {
        from,
        to: Recipients::parse(&request.to).map_err(|e| refused("request", &e))?,
        subject: Subject::parse(&request.subject).map_err(|e| refused("request", &e))?,
        body: Body::parse(&request.body).map_err(|e| refused("request", &e))?,
    };
    // An email naming its sender needs no default; one that does not waits for EMAIL_FROM
    // (the event is retried, then dead-lettered with this reason for a redrive).
    let default_from = match (&new.from, deps.mail.from()) {
        (_, Some(from)) | (Some(from), None) => from.clone(),
        (None, None) => return Err(HandlerError::retryable(NotConfigured)),
    };
    let created = CreateEmail::new(deps.mail.emails.clone(), default_from)
        .execute_once(owner, new, current_trace(&envelope.trace_id), &processed)
        .await
        .map_err(|e| match e {
            CreateEmailError::Conflict(what) => HandlerError::permanent(what),
            CreateEmailError::Unexpected(e) => HandlerError::retryable(e),
        })?;
    match created {
        Some(email) => tracing::info!(email = %email.id, "requested email queued"),
        None => tracing::info!(event = %envelope.id, "event already processed; no second email"),
    }
    Ok(())
}

/// The part of `emails.created` the sender reads: which email.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreatedEmail {
    id: String,
}

/// Why an email waits for a later delivery.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SendLater(String);

/// Usecase for `emails.created`: send the email once. A transient failure is retried
/// through the bridge's backoff (never in a loop here); a permanent one fails the email and
/// the event is acknowledged.
pub(crate) async fn email_created(
    deps: Arc<EventDeps>,
    _processed: ProcessedEvent,
    envelope: Envelope<Value, CreatedEmail>,
) -> Result<(), HandlerError> {
    let id = EmailId::parse(&envelope.response.id).map_err(|e| refused("response", &e))?;
    let mail = &deps.mail;
    let Some(sender) = &mail.sender else {
        return Err(HandlerError::retryable(NotConfigured));
    };
    let usecase = SendEmail::new(
        mail.emails.clone(),
        sender.mailer.clone(),
        mail.cache.clone(),
        SEND_LEASE,
    );
    match usecase.execute(id).await {
        Ok(SendOutcome::Sent) => {
            metrics::counter!("lzstock_emails_sent_total").increment(1);
            Ok(())
        }
        Ok(SendOutcome::Failed(_)) => {
            metrics::counter!("lzstock_emails_failed_total").increment(1);
            Ok(())
        }
        Ok(SendOutcome::AlreadySettled(_)) => Ok(()),
        Ok(SendOutcome::Missing) => Err(HandlerError::permanent(format!("no email {id}"))),
        Err(SendEmailError::Retry(reason)) => {
            metrics::counter!("lzstock_emails_deferred_total").increment(1);
            Err(HandlerError::retry_after(
                MAIL_RETRY_AFTER,
                SendLater(reason),
            ))
        }
        Err(busy @ SendEmailError::Busy(held_for)) => {
            metrics::counter!("lzstock_emails_deferred_total").increment(1);
            Err(HandlerError::retry_after(held_for, busy))
        }
        Err(SendEmailError::Unexpected(error)) => Err(HandlerError::retryable(error)),
    }
}

/// Usecase for `companies.facts_updated`: one alert per owner of a dashboard tracking the
/// company, per filing (the event's accession, or its filing date), however many facts
/// changed and however often the event arrives.
pub(crate) async fn facts_updated(
    deps: Arc<EventDeps>,
    _processed: ProcessedEvent,
    envelope: Envelope<pb::CompanyFactsUpdatedRequest, pb::CompanyFactsUpdatedResponse>,
) -> Result<(), HandlerError> {
    let response = &envelope.response;
    let ticker = Ticker::parse(&response.ticker)
        .map_err(|e| HandlerError::permanent(format!("response.ticker: {e}")))?;
    let filing = if response.accession.is_empty() {
        response.latest_filed.clone()
    } else {
        response.accession.clone()
    };
    if filing.is_empty() || filing.len() > 40 || filing.chars().any(|c| c.is_control()) {
        return Err(HandlerError::permanent(
            "response.accession and response.latestFiled: neither names the filing",
        ));
    }
    let Some(from) = deps.mail.from() else {
        tracing::warn!(%ticker, "EMAIL_FROM is not set: no filing alerts");
        return Ok(());
    };
    AlertOwners::new(deps.mail.notices.clone(), from.clone())
        .execute(
            &ticker,
            &filing,
            &response.changed_concepts,
            current_trace(&envelope.trace_id),
        )
        .await
        .map_err(HandlerError::retryable)?;
    Ok(())
}

/// The trace an event's effects continue: the handler's own span when spans are exported
/// (so what it publishes hangs under it), else the event's trace id.
pub(crate) fn current_trace(event_trace: &Option<String>) -> Option<String> {
    lzstock_shim::telemetry::current_traceparent().or_else(|| event_trace.clone())
}
