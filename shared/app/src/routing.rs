//! The routing matrix: the one table that says which subject goes to which handler, and
//! whether that handler is a controller (an event carrying a user's intent: DTO mapping,
//! validation and error translation, as for the API) or a usecase (an internal side
//! effect), and the handler that runs it. Anything not in the table is rejected as
//! unroutable. Scheduled jobs have their rows here too ([`SCHEDULES`]): a schedule is
//! background orchestration and enters at a usecase.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::StreamExt;
use lzstock_domain::dashboard::{
    CreateDashboard, DashboardName, NewDashboard, OwnerId, ProcessedEvent, TickerList,
};
use lzstock_domain::email::{Contact, EmailAddress, WelcomeUser};
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::database::{BatchTransaction, Database};
use lzstock_proto::lzstock::v1 as pb;
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{guarded, MessageHandler, MessageRecord, Outcome};
use lzstock_shim::envelope::{typed, Envelope, HandlerError};
use serde_json::Value;

use crate::commit::{self, Commit};
use crate::email_events::{self, MailDeps};
use crate::scraper::{self, RunError, RunReport, ScraperDeps};
use lzstock_shim::schedule::ScheduledRun;

/// A route's handler: decodes the message and runs the route's controller or usecase.
pub type Handle = for<'a> fn(&'a Arc<EventDeps>, &'a MessageRecord) -> BoxFuture<'a, Outcome>;

/// One row of the matrix: a subject, how its writes commit, and the handler that runs it.
/// A row cannot exist without its handler, so a route with none does not compile.
#[derive(Clone, Copy)]
pub struct Route {
    /// The subject below the root, e.g. `users.signed_up`; also the name its handler's
    /// processed events are recorded under.
    pub subject: &'static str,
    /// Whether its records commit with their batch or on their own.
    pub commit: Commit,
    /// What runs it.
    pub handle: Handle,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("subject", &self.subject)
            .field("commit", &self.commit)
            .finish_non_exhaustive()
    }
}

/// A row of the matrix: `subject` handled by `handler(deps, processed, envelope)`, where
/// `processed` is the event's once-only claim under the row's subject and the envelope is
/// decoded into the handler's request and response types.
macro_rules! route {
    ($subject:literal, $commit:expr, $handler:path) => {
        Route {
            subject: $subject,
            commit: $commit,
            handle: |deps, record| {
                Box::pin(async move {
                    typed(
                        |envelope: Envelope<_, _>| {
                            let processed = ProcessedEvent {
                                handler: $subject.into(),
                                event_id: envelope.id.clone(),
                                subject: record.subject.clone(),
                            };
                            $handler(Arc::clone(deps), processed, envelope)
                        },
                        deps.backoff,
                    )
                    .handle(record)
                    .await
                })
            },
        }
    };
}

/// The event routes. A controller takes an event carrying a user's intent (mapping,
/// validation and error translation, as for the API); a usecase an internal side effect.
pub const ROUTES: [Route; 5] = [
    // Controller: a new user gets a first dashboard.
    route!("users.signed_up", Commit::Batch, user_signed_up),
    // Usecase: a welcome on the owner's first dashboard.
    route!("dashboards.created", Commit::Batch, dashboard_created),
    // Controller: another service's intent, parsed like an API request.
    route!(
        "emails.requested",
        Commit::Batch,
        email_events::email_requested
    ),
    // Usecase: send it. Mail leaves the database, so it commits on its own.
    route!(
        "emails.created",
        Commit::Record,
        email_events::email_created
    ),
    // Usecase: alert the owners tracking the company.
    route!(
        "companies.facts_updated",
        Commit::Batch,
        email_events::facts_updated
    ),
];

/// A scheduled job's handler: runs one fire of the schedule.
pub type RunJob =
    for<'a> fn(&'a ScraperDeps, ScheduledRun) -> BoxFuture<'a, Result<RunReport, RunError>>;

/// One scheduled job's row: its name and the handler that runs it. A schedule is
/// background orchestration: it enters at a usecase.
#[derive(Clone, Copy)]
pub struct ScheduledJob {
    /// The job's name, e.g. `sec_sync`.
    pub name: &'static str,
    /// What runs it.
    pub run: RunJob,
}

impl std::fmt::Debug for ScheduledJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledJob")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The nightly SEC sync: ScrapeCompanies over what the fire's input names.
pub const SEC_SYNC: ScheduledJob = ScheduledJob {
    name: "sec_sync",
    run: |deps, run| Box::pin(scraper::scheduled(deps, run)),
};

/// The scheduled jobs.
pub const SCHEDULES: [ScheduledJob; 1] = [SEC_SYNC];

/// What the event handlers need.
#[derive(Debug, Clone)]
pub struct EventDeps {
    /// Emails, the mail server and the cache.
    pub mail: MailDeps,
    /// PostgreSQL, where the handlers' own writes go.
    pub database: Database,
    /// Dashboards and their outbox.
    pub dashboards: PgDashboardStore,
    /// The companies of a new user's first dashboard.
    pub signup_tickers: TickerList,
    /// Redelivery delays.
    pub backoff: Backoff,
}

impl EventDeps {
    /// The same dependencies with every database write inside `batch`.
    #[must_use]
    pub fn within(&self, batch: &BatchTransaction) -> Self {
        Self {
            mail: self.mail.within(batch),
            database: self.database.within(batch),
            dashboards: self.dashboards.within(batch),
            signup_tickers: self.signup_tickers.clone(),
            backoff: self.backoff,
        }
    }
}

/// The events function's handler: routes each message by the matrix, and commits a
/// batch's records as their routes say ([`Commit`]).
#[derive(Debug, Clone)]
pub struct EventRouter {
    deps: Arc<EventDeps>,
    subject_root: String,
    commit: Commit,
}

impl EventRouter {
    /// A router for subjects below `subject_root` (e.g. `lzstock`), committing a batch's
    /// records together where their routes allow it.
    #[must_use]
    pub fn new(deps: EventDeps, subject_root: impl Into<String>) -> Self {
        Self {
            deps: Arc::new(deps),
            subject_root: subject_root.into(),
            commit: Commit::Batch,
        }
    }

    /// The same router, committing as `commit` says: [`Commit::Record`] gives every record
    /// a transaction of its own whatever its route says (`EVENTS_COMMIT=record`).
    #[must_use]
    pub fn committing(mut self, commit: Commit) -> Self {
        self.commit = commit;
        self
    }

    fn route(&self, subject: &str) -> Option<Route> {
        let name = subject
            .strip_prefix(&self.subject_root)?
            .strip_prefix('.')?;
        ROUTES.into_iter().find(|route| route.subject == name)
    }

    /// Handles `record` apart from the rest of its batch: a route whose writes commit with
    /// a batch still writes in one transaction (its effects and its processed event
    /// together); a [`Commit::Record`] route commits as its handler says.
    async fn on_its_own(&self, route: Option<Route>, record: &MessageRecord) -> Outcome {
        match route {
            Some(route) if route.commit == Commit::Batch => {
                commit::in_one_transaction(&self.deps, vec![(0, record, route)])
                    .await
                    .pop()
                    .map_or_else(
                        || Outcome::Retry {
                            delay: self
                                .deps
                                .backoff
                                .delay(record.deliveries, record.stream_sequence),
                        },
                        |(_, outcome)| outcome,
                    )
            }
            Some(route) => guarded((route.handle)(&self.deps, record), record).await,
            None => Outcome::Reject {
                reason: format!("no route for subject {}", record.subject),
            },
        }
    }
}

// Routed subjects are a closed set; any other is counted as `unrouted`.
fn counted_subject(route: Option<Route>) -> &'static str {
    route.map_or("unrouted", |r| r.subject)
}

fn count(subject: &'static str, outcome: &Outcome) {
    let counter = match outcome {
        Outcome::Ack => "lzstock_events_acked_total",
        Outcome::Retry { .. } => "lzstock_events_retried_total",
        Outcome::Reject { .. } => "lzstock_events_rejected_total",
    };
    metrics::counter!(counter, "subject" => subject).increment(1);
}

impl MessageHandler for EventRouter {
    async fn handle(&self, record: &MessageRecord) -> Outcome {
        let route = self.route(&record.subject);
        let subject = counted_subject(route);
        metrics::counter!("lzstock_events_delivered_total", "subject" => subject).increment(1);
        let outcome = self.on_its_own(route, record).await;
        count(subject, &outcome);
        outcome
    }

    async fn handle_batch(&self, records: &[MessageRecord], concurrency: usize) -> Vec<Outcome> {
        let mut together = Vec::new();
        let mut alone = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let route = self.route(&record.subject);
            metrics::counter!("lzstock_events_delivered_total", "subject" => counted_subject(route))
                .increment(1);
            match route {
                Some(route) if self.commit == Commit::Batch && route.commit == Commit::Batch => {
                    together.push((index, record, route));
                }
                route => alone.push((index, record, route)),
            }
        }
        let mut handling = Vec::with_capacity(alone.len());
        for (index, record, route) in alone {
            handling.push(async move { (index, self.on_its_own(route, record).await) });
        }
        let on_their_own = futures::stream::iter(handling)
            .buffer_unordered(concurrency.max(1))
            .collect::<Vec<_>>();
        let (mut outcomes, committed) = futures::join!(on_their_own, async {
            if together.is_empty() {
                Vec::new()
            } else {
                commit::in_one_transaction(&self.deps, together).await
            }
        });
        outcomes.extend(committed);
        outcomes.sort_by_key(|(index, _)| *index);
        outcomes
            .into_iter()
            .map(|(index, outcome)| {
                count(
                    counted_subject(self.route(&records[index].subject)),
                    &outcome,
                );
                outcome
            })
            .collect()
    }
}

/// The name of a new user's first dashboard.
pub const FIRST_DASHBOARD: &str = "My first dashboard";

/// Controller for `users.signed_up`: the new user (the `userId` of the response, the same
/// id their JWT `sub` carries) gets a first dashboard, once per event.
async fn user_signed_up(
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
async fn dashboard_created(
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
    fn every_route_is_in_the_matrix_once() {
        let mut subjects: Vec<_> = ROUTES.iter().map(|r| r.subject).collect();
        subjects.sort_unstable();
        subjects.dedup();
        assert_eq!(subjects.len(), ROUTES.len());
    }

    #[test]
    fn every_scheduled_job_is_in_the_table_once() {
        let mut names: Vec<_> = SCHEDULES.iter().map(|j| j.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SCHEDULES.len());
    }

    #[test]
    fn signup_tickers_parse() {
        assert_eq!(
            parse_signup_tickers("AAPL, MSFT").unwrap().as_slice().len(),
            2
        );
        assert!(parse_signup_tickers("aapl").is_err());
    }
}
