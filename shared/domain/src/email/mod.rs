//! Notifications: emails a user (or another service, or LZStock itself) asks for, stored,
//! sent over SMTP once, read back by their owner and searched.
//!
//! An email is created `queued` together with its `emails.created` event (one transaction,
//! through the outbox); the event drives SendEmail, which claims it (`sending`, under a
//! lease), hands it to the mail server and marks it `sent`, or `failed` with the server's
//! reason when the refusal is permanent. A transient failure puts it back to `queued` and
//! the event is redelivered later.

mod notices;
mod ports;
mod usecases;
mod values;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::common::OwnerId;

pub use notices::{AlertOwners, Contact, NoticeKey, NoticeReport, NoticeStore, WelcomeUser};
pub use ports::{Claim, EmailCache, EmailStore, Mailer, SendFailure};
pub use usecases::{
    CreateEmail, CreateEmailError, GetEmail, GetEmailError, SearchEmails, SearchEmailsError,
    SendEmail, SendEmailError, SendOutcome,
};
pub use values::{Body, EmailAddress, EmailId, Recipients, SearchText, Subject};

/// Where an email is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Stored, waiting to be sent.
    Queued,
    /// Claimed by a sender, being handed to the mail server.
    Sending,
    /// The mail server accepted it.
    Sent,
    /// The mail server refused it for good; `last_error` says why.
    Failed,
}

impl EmailStatus {
    /// The status's wire name, e.g. `queued`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored status.
    ///
    /// # Errors
    /// When the text names no status.
    pub fn parse(raw: &str) -> Result<Self, crate::InvalidInput> {
        [Self::Queued, Self::Sending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| crate::InvalidInput::new("status", format!("unknown status {raw:?}")))
    }
}

/// An email as stored. Every field is a parsed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// Its id.
    pub id: EmailId,
    /// The user it belongs to: only they can read it.
    pub owner: OwnerId,
    /// The sender.
    pub from: EmailAddress,
    /// The recipients.
    pub to: Recipients,
    /// The subject.
    pub subject: Subject,
    /// The plain-text body.
    pub body: Body,
    /// Where it is in its life.
    pub status: EmailStatus,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the mail server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

/// What a caller asks for: the sender defaults to the service's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    /// The sender, when the caller names one.
    pub from: Option<EmailAddress>,
    /// The recipients.
    pub to: Recipients,
    /// The subject.
    pub subject: Subject,
    /// The body.
    pub body: Body,
}

/// The `emails.created` event: the email, as created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCreated {
    /// The id of this event, used as `Nats-Msg-Id`.
    pub event_id: uuid::Uuid,
    /// The trace the creation ran in, if any.
    pub trace_id: Option<String>,
    /// The created email.
    pub email: Email,
}

#[cfg(test)]
mod tests;
