//! [`DashboardStore`] on PostgreSQL, with compile-time checked queries.

use chrono::{DateTime, Utc};
use lzstock_domain::common::{OwnerId, Page, PageRequest, ProcessedEvent, StoreError};
use lzstock_domain::dashboard::{
    Dashboard, DashboardCreated, DashboardId, DashboardName, DashboardStore, TickerList,
};
use lzstock_domain::email::Contact;
use lzstock_domain::events::DASHBOARD_CREATED;
use lzstock_domain::InvalidInput;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};

use crate::database::{BatchTransaction, Database};
use crate::outbox::{self, OutboxEvent};
use crate::postgres::unavailable;

/// Dashboards in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgDashboardStore {
    database: Database,
    subject_root: String,
}

impl PgDashboardStore {
    /// A store on `pool`; its events go to `<subject_root>.dashboards.created`.
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
}

struct DashboardRow {
    id: uuid::Uuid,
    owner_id: String,
    name: String,
    tickers: Vec<String>,
    indicators: Vec<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<DashboardRow> for Dashboard {
    type Error = InvalidInput;

    // The schema's constraints mirror the domain's, so this fails only on data written
    // around both; it is reported, never trusted.
    fn try_from(row: DashboardRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: DashboardId::from_uuid(row.id),
            owner: OwnerId::parse(&row.owner_id)?,
            name: DashboardName::parse(&row.name)?,
            tickers: TickerList::parse(&row.tickers)?,
            indicators: lzstock_domain::dashboard::parse_indicators(&row.indicators)?,
            created_at: row.created_at,
        })
    }
}

impl PgDashboardStore {
    /// The dashboard row and its outbox event, in the caller's transaction.
    async fn insert(
        &self,
        connection: &mut PgConnection,
        dashboard: &Dashboard,
        event: &DashboardCreated,
    ) -> Result<(), StoreError> {
        let tickers: Vec<String> = dashboard
            .tickers
            .as_slice()
            .iter()
            .map(ToString::to_string)
            .collect();
        let indicators: Vec<String> = dashboard
            .indicators
            .iter()
            .map(ToString::to_string)
            .collect();
        sqlx::query!(
            "INSERT INTO dashboards (id, owner_id, name, tickers, indicators, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            dashboard.id.as_uuid(),
            dashboard.owner.as_str(),
            dashboard.name.as_str(),
            &tickers,
            &indicators,
            dashboard.created_at,
        )
        .execute(&mut *connection)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("dashboard {} already exists", dashboard.id))
            }
            other => unavailable(other),
        })?;
        let announcement = announcement(&self.subject_root, event);
        outbox::insert(connection, &announcement)
            .await
            .map_err(unavailable)
    }
}

fn from_row(row: DashboardRow) -> Result<Dashboard, StoreError> {
    Dashboard::try_from(row).map_err(unavailable)
}

impl DashboardStore for PgDashboardStore {
    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "dashboards.create"))]
    async fn create(
        &self,
        dashboard: &Dashboard,
        event: &DashboardCreated,
    ) -> Result<(), StoreError> {
        let mut tx = self.database.write().await.map_err(unavailable)?;
        self.insert(&mut tx, dashboard, event).await?;
        tx.commit().await.map_err(unavailable)
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "dashboards.create_once"))]
    async fn create_once(
        &self,
        dashboard: &Dashboard,
        event: &DashboardCreated,
        processed: &ProcessedEvent,
        contact: Option<&Contact>,
    ) -> Result<bool, StoreError> {
        let Some(mut tx) = crate::processed::write_once(&self.database, processed)
            .await
            .map_err(unavailable)?
        else {
            return Ok(false);
        };
        self.insert(&mut tx, dashboard, event).await?;
        if let Some(contact) = contact {
            crate::notices::record_contact(&mut tx, contact)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "dashboards.get"))]
    async fn get(&self, id: DashboardId) -> Result<Option<Dashboard>, StoreError> {
        sqlx::query_as!(
            DashboardRow,
            "SELECT id, owner_id, name, tickers, indicators, created_at
             FROM dashboards WHERE id = $1",
            id.as_uuid(),
        )
        .fetch_optional(self.database.pool())
        .await
        .map_err(unavailable)?
        .map(from_row)
        .transpose()
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "dashboards.list_by_owner"))]
    async fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: PageRequest,
    ) -> Result<Page<Dashboard>, StoreError> {
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let rows = sqlx::query_as!(
            DashboardRow,
            "SELECT id, owner_id, name, tickers, indicators, created_at
             FROM dashboards WHERE owner_id = $1
             ORDER BY created_at DESC, id DESC
             LIMIT $2 OFFSET $3",
            owner.as_str(),
            i64::from(page.size()),
            offset,
        )
        .fetch_all(self.database.pool())
        .await
        .map_err(unavailable)?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "total!" FROM dashboards WHERE owner_id = $1"#,
            owner.as_str(),
        )
        .fetch_one(self.database.pool())
        .await
        .map_err(unavailable)?;
        Ok(Page {
            items: rows.into_iter().map(from_row).collect::<Result<_, _>>()?,
            request: page,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    #[tracing::instrument(name = "db.query", skip_all, fields(db.system = "postgresql", db.operation.name = "dashboards.delete_owned"))]
    async fn delete_owned(&self, id: DashboardId, owner: &OwnerId) -> Result<bool, StoreError> {
        let deleted = sqlx::query!(
            "DELETE FROM dashboards WHERE id = $1 AND owner_id = $2",
            id.as_uuid(),
            owner.as_str(),
        )
        .execute(self.database.pool())
        .await
        .map_err(unavailable)?;
        Ok(deleted.rows_affected() == 1)
    }
}

/// `<root>.dashboards.created`: the CreateDashboard request and the created dashboard.
fn announcement(subject_root: &str, event: &DashboardCreated) -> OutboxEvent {
    let request = json!({
        "name": event.request.name.as_str(),
        "tickers": event.request.tickers.as_slice().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "indicators": event.request.indicators.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    OutboxEvent::new(
        event.event_id,
        subject_root,
        DASHBOARD_CREATED,
        event.trace_id.as_deref(),
        event.dashboard.created_at,
        request,
        dashboard_json(&event.dashboard),
    )
}

/// A dashboard in canonical proto3 JSON (`lzstock.v1.Dashboard`).
fn dashboard_json(dashboard: &Dashboard) -> Value {
    json!({
        "id": dashboard.id.to_string(),
        "ownerId": dashboard.owner.as_str(),
        "name": dashboard.name.as_str(),
        "tickers": dashboard.tickers.as_slice().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "indicators": dashboard.indicators.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "createdAt": dashboard.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}
