//! The events function's handler: routes each record by the matrix and commits what a
//! batch's records wrote as their routes say: together, in one transaction with a savepoint
//! per record, or each record in a transaction of its own.
//!
//! Together is the default: a batch of ten costs one commit (one wait for the disk) where
//! it cost ten. A record that fails rolls back to its savepoint and is reported alone; the
//! others commit. Each record's once-only claim (`processed_events`) is in the same
//! transaction as its effects, so when the commit itself fails, every record is retried and
//! whatever PostgreSQL did commit is not applied a second time.

use std::sync::Arc;

use futures::StreamExt;
use lzstock_infra::database::{BatchTransaction, Then};
use lzstock_shim::batch::{guarded, MessageHandler, MessageRecord, Outcome};

use crate::event_deps::EventDeps;
use crate::routing::{Commit, Route, ROUTES};

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
                in_one_transaction(&self.deps, vec![(0, record, route)])
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
                in_one_transaction(&self.deps, together).await
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

/// Applies `records` (each with its index in the batch and its route) in one transaction,
/// in order, and answers each record's outcome with its index. A record's `Ack` stands
/// only once the batch committed; until then it is a promise.
async fn in_one_transaction(
    deps: &Arc<EventDeps>,
    records: Vec<(usize, &MessageRecord, Route)>,
) -> Vec<(usize, Outcome)> {
    let retry = |record: &MessageRecord| Outcome::Retry {
        delay: deps
            .backoff
            .delay(record.deliveries, record.stream_sequence),
    };
    let batch = match BatchTransaction::begin(deps.database.pool()).await {
        Ok(batch) => batch,
        Err(error) => {
            tracing::warn!(%error, records = records.len(), "a batch's transaction could not begin; its records are retried");
            return records
                .into_iter()
                .map(|(index, record, _)| (index, retry(record)))
                .collect();
        }
    };
    let within = Arc::new(deps.within(&batch));
    let count = records.len();
    let mut outcomes = Vec::with_capacity(count);
    let mut broken = None;
    for (position, (index, record, route)) in records.into_iter().enumerate() {
        if broken.is_some() {
            outcomes.push((index, record, retry(record)));
            continue;
        }
        // The record's savepoint is open: the batch opened it, or closing the last one did.
        let outcome = guarded((route.handle)(&within, record), record).await;
        let then = if position + 1 < count {
            Then::NextRecord
        } else {
            Then::Commit
        };
        let closed = match outcome {
            Outcome::Ack => match batch.keep(then).await {
                Ok(()) => Ok(Outcome::Ack),
                // A statement failed and the handler went on regardless: undo and retry.
                Err(error) => {
                    tracing::warn!(%error, subject = %record.subject, "a record's writes could not be kept; it is retried");
                    batch.undo().await.map(|()| retry(record))
                }
            },
            failed => batch.undo().await.map(|()| failed),
        };
        match closed {
            Ok(outcome) => outcomes.push((index, record, outcome)),
            Err(error) => {
                broken = Some(error);
                outcomes.push((index, record, retry(record)));
            }
        }
    }
    // Nothing may write in the batch once it commits.
    drop(within);
    let committed = match broken {
        Some(error) => Err(error),
        None => batch.commit().await,
    };
    let result = if committed.is_ok() {
        "committed"
    } else {
        "failed"
    };
    metrics::counter!("lzstock_events_batch_commits_total", "result" => result).increment(1);
    match committed {
        Ok(()) => outcomes
            .into_iter()
            .map(|(index, _, outcome)| (index, outcome))
            .collect(),
        Err(error) => {
            tracing::warn!(%error, records = outcomes.len(), "a batch's transaction failed; its records are retried");
            outcomes
                .into_iter()
                .map(|(index, record, outcome)| match outcome {
                    Outcome::Ack => (index, retry(record)),
                    other => (index, other),
                })
                .collect()
        }
    }
}
