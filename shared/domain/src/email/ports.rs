//! What the email usecases need from the outside: storage, a mail server, a cache.

use std::future::Future;
use std::time::Duration;

use super::{Email, EmailCreated, EmailId, EmailStatus, SearchText};
use crate::common::{OwnerId, Page, PageRequest, ProcessedEvent, StoreError};

/// What claiming an email for sending found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This sender holds it now (`sending`, under a lease).
    Claimed(Email),
    /// It is `sent` or `failed` already: nothing to do.
    Settled(EmailStatus),
    /// Another sender holds a live lease on it, for this long yet (zero when unknown).
    Busy(Duration),
    /// No such email.
    Missing,
}

/// Storage for emails.
pub trait EmailStore: Send + Sync {
    /// Stores `email` and its `event` in one transaction.
    fn create(
        &self,
        email: &Email,
        event: &EmailCreated,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// As [`EmailStore::create`], once per `processed` event: `false` (and nothing
    /// written) when the event was processed before.
    fn create_once(
        &self,
        email: &Email,
        event: &EmailCreated,
        processed: &ProcessedEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The email `id`.
    fn get(&self, id: EmailId) -> impl Future<Output = Result<Option<Email>, StoreError>> + Send;

    /// `owner`'s emails matching `search`, best match first then newest (newest first when
    /// the search is empty).
    fn search(
        &self,
        owner: &OwnerId,
        search: &SearchText,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Email>, StoreError>> + Send;

    /// Claims `id` for sending: `queued` (or `sending` whose lease ran out) becomes
    /// `sending`, held for `lease`.
    fn claim(
        &self,
        id: EmailId,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Marks a claimed email `sent`.
    fn mark_sent(&self, id: EmailId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks a claimed email `failed` for `reason`.
    fn mark_failed(
        &self,
        id: EmailId,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives a claimed email back (`queued`), noting `reason`, for a later attempt.
    fn release(
        &self,
        id: EmailId,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Why the mail server did not take an email.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// Worth trying again later: the server is unreachable, timed out, or answered 4xx.
    #[error("temporary: {0}")]
    Transient(String),
    /// The server refused it for good (5xx): the email fails with this reason.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A mail server.
pub trait Mailer: Send + Sync {
    /// Hands `email` to the server.
    fn send(&self, email: &Email) -> impl Future<Output = Result<(), SendFailure>> + Send;
}

/// A cache of emails by id. It never fails its caller: an unreachable cache is a miss (a
/// read) or a no-op (a write), reported by the cache itself.
pub trait EmailCache: Send + Sync {
    /// The cached email, on a hit.
    fn get(&self, id: EmailId) -> impl Future<Output = Option<Email>> + Send;

    /// Caches `email`.
    fn put(&self, email: &Email) -> impl Future<Output = ()> + Send;

    /// Forgets `id`.
    fn invalidate(&self, id: EmailId) -> impl Future<Output = ()> + Send;
}

/// No cache: every read goes to storage.
impl EmailCache for () {
    async fn get(&self, _id: EmailId) -> Option<Email> {
        None
    }

    async fn put(&self, _email: &Email) {}

    async fn invalidate(&self, _id: EmailId) {}
}

/// A cache when configured, none otherwise.
impl<C: EmailCache> EmailCache for Option<C> {
    async fn get(&self, id: EmailId) -> Option<Email> {
        match self {
            Some(cache) => cache.get(id).await,
            None => None,
        }
    }

    async fn put(&self, email: &Email) {
        if let Some(cache) = self {
            cache.put(email).await;
        }
    }

    async fn invalidate(&self, id: EmailId) {
        if let Some(cache) = self {
            cache.invalidate(id).await;
        }
    }
}
