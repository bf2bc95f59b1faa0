//! What every part of the domain shares: who owns a thing ([`OwnerId`]), how storage fails
//! ([`StoreError`]), a page of a listing ([`PageRequest`], [`Page`]), and the record that a
//! handler processed an event once ([`ProcessedEvent`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidInput;

/// The user who owns a dashboard or an email: the `sub` of their JWT.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OwnerId(String);

impl OwnerId {
    /// Parses a subject: 1 to 255 characters, no surrounding whitespace.
    ///
    /// # Errors
    /// When the subject is empty, too long or padded.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.is_empty() || raw.len() > 255 || raw.trim() != raw {
            return Err(InvalidInput::new(
                "owner",
                "must be 1 to 255 characters without surrounding whitespace",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The subject.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OwnerId {
    type Error = InvalidInput;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<OwnerId> for String {
    fn from(owner: OwnerId) -> Self {
        owner.0
    }
}

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
