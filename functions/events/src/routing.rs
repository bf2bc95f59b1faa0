//! The routing matrix: the one table that says which subject goes to which handler, and
//! how its writes commit. A handler is a controller (an event carrying a user's intent: DTO
//! mapping, validation and error translation, as for the API) or a usecase (an internal
//! side effect). Anything not in the table is rejected as unroutable. (Scheduled jobs have
//! their table in the scraper function, the one they run in.)

use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;
use lzstock_domain::common::ProcessedEvent;
use lzstock_domain::events;
use lzstock_shim::batch::{MessageHandler, MessageRecord, Outcome};
use lzstock_shim::envelope::{typed, Envelope};

use crate::dashboard_events::{dashboard_created, user_signed_up};
use crate::email_events;
use crate::event_deps::EventDeps;

/// How a route's records commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// With the rest of the batch: one transaction per batch, a savepoint per record.
    Batch,
    /// In a transaction of its own, beside the batch's: for handlers whose effects leave
    /// the database (a sent email cannot be rolled back with a savepoint).
    Record,
}

impl FromStr for Commit {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "batch" => Ok(Self::Batch),
            "record" => Ok(Self::Record),
            _ => Err("expected batch or record".to_owned()),
        }
    }
}

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
    ($subject:path, $commit:expr, $handler:path) => {
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
    route!(events::USER_SIGNED_UP, Commit::Batch, user_signed_up),
    // Usecase: a welcome on the owner's first dashboard.
    route!(events::DASHBOARD_CREATED, Commit::Batch, dashboard_created),
    // Controller: another service's intent, parsed like an API request.
    route!(
        events::EMAIL_REQUESTED,
        Commit::Batch,
        email_events::email_requested
    ),
    // Usecase: send it. Mail leaves the database, so it commits on its own.
    route!(
        events::EMAIL_CREATED,
        Commit::Record,
        email_events::email_created
    ),
    // Usecase: alert the owners tracking the company.
    route!(
        events::FACTS_UPDATED,
        Commit::Batch,
        email_events::facts_updated
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_of_the_vocabulary_has_one_route() {
        let subjects: Vec<_> = ROUTES.iter().map(|r| r.subject).collect();
        assert_eq!(subjects, events::ALL);
    }

    #[test]
    fn events_commit_is_batch_or_record() {
        assert_eq!("batch".parse(), Ok(Commit::Batch));
        assert_eq!("record".parse(), Ok(Commit::Record));
        assert!("Batch".parse::<Commit>().is_err());
    }
}
