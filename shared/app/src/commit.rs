//! How the events function commits what a batch's records wrote: together, in one
//! transaction with a savepoint per record, or each record in a transaction of its own.
//!
//! Together is the default: a batch of ten costs one commit (one wait for the disk) where
//! it cost ten. A record that fails rolls back to its savepoint and is reported alone; the
//! others commit. Each record's once-only claim (`processed_events`) is in the same
//! transaction as its effects, so when the commit itself fails, every record is retried and
//! whatever PostgreSQL did commit is not applied a second time.

use std::str::FromStr;
use std::sync::Arc;

use lzstock_infra::database::{BatchTransaction, Then};
use lzstock_shim::batch::{guarded, MessageRecord, Outcome};

use crate::routing::{EventDeps, Route};

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

/// Applies `records` (each with its index in the batch and its route) in one transaction,
/// in order, and answers each record's outcome with its index. A record's `Ack` stands
/// only once the batch committed; until then it is a promise.
pub(crate) async fn in_one_transaction(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_commit_is_batch_or_record() {
        assert_eq!("batch".parse(), Ok(Commit::Batch));
        assert_eq!("record".parse(), Ok(Commit::Record));
        assert!("Batch".parse::<Commit>().is_err());
    }
}
