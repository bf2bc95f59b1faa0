//! Emails left waiting: announced again when their event ran out of deliveries (the mail
//! server was down) or their sender died.

use std::time::Duration;

use lzstock_domain::common::StoreError;
use lzstock_domain::email::EmailCreated;

use super::{announcement, from_row, EmailRow, PgEmailStore};
use crate::outbox;
use crate::postgres::unavailable;

/// How often stalled emails are looked for (by the events host standalone, by the bridge
/// on Lambda).
pub const RESEND_EVERY: Duration = Duration::from_secs(15);

/// How long after its last attempt a waiting email counts as stalled: longer than the
/// bridge's redeliveries of its event take (1 + 2 + 4 + 8 s at the default backoff and five
/// deliveries), so a live retry is not doubled for nothing.
pub const RESEND_STALLED_AFTER: Duration = Duration::from_secs(60);

impl PgEmailStore {
    /// Announces again, with a new `emails.created` through the outbox, up to `limit`
    /// emails still waiting `stalled_for` after their last attempt: `queued` ones whose
    /// event ran out of deliveries while the mail server was down, and `sending` ones whose
    /// sender died and whose event went with it. Each is announced at most once per
    /// `stalled_for`; the claim keeps a second announcement from sending twice. Returns how
    /// many were announced.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn announce_stalled(
        &self,
        stalled_for: Duration,
        limit: i64,
    ) -> Result<usize, StoreError> {
        let mut tx = self.database.write().await.map_err(unavailable)?;
        let rows = sqlx::query_as!(
            EmailRow,
            "UPDATE emails SET attempted_at = now()
             WHERE id IN (
                 SELECT id FROM emails
                 WHERE attempted_at < now() - make_interval(secs => $1)
                   AND (status = 'queued'
                        OR (status = 'sending'
                            AND claimed_until < now() - make_interval(secs => $1)))
                 ORDER BY attempted_at
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, owner_id, from_address, to_addresses, subject, body, status,
                       last_error, created_at, sent_at",
            stalled_for.as_secs_f64(),
            limit,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let count = rows.len();
        for row in rows {
            let email = from_row(row)?;
            let event = EmailCreated {
                event_id: uuid::Uuid::now_v7(),
                trace_id: None,
                email,
            };
            let announcement = announcement(&self.subject_root, &event);
            outbox::insert(&mut tx, &announcement)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        if count > 0 {
            tracing::warn!(count, "stalled emails announced again");
        }
        Ok(count)
    }

    /// Runs [`PgEmailStore::announce_stalled`] every `every` until `shutdown` resolves; a
    /// failed pass is logged and the next one tries again.
    pub async fn resend_stalled(
        &self,
        every: Duration,
        stalled_for: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut ticks = tokio::time::interval(every);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticks.tick() => {}
            }
            if let Err(error) = self.announce_stalled(stalled_for, 100).await {
                tracing::warn!(%error, "stalled emails could not be announced");
            }
        }
    }
}
