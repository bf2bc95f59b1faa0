//! Claims an API Gateway JWT authorizer verified, handed to the application.
//!
//! On Lambda behind an HTTP API with a JWT authorizer, API Gateway has already checked the
//! token's signature, issuer, audience and expiry, and puts the claims into the event's
//! `requestContext.authorizer.jwt.claims`. [`from_lambda_context`] copies them into a
//! [`VerifiedClaims`] request extension. Standalone there is no such context, so the
//! extension never exists and the application verifies the bearer token itself. Nothing
//! a client sends as a header can create the extension.

use std::collections::HashMap;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;

/// JWT claims already verified by the platform in front of the function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiedClaims(pub HashMap<String, String>);

impl VerifiedClaims {
    /// The `sub` claim.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.0.get("sub").map(String::as_str)
    }
}

/// Axum middleware: copies the API Gateway v2 authorizer's JWT claims, when present, into
/// a [`VerifiedClaims`] extension.
pub async fn from_lambda_context(mut request: Request, next: Next) -> Response {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .map(|jwt| VerifiedClaims(jwt.claims.clone())),
        _ => None,
    };
    if let Some(claims) = claims {
        request.extensions_mut().insert(claims);
    }
    next.run(request).await
}
