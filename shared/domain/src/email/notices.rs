//! Emails LZStock sends on its own: a welcome on a user's first dashboard, and an alert to
//! each owner of a dashboard tracking a company that filed new figures. Each is keyed, and
//! a key gets at most one email, ever: a redelivered event sends nothing twice.

use std::future::Future;

use chrono::{SubsecRound, Utc};

use super::{Body, Email, EmailAddress, EmailCreated, EmailId, EmailStatus, Recipients, Subject};
use crate::common::{OwnerId, StoreError};
use crate::Ticker;

/// A user's address, as the identity service gave it at sign-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The user.
    pub user: OwnerId,
    /// Where they read email.
    pub address: EmailAddress,
    /// Their name, for a greeting (may be empty).
    pub name: String,
}

/// What a notice is for: at most one email per key, ever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKey {
    /// The welcome of a user.
    Welcome(OwnerId),
    /// The alert to `owner` about one filing of `ticker`.
    FilingAlert {
        /// Who is alerted.
        owner: OwnerId,
        /// The company.
        ticker: Ticker,
        /// The filing (its accession number, or its date when that is all that is known).
        filing: String,
    },
}

impl NoticeKey {
    /// The key as stored: `welcome:<user>`, `filing:<owner>:<ticker>:<filing>`.
    #[must_use]
    pub fn as_text(&self) -> String {
        match self {
            Self::Welcome(user) => format!("welcome:{user}"),
            Self::FilingAlert {
                owner,
                ticker,
                filing,
            } => format!("filing:{owner}:{ticker}:{filing}"),
        }
    }
}

/// Storage for notices.
pub trait NoticeStore: Send + Sync {
    /// The contact of `user`, if one was recorded.
    fn contact(
        &self,
        user: &OwnerId,
    ) -> impl Future<Output = Result<Option<Contact>, StoreError>> + Send;

    /// Every owner of a dashboard tracking `ticker`, once each, with their contact when one
    /// was recorded.
    fn owners_tracking(
        &self,
        ticker: &Ticker,
    ) -> impl Future<Output = Result<Vec<(OwnerId, Option<Contact>)>, StoreError>> + Send;

    /// Stores the email `event` announces, and the event, in one transaction with `key`,
    /// unless `key` has an email already; `true` when it was stored.
    fn create_notice(
        &self,
        key: &NoticeKey,
        event: &EmailCreated,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

fn notice(owner: OwnerId, from: &EmailAddress, to: &Contact, subject: &str, body: String) -> Email {
    Email {
        id: EmailId::new(),
        owner,
        from: from.clone(),
        to: Recipients::from_one(to.address.clone()),
        // Our own text: within every limit by construction; the checks stay regardless.
        subject: Subject::parse(subject).unwrap_or_else(|_| Subject::fallback()),
        body: Body::parse(&body).unwrap_or_else(|_| Body::empty()),
        status: EmailStatus::Queued,
        last_error: None,
        created_at: Utc::now().trunc_subsecs(6),
        sent_at: None,
    }
}

fn announce(email: Email, trace_id: Option<String>) -> EmailCreated {
    EmailCreated {
        event_id: uuid::Uuid::now_v7(),
        trace_id,
        email,
    }
}

/// What a notice usecase did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeReport {
    /// Emails queued.
    pub queued: Vec<EmailId>,
    /// Users without a known address: no email, and that is fine.
    pub without_address: Vec<OwnerId>,
    /// Users who had this notice already.
    pub already: Vec<OwnerId>,
}

/// Welcomes a user on their first dashboard, once ever, when their address is known.
#[derive(Debug, Clone)]
pub struct WelcomeUser<S> {
    store: S,
    from: EmailAddress,
}

impl<S: NoticeStore> WelcomeUser<S> {
    /// The usecase over `store`, sending from `from`.
    pub const fn new(store: S, from: EmailAddress) -> Self {
        Self { store, from }
    }

    /// Welcomes `user`, unless they were welcomed before or have no known address.
    ///
    /// # Errors
    /// When storage fails.
    #[tracing::instrument(name = "WelcomeUser", skip_all, fields(user = %user))]
    pub async fn execute(
        &self,
        user: &OwnerId,
        trace_id: Option<String>,
    ) -> Result<NoticeReport, StoreError> {
        let mut report = NoticeReport::default();
        let Some(contact) = self.store.contact(user).await? else {
            tracing::info!("no address known for the user: no welcome email");
            report.without_address.push(user.clone());
            return Ok(report);
        };
        let greeting = if contact.name.trim().is_empty() {
            "Hello".to_owned()
        } else {
            format!("Hello {}", contact.name.trim())
        };
        let email = notice(
            user.clone(),
            &self.from,
            &contact,
            "Welcome to LZStock",
            format!(
                "{greeting},\r\n\r\nyour first dashboard is ready. LZStock keeps its companies' \
                 fundamentals in step with SEC EDGAR and shows their indicators for the latest \
                 fiscal year.\r\n\r\nLZStock\r\n"
            ),
        );
        let id = email.id;
        if self
            .store
            .create_notice(
                &NoticeKey::Welcome(user.clone()),
                &announce(email, trace_id),
            )
            .await?
        {
            tracing::info!(email = %id, "welcome email queued");
            report.queued.push(id);
        } else {
            report.already.push(user.clone());
        }
        Ok(report)
    }
}

/// Alerts each owner of a dashboard tracking a company that filed new figures: at most one
/// email per owner per filing, however many facts changed.
#[derive(Debug, Clone)]
pub struct AlertOwners<S> {
    store: S,
    from: EmailAddress,
}

impl<S: NoticeStore> AlertOwners<S> {
    /// The usecase over `store`, sending from `from`.
    pub const fn new(store: S, from: EmailAddress) -> Self {
        Self { store, from }
    }

    /// Alerts the owners tracking `ticker` about `filing`, whose facts in `changed` moved.
    ///
    /// # Errors
    /// When storage fails.
    #[tracing::instrument(name = "AlertOwners", skip_all, fields(ticker = %ticker, filing))]
    pub async fn execute(
        &self,
        ticker: &Ticker,
        filing: &str,
        changed: &[String],
        trace_id: Option<String>,
    ) -> Result<NoticeReport, StoreError> {
        let mut report = NoticeReport::default();
        const LISTED: usize = 20;
        let mut lines: Vec<String> = changed
            .iter()
            .take(LISTED)
            .map(|c| format!("- {c}"))
            .collect();
        if changed.len() > LISTED {
            lines.push(format!("- and {} more", changed.len() - LISTED));
        }
        for (owner, contact) in self.store.owners_tracking(ticker).await? {
            let Some(contact) = contact else {
                tracing::info!(owner = %owner, "no address known for the owner: no alert");
                report.without_address.push(owner);
                continue;
            };
            let email = notice(
                owner.clone(),
                &self.from,
                &contact,
                &format!("{ticker} filed new figures"),
                format!(
                    "{ticker} filed with SEC ({filing}), and these figures changed:\r\n\r\n{}\r\n\r\n\
                     Its indicators on your dashboards are up to date.\r\n",
                    lines.join("\r\n")
                ),
            );
            let id = email.id;
            let key = NoticeKey::FilingAlert {
                owner: owner.clone(),
                ticker: ticker.clone(),
                filing: filing.to_owned(),
            };
            if self
                .store
                .create_notice(&key, &announce(email, trace_id.clone()))
                .await?
            {
                report.queued.push(id);
            } else {
                report.already.push(owner);
            }
        }
        tracing::info!(queued = report.queued.len(), "filing alerts queued");
        Ok(report)
    }
}
