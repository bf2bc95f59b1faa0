use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use jsonwebtoken::{EncodingKey, Header};
use lzstock_harness::TEST_JWT_SECRET;
use serde_json::json;

use crate::helpers::TestApi;

fn signed(claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("a signed token")
}

async fn with_authorization(api: &TestApi, value: Option<String>) -> crate::helpers::Reply {
    let mut request = Request::get("/v1/dashboards");
    if let Some(value) = value {
        request = request.header(header::AUTHORIZATION, value);
    }
    api.send(request.body(Body::empty()).expect("a request"))
        .await
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401_with_a_challenge() {
    let api = TestApi::new().await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        None,
        Some("Basic YWRhOnNlY3JldA==".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer not.a.jwt".to_owned()),
        Some(format!(
            "Bearer {}",
            signed(
                json!({"sub": "ada", "exp": now + 60}),
                b"another-secret-another-secret-xx"
            )
        )),
        Some(format!(
            "Bearer {}",
            signed(
                json!({"sub": "ada", "exp": now - 3600}),
                TEST_JWT_SECRET.as_bytes()
            )
        )),
        Some(format!(
            "Bearer {}",
            signed(json!({"sub": "ada"}), TEST_JWT_SECRET.as_bytes())
        )),
        Some(format!(
            "Bearer {}",
            signed(json!({"exp": now + 60}), TEST_JWT_SECRET.as_bytes())
        )),
    ];
    for value in cases {
        let reply = with_authorization(&api, value.clone()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{value:?}");
        assert_eq!(reply.body["code"], "unauthenticated", "{value:?}");
        assert!(reply.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
    }
    let ok = with_authorization(
        &api,
        Some(format!("Bearer {}", crate::helpers::token("ada"))),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn health_stays_open_and_unknown_routes_are_404() {
    let api = TestApi::new().await;
    let health = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["database"]["status"], "ok");
    assert!(
        health.body["database"].get("version").is_none(),
        "{}",
        health.body
    );
    // A token holder sees the server versions.
    let detailed = api.call(Method::GET, "/healthz", Some("ops"), None).await;
    assert!(
        detailed.body["database"]["version"].is_string(),
        "{}",
        detailed.body
    );
    let unknown = api.call(Method::GET, "/v2/nothing", None, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["code"], "not_found");
}
