//! Verifying a bearer token where no platform verified it first (the standalone API).
//!
//! HS256 tokens are checked with `JWT_SECRET`; RS256/ES256 (and RS384/ES384) tokens with
//! the identity provider's keys from `JWT_JWKS_URL`, looked up by `kid`. Either way the
//! token's algorithm must be one the key is for, `exp` and `sub` are required, `nbf` is
//! honoured, and `iss`/`aud` must match `JWT_ISSUER`/`JWT_AUDIENCE` when those are set.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::jwks::{JwksCache, JwksError, ASYMMETRIC};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 5;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or an unreadable one (`alg: none` included).
    #[error("the token is malformed")]
    Malformed,
    /// Signed with an algorithm this API does not accept for it.
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    /// An asymmetric token without a `kid`.
    #[error("the token names no signing key (kid)")]
    NoKeyId,
    /// The provider has no key with the token's `kid`.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` does not include the configured audience.
    #[error("the token's audience is not accepted")]
    Audience,
    /// A required claim (`exp`, `sub`, and `iss`/`aud` when configured) is missing.
    #[error("the token lacks a required claim")]
    MissingClaim,
    /// The provider's keys cannot be fetched and none is cached: not the caller's fault.
    #[error("the identity provider's keys are unavailable")]
    KeysUnavailable,
}

/// The claims the API reads from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The user's id.
    pub sub: String,
}

/// What is decoded: `sub` optional here so that a token without one is reported as a
/// missing claim, not as malformed.
#[derive(Deserialize)]
struct Decoded {
    sub: Option<String>,
}

/// Verifies bearer tokens: HS256 with a shared secret, and tokens of an identity provider
/// with its published keys.
#[derive(Clone, Default)]
pub struct TokenVerifier {
    hs256: Option<DecodingKey>,
    jwks: Option<Arc<JwksCache>>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("hs256", &self.hs256.is_some())
            .field("jwks", &self.jwks)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier of HS256 tokens signed with `secret`.
    #[must_use]
    pub fn hs256(secret: &[u8]) -> Self {
        Self::default().with_hs256(secret)
    }

    /// Also accepts HS256 tokens signed with `secret`.
    #[must_use]
    pub fn with_hs256(mut self, secret: &[u8]) -> Self {
        self.hs256 = Some(DecodingKey::from_secret(secret));
        self
    }

    /// Also accepts tokens signed with the keys of `jwks`.
    #[must_use]
    pub fn with_jwks(mut self, jwks: JwksCache) -> Self {
        self.jwks = Some(Arc::new(jwks));
        self
    }

    /// Requires `iss` to be `issuer`.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to include `audience`.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Verifies `token` and returns its claims.
    ///
    /// # Errors
    /// See [`TokenError`].
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let key = match header.alg {
            Algorithm::HS256 => self.hs256.clone().ok_or(TokenError::Algorithm)?,
            alg if ASYMMETRIC.contains(&alg) => {
                let jwks = self.jwks.as_ref().ok_or(TokenError::Algorithm)?;
                let kid = header.kid.as_deref().ok_or(TokenError::NoKeyId)?;
                let signing = jwks.key(kid).await.map_err(|e| match e {
                    JwksError::UnknownKey(_) => TokenError::UnknownKey,
                    JwksError::Unavailable(_) => TokenError::KeysUnavailable,
                })?;
                // The key decides the algorithm, never the token alone.
                if signing.algorithm != alg {
                    return Err(TokenError::Algorithm);
                }
                signing.key
            }
            _ => return Err(TokenError::Algorithm),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let decoded =
            jsonwebtoken::decode::<Decoded>(token, &key, &validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidSignature => TokenError::Signature,
                    ErrorKind::InvalidIssuer => TokenError::Issuer,
                    ErrorKind::InvalidAudience => TokenError::Audience,
                    ErrorKind::MissingRequiredClaim(_) => TokenError::MissingClaim,
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        TokenError::Algorithm
                    }
                    _ => TokenError::Malformed,
                }
            })?;
        let sub = decoded.claims.sub.ok_or(TokenError::MissingClaim)?;
        Ok(VerifiedToken { sub })
    }
}
