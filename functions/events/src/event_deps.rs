//! What the event handlers need: the database their writes go to, the stores, the mail
//! server and the settings, and the same pointed at a batch's one transaction.

use lzstock_domain::dashboard::TickerList;
use lzstock_domain::email::EmailAddress;
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::database::{BatchTransaction, Database};
use lzstock_infra::email_cache::RedisEmailCache;
use lzstock_infra::emails::PgEmailStore;
use lzstock_infra::notices::PgNoticeStore;
use lzstock_infra::smtp::SmtpMailer;
use lzstock_shim::backoff::Backoff;
use sqlx::PgPool;

use lzstock_app::config::MailConfig;

/// What the event handlers need.
#[derive(Debug, Clone)]
pub struct EventDeps {
    /// Emails, the mail server and the cache.
    pub mail: MailDeps,
    /// PostgreSQL, where the handlers' own writes go.
    pub database: Database,
    /// Dashboards and their outbox.
    pub dashboards: PgDashboardStore,
    /// The companies of a new user's first dashboard.
    pub signup_tickers: TickerList,
    /// Redelivery delays.
    pub backoff: Backoff,
}

impl EventDeps {
    /// The same dependencies with every database write inside `batch`.
    #[must_use]
    pub fn within(&self, batch: &BatchTransaction) -> Self {
        Self {
            mail: self.mail.within(batch),
            database: self.database.within(batch),
            dashboards: self.dashboards.within(batch),
            signup_tickers: self.signup_tickers.clone(),
            backoff: self.backoff,
        }
    }
}

/// What the email handlers need.
#[derive(Debug, Clone)]
pub struct MailDeps {
    /// Emails and their outbox.
    pub emails: PgEmailStore,
    /// The mail server and the default sender, when both are configured.
    pub sender: Option<Sender>,
    /// The email cache to invalidate, when there is one.
    pub cache: Option<RedisEmailCache>,
    /// Contacts and the notices LZStock sends on its own.
    pub notices: PgNoticeStore,
}

/// How emails leave.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The mail server.
    pub mailer: SmtpMailer,
    /// The sender of emails that name none.
    pub from: EmailAddress,
}

impl MailDeps {
    /// The handlers' dependencies: emails on `pool` (events below `subject_root`), sent
    /// through the mail server `config` names, when it names one.
    ///
    /// # Errors
    /// When `SMTP_URL` is unusable.
    pub fn new(
        pool: PgPool,
        subject_root: &str,
        config: Option<&MailConfig>,
        cache: Option<RedisEmailCache>,
    ) -> Result<Self, lzstock_app::resources::StartupError> {
        let emails = PgEmailStore::new(pool.clone(), subject_root);
        let sender = config
            .map(|config| {
                Ok::<_, lzstock_app::resources::StartupError>(Sender {
                    mailer: lzstock_app::resources::mailer(config)?,
                    from: config.from.clone(),
                })
            })
            .transpose()?;
        Ok(Self {
            notices: PgNoticeStore::new(pool, emails.clone()),
            emails,
            sender,
            cache,
        })
    }

    /// The same dependencies with every database write inside `batch`.
    #[must_use]
    pub fn within(&self, batch: &BatchTransaction) -> Self {
        Self {
            emails: self.emails.within(batch),
            sender: self.sender.clone(),
            cache: self.cache.clone(),
            notices: self.notices.within(batch),
        }
    }

    /// The default sender, when one is configured.
    #[must_use]
    pub fn from(&self) -> Option<&EmailAddress> {
        self.sender.as_ref().map(|sender| &sender.from)
    }
}
