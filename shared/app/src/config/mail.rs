//! How emails leave: `EMAIL_FROM` and `SMTP_URL`.

use lzstock_domain::email::EmailAddress;
use lzstock_shim::config::{optional, ConfigError, Secret, Source};

use super::url_with_scheme;

/// `SMTP_URL` of the mail relay.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `smtp://user:pass@host:port` or `smtps://…`; may carry a password.
    pub url: Secret<String>,
}

/// How emails leave: `EMAIL_FROM` (required) and `SMTP_URL`.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The address emails come from unless they name another; its domain is the
    /// Message-IDs'.
    pub from: EmailAddress,
    /// The mail server.
    pub smtp: SmtpConfig,
}

impl MailConfig {
    /// Reads `EMAIL_FROM` and `SMTP_URL`.
    ///
    /// # Errors
    /// When either is missing or malformed.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let from = email_from(source)?.ok_or(ConfigError::Missing {
            name: "EMAIL_FROM",
            hint: "the address emails are sent from, e.g. notifications@example.com",
        })?;
        Ok(Self {
            from,
            smtp: SmtpConfig::from_source(source)?,
        })
    }

    /// Reads `EMAIL_FROM` and `SMTP_URL` where sending is optional: `None`, with a warning
    /// naming what is missing, unless both are set.
    ///
    /// # Errors
    /// When either is set but malformed.
    pub fn optional_from_source(source: &dyn Source) -> Result<Option<Self>, ConfigError> {
        let from = email_from(source)?;
        let smtp = optional(source, "SMTP_URL")
            .map(|_| SmtpConfig::from_source(source))
            .transpose()?;
        Ok(match (from, smtp) {
            (Some(from), Some(smtp)) => Some(Self { from, smtp }),
            (from, smtp) => {
                let missing: Vec<&str> = [
                    from.is_none().then_some("EMAIL_FROM"),
                    smtp.is_none().then_some("SMTP_URL"),
                ]
                .into_iter()
                .flatten()
                .collect();
                tracing::warn!(
                    missing = %missing.join(", "),
                    "no email will be sent until these are set; emails stay queued"
                );
                None
            }
        })
    }
}

/// Reads `EMAIL_FROM` when set.
///
/// # Errors
/// When it is set but is not a plain `local@domain` address.
pub fn email_from(source: &dyn Source) -> Result<Option<EmailAddress>, ConfigError> {
    optional(source, "EMAIL_FROM")
        .map(|raw| {
            EmailAddress::parse(raw.trim()).map_err(|e| ConfigError::Malformed {
                name: "EMAIL_FROM",
                reason: e.reason,
            })
        })
        .transpose()
}

impl SmtpConfig {
    /// Reads `SMTP_URL`.
    ///
    /// # Errors
    /// When it is missing or not an `smtp://` / `smtps://` URL.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let url = url_with_scheme(
            source,
            "SMTP_URL",
            "set it to smtp://host:port (or smtps://user:password@host:port)",
            &["smtp", "smtps"],
        )?;
        Ok(Self {
            url: Secret::new(url),
        })
    }
}
