//! The dashboard usecases. Each takes parsed input and its own narrow dependencies, and
//! returns its own error enum; transports map those errors once, at their edge.

use chrono::{SubsecRound, Utc};

use crate::company::{insights_of, CompanyInsights, CompanyStore};

use super::{Dashboard, DashboardCreated, DashboardId, DashboardStore, Indicator, NewDashboard};
use crate::common::{OwnerId, Page, PageRequest, ProcessedEvent, StoreError};

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
    #[tracing::instrument(name = "CreateDashboard", skip_all, fields(owner = %owner))]
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
    #[tracing::instrument(name = "CreateDashboard.execute_once", skip_all, fields(owner = %owner, event = %processed.event_id))]
    pub async fn execute_once(
        &self,
        owner: OwnerId,
        request: NewDashboard,
        trace_id: Option<String>,
        processed: &ProcessedEvent,
        contact: Option<&crate::email::Contact>,
    ) -> Result<Option<Dashboard>, CreateDashboardError> {
        let (dashboard, event) = Self::prepare(owner, request, trace_id);
        let created = self
            .store
            .create_once(&dashboard, &event, processed, contact)
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

/// Reads one of the caller's dashboards, with the insights of each of its companies: the
/// indicators it selected (every indicator when it selected none).
#[derive(Debug, Clone)]
pub struct GetDashboard<S, C> {
    store: S,
    companies: C,
}

/// A dashboard and its companies' insights.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardInsights {
    /// The dashboard.
    pub dashboard: Dashboard,
    /// Per ticker, in the dashboard's order, the indicators it shows.
    pub companies: Vec<CompanyInsights>,
}

impl<S: DashboardStore, C: CompanyStore> GetDashboard<S, C> {
    /// The usecase over `store`, reading facts from `companies`.
    pub const fn new(store: S, companies: C) -> Self {
        Self { store, companies }
    }

    /// The dashboard `id`, if `owner` owns it, with its insights.
    ///
    /// # Errors
    /// See [`GetDashboardError`].
    #[tracing::instrument(name = "GetDashboard", skip_all, fields(owner = %owner, dashboard = %id))]
    pub async fn execute(
        &self,
        owner: &OwnerId,
        id: DashboardId,
    ) -> Result<DashboardInsights, GetDashboardError> {
        let dashboard = match self.store.get(id).await {
            Ok(Some(dashboard)) if dashboard.owner == *owner => dashboard,
            Ok(_) => return Err(GetDashboardError::NotFound),
            Err(e) => return Err(GetDashboardError::Unexpected(e)),
        };
        let indicators: &[Indicator] = if dashboard.indicators.is_empty() {
            &Indicator::ALL
        } else {
            &dashboard.indicators
        };
        let companies = insights_of(&self.companies, dashboard.tickers.as_slice(), indicators)
            .await
            .map_err(GetDashboardError::Unexpected)?;
        Ok(DashboardInsights {
            dashboard,
            companies,
        })
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
    #[tracing::instrument(name = "ListDashboards", skip_all, fields(owner = %owner, page = page.page()))]
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
    #[tracing::instrument(name = "DeleteDashboard", skip_all, fields(owner = %owner, dashboard = %id))]
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
mod tests;
