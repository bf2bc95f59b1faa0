//! The email usecases, each with its own error enum.

use std::time::Duration;

use chrono::{SubsecRound, Utc};

use super::{
    Claim, Email, EmailAddress, EmailCache, EmailCreated, EmailId, EmailStatus, EmailStore, Mailer,
    NewEmail, SearchText, SendFailure,
};
use crate::common::{OwnerId, Page, PageRequest, ProcessedEvent, StoreError};

/// Why CreateEmail failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateEmailError {
    /// The email collides with an existing one.
    #[error("email already exists: {0}")]
    Conflict(String),
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

impl From<StoreError> for CreateEmailError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => Self::Conflict(what),
            other => Self::Unexpected(other),
        }
    }
}

/// Creates an email, `queued`, with its `emails.created` event in the same transaction.
#[derive(Debug, Clone)]
pub struct CreateEmail<S> {
    store: S,
    default_from: EmailAddress,
}

impl<S: EmailStore> CreateEmail<S> {
    /// The usecase over `store`; emails that name no sender come from `default_from`.
    pub const fn new(store: S, default_from: EmailAddress) -> Self {
        Self {
            store,
            default_from,
        }
    }

    fn draft(&self, owner: OwnerId, request: NewEmail, trace_id: Option<String>) -> EmailCreated {
        let email = Email {
            id: EmailId::new(),
            owner,
            from: request.from.unwrap_or_else(|| self.default_from.clone()),
            to: request.to,
            subject: request.subject,
            body: request.body,
            status: EmailStatus::Queued,
            last_error: None,
            // PostgreSQL keeps microseconds: the returned email equals the stored one.
            created_at: Utc::now().trunc_subsecs(6),
            sent_at: None,
        };
        EmailCreated {
            event_id: uuid::Uuid::now_v7(),
            trace_id,
            email,
        }
    }

    /// Creates the email `request` asks for, owned by `owner`.
    ///
    /// # Errors
    /// See [`CreateEmailError`].
    #[tracing::instrument(name = "CreateEmail", skip_all, fields(owner = %owner))]
    pub async fn execute(
        &self,
        owner: OwnerId,
        request: NewEmail,
        trace_id: Option<String>,
    ) -> Result<Email, CreateEmailError> {
        let event = self.draft(owner, request, trace_id);
        self.store.create(&event.email, &event).await?;
        tracing::info!(email = %event.email.id, "email queued");
        Ok(event.email)
    }

    /// As [`CreateEmail::execute`], once per `processed` event: `None` when the event was
    /// processed before (nothing is created twice).
    ///
    /// # Errors
    /// See [`CreateEmailError`].
    pub async fn execute_once(
        &self,
        owner: OwnerId,
        request: NewEmail,
        trace_id: Option<String>,
        processed: &ProcessedEvent,
    ) -> Result<Option<Email>, CreateEmailError> {
        let event = self.draft(owner, request, trace_id);
        let created = self
            .store
            .create_once(&event.email, &event, processed)
            .await?;
        Ok(created.then_some(event.email))
    }
}

/// Why SendEmail did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SendEmailError {
    /// Worth trying again later (the email is `queued` again).
    #[error("try again later: {0}")]
    Retry(String),
    /// Another sender holds the email, under a lease that lasts this long yet: if that
    /// sender died, the email can be claimed once the lease is over.
    #[error("another sender holds the email for {0:?} yet")]
    Busy(Duration),
    /// Storage failed.
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

/// What SendEmail did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The mail server accepted the email.
    Sent,
    /// The mail server refused it for good; it is `failed` with this reason.
    Failed(String),
    /// It was `sent` or `failed` already: nothing was sent.
    AlreadySettled(EmailStatus),
    /// There is no such email.
    Missing,
}

/// Sends a `queued` email once: claim, send, mark. A transient failure gives it back for a
/// later attempt (the caller's redelivery, never a loop here); a permanent one fails it.
#[derive(Debug, Clone)]
pub struct SendEmail<S, M, C> {
    store: S,
    mailer: M,
    cache: C,
    lease: Duration,
}

impl<S: EmailStore, M: Mailer, C: EmailCache> SendEmail<S, M, C> {
    /// The usecase; a claim is held for `lease`, which must outlast one SMTP exchange.
    pub const fn new(store: S, mailer: M, cache: C, lease: Duration) -> Self {
        Self {
            store,
            mailer,
            cache,
            lease,
        }
    }

    /// Sends email `id` unless it is settled or another sender holds it.
    ///
    /// # Errors
    /// See [`SendEmailError`].
    #[tracing::instrument(name = "SendEmail", skip_all, fields(email = %id))]
    pub async fn execute(&self, id: EmailId) -> Result<SendOutcome, SendEmailError> {
        let email = match self.store.claim(id, self.lease).await? {
            Claim::Claimed(email) => email,
            Claim::Settled(status) => {
                tracing::info!(status = status.as_str(), "already settled: nothing sent");
                return Ok(SendOutcome::AlreadySettled(status));
            }
            Claim::Busy(held_for) => return Err(SendEmailError::Busy(held_for)),
            Claim::Missing => return Ok(SendOutcome::Missing),
        };
        self.cache.invalidate(id).await;
        let outcome = match self.mailer.send(&email).await {
            Ok(()) => {
                self.store.mark_sent(id).await?;
                tracing::info!("email sent");
                Ok(SendOutcome::Sent)
            }
            Err(SendFailure::Permanent(reason)) => {
                self.store.mark_failed(id, &reason).await?;
                tracing::warn!(%reason, "the mail server refused the email for good");
                Ok(SendOutcome::Failed(reason))
            }
            Err(SendFailure::Transient(reason)) => {
                self.store.release(id, &reason).await?;
                tracing::warn!(%reason, "the mail server could not take the email now");
                Err(SendEmailError::Retry(reason))
            }
        };
        // After the commit that changed the status, so a reader cannot cache the old one
        // from here on.
        self.cache.invalidate(id).await;
        outcome
    }
}

/// Why GetEmail failed.
#[derive(Debug, thiserror::Error)]
pub enum GetEmailError {
    /// No such email, or another user's (indistinguishable on purpose).
    #[error("email not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

/// Reads one of the caller's emails, through the cache.
#[derive(Debug, Clone)]
pub struct GetEmail<S, C> {
    store: S,
    cache: C,
}

impl<S: EmailStore, C: EmailCache> GetEmail<S, C> {
    /// The usecase over `store`, reading through `cache`.
    pub const fn new(store: S, cache: C) -> Self {
        Self { store, cache }
    }

    /// The email `id`, if `owner` owns it.
    ///
    /// # Errors
    /// See [`GetEmailError`].
    #[tracing::instrument(name = "GetEmail", skip_all, fields(owner = %owner, email = %id))]
    pub async fn execute(&self, owner: &OwnerId, id: EmailId) -> Result<Email, GetEmailError> {
        let email = match self.cache.get(id).await {
            Some(email) => email,
            None => {
                let Some(email) = self
                    .store
                    .get(id)
                    .await
                    .map_err(GetEmailError::Unexpected)?
                else {
                    return Err(GetEmailError::NotFound);
                };
                self.cache.put(&email).await;
                email
            }
        };
        if email.owner == *owner {
            Ok(email)
        } else {
            Err(GetEmailError::NotFound)
        }
    }
}

/// Why SearchEmails failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchEmailsError {
    /// Storage failed.
    #[error(transparent)]
    Unexpected(StoreError),
}

/// Searches the caller's emails.
#[derive(Debug, Clone)]
pub struct SearchEmails<S> {
    store: S,
}

impl<S: EmailStore> SearchEmails<S> {
    /// The usecase over `store`.
    pub const fn new(store: S) -> Self {
        Self { store }
    }

    /// One page of `owner`'s emails matching `search`.
    ///
    /// # Errors
    /// See [`SearchEmailsError`].
    #[tracing::instrument(name = "SearchEmails", skip_all, fields(owner = %owner))]
    pub async fn execute(
        &self,
        owner: &OwnerId,
        search: &SearchText,
        page: PageRequest,
    ) -> Result<Page<Email>, SearchEmailsError> {
        self.store
            .search(owner, search, page)
            .await
            .map_err(SearchEmailsError::Unexpected)
    }
}
