//! The auth table: every route and RPC the API serves refuses every kind of bad token, in
//! both of its modes. The routes come from the API's own declarations, so a new one is in
//! the table without editing it: the REST operations from the OpenAPI document (built from
//! the same declaration as the router), the RPCs from the compiled proto contracts whose
//! services the router mounts.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use jsonwebtoken::{EncodingKey, Header};
use lzstock_api::auth::TokenVerifier;
use lzstock_api::Authenticator;
use lzstock_harness::TEST_JWT_SECRET;
use prost::Message;
use serde_json::{json, Value};

use crate::helpers::TestApi;

const ISSUER: &str = "https://id.lzstock.test/";
const AUDIENCE: &str = "lzstock-api";

/// One request the table sends: a route, and the body it takes.
struct Call {
    method: Method,
    path: String,
    connect: bool,
}

/// Every REST operation that declares a security requirement, its path parameters filled
/// with well-formed values.
async fn rest_calls(api: &TestApi) -> Vec<Call> {
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let mut calls = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if operation.get("security").is_none() {
                continue;
            }
            let path = path
                .replace("{id}", "0190f2f4-6c3a-7c3e-8a1b-2f1e0d9c8b7a")
                .replace("{ticker}", "AAPL");
            assert!(
                !path.contains('{'),
                "a path parameter this table cannot fill: {path}"
            );
            calls.push(Call {
                method: method.to_uppercase().parse().expect("an HTTP method"),
                path,
                connect: false,
            });
        }
    }
    calls
}

/// Every RPC of every service in the compiled contracts.
fn rpc_calls() -> Vec<Call> {
    let set = prost_types::FileDescriptorSet::decode(lzstock_proto::FILE_DESCRIPTOR_SET)
        .expect("the compiled contracts");
    let mut calls = Vec::new();
    for file in set.file {
        for service in &file.service {
            for method in &service.method {
                calls.push(Call {
                    method: Method::POST,
                    path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    connect: true,
                });
            }
        }
    }
    calls
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("a signed token")
}

/// The tokens to refuse, by name: each one thing short of valid.
fn bad_tokens() -> Vec<(&'static str, Option<String>)> {
    let now = chrono::Utc::now().timestamp();
    let claims = |change: &dyn Fn(&mut Value)| {
        let mut claims = json!({
            "sub": "mallory", "iss": ISSUER, "aud": AUDIENCE,
            "iat": now, "exp": now + 600,
        });
        change(&mut claims);
        claims
    };
    let ours =
        |change: &dyn Fn(&mut Value)| Some(sign(&claims(change), TEST_JWT_SECRET.as_bytes()));
    vec![
        ("missing", None),
        ("expired", ours(&|c| c["exp"] = json!(now - 3600))),
        ("not yet valid", ours(&|c| c["nbf"] = json!(now + 3600))),
        (
            "forged",
            Some(sign(
                &claims(&|_| {}),
                b"not-the-api-secret-not-the-api-secret",
            )),
        ),
        (
            "wrong issuer",
            ours(&|c| c["iss"] = json!("https://id.elsewhere.test/")),
        ),
        ("wrong audience", ours(&|c| c["aud"] = json!("another-api"))),
    ]
}

/// What `api` answers `call` made with `token`.
async fn answer(api: &TestApi, call: &Call, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(call.method.clone())
        .uri(&call.path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = if call.connect || call.method == Method::POST {
        request = request.header(header::CONTENT_TYPE, "application/json");
        Body::from("{}")
    } else {
        Body::empty()
    };
    let reply = api.send(request.body(body).expect("a request")).await;
    (reply.status, reply.body)
}

async fn assert_every_call_refuses_every_bad_token(api: &TestApi, mode: &str) {
    let calls: Vec<Call> = rest_calls(api)
        .await
        .into_iter()
        .chain(rpc_calls())
        .collect();
    assert!(
        calls.iter().filter(|c| c.connect).count() >= 3 && calls.len() >= 10,
        "the table found too few routes to mean anything"
    );
    for call in &calls {
        for (kind, token) in bad_tokens() {
            let (status, body) = answer(api, call, token.as_deref()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{mode}: {} {} with a {kind} token: {body}",
                call.method,
                call.path
            );
            assert_eq!(
                body["code"], "unauthenticated",
                "{mode}: {} {} with a {kind} token",
                call.method, call.path
            );
        }
    }
}

#[tokio::test]
async fn standalone_every_route_and_rpc_refuses_every_bad_token() {
    let verifier = TokenVerifier::hs256(TEST_JWT_SECRET.as_bytes())
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE);
    let api = TestApi::with_auth(Authenticator::tokens(verifier)).await;
    // A good token passes, so the refusals below are the tokens', not the set-up's.
    let good = sign(
        &json!({"sub": "ada", "iss": ISSUER, "aud": AUDIENCE,
                "exp": chrono::Utc::now().timestamp() + 600}),
        TEST_JWT_SECRET.as_bytes(),
    );
    let listing = Call {
        method: Method::GET,
        path: "/v1/dashboards".into(),
        connect: false,
    };
    assert_eq!(answer(&api, &listing, Some(&good)).await.0, StatusCode::OK);
    assert_every_call_refuses_every_bad_token(&api, "standalone").await;
}

#[tokio::test]
async fn on_lambda_every_route_and_rpc_refuses_a_bearer_token_without_authorizer_claims() {
    // On Lambda only API Gateway's authorizer claims count: every token the table sends,
    // and a good one too, is refused without them.
    let api = TestApi::with_auth(Authenticator::Authorizer).await;
    assert_every_call_refuses_every_bad_token(&api, "on Lambda").await;
    let good = sign(
        &json!({"sub": "ada", "exp": chrono::Utc::now().timestamp() + 600}),
        TEST_JWT_SECRET.as_bytes(),
    );
    for call in rest_calls(&api).await.iter().chain(&rpc_calls()) {
        let (status, _) = answer(&api, call, Some(&good)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "on Lambda: {} {}",
            call.method,
            call.path
        );
    }
}
