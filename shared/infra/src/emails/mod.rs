//! [`EmailStore`] on PostgreSQL: emails, their `emails.created` events through the outbox,
//! claims under a lease, and full-text search.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lzstock_domain::common::{OwnerId, Page, PageRequest, ProcessedEvent, StoreError};
use lzstock_domain::email::{
    Body, Claim, Email, EmailAddress, EmailCreated, EmailId, EmailStatus, EmailStore, Recipients,
    SearchText, Subject,
};
use lzstock_domain::events::EMAIL_CREATED;
use lzstock_domain::InvalidInput;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::database::{BatchTransaction, Database};
use crate::outbox::{self, OutboxEvent};
use crate::postgres::unavailable;

mod stalled;

pub use stalled::{RESEND_EVERY, RESEND_STALLED_AFTER};

/// Emails in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgEmailStore {
    database: Database,
    subject_root: String,
}

struct EmailRow {
    id: uuid::Uuid,
    owner_id: String,
    from_address: String,
    to_addresses: Vec<String>,
    subject: String,
    body: String,
    status: String,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<EmailRow> for Email {
    type Error = InvalidInput;

    // The schema's constraints mirror the domain's, so this fails only on data written
    // around both; it is reported, never trusted.
    fn try_from(row: EmailRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: EmailId::from_uuid(row.id),
            owner: OwnerId::parse(&row.owner_id)?,
            from: EmailAddress::parse_field(&row.from_address, "from")?,
            to: Recipients::parse(&row.to_addresses)?,
            subject: Subject::parse(&row.subject)?,
            body: Body::parse(&row.body)?,
            status: EmailStatus::parse(&row.status)?,
            last_error: row.last_error,
            created_at: row.created_at,
            sent_at: row.sent_at,
        })
    }
}

fn from_row(row: EmailRow) -> Result<Email, StoreError> {
    Email::try_from(row).map_err(unavailable)
}

impl PgEmailStore {
    /// A store on `pool`; events go to `<subject_root>.emails.created`.
    #[must_use]
    pub fn new(pool: PgPool, subject_root: impl Into<String>) -> Self {
        Self {
            database: Database::new(pool),
            subject_root: subject_root.into(),
        }
    }

    /// The same store, writing inside `batch`.
    #[must_use]
    pub fn within(&self, batch: &BatchTransaction) -> Self {
        Self {
            database: self.database.within(batch),
            subject_root: self.subject_root.clone(),
        }
    }

    /// The email row and its outbox event, in the caller's transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a duplicate id; otherwise when PostgreSQL fails.
    pub async fn insert(
        &self,
        connection: &mut PgConnection,
        email: &Email,
        event: &EmailCreated,
    ) -> Result<(), StoreError> {
        let to: Vec<String> = email
            .to
            .as_slice()
            .iter()
            .map(ToString::to_string)
            .collect();
        sqlx::query!(
            "INSERT INTO emails (id, owner_id, from_address, to_addresses, subject, body, status,
                                 created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7)",
            email.id.as_uuid(),
            email.owner.as_str(),
            email.from.as_str(),
            &to,
            email.subject.as_str(),
            email.body.as_str(),
            email.created_at,
        )
        .execute(&mut *connection)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("email {} already exists", email.id))
            }
            other => unavailable(other),
        })?;
        let announcement = announcement(&self.subject_root, event);
        outbox::insert(connection, &announcement)
            .await
            .map_err(unavailable)
    }

    async fn settle(
        &self,
        id: EmailId,
        status: EmailStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE emails
             SET status = $2, last_error = $3, claimed_until = NULL,
                 sent_at = CASE WHEN $2 = 'sent' THEN now() END
             WHERE id = $1 AND status = 'sending'",
            id.as_uuid(),
            status.as_str(),
            reason,
        )
        .execute(self.database.pool())
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

impl EmailStore for PgEmailStore {
    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.create"))]
    async fn create(&self, email: &Email, event: &EmailCreated) -> Result<(), StoreError> {
        let mut tx = self.database.write().await.map_err(unavailable)?;
        self.insert(&mut tx, email, event).await?;
        tx.commit().await.map_err(unavailable)
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.create_once"))]
    async fn create_once(
        &self,
        email: &Email,
        event: &EmailCreated,
        processed: &ProcessedEvent,
    ) -> Result<bool, StoreError> {
        let Some(mut tx) = crate::processed::write_once(&self.database, processed)
            .await
            .map_err(unavailable)?
        else {
            return Ok(false);
        };
        self.insert(&mut tx, email, event).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.get"))]
    async fn get(&self, id: EmailId) -> Result<Option<Email>, StoreError> {
        sqlx::query_as!(
            EmailRow,
            "SELECT id, owner_id, from_address, to_addresses, subject, body, status, last_error,
                    created_at, sent_at
             FROM emails WHERE id = $1",
            id.as_uuid(),
        )
        .fetch_optional(self.database.pool())
        .await
        .map_err(unavailable)?
        .map(from_row)
        .transpose()
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.search"))]
    async fn search(
        &self,
        owner: &OwnerId,
        search: &SearchText,
        page: PageRequest,
    ) -> Result<Page<Email>, StoreError> {
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let limit = i64::from(page.size());
        let (total, rows) = if search.is_empty() {
            let total = sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM emails WHERE owner_id = $1"#,
                owner.as_str(),
            )
            .fetch_one(self.database.pool())
            .await
            .map_err(unavailable)?;
            let rows = sqlx::query_as!(
                EmailRow,
                "SELECT id, owner_id, from_address, to_addresses, subject, body, status,
                        last_error, created_at, sent_at
                 FROM emails WHERE owner_id = $1
                 ORDER BY created_at DESC, id DESC
                 LIMIT $2 OFFSET $3",
                owner.as_str(),
                limit,
                offset,
            )
            .fetch_all(self.database.pool())
            .await
            .map_err(unavailable)?;
            (total, rows)
        } else {
            // websearch_to_tsquery accepts any text: quotes make phrases, `or` alternatives,
            // `-word` exclusions, and anything else is words.
            let total = sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM emails
                   WHERE owner_id = $1 AND search @@ websearch_to_tsquery('english', $2)"#,
                owner.as_str(),
                search.as_str(),
            )
            .fetch_one(self.database.pool())
            .await
            .map_err(unavailable)?;
            let rows = sqlx::query_as!(
                EmailRow,
                "SELECT id, owner_id, from_address, to_addresses, subject, body, status,
                        last_error, created_at, sent_at
                 FROM emails, websearch_to_tsquery('english', $2) AS query
                 WHERE owner_id = $1 AND search @@ query
                 ORDER BY ts_rank(search, query) DESC, created_at DESC, id DESC
                 LIMIT $3 OFFSET $4",
                owner.as_str(),
                search.as_str(),
                limit,
                offset,
            )
            .fetch_all(self.database.pool())
            .await
            .map_err(unavailable)?;
            (total, rows)
        };
        Ok(Page {
            items: rows.into_iter().map(from_row).collect::<Result<_, _>>()?,
            request: page,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.claim"))]
    async fn claim(&self, id: EmailId, lease: Duration) -> Result<Claim, StoreError> {
        let claimed = sqlx::query_as!(
            EmailRow,
            "UPDATE emails SET status = 'sending', attempted_at = now(),
                    claimed_until = now() + make_interval(secs => $2)
             WHERE id = $1
               AND (status = 'queued' OR (status = 'sending' AND claimed_until < now()))
             RETURNING id, owner_id, from_address, to_addresses, subject, body, status,
                       last_error, created_at, sent_at",
            id.as_uuid(),
            lease.as_secs_f64(),
        )
        .fetch_optional(self.database.pool())
        .await
        .map_err(unavailable)?;
        if let Some(row) = claimed {
            return Ok(Claim::Claimed(from_row(row)?));
        }
        let found = sqlx::query!(
            "SELECT status,
                    GREATEST(EXTRACT(EPOCH FROM claimed_until - now()), 0)::float8 AS held_for
             FROM emails WHERE id = $1",
            id.as_uuid()
        )
        .fetch_optional(self.database.pool())
        .await
        .map_err(unavailable)?;
        let Some(found) = found else {
            return Ok(Claim::Missing);
        };
        Ok(match EmailStatus::parse(&found.status) {
            Ok(settled @ (EmailStatus::Sent | EmailStatus::Failed)) => Claim::Settled(settled),
            // Queued: another sender claimed and released it between the two statements.
            Ok(EmailStatus::Queued | EmailStatus::Sending) => Claim::Busy(
                found
                    .held_for
                    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                    .map_or(Duration::ZERO, |seconds| {
                        Duration::from_secs_f64(seconds.min(86_400.0))
                    }),
            ),
            Err(invalid) => return Err(unavailable(invalid)),
        })
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.mark_sent"))]
    async fn mark_sent(&self, id: EmailId) -> Result<(), StoreError> {
        self.settle(id, EmailStatus::Sent, None).await
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.mark_failed"))]
    async fn mark_failed(&self, id: EmailId, reason: &str) -> Result<(), StoreError> {
        self.settle(id, EmailStatus::Failed, Some(reason)).await
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "emails.release"))]
    async fn release(&self, id: EmailId, reason: &str) -> Result<(), StoreError> {
        self.settle(id, EmailStatus::Queued, Some(reason)).await
    }
}

/// `<root>.emails.created`: the email as created, without its body (up to 1 MiB, it could
/// outgrow a message; the sender reads it from the database).
fn announcement(subject_root: &str, event: &EmailCreated) -> OutboxEvent {
    let email = &event.email;
    let to: Vec<String> = email
        .to
        .as_slice()
        .iter()
        .map(ToString::to_string)
        .collect();
    let request = json!({
        "from": email.from.as_str(),
        "to": to,
        "subject": email.subject.as_str(),
    });
    let response = json!({
        "id": email.id.to_string(),
        "ownerId": email.owner.as_str(),
        "from": email.from.as_str(),
        "to": to,
        "subject": email.subject.as_str(),
        "status": email.status.as_str(),
        "createdAt": email.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    OutboxEvent::new(
        event.event_id,
        subject_root,
        EMAIL_CREATED,
        event.trace_id.as_deref(),
        email.created_at,
        request,
        response,
    )
}
