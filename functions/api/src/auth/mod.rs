//! Bearer tokens: the owner of a request is the JWT `sub`.
//!
//! On Lambda, API Gateway's JWT authorizer verifies tokens and the API trusts only the
//! claims it hands over. Standalone, [`TokenVerifier`] verifies them itself: HS256 with
//! `JWT_SECRET`, and an identity provider's RS256/ES256 tokens with the keys published at
//! `JWT_JWKS_URL`, so the same provider's tokens work on and off Lambda.

pub mod jwks;
pub mod verifier;

pub use jwks::{JwksCache, JwksSettings};
pub use verifier::{TokenError, TokenVerifier, VerifiedToken};
