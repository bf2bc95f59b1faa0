//! The port through which dashboard usecases reach storage.

use std::future::Future;

use super::{Dashboard, DashboardCreated, DashboardId};
use crate::common::{OwnerId, Page, PageRequest, ProcessedEvent, StoreError};

/// Storage for dashboards.
pub trait DashboardStore: Send + Sync {
    /// Stores `dashboard` and, in the same transaction, the event announcing it, so the
    /// event is published if and only if the dashboard exists.
    fn create(
        &self,
        dashboard: &Dashboard,
        event: &DashboardCreated,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Like [`DashboardStore::create`], once per `processed` event: in one transaction,
    /// records `processed` and stores the dashboard and its event, or does nothing and
    /// returns `false` when the event was processed before.
    /// `contact`, when given, is recorded (or updated) in the same transaction.
    fn create_once(
        &self,
        dashboard: &Dashboard,
        event: &DashboardCreated,
        processed: &ProcessedEvent,
        contact: Option<&crate::email::Contact>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The dashboard with `id`, whoever owns it.
    fn get(
        &self,
        id: DashboardId,
    ) -> impl Future<Output = Result<Option<Dashboard>, StoreError>> + Send;

    /// `owner`'s dashboards, newest first.
    fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Dashboard>, StoreError>> + Send;

    /// Deletes the dashboard `id` if `owner` owns it; whether one was deleted.
    fn delete_owned(
        &self,
        id: DashboardId,
        owner: &OwnerId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_are_bounded() {
        let page = PageRequest::parse(None, None).unwrap();
        assert_eq!((page.page(), page.size(), page.offset()), (1, 20, 0));
        assert_eq!(PageRequest::parse(Some(3), Some(10)).unwrap().offset(), 20);
        assert_eq!(PageRequest::parse(Some(0), None).unwrap_err().field, "page");
        assert_eq!(PageRequest::parse(None, Some(0)).unwrap_err().field, "size");
        assert_eq!(
            PageRequest::parse(None, Some(101)).unwrap_err().field,
            "size"
        );
        assert!(PageRequest::parse(None, Some(100)).is_ok());
    }
}
