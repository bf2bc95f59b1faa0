//! The relay's statements on the outbox's rows: claim the due ones, mark the published,
//! release a failed one for a later attempt (or park it), prune the old, unpark on request.

use sqlx::PgPool;

use super::{Acked, Claimed, OutboxRelay, RelayPass, RELAY_BATCH};
use crate::outbox::OutboxEvent;
use crate::publisher::OutgoingEvent;

/// Rows deleted per statement when pruning, so a large backlog never holds one long lock.
const PRUNE_BATCH: i64 = 1000;

impl OutboxRelay {
    /// Claims the oldest due rows for [`RelaySettings::claim`], in commit order, under a
    /// token of this claim's own.
    pub(super) async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        let token = uuid::Uuid::new_v4();
        let mut rows = sqlx::query!(
            r#"UPDATE outbox SET claimed_until = now() + make_interval(secs => $2),
                   claim_token = $3
               WHERE id IN (
                   SELECT id FROM outbox
                   WHERE published_at IS NULL AND parked_at IS NULL
                     AND next_attempt_at <= now()
                     AND (claimed_until IS NULL OR claimed_until < now())
                   ORDER BY created_at, id
                   LIMIT $1
                   FOR UPDATE SKIP LOCKED)
               RETURNING id, subject, payload, traceparent, attempts, created_at"#,
            RELAY_BATCH,
            self.settings.claim.as_secs_f64(),
            token,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.sort_by_key(|row| (row.created_at, row.id));
        Ok(rows
            .into_iter()
            .map(|row| Claimed {
                id: row.id,
                token,
                attempts: row.attempts,
                event: OutgoingEvent::from(OutboxEvent {
                    id: row.id,
                    subject: row.subject,
                    payload: row.payload,
                    traceparent: row.traceparent,
                }),
            })
            .collect())
    }
    /// Marks the acknowledged rows published, whoever holds them now (a holder's own mark
    /// is then a no-op), beside the publishes: the statement runs in a task of its own while
    /// the next claim is sent, and the one before it is awaited first, so at most one is in
    /// flight; a pass ends only when its marks are done.
    pub(super) async fn mark_published(
        &self,
        acked: &mut Acked,
        pass: &mut RelayPass,
    ) -> Result<(), sqlx::Error> {
        self.finish_marking(acked, pass).await?;
        if acked.ids.is_empty() {
            return Ok(());
        }
        let ids = std::mem::take(&mut acked.ids);
        let pool = self.pool.clone();
        acked.marking = Some(tokio::spawn(async move {
            sqlx::query!(
                "UPDATE outbox SET published_at = now(), attempts = attempts + 1,
                     last_error = NULL, claimed_until = NULL, claim_token = NULL
                 WHERE id = ANY($1) AND published_at IS NULL",
                &ids,
            )
            .execute(&pool)
            .await
            .map(|_| ids.len())
        }));
        Ok(())
    }
    /// Waits for the mark in flight, if any, and counts what it marked.
    pub(super) async fn finish_marking(
        &self,
        acked: &mut Acked,
        pass: &mut RelayPass,
    ) -> Result<(), sqlx::Error> {
        let Some(marking) = acked.marking.take() else {
            return Ok(());
        };
        let marked = marking
            .await
            .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()))?;
        self.metrics.count_published(marked);
        pass.published += marked;
        Ok(())
    }
    /// Gives a claimed row back to the next pass, its attempts uncounted, if this claim
    /// still holds it.
    pub(super) async fn release(&self, row: &Claimed) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE outbox SET claimed_until = NULL, claim_token = NULL
             WHERE id = $1 AND claim_token = $2",
            row.id,
            row.token,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
    /// Deletes published rows older than [`RelaySettings::retention`]; returns how many.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn prune(&self) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        loop {
            let done = sqlx::query!(
                "DELETE FROM outbox WHERE id IN (
                     SELECT id FROM outbox
                     WHERE published_at < now() - make_interval(secs => $1)
                     LIMIT $2)",
                self.settings.retention.as_secs_f64(),
                PRUNE_BATCH,
            )
            .execute(&self.pool)
            .await?
            .rows_affected();
            deleted += done;
            self.metrics.count_pruned(done);
            if done < u64::try_from(PRUNE_BATCH).unwrap_or(u64::MAX) {
                return Ok(deleted);
            }
        }
    }
}

/// Returns every parked row to the relay with a fresh count of attempts, once the cause
/// (a missing stream, a server limit) is fixed; returns how many.
///
/// # Errors
/// When PostgreSQL fails.
pub async fn unpark(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = now()
         WHERE parked_at IS NOT NULL AND published_at IS NULL"
    )
    .execute(pool)
    .await?
    .rows_affected())
}
