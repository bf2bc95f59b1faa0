//! The dashboard usecases. Each takes parsed input and its own narrow dependencies, and
//! returns its own error enum; transports map those errors once, at their edge.

use chrono::{SubsecRound, Utc};

use super::{
    Dashboard, DashboardCreated, DashboardId, DashboardStore, NewDashboard, OwnerId, Page,
    PageRequest, ProcessedEvent, StoreError,
};

/// Why CreateDashboard failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateDashboardError {
    /// The dashboard collides with an existing one.
    #[error("dashboard already exists: {0}")]
    Conflict(String),
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

/// Why GetDashboard failed.
#[derive(Debug, thiserror::Error)]
pub enum GetDashboardError {
    /// No such dashboard, or it belongs to someone else (the two are indistinguishable
    /// on purpose: existence must not leak).
    #[error("dashboard not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

/// Why ListDashboards failed.
#[derive(Debug, thiserror::Error)]
pub enum ListDashboardsError {
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

/// Why DeleteDashboard failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteDashboardError {
    /// No such dashboard, or it belongs to someone else.
    #[error("dashboard not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

/// Creates a dashboard for its owner and announces it with `lzstock.dashboards.created`.
#[derive(Debug, Clone)]
pub struct CreateDashboard<S> {
    store: S,
}

impl<S: DashboardStore> CreateDashboard<S> {
    /// The usecase over `store`.
    pub const fn new(store: S) -> Self {
        Self { store }
    }

    /// Creates `request` owned by `owner`; `trace_id` is carried into the event.
    ///
    /// # Errors
    /// See [`CreateDashboardError`].
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn execute(
        &self,
        owner: OwnerId,
        request: NewDashboard,
        trace_id: Option<String>,
    ) -> Result<Dashboard, CreateDashboardError> {
        let (dashboard, event) = Self::prepare(owner, request, trace_id);
        self.store
            .create(&dashboard, &event)
            .await
            .map_err(Self::error)?;
        Ok(dashboard)
    }

    /// Creates `request` once per `processed` event: a redelivered event returns `None`
    /// and changes nothing.
    ///
    /// # Errors
    /// See [`CreateDashboardError`].
    #[tracing::instrument(skip_all, fields(owner = %owner, event = %processed.event_id))]
    pub async fn execute_once(
        &self,
        owner: OwnerId,
        request: NewDashboard,
        trace_id: Option<String>,
        processed: &ProcessedEvent,
    ) -> Result<Option<Dashboard>, CreateDashboardError> {
        let (dashboard, event) = Self::prepare(owner, request, trace_id);
        let created = self
            .store
            .create_once(&dashboard, &event, processed)
            .await
            .map_err(Self::error)?;
        Ok(created.then_some(dashboard))
    }

    fn prepare(
        owner: OwnerId,
        request: NewDashboard,
        trace_id: Option<String>,
    ) -> (Dashboard, DashboardCreated) {
        let dashboard = Dashboard {
            id: DashboardId::generate(),
            owner,
            name: request.name.clone(),
            tickers: request.tickers.clone(),
            indicators: request.indicators.clone(),
            // Microseconds: what PostgreSQL keeps, so a dashboard reads back equal.
            created_at: Utc::now().trunc_subsecs(6),
        };
        let event = DashboardCreated {
            event_id: uuid::Uuid::now_v7(),
            trace_id,
            request,
            dashboard: dashboard.clone(),
        };
        (dashboard, event)
    }

    fn error(error: StoreError) -> CreateDashboardError {
        match error {
            StoreError::Conflict(what) => CreateDashboardError::Conflict(what),
            other => CreateDashboardError::Unexpected(other),
        }
    }
}

/// Reads one of the caller's dashboards.
#[derive(Debug, Clone)]
pub struct GetDashboard<S> {
    store: S,
}

impl<S: DashboardStore> GetDashboard<S> {
    /// The usecase over `store`.
    pub const fn new(store: S) -> Self {
        Self { store }
    }

    /// The dashboard `id`, if `owner` owns it.
    ///
    /// # Errors
    /// See [`GetDashboardError`].
    #[tracing::instrument(skip_all, fields(owner = %owner, dashboard = %id))]
    pub async fn execute(
        &self,
        owner: &OwnerId,
        id: DashboardId,
    ) -> Result<Dashboard, GetDashboardError> {
        match self.store.get(id).await {
            Ok(Some(dashboard)) if dashboard.owner == *owner => Ok(dashboard),
            Ok(_) => Err(GetDashboardError::NotFound),
            Err(e) => Err(GetDashboardError::Unexpected(e)),
        }
    }
}

/// Lists the caller's dashboards, newest first.
#[derive(Debug, Clone)]
pub struct ListDashboards<S> {
    store: S,
}

impl<S: DashboardStore> ListDashboards<S> {
    /// The usecase over `store`.
    pub const fn new(store: S) -> Self {
        Self { store }
    }

    /// One page of `owner`'s dashboards.
    ///
    /// # Errors
    /// See [`ListDashboardsError`].
    #[tracing::instrument(skip_all, fields(owner = %owner, page = page.page()))]
    pub async fn execute(
        &self,
        owner: &OwnerId,
        page: PageRequest,
    ) -> Result<Page<Dashboard>, ListDashboardsError> {
        self.store
            .list_by_owner(owner, page)
            .await
            .map_err(ListDashboardsError::Unexpected)
    }
}

/// Deletes one of the caller's dashboards.
#[derive(Debug, Clone)]
pub struct DeleteDashboard<S> {
    store: S,
}

impl<S: DashboardStore> DeleteDashboard<S> {
    /// The usecase over `store`.
    pub const fn new(store: S) -> Self {
        Self { store }
    }

    /// Deletes `id` if `owner` owns it.
    ///
    /// # Errors
    /// See [`DeleteDashboardError`].
    #[tracing::instrument(skip_all, fields(owner = %owner, dashboard = %id))]
    pub async fn execute(
        &self,
        owner: &OwnerId,
        id: DashboardId,
    ) -> Result<(), DeleteDashboardError> {
        match self.store.delete_owned(id, owner).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(DeleteDashboardError::NotFound),
            Err(e) => Err(DeleteDashboardError::Unexpected(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::dashboard::{parse_indicators, DashboardName, TickerList};

    /// An in-memory store: enough to test the usecases' own logic (ownership, error
    /// mapping); the SQL adapter is tested against PostgreSQL.
    #[derive(Default)]
    struct MemoryStore {
        dashboards: Mutex<Vec<Dashboard>>,
        events: Mutex<Vec<DashboardCreated>>,
        processed: Mutex<Vec<String>>,
        conflict: bool,
    }

    impl DashboardStore for &MemoryStore {
        async fn create(
            &self,
            dashboard: &Dashboard,
            event: &DashboardCreated,
        ) -> Result<(), StoreError> {
            if self.conflict {
                return Err(StoreError::Conflict("id".into()));
            }
            self.dashboards.lock().unwrap().push(dashboard.clone());
            self.events.lock().unwrap().push(event.clone());
            Ok(())
        }

        async fn create_once(
            &self,
            dashboard: &Dashboard,
            event: &DashboardCreated,
            processed: &ProcessedEvent,
        ) -> Result<bool, StoreError> {
            {
                let mut seen = self.processed.lock().unwrap();
                if seen.contains(&processed.event_id) {
                    return Ok(false);
                }
                seen.push(processed.event_id.clone());
            }
            self.create(dashboard, event).await?;
            Ok(true)
        }

        async fn get(&self, id: DashboardId) -> Result<Option<Dashboard>, StoreError> {
            Ok(self
                .dashboards
                .lock()
                .unwrap()
                .iter()
                .find(|d| d.id == id)
                .cloned())
        }

        async fn list_by_owner(
            &self,
            owner: &OwnerId,
            page: PageRequest,
        ) -> Result<Page<Dashboard>, StoreError> {
            let items: Vec<_> = self
                .dashboards
                .lock()
                .unwrap()
                .iter()
                .filter(|d| d.owner == *owner)
                .cloned()
                .collect();
            Ok(Page {
                total: items.len() as u64,
                items,
                request: page,
            })
        }

        async fn delete_owned(&self, id: DashboardId, owner: &OwnerId) -> Result<bool, StoreError> {
            let mut dashboards = self.dashboards.lock().unwrap();
            let before = dashboards.len();
            dashboards.retain(|d| !(d.id == id && d.owner == *owner));
            Ok(dashboards.len() < before)
        }
    }

    fn request() -> NewDashboard {
        NewDashboard {
            name: DashboardName::parse("Tech").unwrap(),
            tickers: TickerList::parse(&["AAPL", "MSFT"]).unwrap(),
            indicators: parse_indicators(&["net_margin"]).unwrap(),
        }
    }

    fn owner(name: &str) -> OwnerId {
        OwnerId::parse(name).unwrap()
    }

    #[tokio::test]
    async fn creating_a_dashboard_records_the_event_with_request_and_result() {
        let store = MemoryStore::default();
        let created = CreateDashboard::new(&store)
            .execute(owner("ada"), request(), Some("trace-1".into()))
            .await
            .unwrap();
        let events = store.events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].dashboard, created);
        assert_eq!(events[0].request, request());
        assert_eq!(events[0].trace_id.as_deref(), Some("trace-1"));
    }

    #[tokio::test]
    async fn someone_elses_dashboard_is_not_found_for_reading_or_deleting() {
        let store = MemoryStore::default();
        let created = CreateDashboard::new(&store)
            .execute(owner("ada"), request(), None)
            .await
            .unwrap();
        let get = GetDashboard::new(&store);
        assert!(matches!(
            get.execute(&owner("bob"), created.id).await,
            Err(GetDashboardError::NotFound)
        ));
        assert!(matches!(
            DeleteDashboard::new(&store)
                .execute(&owner("bob"), created.id)
                .await,
            Err(DeleteDashboardError::NotFound)
        ));
        assert_eq!(
            get.execute(&owner("ada"), created.id).await.unwrap(),
            created
        );
        DeleteDashboard::new(&store)
            .execute(&owner("ada"), created.id)
            .await
            .unwrap();
        assert!(matches!(
            get.execute(&owner("ada"), created.id).await,
            Err(GetDashboardError::NotFound)
        ));
    }

    #[tokio::test]
    async fn an_event_creates_its_dashboard_once() {
        let store = MemoryStore::default();
        let processed = ProcessedEvent {
            handler: "users.signed_up".into(),
            event_id: "e1".into(),
            subject: "lzstock.users.signed_up".into(),
        };
        let create = CreateDashboard::new(&store);
        let first = create
            .execute_once(owner("ada"), request(), None, &processed)
            .await
            .unwrap();
        let again = create
            .execute_once(owner("ada"), request(), None, &processed)
            .await
            .unwrap();
        assert!(first.is_some() && again.is_none());
        assert_eq!(store.dashboards.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_storage_conflict_is_a_conflict() {
        let store = MemoryStore {
            conflict: true,
            ..MemoryStore::default()
        };
        let result = CreateDashboard::new(&store)
            .execute(owner("ada"), request(), None)
            .await;
        assert!(matches!(result, Err(CreateDashboardError::Conflict(_))));
    }
}
