//! The same router answering API Gateway HTTP API v2 events in-process, as on Lambda.

use axum::body::Body;
use axum::http::StatusCode;

use lzstock_api::Authenticator;

use crate::helpers::{send, token, TestApi};

fn event(json: &str) -> axum::http::Request<Body> {
    let request = lambda_http::request::from_str(json).expect("an API Gateway v2 event");
    let (parts, body) = request.into_parts();
    axum::http::Request::from_parts(parts, Body::from(body.to_vec()))
}

#[tokio::test]
async fn the_authorizers_verified_claims_name_the_owner() {
    let api = TestApi::with_auth(Authenticator::Authorizer).await;
    // The bearer token in the fixture is not a valid HS256 token: on Lambda the claims the
    // API Gateway authorizer verified are what counts.
    let reply = send(
        &api.router,
        event(include_str!("../../../../events/api-create-dashboard.json")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["ownerId"], "ada");
    assert_eq!(reply.body["name"], "From Lambda");
}

#[tokio::test]
async fn without_authorizer_claims_even_a_valid_token_is_refused_on_lambda() {
    let api = TestApi::with_auth(Authenticator::Authorizer).await;
    let mut fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../../../events/api-create-dashboard.json")).unwrap();
    fixture["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    // A token the standalone API would accept: on Lambda there is no second path.
    fixture["headers"]["authorization"] = format!("Bearer {}", token("ada")).into();
    let reply = send(&api.router, event(&fixture.to_string())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
}

#[tokio::test]
async fn standalone_ignores_anything_claiming_to_be_authorizer_claims() {
    // Standalone there is no authorizer: only the bearer token counts, and the fixture's
    // is not a valid one.
    let api = TestApi::new().await;
    let reply = send(
        &api.router,
        event(include_str!("../../../../events/api-create-dashboard.json")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
}
