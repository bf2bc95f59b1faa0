//! Secrets read at run time. A variable of [`SECRET_VARIABLES`] may name an AWS Secrets
//! Manager secret instead of holding its value (`DATABASE_URL_SECRET=<ARN or name>#url`),
//! so the value never sits in the function's configuration, where anyone allowed
//! `lambda:GetFunctionConfiguration` reads it. Each named secret is read once, at init,
//! and kept for the life of the process (a Lambda sandbox); [`EnvWithSecrets::reread`]
//! reads one again, for a credential that was refused (the secret was rotated).
//!
//! Standalone binaries keep plain variables: without any `*_SECRET` variable no AWS client
//! is made and nothing is read.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::Duration;

use crate::config::{ConfigError, Source};

/// The variables that may come from a secret, each with the variable that names it.
pub const SECRET_VARIABLES: [(&str, &str); 3] = [
    ("DATABASE_URL", "DATABASE_URL_SECRET"),
    ("SMTP_URL", "SMTP_URL_SECRET"),
    ("NATS_CREDS", "NATS_CREDS_SECRET"),
];

/// How long one read of a secret may take before init fails naming it.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A secret and, for a JSON secret, the key whose text is the value: `<id>` or `<id>#<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReference {
    /// The secret's ARN or name.
    pub id: String,
    /// The key of a JSON object secret; `None` takes the whole text.
    pub key: Option<String>,
}

impl FromStr for SecretReference {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        // An ARN has no '#', so the last one separates the key.
        let (id, key) = match text.rsplit_once('#') {
            Some((id, key)) if !key.is_empty() => (id, Some(key.to_owned())),
            Some(_) => return Err(format!("{text:?} ends with '#' and no key")),
            None => (text, None),
        };
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(format!("{text:?} is not a secret's ARN or name"));
        }
        Ok(Self {
            id: id.to_owned(),
            key,
        })
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused the read or could not be reached.
    #[error("cannot read secret {id}: {reason}")]
    Unavailable {
        /// The secret.
        id: String,
        /// What Secrets Manager (or the connection) said.
        reason: String,
    },
    /// The secret holds binary data, not text.
    #[error("secret {id} has no text value (SecretString)")]
    NotText {
        /// The secret.
        id: String,
    },
    /// The secret is not a JSON object with a text value at the key.
    #[error("secret {id} is not a JSON object with a text value at {key:?}")]
    MissingKey {
        /// The secret.
        id: String,
        /// The key asked for.
        key: String,
    },
}

/// Secrets Manager, through the SDK (`GetSecretValue`), with the binary's AWS
/// configuration: the function's role on Lambda.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    /// A client from the environment's AWS configuration (`AWS_ENDPOINT_URL_SECRETS_MANAGER`
    /// points it at a stand-in).
    pub async fn from_env() -> Self {
        let config = crate::aws::sdk_config().await;
        let timeouts = aws_sdk_secretsmanager::config::timeout::TimeoutConfig::builder()
            .operation_timeout(READ_TIMEOUT)
            .build();
        let config = aws_sdk_secretsmanager::config::Builder::from(&config)
            .timeout_config(timeouts)
            .build();
        Self {
            client: aws_sdk_secretsmanager::Client::from_conf(config),
        }
    }

    /// The value `reference` names: the secret's text, or its JSON object's text at the key.
    ///
    /// # Errors
    /// See [`SecretError`].
    pub async fn read(&self, reference: &SecretReference) -> Result<String, SecretError> {
        let id = &reference.id;
        let answer = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|error| SecretError::Unavailable {
                id: id.clone(),
                reason: reason_of(&error),
            })?;
        let text = answer
            .secret_string()
            .ok_or_else(|| SecretError::NotText { id: id.clone() })?;
        match &reference.key {
            None => Ok(text.to_owned()),
            Some(key) => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
                .ok()
                .and_then(|object| object.get(key)?.as_str().map(str::to_owned))
                .ok_or_else(|| SecretError::MissingKey {
                    id: id.clone(),
                    key: key.clone(),
                }),
        }
    }
}

/// Each of `variables` whose `*_SECRET` `source` sets, with the secret it names: what
/// [`EnvWithSecrets::load`] reads.
///
/// # Errors
/// A [`ConfigError`] naming the `*_SECRET` variable: malformed, or set beside the plain
/// variable.
pub fn references(
    source: &dyn Source,
    variables: &[&str],
) -> Result<Vec<(&'static str, SecretReference)>, ConfigError> {
    let mut references = Vec::new();
    for (variable, secret_variable) in SECRET_VARIABLES {
        if !variables.contains(&variable) {
            continue;
        }
        let Some(raw) = source.get(secret_variable).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        if source.get(variable).is_some_and(|v| !v.is_empty()) {
            return Err(ConfigError::Malformed {
                name: secret_variable,
                reason: format!("set {variable} or {secret_variable}, not both"),
            });
        }
        let reference = raw.parse().map_err(|reason| ConfigError::Malformed {
            name: secret_variable,
            reason,
        })?;
        references.push((variable, reference));
    }
    Ok(references)
}

/// The environment, with each variable whose `*_SECRET` is set taken from that secret.
#[derive(Debug)]
pub struct EnvWithSecrets<S> {
    inner: S,
    references: Vec<(&'static str, SecretReference)>,
    values: RwLock<HashMap<&'static str, String>>,
    manager: Option<SecretsManager>,
}

impl<S: Source> EnvWithSecrets<S> {
    /// Reads, once, the secret `inner` names for each of `variables` (those of
    /// [`SECRET_VARIABLES`] the binary uses: it reads no other secret, so its role needs no
    /// other permission).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the `*_SECRET` variable: malformed, set beside the plain
    /// variable, or naming a secret that cannot be read.
    pub async fn load(inner: S, variables: &[&str]) -> Result<Self, ConfigError> {
        let references = references(&inner, variables)?;
        let manager = if references.is_empty() {
            None
        } else {
            Some(SecretsManager::from_env().await)
        };
        let mut values = HashMap::new();
        if let Some(manager) = &manager {
            for (variable, reference) in &references {
                let secret_variable = secret_variable_of(variable);
                let value =
                    manager
                        .read(reference)
                        .await
                        .map_err(|error| ConfigError::Unreadable {
                            name: secret_variable,
                            reason: error.to_string(),
                        })?;
                values.insert(*variable, value);
            }
        }
        Ok(Self {
            inner,
            references,
            values: RwLock::new(values),
            manager,
        })
    }

    /// Whether `variable` comes from a secret.
    #[must_use]
    pub fn is_secret(&self, variable: &str) -> bool {
        self.references.iter().any(|(name, _)| *name == variable)
    }

    /// Reads `variable`'s secret again (after its credential was refused) and keeps the
    /// new value; `Ok(None)` when the variable does not come from a secret.
    ///
    /// # Errors
    /// See [`SecretError`]; the value read before stays.
    pub async fn reread(&self, variable: &str) -> Result<Option<String>, SecretError> {
        let (Some((name, reference)), Some(manager)) = (
            self.references.iter().find(|(name, _)| *name == variable),
            &self.manager,
        ) else {
            return Ok(None);
        };
        let value = manager.read(reference).await?;
        self.values
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name, value.clone());
        Ok(Some(value))
    }
}

/// The process environment with the secrets of `variables` read: what a binary's `main`
/// configures itself from. A `*_SECRET` that is malformed or cannot be read stops the
/// binary with one line naming it (exit status 2), as any configuration error does.
pub async fn process_env(
    binary: &str,
    variables: &[&str],
) -> std::sync::Arc<EnvWithSecrets<crate::config::ProcessEnv>> {
    std::sync::Arc::new(crate::config::or_exit(
        binary,
        EnvWithSecrets::load(crate::config::ProcessEnv, variables).await,
    ))
}

fn secret_variable_of(variable: &str) -> &'static str {
    SECRET_VARIABLES
        .iter()
        .find(|(name, _)| *name == variable)
        .map_or("", |(_, secret)| secret)
}

impl<S: Source> Source for EnvWithSecrets<S> {
    fn get(&self, key: &str) -> Option<String> {
        let resolved = self
            .values
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned();
        resolved.or_else(|| self.inner.get(key))
    }
}

/// A one-line reason for a failed read: Secrets Manager's error code and message when it
/// answered, else the root cause (no credentials, connection refused, no answer in time).
/// The SDK's own rendering nests every layer and runs to hundreds of characters.
fn reason_of<E, R>(error: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_sdk_secretsmanager::error::SdkError;
    let root_cause = |error: &(dyn std::error::Error + 'static)| {
        let mut cause = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        cause.to_string()
    };
    match error {
        SdkError::ServiceError(service) => {
            let answer = service.err();
            match (answer.code(), answer.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => root_cause(answer),
            }
        }
        SdkError::TimeoutError(_) => format!("no answer within {} s", READ_TIMEOUT.as_secs()),
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            format!("could not reach Secrets Manager: {}", root_cause(error))
        }
        _ => root_cause(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_a_secret_and_perhaps_a_key() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lzstock/db-AbCdEf";
        assert_eq!(
            format!("{arn}#url").parse::<SecretReference>(),
            Ok(SecretReference {
                id: arn.into(),
                key: Some("url".into())
            })
        );
        assert_eq!(
            "lzstock/nats-creds".parse::<SecretReference>(),
            Ok(SecretReference {
                id: "lzstock/nats-creds".into(),
                key: None
            })
        );
        assert!("".parse::<SecretReference>().is_err());
        assert!("db#".parse::<SecretReference>().is_err());
        assert!("#url".parse::<SecretReference>().is_err());
        assert!("a b#url".parse::<SecretReference>().is_err());
    }

    #[tokio::test]
    async fn without_secret_variables_the_environment_is_read_as_it_is() {
        let env = EnvWithSecrets::load([("DATABASE_URL", "postgres://h/db")], &["DATABASE_URL"])
            .await
            .expect("no secrets to read");
        assert_eq!(env.get("DATABASE_URL").as_deref(), Some("postgres://h/db"));
        assert!(!env.is_secret("DATABASE_URL"));
        assert_eq!(env.reread("DATABASE_URL").await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn a_variable_and_its_secret_together_are_refused_naming_the_secret_variable() {
        let error = EnvWithSecrets::load(
            [
                ("DATABASE_URL", "postgres://h/db"),
                ("DATABASE_URL_SECRET", "lzstock/db#url"),
            ],
            &["DATABASE_URL"],
        )
        .await
        .expect_err("ambiguous");
        assert!(error.to_string().contains("DATABASE_URL_SECRET"), "{error}");
        let error = EnvWithSecrets::load([("SMTP_URL_SECRET", "smtp#")], &["SMTP_URL"])
            .await
            .expect_err("no key");
        assert!(error.to_string().contains("SMTP_URL_SECRET"), "{error}");
        // A binary that does not send mail never looks at the mail server's secret.
        let ignored = EnvWithSecrets::load([("SMTP_URL_SECRET", "smtp#")], &["DATABASE_URL"])
            .await
            .expect("not this binary's secret");
        assert!(!ignored.is_secret("SMTP_URL"));
    }
}
