//! `processed_events`: the record that makes an event's effect happen once.

use lzstock_domain::common::ProcessedEvent;
use sqlx::PgConnection;

use crate::database::{Database, Write};

/// Records `event` as processed in the caller's transaction (on `connection`); `false` when
/// it already was (the caller then skips its effect and lets the transaction end).
///
/// # Errors
/// When the database fails.
pub async fn claim(
    connection: &mut PgConnection,
    event: &ProcessedEvent,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO processed_events (handler, event_id, subject) VALUES ($1, $2, $3)
         ON CONFLICT (handler, event_id) DO NOTHING",
        event.handler,
        event.event_id,
        event.subject,
    )
    .execute(&mut *connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Records `event` as processed on its own, for handlers whose only effect is the record
/// (in a batch, in the batch's transaction).
///
/// # Errors
/// When the database fails.
pub async fn record(database: &Database, event: &ProcessedEvent) -> Result<bool, sqlx::Error> {
    match write_once(database, event).await? {
        Some(write) => write.commit().await.map(|()| true),
        None => Ok(false),
    }
}

/// Begins a write on `database` holding `event`'s claim: the write in which a handler's
/// effect goes once, or `None` when the event was processed before (its effect is then
/// not applied again, and nothing is written).
///
/// # Errors
/// When the database fails.
pub async fn write_once(
    database: &Database,
    event: &ProcessedEvent,
) -> Result<Option<Write>, sqlx::Error> {
    let mut write = database.write().await?;
    Ok(claim(&mut write, event).await?.then_some(write))
}
