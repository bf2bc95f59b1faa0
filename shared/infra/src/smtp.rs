//! [`Mailer`] over SMTP with lettre's pooled async transport, built from `SMTP_URL`, and
//! built again from a new URL when the server refuses the login (a rotated secret).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use lzstock_domain::email::{Email, EmailAddress, Mailer, SendFailure};

/// How long one SMTP exchange may take before it counts as a transient failure.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// A mail server reached over SMTP. Clones share the transport (and its URL).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: Arc<RwLock<AsyncSmtpTransport<Tokio1Executor>>>,
    login_refused: Arc<tokio::sync::Notify>,
    message_id_domain: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: never printed.
        f.debug_struct("SmtpMailer")
            .field("message_id_domain", &self.message_id_domain)
            .finish_non_exhaustive()
    }
}

/// `SMTP_URL` is not one lettre can use.
#[derive(Debug, thiserror::Error)]
#[error("not an SMTP URL lettre accepts: {0}")]
pub struct SmtpUrlError(String);

impl SmtpMailer {
    /// A mailer for `url` — `smtp://host:port` (plain, for local sinks),
    /// `smtp://host:port?tls=required` (STARTTLS), `smtps://host:port` (TLS), each with
    /// optional `user:password@` — whose Message-IDs are `<email-id@message_id_domain>`.
    /// Connects lazily: nothing is dialled until the first email.
    ///
    /// # Errors
    /// When the URL is not one of those.
    pub fn from_url(url: &str, message_id_domain: &str) -> Result<Self, SmtpUrlError> {
        Ok(Self {
            transport: Arc::new(RwLock::new(transport_for(url)?)),
            login_refused: Arc::new(tokio::sync::Notify::new()),
            message_id_domain: message_id_domain.to_owned(),
        })
    }

    /// Sends through `url` from now on (and through every clone); an exchange already under
    /// way finishes on the old connection.
    ///
    /// # Errors
    /// When the URL is not one [`from_url`](Self::from_url) takes; the old one stays.
    pub fn set_url(&self, url: &str) -> Result<(), SmtpUrlError> {
        let transport = transport_for(url)?;
        *self
            .transport
            .write()
            .unwrap_or_else(PoisonError::into_inner) = transport;
        Ok(())
    }

    /// Resolves the next time the mail server refuses the login (`530`, `534`, `535`): the
    /// credentials this mailer holds are no longer the server's.
    pub async fn login_refused(&self) {
        self.login_refused.notified().await;
    }

    /// The message for `email`: its own Message-ID on every attempt, so a receiver can
    /// drop a second copy.
    fn message(&self, email: &Email) -> Result<Message, SendFailure> {
        let mailbox = |address: &EmailAddress| {
            address
                .as_str()
                .parse::<Mailbox>()
                .map_err(|e| SendFailure::Permanent(format!("address {address}: {e}")))
        };
        let mut builder = Message::builder()
            .from(mailbox(&email.from)?)
            .subject(email.subject.as_str())
            .message_id(Some(format!("<{}@{}>", email.id, self.message_id_domain)))
            .header(ContentType::TEXT_PLAIN);
        for to in email.to.as_slice() {
            builder = builder.to(mailbox(to)?);
        }
        builder
            .body(email.body.as_str().to_owned())
            .map_err(|e| SendFailure::Permanent(format!("the message cannot be built: {e}")))
    }
}

impl Mailer for SmtpMailer {
    #[tracing::instrument(
        name = "smtp.send",
        skip_all,
        fields(
            email.id = %email.id,
            email.recipients = email.to.as_slice().len(),
            smtp.outcome = tracing::field::Empty,
        )
    )]
    async fn send(&self, email: &Email) -> Result<(), SendFailure> {
        let message = self.message(email)?;
        let transport = self
            .transport
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let result = transport.send(message).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(error) if refuses_login(error) => "login refused",
            Err(error) if error.is_permanent() => "refused",
            Err(_) => "deferred",
        };
        tracing::Span::current().record("smtp.outcome", outcome);
        match result {
            Ok(_) => Ok(()),
            // Not this email's fault: the credentials are wrong or were rotated. Whoever
            // holds them may read them again; the email waits like any other mail trouble.
            Err(error) if refuses_login(&error) => {
                self.login_refused.notify_one();
                Err(SendFailure::Transient(format!(
                    "the mail server refused the login: {error}"
                )))
            }
            // A 5xx answer: the server will never take this email.
            Err(error) if error.is_permanent() => Err(SendFailure::Permanent(error.to_string())),
            // A 4xx answer, a refused connection, a timeout, a TLS failure: later may work.
            Err(error) => Err(SendFailure::Transient(error.to_string())),
        }
    }
}

fn transport_for(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, SmtpUrlError> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| SmtpUrlError(e.to_string()))?
        .timeout(Some(SMTP_TIMEOUT))
        .build())
}

/// Whether the server refused to let this client send: authentication required (530), the
/// mechanism too weak (534), the credentials invalid (535).
fn refuses_login(error: &lettre::transport::smtp::Error) -> bool {
    error
        .status()
        .is_some_and(|code| matches!(code.to_string().as_str(), "530" | "534" | "535"))
}
