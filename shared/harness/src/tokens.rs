//! Bearer tokens as the standalone API verifies them (HS256 with `JWT_SECRET`): the dev
//! stack prints one (`lzstock-admin dev-token`) and tests call the API with them.

use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// The claims LZStock reads from a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
}

/// Signs an HS256 token for `sub` valid for `ttl`, as the standalone API verifies them.
///
/// # Errors
/// When signing fails (it does not for HS256 with any key).
pub fn issue_token(
    secret: &[u8],
    sub: &str,
    ttl: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = Utc::now();
    let claims = Claims {
        sub: sub.to_owned(),
        iat: now.timestamp(),
        exp: (now + ttl).timestamp(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    #[test]
    fn an_issued_token_verifies_with_the_same_secret_only() {
        let token = issue_token(
            b"0123456789abcdef0123456789abcdef",
            "user-1",
            Duration::hours(1),
        )
        .unwrap();
        let validation = Validation::new(Algorithm::HS256);
        let claims = jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims.sub, "user-1");
        assert!(jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_secret(b"another-secret-another-secret-!!"),
            &validation
        )
        .is_err());
    }
}
