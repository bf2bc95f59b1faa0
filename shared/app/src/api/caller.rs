//! Who is calling: the owner of a request is the JWT `sub`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lzstock_domain::dashboard::OwnerId;
use lzstock_shim::claims::VerifiedClaims;

use super::error::{ApiError, ErrorCode};
use crate::auth::Claims;

/// Verifies bearer tokens when no platform verified them first.
#[derive(Clone)]
pub struct TokenVerifier {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier(HS256)")
    }
}

impl TokenVerifier {
    /// A verifier of HS256 tokens signed with `secret`; `exp` is required and checked.
    #[must_use]
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        Self {
            key: Arc::new(DecodingKey::from_secret(secret)),
            validation: Arc::new(validation),
        }
    }

    fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let reason = match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidSignature => "the token's signature is invalid",
                    _ => "the token is malformed",
                };
                ApiError::new(ErrorCode::Unauthenticated, reason)
            })
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub OwnerId);

/// State types that can authenticate a caller.
pub trait HasTokenVerifier {
    /// The verifier for bearer tokens.
    fn token_verifier(&self) -> &TokenVerifier;
}

impl<S> FromRequestParts<S> for Caller
where
    S: HasTokenVerifier + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, &parts.extensions, state.token_verifier()).map(Caller)
    }
}

/// The owner of a request: the `sub` of the claims an API Gateway authorizer verified
/// (on Lambda), or else of the `Authorization: Bearer` token, verified here.
///
/// # Errors
/// `unauthenticated` when there is no valid token.
pub fn authenticate(
    headers: &HeaderMap,
    extensions: &Extensions,
    verifier: &TokenVerifier,
) -> Result<OwnerId, ApiError> {
    if let Some(claims) = extensions.get::<VerifiedClaims>() {
        let sub = claims
            .subject()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "the token has no subject"))?;
        return owner(sub);
    }
    let header = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "missing bearer token"))?;
    let token = header
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
        })?;
    let claims = verifier.verify(token)?;
    owner(&claims.sub)
}

fn owner(sub: &str) -> Result<OwnerId, ApiError> {
    OwnerId::parse(sub).map_err(|_| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "the token's subject is not a user id",
        )
    })
}
