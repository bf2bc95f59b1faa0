//! The dashboard routes of the routing matrix: `users.signed_up` (a controller: a new user
//! gets a first dashboard) and `dashboards.created` (a usecase: a welcome email).

use std::sync::Arc;

use lzstock_domain::common::{OwnerId, ProcessedEvent};
use lzstock_domain::dashboard::{CreateDashboard, DashboardName, NewDashboard, TickerList};
use lzstock_domain::email::{Contact, EmailAddress, WelcomeUser};
use lzstock_proto::lzstock::v1 as pb;
use lzstock_shim::envelope::{Envelope, HandlerError};
use serde_json::Value;

use crate::email_events;
use crate::event_deps::EventDeps;

/// The name of a new user's first dashboard.
pub const FIRST_DASHBOARD: &str = "My first dashboard";

/// Controller for `users.signed_up`: the new user (the `userId` of the response, the same
/// id their JWT `sub` carries) gets a first dashboard, once per event.
pub(crate) async fn user_signed_up(
    deps: Arc<EventDeps>,
    processed: ProcessedEvent,
    envelope: Envelope<pb::UserSignedUpRequest, pb::UserSignedUpResponse>,
) -> Result<(), HandlerError> {
    let owner = OwnerId::parse(&envelope.response.user_id)
        .map_err(|e| HandlerError::permanent(format!("response.userId: {}", e.reason)))?;
    let address = EmailAddress::parse_field(envelope.request.email.trim(), "request.email")
        .map_err(|e| HandlerError::permanent(format!("{}: {}", e.field, e.reason)))?;
    let name: String = envelope.request.name.trim().chars().take(200).collect();
    let contact = Contact {
        user: owner.clone(),
        address,
        name: name.chars().filter(|c| !c.is_control()).collect(),
    };
    let request = NewDashboard {
        name: DashboardName::parse(FIRST_DASHBOARD)
            .map_err(|e| HandlerError::permanent(e.to_string()))?,
        tickers: deps.signup_tickers.clone(),
        indicators: lzstock_domain::dashboard::Indicator::ALL.to_vec(),
    };
    let created = CreateDashboard::new(deps.dashboards.clone())
        .execute_once(
            owner,
            request,
            email_events::current_trace(&envelope.trace_id),
            &processed,
            Some(&contact),
        )
        .await
        .map_err(|e| match e {
            lzstock_domain::dashboard::CreateDashboardError::Conflict(what) => {
                HandlerError::permanent(what)
            }
            lzstock_domain::dashboard::CreateDashboardError::Unexpected(e) => {
                HandlerError::retryable(e)
            }
        })?;
    match created {
        Some(dashboard) => tracing::info!(dashboard = %dashboard.id, "first dashboard created"),
        None => tracing::info!(event = %envelope.id, "event already processed; no second effect"),
    }
    Ok(())
}

/// Usecase for `dashboards.created`: a welcome email on the owner's first dashboard (one
/// per user, ever; none, and a log line, when their address is unknown).
pub(crate) async fn dashboard_created(
    deps: Arc<EventDeps>,
    processed: ProcessedEvent,
    envelope: Envelope<pb::CreateDashboardRequest, Value>,
) -> Result<(), HandlerError> {
    let owner = envelope
        .response
        .get("ownerId")
        .and_then(Value::as_str)
        .ok_or_else(|| HandlerError::permanent("response.ownerId: missing"))?;
    let owner = OwnerId::parse(owner)
        .map_err(|e| HandlerError::permanent(format!("response.ownerId: {}", e.reason)))?;
    let Some(from) = deps.mail.from() else {
        tracing::warn!(owner = %owner, "EMAIL_FROM is not set: no welcome email");
        return Ok(());
    };
    WelcomeUser::new(deps.mail.notices.clone(), from.clone())
        .execute(&owner, email_events::current_trace(&envelope.trace_id))
        .await
        .map_err(HandlerError::retryable)?;
    lzstock_infra::processed::record(&deps.database, &processed)
        .await
        .map_err(HandlerError::retryable)?;
    Ok(())
}

/// Parses `SIGNUP_DEFAULT_TICKERS`-style lists.
///
/// # Errors
/// When a ticker is malformed or the list breaks a dashboard's rules.
pub fn parse_signup_tickers(list: &str) -> Result<TickerList, String> {
    let raw: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    TickerList::parse(&raw).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_tickers_parse() {
        assert_eq!(
            parse_signup_tickers("AAPL, MSFT").unwrap().as_slice().len(),
            2
        );
        assert!(parse_signup_tickers("aapl").is_err());
    }
}
