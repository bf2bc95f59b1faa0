//! [`NoticeStore`] on PostgreSQL: users' contacts, the owners tracking a company, and notices
//! keyed so each key gets one email ever.

use lzstock_domain::common::{OwnerId, StoreError};
use lzstock_domain::email::{Contact, EmailAddress, EmailCreated, NoticeKey, NoticeStore};
use lzstock_domain::Ticker;
use sqlx::{PgConnection, PgPool};

use crate::database::{BatchTransaction, Database};
use crate::emails::PgEmailStore;
use crate::postgres::unavailable;

/// Notices in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgNoticeStore {
    database: Database,
    emails: PgEmailStore,
}

impl PgNoticeStore {
    /// A store on `pool`, creating emails through `emails`.
    #[must_use]
    pub const fn new(pool: PgPool, emails: PgEmailStore) -> Self {
        Self {
            database: Database::new(pool),
            emails,
        }
    }

    /// The same store, writing (emails included) inside `batch`.
    #[must_use]
    pub fn within(&self, batch: &BatchTransaction) -> Self {
        Self {
            database: self.database.within(batch),
            emails: self.emails.within(batch),
        }
    }
}

/// Records (or updates) `contact` in the caller's transaction.
///
/// # Errors
/// When PostgreSQL fails.
pub async fn record_contact(
    connection: &mut PgConnection,
    contact: &Contact,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO user_contacts (user_id, address, name) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET address = EXCLUDED.address, name = EXCLUDED.name,
             recorded_at = now()",
        contact.user.as_str(),
        contact.address.as_str(),
        contact.name,
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
}

fn contact_of(user: &str, address: &str, name: String) -> Result<Contact, StoreError> {
    Ok(Contact {
        user: OwnerId::parse(user).map_err(unavailable)?,
        address: EmailAddress::parse(address).map_err(unavailable)?,
        name,
    })
}

impl NoticeStore for PgNoticeStore {
    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "notices.contact"))]
    async fn contact(&self, user: &OwnerId) -> Result<Option<Contact>, StoreError> {
        let row = sqlx::query!(
            "SELECT user_id, address, name FROM user_contacts WHERE user_id = $1",
            user.as_str()
        )
        .fetch_optional(self.database.pool())
        .await
        .map_err(unavailable)?;
        row.map(|r| contact_of(&r.user_id, &r.address, r.name))
            .transpose()
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "notices.owners_tracking"))]
    async fn owners_tracking(
        &self,
        ticker: &Ticker,
    ) -> Result<Vec<(OwnerId, Option<Contact>)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT DISTINCT d.owner_id AS "owner_id!", c.address AS "address?", c.name AS "name?"
               FROM dashboards d LEFT JOIN user_contacts c ON c.user_id = d.owner_id
               WHERE d.tickers @> ARRAY[$1]::text[]
               ORDER BY 1"#,
            ticker.as_str()
        )
        .fetch_all(self.database.pool())
        .await
        .map_err(unavailable)?;
        rows.into_iter()
            .map(|r| {
                let owner = OwnerId::parse(&r.owner_id).map_err(unavailable)?;
                let contact = match r.address {
                    Some(address) => Some(contact_of(
                        &r.owner_id,
                        &address,
                        r.name.unwrap_or_default(),
                    )?),
                    None => None,
                };
                Ok((owner, contact))
            })
            .collect()
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "notices.create_notice"))]
    async fn create_notice(
        &self,
        key: &NoticeKey,
        event: &EmailCreated,
    ) -> Result<bool, StoreError> {
        let mut write = self.database.write().await.map_err(unavailable)?;
        // The email first (the notice refers to it), then the key: a key taken already
        // rolls both back, and the rest of the write (a batch's record) goes on.
        let mut part = write.part().await.map_err(unavailable)?;
        self.emails.insert(&mut part, &event.email, event).await?;
        let taken = sqlx::query!(
            "INSERT INTO notices (key, email_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            key.as_text(),
            event.email.id.as_uuid(),
        )
        .execute(&mut *part)
        .await
        .map_err(unavailable)?
        .rows_affected()
            == 1;
        if taken {
            part.commit().await.map_err(unavailable)?;
        } else {
            part.rollback().await.map_err(unavailable)?;
        }
        write.commit().await.map_err(unavailable)?;
        Ok(taken)
    }
}
