//! Who is calling: the owner of a request is the JWT `sub`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use lzstock_domain::common::OwnerId;
use lzstock_shim::claims::VerifiedClaims;

use super::error::{ApiError, ErrorCode};
use crate::auth::{JwksCache, JwksSettings, TokenError, TokenVerifier};
use crate::config::AuthConfig;

/// How the API tells who is calling.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// On Lambda: only the claims API Gateway's JWT authorizer verified count. A request
    /// without them (a route or function URL without the authorizer) is refused, whatever
    /// token it carries.
    Authorizer,
    /// Standalone: bearer tokens are verified here.
    Tokens(Arc<TokenVerifier>),
}

impl Authenticator {
    /// The authenticator `config` describes.
    #[must_use]
    pub fn from_config(config: &AuthConfig) -> Self {
        match config {
            AuthConfig::Authorizer => Self::Authorizer,
            AuthConfig::Tokens(tokens) => {
                let mut verifier = TokenVerifier::default();
                if let Some(secret) = &tokens.jwt_secret {
                    verifier = verifier.with_hs256(secret.expose().as_bytes());
                }
                if let Some(url) = &tokens.jwks_url {
                    verifier = verifier.with_jwks(JwksCache::new(url, JwksSettings::default()));
                }
                if let Some(issuer) = &tokens.issuer {
                    verifier = verifier.with_issuer(issuer);
                }
                if let Some(audience) = &tokens.audience {
                    verifier = verifier.with_audience(audience);
                }
                Self::Tokens(Arc::new(verifier))
            }
        }
    }

    /// Verifies bearer tokens with `verifier` (standalone).
    #[must_use]
    pub fn tokens(verifier: TokenVerifier) -> Self {
        Self::Tokens(Arc::new(verifier))
    }

    /// The owner of a request.
    ///
    /// # Errors
    /// `unauthenticated` without valid credentials; `unavailable` when the identity
    /// provider's keys cannot be fetched.
    pub async fn owner(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<OwnerId, ApiError> {
        match self {
            Self::Authorizer => {
                let claims = extensions.get::<VerifiedClaims>().ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unauthenticated,
                        "no verified claims: the request did not pass the API's JWT authorizer",
                    )
                })?;
                let sub = claims.subject().ok_or_else(|| {
                    ApiError::new(ErrorCode::Unauthenticated, "the token has no subject")
                })?;
                owner(sub)
            }
            Self::Tokens(verifier) => {
                let token = bearer(headers)?;
                let verified = verifier.verify(token).await.map_err(ApiError::from)?;
                owner(&verified.sub)
            }
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::KeysUnavailable => Self::new(
                ErrorCode::Unavailable,
                "cannot verify the token now: the identity provider's keys are unavailable",
            ),
            other => Self::new(ErrorCode::Unauthenticated, other.to_string()),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub OwnerId);

/// State types that can authenticate a caller.
pub trait HasAuthenticator {
    /// How callers are authenticated.
    fn authenticator(&self) -> &Authenticator;
}

impl<S> FromRequestParts<S> for Caller
where
    S: HasAuthenticator + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, &parts.extensions, state.authenticator())
            .await
            .map(Caller)
    }
}

/// The owner of a request, as `authenticator` tells it.
///
/// # Errors
/// See [`Authenticator::owner`].
pub async fn authenticate(
    headers: &HeaderMap,
    extensions: &Extensions,
    authenticator: &Authenticator,
) -> Result<OwnerId, ApiError> {
    authenticator.owner(headers, extensions).await
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "missing bearer token"))?;
    header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the Authorization header must be \"Bearer <token>\"",
            )
        })
}

fn owner(sub: &str) -> Result<OwnerId, ApiError> {
    OwnerId::parse(sub).map_err(|_| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "the token's subject is not a user id",
        )
    })
}
