//! Everything the API function reads from the environment, and how it authenticates
//! callers.

use lzstock_app::config::{
    check_scheme, jwt_secret, DatabaseConfig, HttpConfig, NatsConfig, OptionalServices,
    OutboxConfig,
};
use lzstock_domain::email::EmailAddress;
use lzstock_infra::streams::EventStreams;
use lzstock_shim::config::{optional, ConfigError, Secret, Source};

/// The variables the API may read from Secrets Manager (`*_SECRET`).
pub const SECRETS: [&str; 2] = ["DATABASE_URL", "NATS_CREDS"];

/// Everything the API function reads from the environment.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// NATS, to publish events.
    pub nats: NatsConfig,
    /// The standalone port.
    pub http: HttpConfig,
    /// Bearer-token verification when standalone.
    pub auth: AuthConfig,
    /// Cache and trace export, when configured.
    pub optional: OptionalServices,
    /// Where events go.
    pub streams: EventStreams,
    /// How the standalone outbox relay retries, parks and prunes.
    pub outbox: OutboxConfig,
    /// `EMAIL_FROM`, the sender of emails that name none (optional here: without it, a
    /// request must name its sender).
    pub email_from: Option<EmailAddress>,
}

impl ApiConfig {
    /// Parses the configuration.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseConfig::from_source(source)?,
            nats: NatsConfig::from_source(source)?,
            http: HttpConfig::from_source(source)?,
            auth: AuthConfig::from_source(source)?,
            optional: OptionalServices::from_source(source)?,
            streams: lzstock_app::resources::event_streams(source)?,
            outbox: OutboxConfig::from_source(source)?,
            email_from: lzstock_app::config::email_from(source)?,
        })
    }
}

/// How the API authenticates callers.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// On Lambda (`AWS_LAMBDA_RUNTIME_API` set): only the claims API Gateway's JWT
    /// authorizer verified count; `JWT_SECRET` is not read, so no second path exists.
    Authorizer,
    /// Standalone: the API verifies bearer tokens itself.
    Tokens(TokenConfig),
}

/// `JWT_SECRET`, `JWT_JWKS_URL`, `JWT_ISSUER` and `JWT_AUDIENCE`: how the standalone API
/// verifies bearer tokens. At least one of the secret and the key set is set.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The HS256 key, at least 32 bytes.
    pub jwt_secret: Option<Secret<String>>,
    /// Where an identity provider publishes its signing keys (RS256/ES256).
    pub jwks_url: Option<String>,
    /// The issuer every token must name, when set.
    pub issuer: Option<String>,
    /// The audience every token must include, when set.
    pub audience: Option<String>,
}

impl AuthConfig {
    /// Reads the authentication settings: none on Lambda, the token settings standalone.
    ///
    /// # Errors
    /// Standalone, when neither `JWT_SECRET` nor `JWT_JWKS_URL` is set, or one is malformed.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        if optional(source, lzstock_shim::host::RUNTIME_API_VAR).is_some() {
            return Ok(Self::Authorizer);
        }
        let jwt_secret = optional(source, "JWT_SECRET")
            .map(|_| jwt_secret(source))
            .transpose()?;
        let jwks_url = optional(source, "JWT_JWKS_URL")
            .map(|url| check_scheme("JWT_JWKS_URL", &url, &["http", "https"]).map(|()| url))
            .transpose()?;
        if jwt_secret.is_none() && jwks_url.is_none() {
            return Err(ConfigError::Missing {
                name: "JWT_SECRET",
                hint: "set JWT_SECRET (an HS256 key of at least 32 bytes) or JWT_JWKS_URL (an identity provider's key set)",
            });
        }
        Ok(Self::Tokens(TokenConfig {
            jwt_secret,
            jwks_url,
            issuer: optional(source, "JWT_ISSUER"),
            audience: optional(source, "JWT_AUDIENCE"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let env = [("JWT_SECRET", "short")];
        assert!(AuthConfig::from_source(&env).is_err());
    }

    #[test]
    fn standalone_needs_a_secret_or_a_key_set() {
        let none: [(&str, &str); 0] = [];
        let err = AuthConfig::from_source(&none).unwrap_err().to_string();
        assert!(
            err.contains("JWT_SECRET") && err.contains("JWT_JWKS_URL"),
            "{err}"
        );
        let jwks = [("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json")];
        assert!(matches!(
            AuthConfig::from_source(&jwks),
            Ok(AuthConfig::Tokens(TokenConfig {
                jwks_url: Some(_),
                ..
            }))
        ));
        assert!(AuthConfig::from_source(&[("JWT_JWKS_URL", "file:///etc/keys")]).is_err());
    }

    #[test]
    fn on_lambda_only_the_authorizer_counts() {
        let env = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("JWT_SECRET", "lzstock-test-secret-0123456789abcdef"),
        ];
        assert!(matches!(
            AuthConfig::from_source(&env),
            Ok(AuthConfig::Authorizer)
        ));
    }
}
