//! `processed_events`: the record that makes an event's effect happen once.

use lzstock_domain::dashboard::ProcessedEvent;
use sqlx::{PgPool, Postgres, Transaction};

/// Records `event` as processed in the caller's transaction; `false` when it already was
/// (the caller then skips its effect and lets the transaction end).
///
/// # Errors
/// When the database fails.
pub async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    event: &ProcessedEvent,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO processed_events (handler, event_id, subject) VALUES ($1, $2, $3)
         ON CONFLICT (handler, event_id) DO NOTHING",
        event.handler,
        event.event_id,
        event.subject,
    )
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Records `event` as processed on its own, for handlers whose only effect is the record.
///
/// # Errors
/// When the database fails.
pub async fn record(pool: &PgPool, event: &ProcessedEvent) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let first = claim(&mut tx, event).await?;
    tx.commit().await?;
    Ok(first)
}
