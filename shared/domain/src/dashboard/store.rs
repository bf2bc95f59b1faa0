//! The port through which dashboard usecases reach storage.

use std::future::Future;

use crate::InvalidInput;

use super::{Dashboard, DashboardCreated, DashboardId, OwnerId};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write collides with existing data (a duplicate id, say).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Storage is unreachable or failed; the cause is kept for the log.
    #[error("storage failed: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A page of a listing: 1-based page number and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    size: u32,
}

impl PageRequest {
    /// The page size when the client does not choose one.
    pub const DEFAULT_SIZE: u32 = 20;
    /// The largest page a client may ask for.
    pub const MAX_SIZE: u32 = 100;

    /// Parses `page` (from 1, default 1) and `size` (1 to 100, default 20).
    ///
    /// # Errors
    /// When either is out of range.
    pub fn parse(page: Option<u32>, size: Option<u32>) -> Result<Self, InvalidInput> {
        let page = page.unwrap_or(1);
        let size = size.unwrap_or(Self::DEFAULT_SIZE);
        if page == 0 {
            return Err(InvalidInput::new("page", "must be 1 or more"));
        }
        if size == 0 || size > Self::MAX_SIZE {
            return Err(InvalidInput::new(
                "size",
                format!("must be between 1 and {}", Self::MAX_SIZE),
            ));
        }
        Ok(Self { page, size })
    }

    /// The 1-based page number.
    #[must_use]
    pub const fn page(&self) -> u32 {
        self.page
    }

    /// The page size.
    #[must_use]
    pub const fn size(&self) -> u32 {
        self.size
    }

    /// How many items come before this page.
    #[must_use]
    pub const fn offset(&self) -> u64 {
        (self.page as u64 - 1) * self.size as u64
    }
}

/// One page of results and the total across all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// The page that was asked for.
    pub request: PageRequest,
    /// The number of items across every page.
    pub total: u64,
}

/// The record that a handler processed an event: stored in the same transaction as the
/// handler's effect, so a redelivered event finds it and has no second effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedEvent {
    /// The handler, e.g. `users.signed_up`.
    pub handler: String,
    /// The event id.
    pub event_id: String,
    /// The subject it arrived on.
    pub subject: String,
}

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
